"""Log lines as JSON objects, one per line, as log collectors in a cluster expect them."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Fields that LoggerAdapters of the core attach to a record.
CONTEXT_FIELDS = ("object", "kind")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({f: getattr(record, f) for f in CONTEXT_FIELDS if hasattr(record, f)})
        if record.exc_info:
            # Only for bugs of ours; a traceback names code, never a credential.
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str = "INFO") -> None:
    """Send every logger's lines to stderr as JSON; called once when the app is made."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botocore logs payloads at DEBUG and every credential lookup at INFO.
    for chatty in ("botocore", "boto3", "urllib3", "kubernetes"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
