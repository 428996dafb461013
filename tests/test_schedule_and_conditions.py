"""When the hooks ask to be called again, and how conditions keep their transition times.

Delays are what keeps API volume in check as objects multiply: they must grow with
failures up to a cap, spread objects apart by a jitter that needs no state, and leave
permanent failures alone for long. A condition's `lastTransitionTime` must say when its
status last flipped, not when it was last written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compositions import schedule
from compositions.conditions import Condition, render, timestamp
from compositions.errors import MESSAGE_LIMIT, Permanent, ReconcileError, Retryable

UID = "0f6d2c1e-8a4b-4c3d-9e2f-1a2b3c4d5e6f"
UIDS = [f"uid-{n}" for n in range(60)]

THROTTLED = Retryable("Throttled", "Lambda throttled GetFunction")
NO_ROLE = Permanent("InvalidRole", "the role cannot be assumed by Lambda")

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
EARLIER = "2024-04-30T08:15:00Z"


def within(value: float, centre: float, spread: float) -> bool:
    return centre * (1 - spread) <= value <= centre * (1 + spread)


# retry_delay


@pytest.mark.parametrize(
    ("failures", "base"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 300), (8, 300), (30, 300)],
)
@pytest.mark.parametrize("seed", UIDS[:10])
def test_the_retry_delay_doubles_per_failure_up_to_the_cap_within_the_jitter(
    failures: int, base: float, seed: str
) -> None:
    assert within(schedule.retry_delay(THROTTLED, failures, seed), base, 0.2)


@pytest.mark.parametrize("seed", UIDS[:10])
def test_each_failure_in_a_row_waits_longer_until_the_cap(seed: str) -> None:
    delays = [schedule.retry_delay(THROTTLED, n, seed) for n in range(1, 7)]

    assert delays == sorted(delays)
    assert len(set(delays)) == len(delays)


@pytest.mark.parametrize("failures", [1_024, 1_025, 100_000])
def test_the_retry_delay_stays_at_the_cap_however_many_failures(failures: int) -> None:
    # At the five-minute cap, 1,025 failures in a row take three and a half days: a
    # LambdaFunction whose AWSProvider is missing for that long gets there.
    assert within(schedule.retry_delay(THROTTLED, failures, UID), 300, 0.2)


def test_the_retry_delay_is_the_same_for_the_same_object_and_count() -> None:
    first = [schedule.retry_delay(THROTTLED, n, UID) for n in range(1, 10)]
    second = [schedule.retry_delay(THROTTLED, n, UID) for n in range(1, 10)]

    assert first == second


def test_objects_failing_together_retry_at_different_moments() -> None:
    delays = {schedule.retry_delay(THROTTLED, 3, uid) for uid in UIDS}

    assert len(delays) > len(UIDS) // 2
    assert min(delays) < 20 < max(delays)


@pytest.mark.parametrize("failures", [1, 2, 10])
def test_a_permanent_failure_waits_ten_minutes_give_or_take(failures: int) -> None:
    for uid in UIDS:
        delay = schedule.retry_delay(NO_ROLE, failures, uid)
        assert within(delay, 600, 0.2)
        assert delay > schedule.LAST_RETRY_SECONDS * 1.2


# errors


def test_only_retryable_errors_are_retried_soon() -> None:
    assert THROTTLED.retryable is True
    assert NO_ROLE.retryable is False
    assert schedule.retry_delay(THROTTLED, 1, UID) < schedule.retry_delay(NO_ROLE, 1, UID)


def test_an_error_keeps_its_reason_and_cuts_its_message_for_the_status() -> None:
    error = Permanent("InvalidSpec", "x" * (MESSAGE_LIMIT + 500))

    assert error.reason == "InvalidSpec"
    assert len(error.message) == MESSAGE_LIMIT
    assert isinstance(error, ReconcileError)


# next_check


@pytest.mark.parametrize("interval", [60.0, 300.0, 600.0])
def test_the_next_drift_check_is_within_a_tenth_of_the_interval(interval: float) -> None:
    checks = [schedule.next_check(interval, uid) for uid in UIDS]

    assert all(within(check, interval, 0.1) for check in checks)
    assert len(set(checks)) > len(UIDS) // 2


def test_the_next_drift_check_is_the_same_for_the_same_object() -> None:
    assert schedule.next_check(300.0, UID) == schedule.next_check(300.0, UID)


def test_jitter_spans_both_sides_of_the_delay() -> None:
    delays = [schedule.jittered(100.0, uid) for uid in UIDS]

    assert min(delays) < 95 and max(delays) > 105
    assert all(80 <= delay <= 120 for delay in delays)


# conditions.render


def previous_with(status: str, kind: str = "Ready") -> dict:
    return {
        "conditions": [{
            "type": kind,
            "status": status,
            "reason": "Before",
            "message": "as it was",
            "lastTransitionTime": EARLIER,
        }]
    }  # fmt: skip


def test_an_unchanged_status_keeps_its_transition_time() -> None:
    ready_again = Condition("Ready", True, "Available", "ok")

    [ready] = render([ready_again], previous_with("True"), NOW)

    assert ready == {
        "type": "Ready",
        "status": "True",
        "reason": "Available",
        "message": "ok",
        "lastTransitionTime": EARLIER,
    }


@pytest.mark.parametrize(("before", "now"), [("True", False), ("False", True)])
def test_a_flipped_status_takes_the_current_time(before: str, now: bool) -> None:
    [ready] = render([Condition("Ready", now, "Changed", "m")], previous_with(before), NOW)

    assert ready["status"] == ("True" if now else "False")
    assert ready["lastTransitionTime"] == "2024-05-01T10:00:00Z"


@pytest.mark.parametrize(
    "previous",
    [
        pytest.param(None, id="no-status"),
        pytest.param({}, id="no-conditions"),
        pytest.param({"conditions": None}, id="null-conditions"),
        pytest.param(previous_with("True", kind="Synced"), id="other-type-only"),
        pytest.param({"conditions": ["Ready", 3, None]}, id="malformed-entries"),
        pytest.param({"conditions": [{"type": "Ready", "status": "True"}]}, id="no-time-recorded"),
    ],
)
def test_a_condition_seen_for_the_first_time_takes_the_current_time(previous: dict) -> None:
    [ready] = render([Condition("Ready", True, "Available", "ok")], previous, NOW)

    assert ready["lastTransitionTime"] == "2024-05-01T10:00:00Z"


def test_each_condition_keeps_or_replaces_its_own_time() -> None:
    previous = {
        "conditions": [
            *previous_with("True", "Ready")["conditions"],
            *previous_with("True", "Synced")["conditions"],
        ]
    }
    later = NOW + timedelta(minutes=5)

    ready, synced = render(
        [Condition("Ready", True, "Available", "ok"), Condition("Synced", False, "E", "x")],
        previous,
        later,
    )

    assert ready["lastTransitionTime"] == EARLIER
    assert synced["lastTransitionTime"] == "2024-05-01T10:05:00Z"


def test_conditions_are_rendered_in_the_order_given() -> None:
    given = [Condition("Synced", True, "UpToDate", "m"), Condition("Ready", True, "A", "m")]

    assert [c["type"] for c in render(given, None, NOW)] == ["Synced", "Ready"]


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC), "2024-03-05T07:08:09Z"),
        (datetime(2024, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), "2024-12-31T23:59:59Z"),
    ],
)
def test_timestamps_are_rfc3339_in_utc_to_the_second(moment: datetime, text: str) -> None:
    assert timestamp(moment) == text
