"""AWSProvider hooks over HTTP: credentials from Secrets, roles, and what the status says."""

from __future__ import annotations

import base64
import json
from typing import Any

from conftest import NAMESPACE, provider, refusing, served

from compositions.aws import Connector
from compositions.context import Dependencies
from compositions.kube import KubernetesSecrets
from sandbox.aws import DEFAULT_ACCOUNT, LOCALSTACK_ACCOUNT
from sandbox.replay import Metacontroller

KEYS = {
    "accessKeyIDRef": {"name": "aws-keys", "key": "access-key-id"},
    "secretAccessKeyRef": {"name": "aws-keys", "key": "secret-access-key"},
}


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def test_keys_from_a_secret_authenticate_and_name_the_account(hooks, aws, kube):
    kube.put_secret(NAMESPACE, "aws-keys", {"access-key-id": "test", "secret-access-key": "test"})
    prov = provider(aws, **KEYS)

    reply = hooks.metacontroller(prov).sync(prov)

    status = reply["status"]
    assert status["ready"] is True
    assert status["accountID"] == LOCALSTACK_ACCOUNT
    assert status["callerIdentity"].startswith(f"arn:aws:sts::{LOCALSTACK_ACCOUNT}:")
    assert status["lastAuthenticationTime"].endswith("Z")
    assert ready(status)["reason"] == "Authenticated"
    assert kube.reads == 1
    assert hooks.calls == ["GetCallerIdentity"]


def test_without_keys_or_role_the_default_credential_chain_is_used(hooks, aws):
    prov = provider(aws)
    status = hooks.metacontroller(prov).sync(prov)["status"]
    assert (status["ready"], status["accountID"]) == (True, DEFAULT_ACCOUNT)


def test_a_role_is_assumed_with_a_session_named_after_the_provider(hooks, aws):
    prov = provider(aws, name="prod", roleARN=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/operator")
    status = hooks.metacontroller(prov).sync(prov)["status"]
    assert status["callerIdentity"] == (
        f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/operator/{NAMESPACE}.prod"
    )
    assert hooks.calls == ["AssumeRole", "GetCallerIdentity"]


def test_a_secret_brought_by_metacontroller_is_used_without_reading_the_api(hooks, aws, kube):
    prov = provider(aws, **KEYS)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "aws-keys", "namespace": NAMESPACE},
        "data": {
            k: base64.b64encode(b"test").decode() for k in ("access-key-id", "secret-access-key")
        },
    }
    mc = hooks.metacontroller(prov, secret)

    related = mc.call(prov, "customize")["relatedResources"]
    assert {
        "apiVersion": "v1",
        "resource": "secrets",
        "namespace": NAMESPACE,
        "names": ["aws-keys"],
    } in related
    status = mc.sync(prov)["status"]
    assert (status["ready"], status["accountID"]) == (True, LOCALSTACK_ACCOUNT)
    assert kube.reads == 0


def test_a_missing_secret_is_reported_without_calling_aws(hooks, aws):
    prov = provider(aws, **KEYS)
    reply = hooks.metacontroller(prov).sync(prov)

    assert reply["status"]["ready"] is False
    assert ready(reply["status"])["reason"] == "SecretNotFound"
    assert f"Secret {NAMESPACE}/aws-keys does not exist" in ready(reply["status"])["message"]
    assert reply["resyncAfterSeconds"] > 0
    assert hooks.calls == []


def test_a_secret_without_the_named_key_is_reported(hooks, aws, kube):
    kube.put_secret(NAMESPACE, "aws-keys", {"access-key-id": "test"})
    prov = provider(aws, **KEYS)
    status = hooks.metacontroller(prov).sync(prov)["status"]
    assert ready(status)["reason"] == "SecretKeyMissing"
    assert "secret-access-key" in ready(status)["message"]


def test_rejected_keys_are_reported_and_never_shown(aws, kube):
    kube.put_secret(
        NAMESPACE,
        "aws-keys",
        {"access-key-id": "AKIAREJECTED", "secret-access-key": "s3cr3t-value"},
    )

    reject = refusing(
        "sts", "GetCallerIdentity", "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    )  # fmt: skip

    prov = provider(aws, **KEYS)
    deps = Dependencies(aws=Connector(on_client=reject), secrets=KubernetesSecrets())
    with served(deps) as url:
        reply = Metacontroller(url, [prov]).sync(prov)

    status = reply["status"]
    assert status["ready"] is False
    assert ready(status)["reason"] == "InvalidClientTokenId"
    assert "s3cr3t-value" not in json.dumps(reply)
    assert "AKIAREJECTED" not in json.dumps(reply)


def test_an_invalid_provider_spec_names_the_bad_fields(hooks, aws):
    prov = provider(aws, region="Mars", accessKeyIDRef={"name": "k", "key": "id"})
    status = hooks.metacontroller(prov).sync(prov)["status"]
    message = ready(status)["message"]
    assert ready(status)["reason"] == "InvalidSpec"
    assert "spec.region" in message and "secretAccessKeyRef" in message
    assert hooks.calls == []


def test_a_provider_can_always_be_finalized(hooks, aws):
    prov = provider(aws)
    assert hooks.metacontroller(prov).sync(prov, finalizing=True)["finalized"] is True
