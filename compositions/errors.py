"""The failures a sync can meet, split by what happens next.

A `Retryable` failure clears by itself (throttling, a conflict with an update in flight,
an AWS or network hiccup): the hook asks to be called again after a delay that grows with
each failure in a row (see `schedule`). A `Permanent` failure needs a person (a bad role,
a missing layer, credentials that do not work): the status says what to fix, and AWS is
left alone until the object or its provider changes, or a long delay has passed. Messages
never carry credentials or code.
"""

from __future__ import annotations

# Long enough to name every bad field of a spec; Kubernetes allows 32 KiB.
MESSAGE_LIMIT = 2000


class ReconcileError(Exception):
    """A failure to report in a condition: `reason` is one CamelCase word."""

    retryable = False

    def __init__(self, reason: str, message: str, *, quotes_aws: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message[:MESSAGE_LIMIT]
        # AWS's own words may repeat what it was sent (environment values, say): they go
        # to the object's status, which shows the spec anyway, but never into a log.
        self.quotes_aws = quotes_aws

    @property
    def loggable(self) -> str:
        return "AWS's message is in the object's status" if self.quotes_aws else self.message


class Retryable(ReconcileError):
    retryable = True


class Permanent(ReconcileError):
    pass
