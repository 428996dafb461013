"""AWS failing under a sync: errors, slow answers and functions Lambda keeps busy.

Each fault is injected into the embedded AWS on one of the operations a sync makes. While
it lasts, every hook reply must still be a 200 that says in the status what went wrong and
when to look again; once it clears, ordinary syncs must bring the object to ready with AWS
matching the spec; and at no point may a function be lost, duplicated or taken from
someone else. Concurrent syncs of one object, as two Metacontroller replicas would make
them, must end the same way.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import NAMESPACE, ROLE, Clock, Hooks, lambda_function, provider, served

import sandbox.replay
from compositions.aws import Connector
from compositions.context import Dependencies
from compositions.kube import KubernetesSecrets
from compositions.package import zip_source
from compositions.spec import OWNER_TAG
from sandbox.aws import EmbeddedAWS, Fault
from sandbox.replay import seed

# botocore's pauses between retries are not what these tests are about.
pytestmark = pytest.mark.usefixtures("quick_retries")

DRIFT_CHECK_SECONDS = 300.0
# Syncs made while a fault lasts, and reads a function is held busy for.
SYNCS_DURING_FAULT = 2
HELD_READS = 2
# Well under the hooks' own read timeout of 10 s.
SLOW_SECONDS = 0.25
# A read timeout short enough for a test, and replies slower than it.
READ_TIMEOUT = 0.25
TIMED_OUT_DELAY = 0.6

SOURCE = "def handler(event, context):\n    return 'v1'\n"
NEW_SOURCE = "def handler(event, context):\n    return 'v2'\n"

# Functions that live next to ours and must come out of every test untouched.
BYSTANDERS = {
    "made-outside": {"team": "other"},
    "owned-elsewhere": {OWNER_TAG: "team-b/orders"},
}


@pytest.fixture(scope="module")
def connector() -> tuple[Connector, dict[str, list[str]]]:
    """One Connector for every test here, as one hooks process keeps one for its life: a
    new boto3 session costs about a fifth of a second, which each test would pay again.
    Calls are recorded into whichever list the current test's `hooks` put there."""
    log: dict[str, list[str]] = {"calls": []}

    def record(client: Any) -> None:
        client.meta.events.register(
            "before-call", lambda model, **_: log["calls"].append(model.name)
        )

    return Connector(on_client=record), log


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hooks(
    aws: EmbeddedAWS, connector: tuple[Connector, dict[str, list[str]]], clock: Clock
) -> Iterator[Hooks]:
    """The shared `hooks` fixture, but on the module's Connector and a clock of the test's."""
    shared, log = connector
    calls = log["calls"] = []
    deps = Dependencies(
        aws=shared, secrets=KubernetesSecrets(), clock=clock,
        drift_check_seconds=DRIFT_CHECK_SECONDS,
    )  # fmt: skip
    with served(deps) as url:
        yield Hooks(url, aws, calls)


@pytest.fixture
def impatient(aws: EmbeddedAWS, clock: Clock) -> Iterator[tuple[Hooks, dict[str, Any]]]:
    """Hooks whose AWS clients give up on a reply after READ_TIMEOUT, and a ready provider."""
    calls: list[str] = []

    def record(client: Any) -> None:
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))

    deps = Dependencies(
        aws=Connector(on_client=record, read_seconds=READ_TIMEOUT),
        secrets=KubernetesSecrets(), clock=clock, drift_check_seconds=DRIFT_CHECK_SECONDS,
    )  # fmt: skip
    with served(deps) as url:
        hooks = Hooks(url, aws, calls)
        seed(aws.endpoint, [lambda_function()])
        prov = provider(aws)
        assert hooks.metacontroller(prov).sync(prov)["status"]["ready"] is True
        calls.clear()
        yield hooks, prov


@pytest.fixture
def replies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The HTTP status of every hook call the replay makes, in order."""
    seen: list[int] = []

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        status, reply = post_json(url, body)
        seen.append(status)
        assert status == 200, f"{url} answered {status}: {reply}"
        return reply

    monkeypatch.setattr(sandbox.replay, "post", post)
    return seen


@pytest.fixture
def bystanders(aws: EmbeddedAWS, ready_provider: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Two functions that are not the test object's, with what they looked like at first."""
    outside = lambda_client(aws)
    for name, tags in BYSTANDERS.items():
        outside.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="index.handler",
            Code={"ZipFile": zip_source(SOURCE, "index.py")}, MemorySize=256, Tags=tags,
        )  # fmt: skip
    return {name: _shape(outside.get_function(FunctionName=name)) for name in BYSTANDERS}


def post_json(url: str, body: Any, timeout: float = 30) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def lambda_client(aws: EmbeddedAWS) -> Any:
    return boto3.client(
        "lambda", endpoint_url=aws.endpoint, region_name="us-east-1",
        aws_access_key_id="outside", aws_secret_access_key="outside",
    )  # fmt: skip


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def code_sha256(source: str) -> str:
    package = zip_source(source, "index.py")
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def _shape(reply: dict[str, Any]) -> dict[str, Any]:
    config = reply["Configuration"]
    return {
        "MemorySize": config["MemorySize"],
        "CodeSha256": config["CodeSha256"],
        "Tags": reply.get("Tags") or {},
        "Concurrency": reply.get("Concurrency"),
    }


def assert_aws_matches(aws: EmbeddedAWS, fn: dict[str, Any]) -> None:
    spec = fn["spec"]
    reply = lambda_client(aws).get_function(FunctionName=spec["functionName"])
    config = reply["Configuration"]
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert config["MemorySize"] == spec.get("memorySize", 128)
    assert config["CodeSha256"] == code_sha256(spec["code"]["zipFile"])
    assert reply["Tags"] == {
        **spec.get("tags", {}),
        OWNER_TAG: f"{NAMESPACE}/{fn['metadata']['name']}",
    }
    reserved = (reply.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    assert reserved == spec.get("reservedConcurrentExecutions")


def assert_nothing_lost_duplicated_or_taken(
    aws: EmbeddedAWS, ours: list[str], bystanders: dict[str, dict[str, Any]]
) -> None:
    outside = lambda_client(aws)
    names = sorted(f["FunctionName"] for f in outside.list_functions()["Functions"])
    assert names == sorted([*ours, *bystanders])
    for name in ours:
        assert outside.get_function(FunctionName=name)["Tags"][OWNER_TAG] == f"{NAMESPACE}/{name}"
    for name, before in bystanders.items():
        assert _shape(outside.get_function(FunctionName=name)) == before, name


def assert_converges(mc: Any, fn: dict[str, Any]) -> None:
    outcome = mc.converge(fn)
    assert fn["status"]["ready"] is True, fn["status"]
    assert condition(fn["status"], "Synced")["status"] == "True", fn["status"]
    assert fn["status"]["consecutiveFailures"] == 0
    assert outcome.replies[-1]["resyncAfterSeconds"] >= 60, "settled objects are left alone"


@dataclass(frozen=True)
class Operation:
    """One operation of a sync, and how to bring a settled object to need it."""

    name: str
    # None: the object is new and its first sync makes the call.
    change: Callable[[dict[str, Any], Clock], None] | None

    def __str__(self) -> str:
        return self.name

    @property
    def target(self) -> str | None:
        """The function a fault on this operation names; CreateFunction's path names none."""
        return None if self.name == "CreateFunction" else "orders"


def _respec(**fields: Any) -> Callable[[dict[str, Any], Clock], None]:
    def change(fn: dict[str, Any], clock: Clock) -> None:
        fn["spec"].update(fields)

    return change


def _drift_check(fn: dict[str, Any], clock: Clock) -> None:
    """Let the drift interval pass, so that the next sync reads the function again."""
    clock.advance(DRIFT_CHECK_SECONDS * 1.2)


OPERATIONS = [
    Operation("GetFunction", _drift_check),
    Operation("CreateFunction", None),
    Operation("UpdateFunctionConfiguration", _respec(memorySize=512)),
    Operation("UpdateFunctionCode", _respec(code={"zipFile": NEW_SOURCE})),
    Operation("TagResource", _respec(tags={"team": "b"})),
    Operation("PutFunctionConcurrency", _respec(reservedConcurrentExecutions=3)),
]

AWS_ERRORS = [
    pytest.param(429, "TooManyRequestsException", id="throttled-429"),
    pytest.param(400, "ThrottlingException", id="throttled-400"),
    pytest.param(409, "ResourceConflictException", id="conflict-409"),
    pytest.param(500, "ServiceException", id="service-500"),
    pytest.param(503, "ServiceUnavailableException", id="unavailable-503"),
]

HELD = [
    pytest.param({"State": "Pending", "StateReason": "held by the test"}, "Creating", id="pending"),
    pytest.param(
        {"LastUpdateStatus": "InProgress", "LastUpdateStatusReason": "held by the test"},
        "Updating",
        id="in-progress",
    ),
]


def needing(
    operation: Operation, hooks: Hooks, clock: Clock, provider_obj: dict[str, Any]
) -> tuple[Any, dict]:
    """An object whose next sync makes `operation`, with the calls made so far forgotten."""
    fn = lambda_function(
        code={"zipFile": SOURCE}, memorySize=128, tags={"team": "a"}, reservedConcurrentExecutions=2
    )
    mc = hooks.metacontroller(provider_obj, fn)
    if operation.change is not None:
        assert_converges(mc, fn)
        operation.change(fn, clock)
    hooks.calls.clear()
    return mc, fn


# Errors from AWS


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
@pytest.mark.parametrize(("http_status", "code"), AWS_ERRORS)
def test_while_aws_refuses_an_operation_every_reply_says_why_and_later_syncs_recover(
    hooks, clock, ready_provider, aws, bystanders, replies, operation, http_status, code
):
    mc, fn = needing(operation, hooks, clock, ready_provider)
    aws.fidelity.faults.append(
        Fault(operation.name, times=1000, name=operation.target, status=http_status, code=code,
              message="injected by the test")
    )  # fmt: skip

    for failures in range(1, SYNCS_DURING_FAULT + 1):
        reply = mc.sync(fn)
        synced = condition(reply["status"], "Synced")
        assert (synced["status"], synced["reason"]) == ("False", code)
        assert synced["message"].startswith(f"{operation} on ") and "orders" in synced["message"]
        assert reply["resyncAfterSeconds"] > 0
        assert reply["status"]["consecutiveFailures"] == failures
    assert hooks.calls.count(operation.name) == SYNCS_DURING_FAULT

    aws.fidelity.faults.clear()
    assert_converges(mc, fn)

    assert_aws_matches(aws, fn)
    if operation.name != "GetFunction":
        assert hooks.calls.count(operation.name) == SYNCS_DURING_FAULT + 1, hooks.calls
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)
    assert set(replies) == {200}


# Lambda still applying a change


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
@pytest.mark.parametrize(("held", "reason"), HELD)
def test_while_lambda_holds_a_function_busy_nothing_is_changed_and_it_then_converges(
    hooks, clock, ready_provider, aws, bystanders, replies, operation, held, reason
):
    mc, fn = needing(operation, hooks, clock, ready_provider)
    aws.fidelity.faults.append(
        Fault("GetFunction", times=HELD_READS, name="orders", configuration=held)
    )
    # A new function is created first; the hold starts with the reads after that.
    made_first = ["CreateFunction"] if operation.change is None else []
    if made_first:
        assert condition(mc.sync(fn)["status"], "Ready")["reason"] == "Creating"

    for _ in range(HELD_READS):
        reply = mc.sync(fn)
        ready = condition(reply["status"], "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "False",
            reason,
            "held by the test",
        )
        assert reply["status"]["ready"] is False
        assert 0 < reply["resyncAfterSeconds"] <= 10
    assert hooks.mutations() == made_first
    assert not any(f.times for f in aws.fidelity.faults), "every held read was made"

    assert_converges(mc, fn)

    assert_aws_matches(aws, fn)
    if operation.name != "GetFunction":
        assert hooks.mutations().count(operation.name) == 1, hooks.mutations()
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)
    assert set(replies) == {200}


# Slow answers


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_a_slow_answer_within_the_read_timeout_only_makes_the_sync_slower(
    hooks, clock, ready_provider, aws, bystanders, replies, operation
):
    mc, fn = needing(operation, hooks, clock, ready_provider)
    aws.fidelity.faults.append(Fault(operation.name, name=operation.target, delay=SLOW_SECONDS))

    started = time.monotonic()
    reply = mc.sync(fn)
    took = time.monotonic() - started

    assert took >= SLOW_SECONDS
    assert not any(f.times for f in aws.fidelity.faults), "the slow answer was given"
    assert reply["status"]["consecutiveFailures"] == 0
    assert condition(reply["status"], "Synced")["reason"] in ("UpToDate", "Applied", "Progressing")
    assert hooks.calls.count(operation.name) == 1
    assert_converges(mc, fn)
    assert_aws_matches(aws, fn)
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)
    assert set(replies) == {200}


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_an_answer_slower_than_the_read_timeout_fails_the_sync_and_a_later_one_completes(
    impatient, clock, aws, bystanders, replies, operation
):
    hooks, prov = impatient
    mc, fn = needing(operation, hooks, clock, prov)
    # Both of botocore's attempts wait too long, while AWS still does what it was asked.
    aws.fidelity.faults.append(
        Fault(operation.name, times=2, name=operation.target, delay=TIMED_OUT_DELAY)
    )

    started = time.monotonic()
    reply = mc.sync(fn)
    took = time.monotonic() - started

    synced = condition(reply["status"], "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "AWSUnreachable")
    assert synced["message"].startswith(f"{operation} on ")
    assert reply["resyncAfterSeconds"] > 0
    assert took < 2 * TIMED_OUT_DELAY, "the hook gave up instead of waiting for the replies"
    assert hooks.calls.count(operation.name) == 1
    # AWS finishes what the hook stopped waiting for (the retry was sent READ_TIMEOUT after
    # the first try); look only once it has.
    time.sleep(max(0.0, started + READ_TIMEOUT + TIMED_OUT_DELAY + 0.3 - time.monotonic()))

    assert_converges(mc, fn)
    assert_aws_matches(aws, fn)
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)
    assert set(replies) == {200}


# Partial failures


def _tags_changed_while_pending(fn: dict[str, Any]) -> None:
    fn["spec"]["tags"] = {"team": "b"}


def _several_changes(fn: dict[str, Any]) -> None:
    fn["spec"].update(tags={"team": "b"}, reservedConcurrentExecutions=3, memorySize=512)


PARTIAL = [
    pytest.param(
        None, "PutFunctionConcurrency", ["PutFunctionConcurrency"],
        id="created-then-concurrency-fails",
    ),
    pytest.param(
        _tags_changed_while_pending, "TagResource", ["TagResource", "PutFunctionConcurrency"],
        id="created-then-tagging-fails",
    ),
    pytest.param(
        _several_changes, "PutFunctionConcurrency",
        ["PutFunctionConcurrency", "UpdateFunctionConfiguration"],
        id="tagged-then-concurrency-fails-before-the-update",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("change", "failing", "then"), PARTIAL)
def test_a_sync_that_fails_halfway_is_completed_by_the_next_one(
    hooks, ready_provider, aws, bystanders, replies, change, failing, then
):
    fn = lambda_function(
        code={"zipFile": SOURCE}, tags={"team": "a"}, reservedConcurrentExecutions=2
    )
    mc = hooks.metacontroller(ready_provider, fn)
    if change is _several_changes:
        assert_converges(mc, fn)
    else:
        mc.sync(fn)
        assert hooks.mutations() == ["CreateFunction"]
    if change is not None:
        change(fn)
    aws.fidelity.faults.append(
        Fault(failing, times=1000, status=409, code="ResourceConflictException")
    )
    hooks.calls.clear()

    reply = mc.sync(fn)

    synced = condition(reply["status"], "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "ResourceConflictException")
    # What was learnt before the failure is kept: the function is known and reported.
    assert reply["status"]["functionArn"].endswith(":function:orders")
    assert failing in hooks.calls
    assert "UpdateFunctionConfiguration" not in hooks.calls
    hooks.calls.clear()

    aws.fidelity.faults.clear()
    assert_converges(mc, fn)

    # Only what the failure left undone is done, and once.
    assert hooks.mutations() == then
    assert_aws_matches(aws, fn)
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)


# Concurrent syncs of one object


def _sync_at_once(mc: Any, bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Post every body to the sync hook at the same moment, one thread each."""
    url = f"{mc.base_url}/hooks/lambdafunction/sync"
    start = threading.Barrier(len(bodies))
    results: list[Any] = [None] * len(bodies)

    def post(i: int) -> None:
        start.wait()
        results[i] = post_json(url, bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _sync_body(mc: Any, fn: dict[str, Any]) -> dict[str, Any]:
    related = mc.related(fn)
    return copy.deepcopy(
        {"controller": {}, "parent": fn, "children": {}, "related": related, "finalizing": False}
    )


def test_two_replicas_syncing_a_new_object_at_once_make_exactly_one_function(
    hooks, ready_provider, aws, bystanders, replies
):
    fn = lambda_function(
        code={"zipFile": SOURCE}, tags={"team": "a"}, reservedConcurrentExecutions=2
    )
    mc = hooks.metacontroller(ready_provider, fn)
    body = _sync_body(mc, fn)
    # Slow reads make both syncs see no function before either creates it.
    aws.fidelity.faults.append(Fault("GetFunction", times=2, name="orders", delay=0.2))

    results = _sync_at_once(mc, [body, copy.deepcopy(body)])

    assert [status for status, _ in results] == [200, 200], results
    # Both looked before either created: the race was run, and one of them lost it.
    assert hooks.calls.count("GetFunction") == 2
    assert hooks.calls.count("CreateFunction") == 2
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)
    # Metacontroller keeps whichever status was written last; start from the worse one.
    worse = min(
        (reply for _, reply in results), key=lambda r: r["status"].get("functionArn") is not None
    )
    fn["status"] = {**worse["status"], "observedGeneration": 1}
    assert_converges(mc, fn)
    assert_aws_matches(aws, fn)
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)


@pytest.mark.parametrize(
    "memory_sizes",
    [
        pytest.param([512, 512], id="same-spec"),
        pytest.param([256, 512], id="stale-spec-and-new-spec"),
    ],
)
def test_concurrent_syncs_of_an_updated_object_converge_on_the_newest_spec(
    hooks, ready_provider, aws, bystanders, replies, memory_sizes
):
    fn = lambda_function(code={"zipFile": SOURCE}, memorySize=128)
    mc = hooks.metacontroller(ready_provider, fn)
    assert_converges(mc, fn)
    bodies = []
    for memory in memory_sizes:
        fn["spec"]["memorySize"] = memory
        bodies.append(_sync_body(mc, fn))
    aws.fidelity.faults.append(Fault("GetFunction", times=len(bodies), name="orders", delay=0.2))
    hooks.calls.clear()

    results = _sync_at_once(mc, bodies)

    assert [status for status, _ in results] == [200] * len(bodies), results
    assert 1 <= hooks.calls.count("UpdateFunctionConfiguration") <= len(bodies)
    assert fn["spec"]["memorySize"] == memory_sizes[-1]
    assert_converges(mc, fn)
    assert_aws_matches(aws, fn)
    assert_nothing_lost_duplicated_or_taken(aws, ["orders"], bystanders)


# Deletion


@pytest.mark.parametrize(
    ("vpc", "lingering"),
    [
        ({"subnetIds": ["subnet-0a", "subnet-0b"], "securityGroupIds": ["sg-01"]}, True),
        (None, False),
    ],
    ids=["vpc-attached", "not-in-a-vpc"],
)
def test_deleting_a_vpc_attached_function_says_its_network_interfaces_linger(
    hooks, ready_provider, aws, bystanders, replies, vpc, lingering
):
    fn = lambda_function(code={"zipFile": SOURCE}, **({"vpcConfig": vpc} if vpc else {}))
    mc = hooks.metacontroller(ready_provider, fn)
    assert_converges(mc, fn)

    reply = mc.sync(fn, finalizing=True)

    assert reply["finalized"] is True
    message = condition(reply["status"], "Synced")["message"]
    assert ("network interfaces" in message) is lingering, message
    if lingering:
        assert "subnet-0a" in message and "subnet-0b" in message
    assert hooks.mutations()[-1] == "DeleteFunction"
    assert_nothing_lost_duplicated_or_taken(aws, [], bystanders)
