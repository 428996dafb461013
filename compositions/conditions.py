"""Status conditions in the shape Kubernetes tools read (`kubectl wait`, Argo CD, Flux).

A condition keeps its `lastTransitionTime` for as long as its status stays the same, so the
time says when the object last became ready or stopped being so, not when it was last
looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from compositions.errors import ReconcileError


class Condition(NamedTuple):
    type: str
    status: bool
    reason: str
    message: str


def find(status: Mapping[str, Any], kind: str) -> Condition | None:
    """The condition of type `kind` in a status, if it has one."""
    for entry in status.get("conditions") or []:
        if isinstance(entry, dict) and entry.get("type") == kind:
            return Condition(
                kind,
                entry.get("status") == "True",
                str(entry.get("reason", "")),
                str(entry.get("message", "")),
            )
    return None


def failed(error: ReconcileError, kind: str) -> Condition:
    hint = " (will retry)" if error.retryable else ""
    return Condition(kind, False, error.reason, error.message + hint)


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second, as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render(
    conditions: Iterable[Condition], previous: Mapping[str, Any] | None, now: datetime
) -> list[dict[str, str]]:
    """The conditions as status entries, carrying over unchanged transition times."""
    earlier = {
        c.get("type"): c for c in (previous or {}).get("conditions") or [] if isinstance(c, dict)
    }
    rendered = []
    for condition in conditions:
        status = "True" if condition.status else "False"
        before = earlier.get(condition.type, {})
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        rendered.append({
            "type": condition.type,
            "status": status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": since or timestamp(now),
        })  # fmt: skip
    return rendered
