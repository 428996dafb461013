"""Provider credentials: roles, caching, rotation, and providers that cannot strand functions."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import NAMESPACE, Hooks, lambda_function, provider, refusing, served

from compositions.aws import Connector, Target
from compositions.context import Dependencies
from compositions.errors import Retryable
from compositions.kube import KubernetesSecrets
from sandbox.aws import DEFAULT_ACCOUNT, LOCALSTACK_ACCOUNT
from sandbox.replay import Metacontroller, seed

ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/operator"
KEYS = {
    "accessKeyIDRef": {"name": "aws-keys", "key": "id"},
    "secretAccessKeyRef": {"name": "aws-keys", "key": "secret"},
}


def secret(access_key: str, version: str) -> dict[str, Any]:
    encode = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "aws-keys",
            "namespace": NAMESPACE,
            "uid": "s-1",
            "resourceVersion": version,
        },
        "data": {"id": encode(access_key), "secret": encode("not-shown")},
    }


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def test_many_syncs_assume_the_role_once_and_read_no_secret(hooks: Hooks, aws, kube):
    seed(aws.endpoint, [lambda_function()])
    prov = provider(aws, roleARN=ROLE)
    functions = [lambda_function(f"fn-{i}") for i in range(3)]
    mc = hooks.metacontroller(prov, *functions)
    mc.sync(prov)
    for _ in range(5):
        hooks.drift_check_due()
        for fn in functions:
            mc.sync(fn)

    assert hooks.calls.count("AssumeRole") == 1
    assert hooks.calls.count("GetFunction") == 15
    assert kube.reads == 0


def test_calls_that_meet_a_cold_cache_together_assume_the_role_once(aws):
    calls: list[str] = []
    targets: list[Target] = []

    def record(client: Any) -> None:
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))

    def slow_target() -> Target:
        # As slow as reading a Secret from the API server, so that every call arrives
        # while the first is still making its clients.
        time.sleep(0.3)
        targets.append(Target(region="us-east-1", endpoint=aws.endpoint, role_arn=ROLE))
        return targets[-1]

    connector = Connector(on_client=record)
    start = threading.Barrier(8)

    def first_call() -> dict[str, Any] | None:
        start.wait()
        return connector.functions(("provider", 1), slow_target).get("absent")

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: first_call(), range(8)))

    assert replies == [None] * 8
    assert len(targets) == 1
    assert calls.count("AssumeRole") == 1
    assert calls.count("GetFunction") == 8


def test_calls_that_wait_for_a_failing_first_call_share_its_failure():
    attempts: list[int] = []

    def unreadable_secret() -> Target:
        attempts.append(1)
        time.sleep(0.3)
        raise Retryable("SecretUnreadable", "the API server did not answer")

    connector = Connector()
    start = threading.Barrier(4)

    def call() -> str:
        try:
            connector.functions(("provider", 1), unreadable_secret)
        except Retryable as error:
            return error.reason
        return "no failure"

    def first_call() -> str:
        start.wait()
        return call()

    with ThreadPoolExecutor(4) as pool:
        reasons = list(pool.map(lambda _: first_call(), range(4)))

    assert reasons == ["SecretUnreadable"] * 4
    assert len(attempts) == 1
    # A call that comes afterwards tries again.
    assert call() == "SecretUnreadable"
    assert len(attempts) == 2


def test_static_keys_are_read_once_per_process_not_once_per_sync(hooks: Hooks, aws, kube):
    seed(aws.endpoint, [lambda_function()])
    kube.put_secret(NAMESPACE, "aws-keys", {"id": "test", "secret": "test"})
    prov = provider(aws, **KEYS)
    fn = lambda_function(role=f"arn:aws:iam::{LOCALSTACK_ACCOUNT}:role/lambda-role")
    seed(aws.endpoint, [fn])
    mc = hooks.metacontroller(prov, fn)
    mc.sync(prov)
    reads_after_provider = kube.reads

    for _ in range(5):
        mc.sync(fn)

    assert fn["status"]["ready"] is True
    # The provider's own sync made the client these syncs share: no read at all.
    assert kube.reads == reads_after_provider == 1


def test_a_rotated_secret_is_used_from_the_next_sync_on(hooks: Hooks, aws, kube):
    seed(aws.endpoint, [lambda_function()])
    first = secret("test", "1")
    prov = provider(aws, **KEYS)
    mc = hooks.metacontroller(prov, first)
    assert mc.sync(prov)["status"]["accountID"] == LOCALSTACK_ACCOUNT

    mc.objects[1] = secret("AKIAROTATED", "2")
    status = mc.sync(prov)["status"]

    assert status["accountID"] == DEFAULT_ACCOUNT
    assert status["credentialsVersion"] == "s-1/2"
    assert hooks.calls.count("GetCallerIdentity") == 2


def test_a_fresh_check_is_not_repeated_for_every_related_change(hooks: Hooks, aws):
    prov = provider(aws, roleARN=ROLE)
    mc = hooks.metacontroller(prov)
    first = mc.sync(prov)
    again = mc.sync(prov)

    assert hooks.calls.count("GetCallerIdentity") == 1
    assert again["status"]["lastAuthenticationTime"] == first["status"]["lastAuthenticationTime"]
    assert 1 <= again["resyncAfterSeconds"] <= 660


def test_assumed_credentials_are_refreshed_before_they_expire(aws, kube):
    seed(aws.endpoint, [lambda_function()])
    calls: list[str] = []

    def record(client: Any) -> None:
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))

    # STS's shortest session is 15 minutes, and botocore refreshes 15 minutes before the
    # end: credentials of 15 minutes and 5 seconds are due for a refresh 5 seconds on.
    connector = Connector(on_client=record, role_seconds=905)
    prov = provider(aws, roleARN=ROLE)
    fn = lambda_function()
    # Every sync reads AWS: a drift interval shorter than the pauses between them.
    deps = Dependencies(aws=connector, secrets=KubernetesSecrets(), drift_check_seconds=0.01)
    with served(deps) as url:
        mc = Metacontroller(url, [prov, fn])
        mc.sync(prov)
        mc.sync(fn)
        mc.sync(fn)
        assert calls.count("AssumeRole") == 1
        time.sleep(5.5)
        mc.sync(fn)

    assert calls.count("AssumeRole") == 2
    assert fn["status"]["ready"] is True


def test_a_web_identity_token_assumes_the_role_with_it(hooks: Hooks, aws, tmp_path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.irsa.token")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    prov = provider(aws, name="irsa", roleARN=ROLE)

    status = hooks.metacontroller(prov).sync(prov)["status"]

    assert "AssumeRoleWithWebIdentity" in hooks.calls and "AssumeRole" not in hooks.calls
    assert (
        status["callerIdentity"]
        == f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/operator/{NAMESPACE}.irsa"
    )


def test_an_external_id_goes_with_the_assume_role_call(aws, kube):
    sent: list[dict[str, Any]] = []

    def record(client: Any) -> None:
        client.meta.events.register(
            "before-parameter-build.sts.AssumeRole", lambda params, **_: sent.append(params)
        )

    prov = provider(aws, roleARN=ROLE, externalID="tenant-42")
    with served(Dependencies(aws=Connector(on_client=record), secrets=KubernetesSecrets())) as url:
        status = Metacontroller(url, [prov]).sync(prov)["status"]

    assert status["ready"] is True
    assert sent and sent[0]["ExternalId"] == "tenant-42"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"endpoint": "http://127.0.0.1:9"}, "AWSUnreachable"),
        ({"roleARN": ROLE}, "AccessDenied"),
    ],
)
def test_a_provider_that_cannot_authenticate_says_why(aws, kube, spec, reason):
    deny = refusing("sts", "AssumeRole", "AccessDenied", "not authorized to perform sts:AssumeRole")
    prov = provider(aws, **spec)
    with served(Dependencies(aws=Connector(on_client=deny), secrets=KubernetesSecrets())) as url:
        reply = Metacontroller(url, [prov]).sync(prov)

    assert reply["status"]["ready"] is False
    assert ready(reply["status"])["reason"] == reason
    assert reply["resyncAfterSeconds"] > 0


def test_a_provider_in_use_waits_for_its_functions_before_it_goes(hooks: Hooks, aws):
    seed(aws.endpoint, [lambda_function()])
    prov = provider(aws)
    fn = lambda_function()
    other = lambda_function("elsewhere", providerRef={"name": "another"})
    mc = hooks.metacontroller(prov, fn, other)
    mc.sync(prov)
    mc.converge(fn)

    blocked = mc.sync(prov, finalizing=True)
    in_use = next(c for c in blocked["status"]["conditions"] if c["type"] == "InUse")
    assert blocked["finalized"] is False
    assert "orders" in in_use["message"] and "elsewhere" not in in_use["message"]
    assert blocked["resyncAfterSeconds"] > 0

    # The function can still be finalized through the provider being deleted.
    assert mc.sync(fn, finalizing=True)["finalized"] is True
    mc.objects.remove(fn)
    assert mc.sync(prov, finalizing=True)["finalized"] is True
