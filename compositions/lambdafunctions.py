"""The LambdaFunction hooks: each answers one Metacontroller call from the request and AWS.

A sync reads (the spec, the provider, one GetFunction), asks `function` what to do, does it
through `aws`, and builds the status. Nothing is remembered between calls: what a later
sync needs (what was deployed from S3, how many failures in a row) travels in the status.
Any failure ends as a condition with a reason and a message saying what to do, and the
hook still answers 200.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from compositions import awsproviders, function
from compositions.conditions import (
    Condition,
    failed,
    find,
    parse_timestamp,
    render,
    timestamp,
)
from compositions.context import Dependencies
from compositions.errors import ReconcileError
from compositions.function import Observed
from compositions.metacontroller import (
    API_VERSION,
    CustomizeRequest,
    KubeObject,
    SyncReply,
    SyncRequest,
    related_resource,
)
from compositions.schedule import (
    CALL_BUDGET_SECONDS,
    SETTLE_SECONDS,
    failures_before,
    next_check,
    retry_delay,
)
from compositions.spec import FUNCTION_NAME, LambdaFunctionSpec, require

log = logging.getLogger(__name__)


def customize(request: CustomizeRequest) -> dict[str, Any]:
    """Ask Metacontroller for the function's AWSProvider, so its changes trigger a sync."""
    parent = request.parent
    provider = awsproviders.provider_name(parent.spec)
    namespace = parent.metadata.namespace
    return {
        "relatedResources": [related_resource(API_VERSION, "awsproviders", namespace, [provider])]
    }


def sync(request: SyncRequest, deps: Dependencies) -> SyncReply:
    parent = request.parent
    previous = parent.status or {}
    inputs = _inputs(request)
    early = _answer_from_status(parent, inputs, deps.clock(), deps.drift_check_seconds)
    if early is not None:
        return early

    progress = _Progress(deployed=_mapping(previous.get("deployedCode")))
    events = _object_log(parent)
    started = time.monotonic()
    try:
        spec = require(LambdaFunctionSpec, parent.spec)
        credentials = awsproviders.for_function(request, spec.provider_name, deps)
        owner = function.owner_of(parent.metadata.namespace, parent.metadata.name)
        default_tags = credentials.spec.default_tags
        desired = function.desire(spec, owner=owner, default_tags=default_tags)
        lambdas = deps.aws.functions(credentials.key, credentials.target)

        reply = lambdas.get(desired.name)
        observed = Observed.from_get_function(reply) if reply else None
        if observed is not None:
            adopt = parent.metadata.annotations.get(function.ADOPT_ANNOTATION) == "true"
            function.claim(observed, owner, adopt)
        progress.observed, progress.looked = observed, True

        for call in function.plan(desired, progress.observed, progress.deployed):
            if time.monotonic() - started > CALL_BUDGET_SECONDS:
                break
            response = lambdas.call(call.operation, call.params)
            events.info("%s %s", call, desired.name)
            progress.record(call, response, desired)
            if call.settles:
                break
    except ReconcileError as error:
        return _failure(parent, progress, error, deps.clock())

    observed = progress.observed
    if observed is None:
        # The sync's time ran out before the function could be created.
        why = "the function is still to be created; the next sync goes on"
        status = _status(
            previous, None, Condition("Synced", False, "Progressing", why), None, deps.clock()
        )
        return SyncReply(status=status, resync_after_seconds=SETTLE_SECONDS, result="waiting")
    remaining = function.differences(desired, observed, progress.deployed)
    if remaining:
        left = ", ".join(remaining)
        why = (
            f"waiting for Lambda to apply the last change before updating {left}"
            if observed.busy
            else f"still to update: {left}; the next sync goes on"
        )
        synced = Condition("Synced", False, "Progressing", why)
    elif progress.made:
        synced = Condition("Synced", True, "Applied", "made " + ", ".join(progress.made))
    else:
        synced = Condition("Synced", True, "UpToDate", "AWS matches the spec")

    status = _status(previous, observed, synced, progress.deployed, deps.clock())
    status["syncedInputs"] = inputs
    if observed.busy or remaining:
        return SyncReply(status=status, resync_after_seconds=SETTLE_SECONDS, result="waiting")
    delay = next_check(deps.drift_check_seconds, parent.metadata.uid)
    result = "changed" if progress.made else "unchanged"
    return SyncReply(status=status, resync_after_seconds=delay, result=result)


def finalize(request: SyncRequest, deps: Dependencies) -> SyncReply:
    """Delete the function when the policy says so and this object owns it."""
    parent = request.parent
    previous = parent.status or {}
    spec = parent.spec if isinstance(parent.spec, dict) else {}
    name = spec.get("functionName") or previous.get("functionName")
    now = deps.clock()

    def done(message: str) -> SyncReply:
        synced = Condition("Synced", True, "Finalized", message)
        status = _carried(previous, synced, now)
        return SyncReply(status=status, finalized=True, result="finalized")

    if spec.get("deletionPolicy") == "Retain":
        return done(f"deletionPolicy is Retain: function {name} stays in AWS, unmanaged")
    if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
        return done("no function can have this name, so none is deleted")

    events = _object_log(parent)
    try:
        credentials = awsproviders.for_function(request, awsproviders.provider_name(spec), deps)
        lambdas = deps.aws.functions(credentials.key, credentials.target)
        reply = lambdas.get(name)
        if reply is None:
            return done(f"function {name} is gone from AWS")
        holder = (reply.get("Tags") or {}).get(function.OWNER_TAG)
        owner = function.owner_of(parent.metadata.namespace, parent.metadata.name)
        if holder != owner:
            events.warning("left function %s alone: it belongs to %s", name, holder or "nobody")
            return done(f"function {name} does not belong to this object and was left alone")
        lambdas.delete(name)
        events.info("DeleteFunction %s", name)
        subnets = ((reply.get("Configuration") or {}).get("VpcConfig") or {}).get("SubnetIds")
    except ReconcileError as error:
        failures = failures_before(previous) + 1
        status = _carried(previous, failed(error, "Synced"), now, failures)
        delay = retry_delay(error, failures, parent.metadata.uid)
        return SyncReply(
            status=status, resync_after_seconds=delay, finalized=False, result="failed"
        )
    if subnets:
        # Lambda keeps a VPC function's network interfaces for a while after it is gone.
        return done(
            f"function {name} deleted; its network interfaces in {', '.join(subnets)} can"
            " take up to an hour to go, and until then those subnets and their security"
            " groups cannot be deleted"
        )
    return done(f"function {name} deleted")


@dataclass
class _Progress:
    """What a sync has learnt and done so far, for the status even if it fails midway."""

    deployed: dict[str, Any] | None = None
    observed: Observed | None = None
    looked: bool = False
    made: list[str] = field(default_factory=list)

    def record(
        self, call: function.Call, response: dict[str, Any], desired: function.Desired
    ) -> None:
        before = self.observed or Observed(configuration={})
        self.observed = before.after(call, response)
        if call.operation in ("CreateFunction", "UpdateFunctionCode"):
            sha = response.get("CodeSha256")
            self.deployed = function.deployed_record(desired.package, sha)
        self.made.append(str(call))


def _status(
    previous: dict[str, Any],
    observed: Observed | None,
    synced: Condition,
    deployed: dict[str, Any] | None,
    now: datetime,
    failures: int = 0,
) -> dict[str, Any]:
    status = function.observed_status(observed)
    if deployed:
        status["deployedCode"] = deployed
    status["conditions"] = render([function.ready_condition(observed), synced], previous, now)
    status["lastSyncTime"] = timestamp(now)
    status["consecutiveFailures"] = failures
    return status


def _carried(
    previous: dict[str, Any], synced: Condition, now: datetime, failures: int = 0
) -> dict[str, Any]:
    """The last observation, unchanged, with a new Synced condition."""
    kept = (*function.OBSERVED_FIELDS, "deployedCode")
    status = {k: previous[k] for k in kept if k in previous}
    status["ready"] = previous.get("ready") is True
    ready = find(previous, "Ready") or Condition(
        "Ready", False, "NotObserved", "AWS has not been read yet: see the Synced condition"
    )
    status["conditions"] = render([ready, synced], previous, now)
    status["lastSyncTime"] = timestamp(now)
    status["consecutiveFailures"] = failures
    return status


def _failure(
    parent: KubeObject, progress: _Progress, error: ReconcileError, now: datetime
) -> SyncReply:
    previous = parent.status or {}
    failures = failures_before(previous) + 1
    condition = failed(error, "Synced")
    if progress.looked:
        deployed = progress.deployed
        status = _status(previous, progress.observed, condition, deployed, now, failures)
    else:
        status = _carried(previous, condition, now, failures)
    _object_log(parent).warning("sync failed: %s: %s", error.reason, error.loggable)
    delay = retry_delay(error, failures, parent.metadata.uid)
    return SyncReply(status=status, resync_after_seconds=delay, result="failed")


def _inputs(request: SyncRequest) -> str:
    """A fingerprint of everything a sync works from apart from AWS itself: the spec (by
    its generation), the adoption annotation, and the provider's identity and credentials."""
    parent = request.parent
    name = awsproviders.provider_name(parent.spec)
    namespace = parent.metadata.namespace
    provider = request.find_related(API_VERSION, "AWSProvider", namespace, name)
    provider_state = None
    if provider is not None:
        status = provider.status or {}
        meta = provider.metadata
        provider_state = [
            meta.uid,
            meta.generation,
            status.get("ready"),
            status.get("credentialsVersion"),
        ]
    adopt = parent.metadata.annotations.get(function.ADOPT_ANNOTATION)
    material = repr((parent.metadata.generation, adopt, name, provider_state))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _answer_from_status(
    parent: KubeObject, inputs: str, now: datetime, interval: float
) -> SyncReply | None:
    """The last status again, when nothing it was made from has changed and the next look
    at AWS is not due yet.

    Metacontroller calls the hook for reasons that say nothing about AWS: its own resync, a
    restart, a change to the provider's status. Answering those from the status keeps the
    AWS calls per function at one per drift interval, however often the hook is called.
    """
    previous = parent.status or {}
    synced = find(previous, "Synced")
    if (
        previous.get("syncedInputs") != inputs
        or previous.get("ready") is not True
        or synced is None
        or not synced.status
        or failures_before(previous) > 0
    ):
        return None
    last = parse_timestamp(previous.get("lastSyncTime"))
    if last is None:
        return None
    due = (last - now).total_seconds() + next_check(interval, parent.metadata.uid)
    if due <= 0:
        return None
    status = {k: v for k, v in previous.items() if k != "observedGeneration"}
    return SyncReply(status=status, resync_after_seconds=round(due, 2), observed=False)


def _mapping(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def _object_log(parent: KubeObject) -> logging.LoggerAdapter:
    return logging.LoggerAdapter(log, {"object": parent.key, "kind": parent.kind})
