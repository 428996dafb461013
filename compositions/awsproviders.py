"""The AWSProvider hooks, and how a LambdaFunction's sync reaches its provider's credentials.

A provider's sync checks its credentials with GetCallerIdentity and records in its status
the version of the Secret its keys came from. A function's sync finds the provider among
the related objects and names its credentials by the provider's UID, generation and that
version: while none of them changes, the cached AWS client is used as it is, with no Secret
read and no STS call. A rotated Secret triggers the provider's sync (its customize hook
names the Secret), which records the new version, which in turn reaches the functions.

A provider that LambdaFunctions still use is not let go: its finalize hook waits until the
last of them is gone, so that their own finalize hooks can still delete their functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from compositions.aws import Target
from compositions.conditions import Condition, failed, find, parse_timestamp, render, timestamp
from compositions.context import Dependencies
from compositions.errors import Permanent, ReconcileError, Retryable
from compositions.kube import Secret, decode
from compositions.metacontroller import (
    API_VERSION,
    CustomizeRequest,
    KubeObject,
    SyncReply,
    SyncRequest,
    related_resource,
)
from compositions.schedule import failures_before, next_check, retry_delay
from compositions.spec import AWSProviderSpec, parse, require

# How soon a provider that is still in use is asked about again while being deleted.
IN_USE_RETRY_SECONDS = 15.0


@dataclass(frozen=True)
class Credentials:
    """A provider's way into AWS: a cache key that changes whenever the way may, and the
    function that builds the Target on a cache miss."""

    key: Hashable
    target: Callable[[], Target]
    spec: AWSProviderSpec


def customize(request: CustomizeRequest) -> dict[str, Any]:
    """Ask for the Secret of the keys, so a rotation triggers a sync, and for the namespace's
    LambdaFunctions, which a deletion must wait for."""
    parent = request.parent
    namespace = parent.metadata.namespace
    spec = parent.spec if isinstance(parent.spec, dict) else {}
    secrets = [
        ref["name"]
        for ref in (spec.get("accessKeyIDRef"), spec.get("secretAccessKeyRef"))
        if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]
    ]
    related = [related_resource(API_VERSION, "lambdafunctions", namespace, [])]
    if secrets:
        related.append(related_resource("v1", "secrets", namespace, secrets))
    return {"relatedResources": related}


def sync(request: SyncRequest, deps: Dependencies) -> SyncReply:
    """Check that the provider's credentials work, and for which account."""
    parent = request.parent
    previous = parent.status or {}
    now = deps.clock()
    try:
        spec = require(AWSProviderSpec, parent.spec)
        target, version = target_of(parent, spec, _secret_source(request, deps))
        if _recently_checked(parent, version, now, deps.provider_check_seconds):
            return _unchanged(parent, now, deps.provider_check_seconds)
        identity = deps.aws.caller_identity(_key(parent, version), lambda: target)
    except ReconcileError as error:
        failures = failures_before(previous) + 1
        status = {
            "ready": False,
            "conditions": render([failed(error, "Ready")], previous, now),
            "consecutiveFailures": failures,
        }
        if "lastAuthenticationTime" in previous:
            status["lastAuthenticationTime"] = previous["lastAuthenticationTime"]
        delay = retry_delay(error, failures, parent.metadata.uid)
        return SyncReply(status=status, resync_after_seconds=delay, result="failed")

    ready = Condition(
        "Ready", True, "Authenticated",
        f"authenticated as {identity['arn']} in account {identity['account']}",
    )  # fmt: skip
    status = {
        "ready": True,
        "accountID": identity["account"],
        "callerIdentity": identity["arn"],
        "lastAuthenticationTime": timestamp(now),
        "conditions": render([ready], previous, now),
        "consecutiveFailures": 0,
    }
    if version is not None:
        status["credentialsVersion"] = version
    delay = next_check(deps.provider_check_seconds, parent.metadata.uid)
    return SyncReply(status=status, resync_after_seconds=delay)


def finalize(request: SyncRequest, deps: Dependencies) -> SyncReply:
    """Let the provider go once no LambdaFunction of its namespace uses it."""
    parent = request.parent
    previous = parent.status or {}
    users = sorted(
        f.metadata.name
        for f in request.related_objects(API_VERSION, "LambdaFunction")
        if f.metadata.namespace == parent.metadata.namespace
        and provider_name(f.spec) == parent.metadata.name
    )
    kept = [c for c in (find(previous, "Ready"),) if c is not None]
    if not users:
        status = {**previous, "conditions": render(kept, previous, deps.clock())}
        return SyncReply(status=status, finalized=True, result="finalized")

    in_use = Condition(
        "InUse", True, "ReferencedByLambdaFunctions",
        f"LambdaFunctions {', '.join(users)} still use this provider; it goes once they"
        " are deleted or point to another provider",
    )  # fmt: skip
    status = {**previous, "conditions": render([*kept, in_use], previous, deps.clock())}
    return SyncReply(
        status=status,
        resync_after_seconds=IN_USE_RETRY_SECONDS,
        finalized=False,
        result="waiting",
    )


def for_function(request: SyncRequest, name: str, deps: Dependencies) -> Credentials:
    """The credentials of the provider `name` in the function's namespace, once ready."""
    namespace = request.parent.metadata.namespace
    provider = request.find_related(API_VERSION, "AWSProvider", namespace, name)
    where = f"AWSProvider {namespace}/{name}"
    if provider is None:
        raise Retryable(
            "ProviderNotFound",
            f"{where} does not exist: create it or set spec.providerRef.name",
        )
    spec = parse(AWSProviderSpec, provider.spec)
    if isinstance(spec, list):
        raise Retryable("ProviderNotReady", f"{where} has an invalid spec: {'; '.join(spec)}")

    status = provider.status or {}
    checked = status.get("observedGeneration")
    if isinstance(checked, int) and checked < provider.metadata.generation:
        raise Retryable("ProviderNotReady", f"{where} has changed and is not checked yet")
    if status.get("ready") is not True:
        ready = find(status, "Ready")
        why = ready.message if ready else "its credentials are not checked yet"
        raise Retryable("ProviderNotReady", f"{where} is not ready: {why}")

    version = status.get("credentialsVersion")
    return Credentials(
        key=_key(provider, version if isinstance(version, str) else None),
        target=lambda: target_of(provider, spec, deps.secrets.read)[0],
        spec=spec,
    )


def target_of(
    provider: KubeObject, spec: AWSProviderSpec, secret: Callable[[str, str], Secret]
) -> tuple[Target, str | None]:
    """Where and as whom a provider calls AWS, and the version of the Secret it read."""
    namespace = provider.metadata.namespace
    keys, read = [], {}
    for ref in (spec.access_key_id_ref, spec.secret_access_key_ref):
        if ref is None:
            continue
        if ref.name not in read:
            read[ref.name] = secret(namespace, ref.name)
        value = read[ref.name].values.get(ref.key, "").strip()
        if not value:
            raise Permanent(
                "SecretKeyMissing",
                f"Secret {namespace}/{ref.name} has no value under key {ref.key}",
            )
        keys.append(value)
    access_key_id, secret_access_key = keys if keys else (None, None)
    target = Target(
        region=spec.region,
        endpoint=spec.endpoint,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        role_arn=spec.role_arn,
        external_id=spec.external_id,
        session_name=_session_name(namespace, provider.metadata.name),
    )
    version = ",".join(sorted(s.version for s in read.values())) or None
    return target, version


def provider_name(spec: Any) -> str:
    """The provider a LambdaFunction spec names, read leniently: `default` when none."""
    ref = spec.get("providerRef") if isinstance(spec, dict) else None
    name = ref.get("name") if isinstance(ref, dict) else None
    return name if isinstance(name, str) and name else "default"


def _key(provider: KubeObject, version: str | None) -> Hashable:
    return (provider.metadata.uid, provider.metadata.generation, version)


def _recently_checked(
    provider: KubeObject, version: str | None, now: datetime, interval: float
) -> bool:
    """Whether the last check still holds: same spec, same Secret, not long ago.

    Every change to a LambdaFunction of the namespace calls this hook (they are related
    objects); without this, each would cost an STS call.
    """
    status = provider.status or {}
    last = status.get("lastAuthenticationTime")
    if status.get("ready") is not True or not isinstance(last, str):
        return False
    if status.get("observedGeneration") != provider.metadata.generation:
        return False
    if status.get("credentialsVersion") != version:
        return False
    checked = parse_timestamp(last)
    return checked is not None and now - checked < timedelta(seconds=interval)


def _unchanged(provider: KubeObject, now: datetime, interval: float) -> SyncReply:
    status = dict(provider.status or {})
    status.pop("observedGeneration", None)
    checked = parse_timestamp(status["lastAuthenticationTime"])
    assert checked is not None, "only a recent check is answered from the status"
    due = interval - (now - checked).total_seconds()
    return SyncReply(status=status, resync_after_seconds=max(round(due, 2), 1.0))


def _secret_source(request: SyncRequest, deps: Dependencies) -> Callable[[str, str], Secret]:
    """Secrets from the request when Metacontroller brought them, else from the API."""

    def read(namespace: str, name: str) -> Secret:
        brought = request.find_related("v1", "Secret", namespace, name)
        if brought is None:
            return deps.secrets.read(namespace, name)
        meta = brought.metadata
        return decode(brought.data, namespace, name, meta.uid, meta.resource_version)

    return read


def _session_name(namespace: str, name: str) -> str:
    # STS allows 2 to 64 characters of [\w+=,.@-].
    return re.sub(r"[^\w+=,.@-]", "-", f"{namespace}.{name}")[:64]
