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


def entries(status: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The well-formed conditions of a status, by type. A status is read, not trusted:
    anything else in `conditions` is passed over."""
    found = (status or {}).get("conditions")
    if not isinstance(found, list):
        return {}
    return {c["type"]: c for c in found if isinstance(c, dict) and isinstance(c.get("type"), str)}


def find(status: Mapping[str, Any], kind: str) -> Condition | None:
    """The condition of type `kind` in a status, if it has one."""
    entry = entries(status).get(kind)
    if entry is None:
        return None
    return Condition(
        kind,
        entry.get("status") == "True",
        str(entry.get("reason", "")),
        str(entry.get("message", "")),
    )


def failed(error: ReconcileError, kind: str) -> Condition:
    hint = " (will retry)" if error.retryable else ""
    return Condition(kind, False, error.reason, error.message + hint)


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second, as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: Any) -> datetime | None:
    """The time a status field holds, or None when it holds none."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def render(
    conditions: Iterable[Condition], previous: Mapping[str, Any] | None, now: datetime
) -> list[dict[str, str]]:
    """The conditions as status entries, carrying over unchanged transition times."""
    earlier = entries(previous)
    rendered = []
    for condition in conditions:
        status = "True" if condition.status else "False"
        before = earlier.get(condition.type, {})
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        if not isinstance(since, str):
            since = None
        rendered.append({
            "type": condition.type,
            "status": status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": since or timestamp(now),
        })  # fmt: skip
    return rendered
