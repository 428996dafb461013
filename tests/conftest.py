"""Shared test fixtures: the embedded AWS, a Kubernetes API with Secrets, and the hooks served
over HTTP with every AWS call they make recorded.

The embedded AWS starts once per session, when a test first needs it, and is emptied
before each test that uses it; tests of the pure core start nothing. The hooks get a
fresh app (and so fresh cached clients) per test, served on a loopback port, and are driven
by `sandbox.replay.Metacontroller`, which speaks the webhook contract over HTTP.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.endpoint
import crdschema
import pytest
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from compositions.aws import Connector
from compositions.context import Dependencies
from compositions.kube import KubernetesSecrets
from hooks.app import create_app
from sandbox.aws import DEFAULT_ACCOUNT, EmbeddedAWS
from sandbox.kubeapi import KubernetesAPI
from sandbox.replay import Metacontroller, seed

API_VERSION = "aws-infra-operator.runner.codes/v1alpha1"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/lambda-role"
NAMESPACE = "team-a"
DRIFT_CHECK_SECONDS = 300.0


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAWS]:
    embedded = EmbeddedAWS().start()
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubernetesAPI]:
    api = KubernetesAPI().start()
    yield api
    api.stop()


@pytest.fixture
def kube(kube_api: KubernetesAPI, monkeypatch: pytest.MonkeyPatch) -> KubernetesAPI:
    """The Kubernetes API stand-in, holding no Secrets, named by KUBECONFIG."""
    kube_api.secrets.clear()
    kube_api.reads = 0
    monkeypatch.setenv("KUBECONFIG", kube_api.kubeconfig())
    return kube_api


@pytest.fixture
def aws(
    embedded_aws: EmbeddedAWS, kube: KubernetesAPI, monkeypatch: pytest.MonkeyPatch
) -> EmbeddedAWS:
    """The embedded AWS, emptied, and no way for the code under test to reach a real one."""
    request = urllib.request.Request(f"{embedded_aws.endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    embedded_aws.fidelity.reset()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ambient")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient")
    monkeypatch.setenv("AWS_ENDPOINT_URL", embedded_aws.endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    return embedded_aws


class SchemaCheckingMetacontroller(Metacontroller):
    """Metacontroller, plus the API server's check that a status fits the CRD: a status
    field the CRD does not declare would be dropped in a cluster."""

    def sync(self, parent: dict[str, Any], finalizing: bool = False) -> dict[str, Any]:
        reply = super().sync(parent, finalizing)
        # Some tests send specs the CRD would refuse, as if it were not installed: only the
        # status is the hooks' to get right.
        problems = [p for p in crdschema.errors(parent) if p.startswith("$.status")]
        assert not problems, f"the status does not fit the CRD: {problems}"
        return reply


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore waits up to a second before it retries a throttled call. Tests about what
    the hooks do once botocore gives up need not wait for its spacing."""

    class Instant:
        @staticmethod
        def sleep(seconds: float) -> None:
            time.sleep(min(seconds, 0.01))

    monkeypatch.setattr(botocore.endpoint, "time", Instant)


class Clock:
    """The hooks' clock, moved only by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Hooks:
    """The hooks on a loopback port, what they asked of AWS, and their clock."""

    url: str
    aws: EmbeddedAWS
    calls: list[str] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)

    def drift_check_due(self) -> None:
        """Move time past the drift interval, so the next sync reads AWS again."""
        self.clock.advance(DRIFT_CHECK_SECONDS * 1.2)

    def metacontroller(self, *objects: dict[str, Any], hook_version: str = "v2") -> Metacontroller:
        return SchemaCheckingMetacontroller(self.url, list(objects), hook_version)

    def mutations(self) -> list[str]:
        return [c for c in self.calls if not c.startswith(("Get", "List"))]


@contextmanager
def served(deps: Dependencies) -> Iterator[str]:
    """The hooks app for `deps` on a loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, create_app(deps), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def hooks(aws: EmbeddedAWS) -> Iterator[Hooks]:
    calls: list[str] = []

    def record(client: Any) -> None:
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))

    clock = Clock()
    deps = Dependencies(
        aws=Connector(on_client=record),
        secrets=KubernetesSecrets(),
        clock=clock,
        drift_check_seconds=DRIFT_CHECK_SECONDS,
    )
    with served(deps) as url:
        yield Hooks(url, aws, calls, clock)


def refusing(service: str, operation: str, code: str, message: str) -> Callable[[Any], None]:
    """A Connector's on_client that makes every `operation` call fail as AWS would refuse it."""

    def install(client: Any) -> None:
        def refuse(**_: Any) -> None:
            error = {"Code": code, "Message": message}
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation
            )

        client.meta.events.register(f"before-call.{service}.{operation}", refuse)

    return install


def provider(aws: EmbeddedAWS, name: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "AWSProvider",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"region": "us-east-1", "endpoint": aws.endpoint, **spec},
    }


def lambda_function(name: str = "orders", **spec: Any) -> dict[str, Any]:
    body = {
        "functionName": name,
        "runtime": "python3.12",
        "handler": "index.handler",
        "role": ROLE,
        "code": {"zipFile": "def handler(event, context):\n    return 'ok'\n"},
    }
    body.update(spec)
    return {
        "apiVersion": API_VERSION,
        "kind": "LambdaFunction",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": body,
    }


@pytest.fixture
def ready_provider(hooks: Hooks, aws: EmbeddedAWS) -> dict[str, Any]:
    """The `default` AWSProvider, synced and ready, with the roles the tests use."""
    seed(aws.endpoint, [lambda_function()])
    obj = provider(aws)
    hooks.metacontroller(obj).sync(obj)
    assert obj["status"]["ready"] is True, obj["status"]
    hooks.calls.clear()
    return obj
