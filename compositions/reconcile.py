"""The answer to each Metacontroller call, from the request and what AWS holds.

Each function here reads (the spec, the provider, one GetFunction), asks the pure modules
what to do, does it through `aws`, and builds the status. Nothing is remembered between
calls: what a later sync needs to know (what was deployed from S3, how many failures in a
row) travels in the object's status. Any failure ends as a status condition with a reason
and a message saying what to do; the hook still answers 200.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from compositions import function
from compositions.aws import Connector, Target
from compositions.conditions import Condition, render, timestamp
from compositions.errors import Permanent, ReconcileError, Retryable
from compositions.schedule import SETTLE_SECONDS, next_check, retry_delay
from compositions.function import Observed
from compositions.kube import SecretReader, decode
from compositions.metacontroller import (
    API_VERSION,
    CustomizeRequest,
    KubeObject,
    SyncReply,
    SyncRequest,
    related_resource,
)
from compositions.spec import AWSProviderSpec, LambdaFunctionSpec, Spec, parse

log = logging.getLogger(__name__)

def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    """The outside world of the hooks and their timing; tests and `make run` give their own."""

    aws: Connector = field(default_factory=Connector)
    secrets: SecretReader = field(default_factory=lambda: _kubernetes_secrets())
    clock: Callable[[], datetime] = _utcnow
    # How often a settled function is compared with AWS, and a provider's credentials checked.
    drift_check_seconds: float = 300.0
    provider_check_seconds: float = 600.0

    @classmethod
    def from_environment(cls) -> Dependencies:
        return cls(
            drift_check_seconds=float(os.environ.get("DRIFT_CHECK_SECONDS", 300)),
            provider_check_seconds=float(os.environ.get("PROVIDER_CHECK_SECONDS", 600)),
        )


def _kubernetes_secrets() -> SecretReader:
    from compositions.kube import KubernetesSecrets

    return KubernetesSecrets()


# LambdaFunction


def customize_function(request: CustomizeRequest) -> dict[str, Any]:
    """Ask Metacontroller for the function's AWSProvider, so its changes trigger a sync."""
    parent = request.parent
    return {
        "relatedResources": [
            related_resource(
                API_VERSION, "awsproviders", parent.metadata.namespace, [_provider_name(parent.spec)]
            )
        ]
    }


def sync_function(request: SyncRequest, deps: Dependencies) -> SyncReply:
    parent = request.parent
    previous = parent.status or {}
    progress = _Progress(deployed=_mapping(previous.get("deployedCode")))
    events = _object_log(parent)
    try:
        spec = _valid(LambdaFunctionSpec, parent.spec)
        provider, target = _provider_for(request, spec.provider_name, deps)
        owner = function.owner_of(parent.metadata.namespace, parent.metadata.name)
        desired = function.desire(spec, owner=owner, default_tags=provider.default_tags)
        lambdas = deps.aws.functions(target)

        reply = lambdas.get(desired.name)
        observed = Observed.from_get_function(reply) if reply else None
        if observed is not None:
            adopt = parent.metadata.annotations.get(function.ADOPT_ANNOTATION) == "true"
            function.claim(observed, owner, adopt)
        progress.observed, progress.looked = observed, True

        for call in function.plan(desired, progress.observed, progress.deployed):
            response = lambdas.call(call.operation, call.params)
            events.info("%s %s", call, desired.name)
            progress.record(call, response, desired)
            if call.settles:
                break
    except ReconcileError as error:
        return _function_failure(parent, progress, error, deps.clock())

    observed = progress.observed
    assert observed is not None, "a successful sync has seen or created the function"
    remaining = function.differences(desired, observed, progress.deployed)
    if remaining:
        synced = Condition(
            "Synced", False, "Progressing",
            f"waiting for Lambda to apply the last change before updating {', '.join(remaining)}",
        )  # fmt: skip
    elif progress.made:
        synced = Condition("Synced", True, "Applied", "made " + ", ".join(progress.made))
    else:
        synced = Condition("Synced", True, "UpToDate", "AWS matches the spec")

    status = _function_status(previous, observed, synced, progress.deployed, deps.clock())
    if observed.busy or remaining:
        return SyncReply(status=status, resync_after_seconds=SETTLE_SECONDS)
    return SyncReply(
        status=status,
        resync_after_seconds=next_check(deps.drift_check_seconds, parent.metadata.uid),
    )


def finalize_function(request: SyncRequest, deps: Dependencies) -> SyncReply:
    """Delete the function when the policy says so and this object owns it."""
    parent = request.parent
    previous = parent.status or {}
    spec = parent.spec if isinstance(parent.spec, dict) else {}
    name = spec.get("functionName") or previous.get("functionName")
    now = deps.clock()

    def done(message: str) -> SyncReply:
        synced = Condition("Synced", True, "Finalized", message)
        return SyncReply(status=_carried_status(previous, synced, now), finalized=True)

    if spec.get("deletionPolicy") == "Retain":
        return done(f"deletionPolicy is Retain: function {name} stays in AWS, unmanaged")
    if not isinstance(name, str) or not name:
        return done("no function was ever named, so none is deleted")

    events = _object_log(parent)
    try:
        _, target = _provider_for(request, _provider_name(spec), deps)
        lambdas = deps.aws.functions(target)
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
    except ReconcileError as error:
        failures = _failures(previous) + 1
        status = _carried_status(previous, _failed_condition(error), now, failures)
        return SyncReply(
            status=status,
            resync_after_seconds=retry_delay(error, failures, parent.metadata.uid),
            finalized=False,
        )
    return done(f"function {name} deleted")


# AWSProvider


def customize_provider(request: CustomizeRequest) -> dict[str, Any]:
    """Ask for the Secret that holds the keys, so that a rotated key triggers a sync."""
    parent = request.parent
    spec = parent.spec if isinstance(parent.spec, dict) else {}
    names = [
        ref["name"]
        for ref in (spec.get("accessKeyIDRef"), spec.get("secretAccessKeyRef"))
        if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]
    ]
    if not names:
        return {"relatedResources": []}
    return {"relatedResources": [related_resource("v1", "secrets", parent.metadata.namespace, names)]}


def sync_provider(request: SyncRequest, deps: Dependencies) -> SyncReply:
    """Check that the provider's credentials work, and for which account."""
    parent = request.parent
    previous = parent.status or {}
    now = deps.clock()
    try:
        spec = _valid(AWSProviderSpec, parent.spec)
        target = provider_target(parent, spec, _secret_source(request, deps))
        identity = deps.aws.caller_identity(target)
    except ReconcileError as error:
        failures = _failures(previous) + 1
        status = {
            "ready": False,
            "conditions": render([_failed_condition(error, "Ready")], previous, now),
            "consecutiveFailures": failures,
        }
        if "lastAuthenticationTime" in previous:
            status["lastAuthenticationTime"] = previous["lastAuthenticationTime"]
        return SyncReply(
            status=status, resync_after_seconds=retry_delay(error, failures, parent.metadata.uid)
        )

    ready = Condition(
        "Ready", True, "Authenticated",
        f"authenticated as {identity['arn']} in account {identity['account']}",
    )  # fmt: skip
    return SyncReply(resync_after_seconds=next_check(deps.provider_check_seconds, parent.metadata.uid), status={
        "ready": True,
        "accountID": identity["account"],
        "callerIdentity": identity["arn"],
        "lastAuthenticationTime": timestamp(now),
        "conditions": render([ready], previous, now),
        "consecutiveFailures": 0,
    })  # fmt: skip


def finalize_provider(request: SyncRequest, deps: Dependencies) -> SyncReply:
    """A provider holds nothing in AWS, so it can always go."""
    status = dict(request.parent.status or {})
    return SyncReply(status=status, finalized=True)


def provider_target(
    provider: KubeObject, spec: AWSProviderSpec, secret: Callable[[str, str], dict[str, str]]
) -> Target:
    """Where and as whom a provider calls AWS, with keys read from its Secret."""
    namespace = provider.metadata.namespace
    keys, read = [], {}
    for ref in (spec.access_key_id_ref, spec.secret_access_key_ref):
        if ref is None:
            continue
        if ref.name not in read:
            read[ref.name] = secret(namespace, ref.name)
        values = read[ref.name]
        if not values.get(ref.key):
            raise Permanent(
                "SecretKeyMissing", f"Secret {namespace}/{ref.name} has no value under key {ref.key}"
            )
        keys.append(values[ref.key].strip())
    access_key_id, secret_access_key = keys if keys else (None, None)
    return Target(
        region=spec.region,
        endpoint=spec.endpoint,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        role_arn=spec.role_arn,
        external_id=spec.external_id,
        session_name=_session_name(namespace, provider.metadata.name),
    )


# Shared steps


@dataclass
class _Progress:
    """What a sync has learnt and done so far, for the status even if it fails midway."""

    deployed: dict[str, Any] | None = None
    observed: Observed | None = None
    looked: bool = False
    made: list[str] = field(default_factory=list)

    def record(self, call: function.Call, response: dict[str, Any], desired: function.Desired) -> None:
        if self.observed is None:
            self.observed = Observed(configuration={}, tags={})
        self.observed = self.observed.after(call, response)
        if call.operation in ("CreateFunction", "UpdateFunctionCode"):
            self.deployed = function.deployed_record(desired.package, response.get("CodeSha256"))
        self.made.append(str(call))


def _valid(model: type[Spec], raw: Any) -> Spec:
    parsed = parse(model, raw)
    if isinstance(parsed, list):
        raise Permanent("InvalidSpec", "; ".join(parsed))
    return parsed


def _provider_for(
    request: SyncRequest, name: str, deps: Dependencies
) -> tuple[AWSProviderSpec, Target]:
    namespace = request.parent.metadata.namespace
    provider = request.find_related(API_VERSION, "AWSProvider", namespace, name)
    where = f"AWSProvider {namespace}/{name}"
    if provider is None:
        raise Retryable(
            "ProviderNotFound", f"{where} does not exist: create it or set spec.providerRef.name"
        )
    spec = parse(AWSProviderSpec, provider.spec)
    if isinstance(spec, list):
        raise Retryable("ProviderNotReady", f"{where} has an invalid spec: {'; '.join(spec)}")

    status = provider.status or {}
    checked = status.get("observedGeneration")
    if isinstance(checked, int) and checked < provider.metadata.generation:
        raise Retryable("ProviderNotReady", f"{where} has changed and is not checked yet")
    if status.get("ready") is not True:
        ready = _condition(status, "Ready")
        why = ready.message if ready else "its credentials are not checked yet"
        raise Retryable("ProviderNotReady", f"{where} is not ready: {why}")
    return spec, provider_target(provider, spec, deps.secrets.read)


def _secret_source(request: SyncRequest, deps: Dependencies) -> Callable[[str, str], dict[str, str]]:
    """Secrets from the request when Metacontroller brought them, else from the API."""

    def read(namespace: str, name: str) -> dict[str, str]:
        brought = request.find_related("v1", "Secret", namespace, name)
        if brought is not None:
            return decode(brought.data, namespace, name)
        return deps.secrets.read(namespace, name)

    return read


def _provider_name(spec: Any) -> str:
    ref = spec.get("providerRef") if isinstance(spec, dict) else None
    name = ref.get("name") if isinstance(ref, dict) else None
    return name if isinstance(name, str) and name else "default"


def _session_name(namespace: str, name: str) -> str:
    # STS allows 2 to 64 characters of [\w+=,.@-].
    return re.sub(r"[^\w+=,.@-]", "-", f"{namespace}.{name}")[:64]


def _failures(previous: dict[str, Any]) -> int:
    count = previous.get("consecutiveFailures")
    return count if isinstance(count, int) and count >= 0 else 0


def _mapping(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def _failed_condition(error: ReconcileError, kind: str = "Synced") -> Condition:
    hint = " (will retry)" if error.retryable else ""
    return Condition(kind, False, error.reason, error.message + hint)


def _function_status(
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


def _carried_status(
    previous: dict[str, Any], synced: Condition, now: datetime, failures: int = 0
) -> dict[str, Any]:
    """The last observation, unchanged, with a new Synced condition."""
    status = {k: previous[k] for k in (*function.OBSERVED_FIELDS, "deployedCode") if k in previous}
    status["ready"] = previous.get("ready") is True
    ready = _condition(previous, "Ready") or Condition(
        "Ready", False, "NotObserved", "AWS has not been read yet: see the Synced condition"
    )
    status["conditions"] = render([ready, synced], previous, now)
    status["lastSyncTime"] = timestamp(now)
    status["consecutiveFailures"] = failures
    return status


def _condition(status: dict[str, Any], kind: str) -> Condition | None:
    found = next(
        (c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == kind),
        None,
    )
    if found is None:
        return None
    return Condition(kind, found.get("status") == "True", str(found.get("reason", "")), str(found.get("message", "")))


def _function_failure(
    parent: KubeObject, progress: _Progress, error: ReconcileError, now: datetime
) -> SyncReply:
    previous = parent.status or {}
    failures = _failures(previous) + 1
    condition = _failed_condition(error)
    if progress.looked:
        status = _function_status(previous, progress.observed, condition, progress.deployed, now, failures)
    else:
        status = _carried_status(previous, condition, now, failures)
    _object_log(parent).warning("sync failed: %s: %s", error.reason, error.message)
    return SyncReply(status=status, resync_after_seconds=retry_delay(error, failures, parent.metadata.uid))


def _object_log(parent: KubeObject) -> logging.LoggerAdapter:
    return logging.LoggerAdapter(log, {"object": parent.key, "kind": parent.kind})
