"""The failures a sync can meet, split by what happens next.

A `Retryable` failure clears by itself (throttling, a conflict with an update in flight,
an AWS or network hiccup): the hook asks to be called again after a delay that grows with
each failure in a row. A `Permanent` failure needs a person (a bad role, a missing layer,
credentials that do not work): the status says what to fix, and AWS is left alone until
the object or its provider changes. Messages never carry credentials or code.
"""

from __future__ import annotations

import hashlib

# Long enough to name every bad field of a spec; Kubernetes allows 32 KiB.
MESSAGE_LIMIT = 2000


class ReconcileError(Exception):
    """A failure to report in a condition: `reason` is one CamelCase word."""

    retryable = False

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message[:MESSAGE_LIMIT]


class Retryable(ReconcileError):
    retryable = True


class Permanent(ReconcileError):
    pass


# Backoff across consecutive failures; the count lives in the object's status because the
# hooks keep no state between calls.
FIRST_RETRY_SECONDS = 5.0
LAST_RETRY_SECONDS = 300.0
# A permanent failure is retried only rarely, in case what was wrong outside the object (a
# role, a layer, a bucket) has been fixed meanwhile.
PERMANENT_RETRY_SECONDS = 600.0


def retry_delay(error: ReconcileError, failures: int, seed: str) -> float:
    """Seconds until the next try after `failures` failures in a row (1 for the first).

    The jitter of up to a fifth either way is derived from `seed` (the object's UID) and the
    count, so that objects failing together spread out while each stays reproducible.
    """
    if not error.retryable:
        return PERMANENT_RETRY_SECONDS
    base = min(FIRST_RETRY_SECONDS * 2 ** max(failures - 1, 0), LAST_RETRY_SECONDS)
    digest = hashlib.sha256(f"{seed}/{failures}".encode()).digest()
    spread = digest[0] / 255 * 0.4 - 0.2
    return round(base * (1 + spread), 2)
