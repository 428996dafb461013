"""When the hooks ask Metacontroller to call again, through `resyncAfterSeconds`.

Every reply asks for a next call, because nothing else brings one reliably: Metacontroller
drops its own periodic resync for controllers with `ignoreStatusChanges: true`, and drift
made outside Kubernetes never shows in the object. Delays are jittered so that objects
created together do not all call AWS in the same second; the jitter comes from the object's
UID, so it needs no state and each object keeps its own rhythm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from compositions.errors import ReconcileError

# How soon to look again while Lambda applies a change.
SETTLE_SECONDS = 5.0

# No new AWS call starts once a sync has spent this long: what is left waits for the next
# sync, so that one hook call stays within Metacontroller's webhook timeout even when every
# call is at its slowest.
CALL_BUDGET_SECONDS = 10.0

# Backoff across consecutive failures; the count lives in the object's status because the
# hooks keep no state between calls.
FIRST_RETRY_SECONDS = 5.0
LAST_RETRY_SECONDS = 300.0
# A permanent failure is looked at again only rarely, in case what was wrong outside the
# object (a role, a layer, a bucket) has been fixed meanwhile.
PERMANENT_RETRY_SECONDS = 600.0


def jittered(seconds: float, seed: str, spread: float = 0.2) -> float:
    """`seconds`, moved by up to `spread` of itself either way, the same for the same seed."""
    fraction = hashlib.sha256(seed.encode()).digest()[0] / 255
    return round(seconds * (1 + spread * (2 * fraction - 1)), 2)


def failures_before(status: Mapping[str, Any]) -> int:
    """How many syncs in a row failed before this one, as the status counts them."""
    count = status.get("consecutiveFailures")
    return count if isinstance(count, int) and count >= 0 else 0


def retry_delay(error: ReconcileError, failures: int, seed: str) -> float:
    """Seconds until the next try after `failures` failures in a row (1 for the first)."""
    if not error.retryable:
        return jittered(PERMANENT_RETRY_SECONDS, seed)
    doublings = min(max(failures - 1, 0), 16)  # past the cap anyway; keeps the float finite
    base = min(FIRST_RETRY_SECONDS * 2**doublings, LAST_RETRY_SECONDS)
    return jittered(base, f"{seed}/{failures}")


def next_check(interval: float, seed: str) -> float:
    """Seconds until a settled object is looked at again for drift."""
    return jittered(interval, seed, spread=0.1)
