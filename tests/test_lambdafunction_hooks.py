"""LambdaFunction hooks driven over HTTP as Metacontroller drives them, against the embedded AWS."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import boto3
import pytest
from conftest import NAMESPACE, ROLE, Hooks, lambda_function, provider

from compositions.spec import OWNER_TAG
from sandbox.aws import DEFAULT_ACCOUNT, EmbeddedAWS, Fault


def lambda_client(aws: EmbeddedAWS) -> Any:
    return boto3.client(
        "lambda", endpoint_url=aws.endpoint, region_name="us-east-1",
        aws_access_key_id="outside", aws_secret_access_key="outside",
    )  # fmt: skip


def create_outside(aws: EmbeddedAWS, **settings: Any) -> Any:
    """Create the function `orders` as someone else would, with no owner tag; return the
    client that did."""
    outside = lambda_client(aws)
    outside.create_function(
        FunctionName="orders",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": _zip()},
        **settings,
    )
    return outside


def converge(hooks: Hooks, provider_obj: dict, fn: dict, **kwargs: Any) -> dict:
    mc = hooks.metacontroller(provider_obj, fn, **kwargs)
    outcome = mc.converge(fn)
    assert fn["status"]["ready"] is True, fn["status"]
    assert outcome.syncs <= 3
    return fn["status"]


def condition(status: dict, kind: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == kind)


# Creating and steady state


def test_a_new_function_is_created_with_its_tags_and_reported_ready(hooks, ready_provider, aws):
    fn = lambda_function(memorySize=256, timeout=30, tags={"team": "a"})
    status = converge(hooks, ready_provider, fn)

    assert status["functionArn"] == f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT}:function:orders"
    assert (status["state"], status["lastUpdateStatus"]) == ("Active", "Successful")
    assert (status["memorySize"], status["timeout"], status["version"]) == (
        256,
        30,
        "$LATEST",
    )
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Synced")["status"] == "True"
    tags = lambda_client(aws).get_function(FunctionName="orders")["Tags"]
    assert tags == {"team": "a", OWNER_TAG: f"{NAMESPACE}/orders"}
    assert hooks.mutations() == ["CreateFunction"]


def test_the_first_sync_reports_pending_and_asks_to_be_called_again(hooks, ready_provider):
    fn = lambda_function()
    reply = hooks.metacontroller(ready_provider, fn).sync(fn)

    assert reply["status"]["state"] == "Pending"
    assert reply["status"]["ready"] is False
    assert condition(reply["status"], "Ready")["reason"] == "Creating"
    assert reply["resyncAfterSeconds"] > 0
    assert "finalized" not in reply


def test_a_sync_of_an_unchanged_spec_makes_one_get_function_and_no_change(hooks, ready_provider):
    fn = lambda_function(
        environment={"variables": {"MODE": "1"}}, layers=[], tags={"x": "y"},
        vpcConfig={"subnetIds": ["subnet-0b", "subnet-0a"], "securityGroupIds": ["sg-01"]},
        deadLetterConfig={"targetArn": f"arn:aws:sqs:us-east-1:{DEFAULT_ACCOUNT}:dlq"},
        tracingConfig={"mode": "Active"}, ephemeralStorage=1024, reservedConcurrentExecutions=0,
        architectures=["arm64"], description="orders",
    )  # fmt: skip
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.calls.clear()

    hooks.drift_check_due()
    reply = mc.sync(fn)

    assert hooks.calls == ["GetFunction"]
    assert 270 <= reply["resyncAfterSeconds"] <= 330, "drift is checked again in about 5 min"
    assert condition(reply["status"], "Synced")["reason"] == "UpToDate"


def test_a_sync_before_the_drift_check_is_due_is_answered_from_the_status(hooks, ready_provider):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    settled = dict(fn["status"])
    hooks.calls.clear()

    hooks.clock.advance(100)
    reply = mc.sync(fn)

    assert hooks.calls == []
    assert reply["status"] == {k: v for k, v in settled.items() if k != "observedGeneration"}
    assert 170 <= reply["resyncAfterSeconds"] <= 230, "asks again when the check is due"


@pytest.mark.parametrize(
    "change",
    ["spec", "adopt annotation", "provider credentials", "provider readiness"],
)
def test_a_change_to_what_a_sync_works_from_is_never_answered_from_the_status(
    hooks, ready_provider, change
):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.calls.clear()

    if change == "spec":
        fn["spec"]["timeout"] = 9
    elif change == "adopt annotation":
        fn["metadata"]["annotations"] = {"aws-infra-operator.runner.codes/adopt": "true"}
    elif change == "provider credentials":
        ready_provider["status"]["credentialsVersion"] = "secret/2"
    else:
        ready_provider["status"]["ready"] = False
    mc.sync(fn)

    assert hooks.calls[:1] == ([] if change == "provider readiness" else ["GetFunction"])
    if change == "provider readiness":
        assert condition(fn["status"], "Synced")["reason"] == "ProviderNotReady"


def test_reply_carries_only_the_fields_the_contract_allows(hooks, ready_provider):
    fn = lambda_function()
    reply = hooks.metacontroller(ready_provider, fn).sync(fn)
    assert set(reply) <= {"status", "children", "resyncAfterSeconds"}
    assert reply["children"] == []


@pytest.mark.parametrize("hook_version", ["v1", "v2"])
def test_related_provider_is_found_whatever_the_hook_version_keys_it_by(
    hooks, ready_provider, hook_version
):
    fn = lambda_function()
    converge(hooks, ready_provider, fn, hook_version=hook_version)


# Updates


def test_a_changed_setting_is_updated_with_only_that_field(hooks, ready_provider):
    fn = lambda_function(memorySize=128)
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.calls.clear()

    fn["spec"]["memorySize"] = 512
    mc.converge(fn)

    assert hooks.mutations() == ["UpdateFunctionConfiguration"]
    assert fn["status"]["memorySize"] == 512


@pytest.mark.parametrize(
    ("field", "value", "aws_field", "emptied"),
    [
        ("environment", {"variables": {"MODE": "1"}}, "Environment", None),
        ("layers", None, "Layers", []),
        (
            "deadLetterConfig",
            {"targetArn": f"arn:aws:sqs:us-east-1:{DEFAULT_ACCOUNT}:dlq"},
            "DeadLetterConfig",
            None,
        ),
        (
            "vpcConfig",
            {"subnetIds": ["subnet-0a"], "securityGroupIds": ["sg-0a"]},
            "VpcConfig",
            {"SubnetIds": [], "SecurityGroupIds": []},
        ),
        ("tracingConfig", {"mode": "Active"}, "TracingConfig", {"Mode": "PassThrough"}),
    ],
)
def test_a_setting_removed_from_the_spec_is_removed_in_aws(
    hooks, ready_provider, aws, field, value, aws_field, emptied
):
    if field == "layers":
        lambda_client(aws).publish_layer_version(LayerName="deps", Content={"ZipFile": _zip()})
        value = [f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT}:layer:deps:1"]
    fn = lambda_function(**{field: value})
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.calls.clear()

    del fn["spec"][field]
    mc.converge(fn)

    assert hooks.mutations() == ["UpdateFunctionConfiguration"]
    config = lambda_client(aws).get_function(FunctionName="orders")["Configuration"]
    assert config.get(aws_field) == emptied


def test_new_inline_code_is_deployed_and_the_same_code_is_not(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    first = fn["status"]["codeSha256"]
    hooks.calls.clear()

    fn["spec"]["code"] = {"zipFile": "def handler(event, context):\n    return 'v2'\n"}
    mc.converge(fn)

    assert hooks.mutations() == ["UpdateFunctionCode"]
    assert fn["status"]["codeSha256"] != first
    hooks.calls.clear()
    mc.sync(fn)
    assert hooks.mutations() == []


def test_a_base64_zip_is_deployed_byte_for_byte(hooks, ready_provider, aws):
    archive = _zip("index.py", "def handler(e, c):\n    return 1\n")
    fn = lambda_function(code={"zipFile": base64.b64encode(archive).decode()})
    converge(hooks, ready_provider, fn)

    import hashlib

    assert fn["status"]["codeSha256"] == base64.b64encode(hashlib.sha256(archive).digest()).decode()
    assert fn["status"]["codeSize"] == len(archive)


def test_a_new_architecture_redeploys_the_code_with_it(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.calls.clear()

    fn["spec"]["architectures"] = ["arm64"]
    mc.converge(fn)

    assert hooks.mutations() == ["UpdateFunctionCode"]
    assert lambda_client(aws).get_function(FunctionName="orders")["Configuration"][
        "Architectures"
    ] == ["arm64"]


def test_s3_code_is_redeployed_only_when_its_location_changes(hooks, ready_provider, aws):
    s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")  # fmt: skip
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="v1.zip", Body=_zip("index.py", "v = 1"))
    s3.put_object(Bucket="code", Key="v2.zip", Body=_zip("index.py", "v = 2"))
    fn = lambda_function(code={"s3Bucket": "code", "s3Key": "v1.zip"})
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    assert fn["status"]["deployedCode"]["s3Key"] == "v1.zip"
    hooks.calls.clear()

    mc.sync(fn)
    assert hooks.mutations() == []

    fn["spec"]["code"]["s3Key"] = "v2.zip"
    mc.converge(fn)
    assert hooks.mutations() == ["UpdateFunctionCode"]
    assert fn["status"]["deployedCode"]["s3Key"] == "v2.zip"


def test_config_and_code_changes_are_applied_one_update_per_sync(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.calls.clear()

    fn["spec"]["timeout"] = 60
    fn["spec"]["code"] = {"zipFile": "def handler(event, context):\n    return 'v2'\n"}
    first = mc.sync(fn)

    assert hooks.mutations() == ["UpdateFunctionConfiguration"]
    assert condition(first["status"], "Synced")["reason"] == "Progressing"
    assert first["resyncAfterSeconds"] > 0
    mc.converge(fn)
    assert hooks.mutations() == ["UpdateFunctionConfiguration", "UpdateFunctionCode"]


# Lambda's asynchronous updates


@pytest.mark.parametrize(
    ("held", "reason"),
    [
        ({"State": "Pending"}, "Creating"),
        ({"LastUpdateStatus": "InProgress"}, "Updating"),
    ],
)
def test_nothing_is_changed_while_lambda_is_still_applying_a_change(
    hooks, ready_provider, aws, held, reason
):
    fn = lambda_function(memorySize=128)
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    fn["spec"]["memorySize"] = 1024
    aws.fidelity.faults.append(Fault("GetFunction", times=2, configuration=held))
    hooks.calls.clear()

    for _ in range(2):
        reply = mc.sync(fn)
        assert reply["status"]["ready"] is False
        assert condition(reply["status"], "Ready")["reason"] == reason
        assert reply["resyncAfterSeconds"] > 0
    assert hooks.mutations() == []

    mc.converge(fn)
    assert hooks.mutations() == ["UpdateFunctionConfiguration"]
    assert fn["status"]["memorySize"] == 1024


def test_a_function_whose_last_update_failed_is_not_ready(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.drift_check_due()
    aws.fidelity.faults.append(
        Fault(
            "GetFunction",
            configuration={
                "LastUpdateStatus": "Failed",
                "LastUpdateStatusReason": "subnet has no free IPs",
            },
        )
    )

    reply = mc.sync(fn)

    assert reply["status"]["ready"] is False
    assert condition(reply["status"], "Ready")["message"] == "subnet has no free IPs"


# Drift


def test_a_change_made_outside_is_reverted_on_the_next_sync(hooks, ready_provider, aws):
    fn = lambda_function(memorySize=256, environment={"variables": {"MODE": "safe"}})
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.drift_check_due()
    outside = lambda_client(aws)
    outside.update_function_configuration(
        FunctionName="orders", MemorySize=2048, Environment={"Variables": {"MODE": "yolo"}}
    )
    outside.tag_resource(Resource=fn["status"]["functionArn"], Tags={"rogue": "1"})

    mc.converge(fn)

    config = outside.get_function(FunctionName="orders")
    assert config["Configuration"]["MemorySize"] == 256
    assert config["Configuration"]["Environment"]["Variables"] == {"MODE": "safe"}
    assert "rogue" not in config["Tags"]


def test_a_function_deleted_outside_is_created_again(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.drift_check_due()
    lambda_client(aws).delete_function(FunctionName="orders")
    hooks.calls.clear()

    mc.converge(fn)

    assert hooks.mutations() == ["CreateFunction"]
    assert fn["status"]["ready"] is True


# Tags and concurrency


def test_tags_merge_provider_defaults_under_the_spec_and_never_touch_aws_tags(hooks, aws):
    from sandbox.replay import seed

    seed(aws.endpoint, [lambda_function()])
    prov = provider(aws, defaultTags={"env": "prod", "team": "platform"})
    fn = lambda_function(tags={"team": "orders"})
    mc = hooks.metacontroller(prov, fn)
    mc.sync(prov)
    mc.converge(fn)
    outside = lambda_client(aws)
    outside.tag_resource(
        Resource=fn["status"]["functionArn"], Tags={"aws:cloudformation:stack-name": "s"}
    )

    del fn["spec"]["tags"]
    mc.converge(fn)

    assert outside.get_function(FunctionName="orders")["Tags"] == {
        "env": "prod",
        "team": "platform",
        OWNER_TAG: f"{NAMESPACE}/orders",
        "aws:cloudformation:stack-name": "s",
    }


def test_reserved_concurrency_is_set_including_zero_and_removed_with_the_field(
    hooks, ready_provider, aws
):
    fn = lambda_function(reservedConcurrentExecutions=0)
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    assert hooks.mutations() == ["CreateFunction", "PutFunctionConcurrency"]
    assert lambda_client(aws).get_function(FunctionName="orders")["Concurrency"] == {
        "ReservedConcurrentExecutions": 0
    }

    fn["spec"]["reservedConcurrentExecutions"] = 5
    mc.converge(fn)
    assert lambda_client(aws).get_function(FunctionName="orders")["Concurrency"] == {
        "ReservedConcurrentExecutions": 5
    }

    del fn["spec"]["reservedConcurrentExecutions"]
    hooks.calls.clear()
    mc.converge(fn)
    assert hooks.mutations() == ["DeleteFunctionConcurrency"]
    assert "Concurrency" not in lambda_client(aws).get_function(FunctionName="orders")


# Ownership


def test_a_function_that_exists_without_this_object_is_left_untouched(hooks, ready_provider, aws):
    outside = create_outside(aws, MemorySize=512)
    fn = lambda_function(memorySize=128)

    reply = hooks.metacontroller(ready_provider, fn).sync(fn)

    synced = condition(reply["status"], "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "AlreadyExists")
    assert "aws-infra-operator.runner.codes/adopt" in synced["message"]
    assert hooks.mutations() == []
    assert outside.get_function(FunctionName="orders")["Configuration"]["MemorySize"] == 512


def test_an_ownerless_function_is_adopted_when_the_object_asks(hooks, ready_provider, aws):
    create_outside(aws)
    fn = lambda_function()
    fn["metadata"]["annotations"] = {"aws-infra-operator.runner.codes/adopt": "true"}

    converge(hooks, ready_provider, fn)

    assert (
        lambda_client(aws).get_function(FunctionName="orders")["Tags"][OWNER_TAG]
        == f"{NAMESPACE}/orders"
    )


def test_two_objects_naming_one_function_do_not_fight_over_it(hooks, ready_provider, aws):
    first = lambda_function()
    converge(hooks, ready_provider, first)
    second = lambda_function(memorySize=1024)
    second["metadata"]["name"] = "orders-copy"
    second["metadata"]["annotations"] = {"aws-infra-operator.runner.codes/adopt": "true"}
    hooks.calls.clear()

    reply = hooks.metacontroller(ready_provider, second).sync(second)

    assert condition(reply["status"], "Synced")["reason"] == "AlreadyExists"
    assert f"{NAMESPACE}/orders" in condition(reply["status"], "Synced")["message"]
    assert hooks.mutations() == []


# Providers


def test_a_missing_provider_is_reported_and_no_aws_call_is_made(hooks):
    fn = lambda_function(providerRef={"name": "nowhere"})
    reply = hooks.metacontroller(fn).sync(fn)

    synced = condition(reply["status"], "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "ProviderNotFound")
    assert f"AWSProvider {NAMESPACE}/nowhere" in synced["message"]
    assert reply["resyncAfterSeconds"] > 0
    assert hooks.calls == []


def test_a_provider_that_is_not_ready_is_reported_and_no_aws_call_is_made(hooks, aws):
    prov = provider(aws)
    prov["status"] = {
        "ready": False,
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "message": "Secret team-a/keys does not exist",
            }
        ],
    }
    fn = lambda_function()
    reply = hooks.metacontroller(prov, fn).sync(fn)

    synced = condition(reply["status"], "Synced")
    assert synced["reason"] == "ProviderNotReady"
    assert "Secret team-a/keys does not exist" in synced["message"]
    assert hooks.calls == []


def test_a_provider_in_another_namespace_is_not_used(hooks, ready_provider):
    elsewhere = dict(ready_provider, metadata={**ready_provider["metadata"], "namespace": "team-b"})
    fn = lambda_function()
    reply = hooks.metacontroller(elsewhere, fn).sync(fn)
    assert condition(reply["status"], "Synced")["reason"] == "ProviderNotFound"


def test_customize_names_the_provider_of_the_spec_or_default(hooks):
    mc = hooks.metacontroller()
    named = mc.call(lambda_function(providerRef={"name": "prod"}), "customize")
    unnamed = mc.call(lambda_function(), "customize")
    assert named["relatedResources"] == [{
        "apiVersion": "aws-infra-operator.runner.codes/v1alpha1", "resource": "awsproviders",
        "namespace": NAMESPACE, "names": ["prod"]}]  # fmt: skip
    assert unnamed["relatedResources"][0]["names"] == ["default"]


# Invalid specs


def test_an_invalid_spec_names_every_bad_field_and_calls_no_aws_api(hooks, ready_provider):
    fn = lambda_function(memorySize=64, timeout=901, runtime="python2.7", layers=["x"] * 6)
    del fn["spec"]["role"]
    fn["spec"]["code"] = {"zipFile": "x", "s3Bucket": "b", "s3Key": "k"}

    reply = hooks.metacontroller(ready_provider, fn).sync(fn)

    synced = condition(reply["status"], "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "InvalidSpec")
    for field in (
        "spec.memorySize",
        "spec.timeout",
        "spec.runtime",
        "spec.layers",
        "spec.role",
        "spec.code",
    ):
        assert field in synced["message"]
    assert hooks.calls == []


def test_inline_source_for_a_compiled_runtime_is_refused_before_any_aws_call(hooks, ready_provider):
    fn = lambda_function(runtime="java21", handler="example.Handler::handleRequest")
    reply = hooks.metacontroller(ready_provider, fn).sync(fn)
    synced = condition(reply["status"], "Synced")
    assert synced["reason"] == "InvalidSpec" and "spec.code.zipFile" in synced["message"]
    assert hooks.calls == []


# AWS errors


def test_throttling_is_reported_and_retried_with_growing_delays(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    aws.fidelity.faults.append(
        Fault(
            "GetFunction",
            times=20,
            status=429,
            code="TooManyRequestsException",
            message="Rate exceeded",
        )
    )

    delays = []
    for _ in range(3):
        reply = mc.sync(fn)
        delays.append(reply["resyncAfterSeconds"])
        assert condition(reply["status"], "Synced")["reason"] == "TooManyRequestsException"
    assert delays[0] < delays[1] < delays[2]
    assert fn["status"]["consecutiveFailures"] == 3

    aws.fidelity.faults.clear()
    mc.converge(fn)
    assert fn["status"]["consecutiveFailures"] == 0


def test_an_error_that_needs_a_person_says_so_and_is_not_retried_soon(hooks, ready_provider, aws):
    fn = lambda_function(layers=[f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT}:layer:missing:1"])
    reply = hooks.metacontroller(ready_provider, fn).sync(fn)

    synced = condition(reply["status"], "Synced")
    assert synced["reason"] == "ResourceNotFoundException"
    assert "CreateFunction on orders" in synced["message"] and "LayerVersion" in synced["message"]
    assert "will retry" not in synced["message"]
    assert reply["resyncAfterSeconds"] >= 300


def test_a_role_lambda_cannot_assume_yet_is_retried_soon(hooks, ready_provider, aws):
    fn = lambda_function(role=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/created-a-second-ago")
    reply = hooks.metacontroller(ready_provider, fn).sync(fn)

    synced = condition(reply["status"], "Synced")
    assert "cannot be assumed by Lambda" in synced["message"]
    assert reply["resyncAfterSeconds"] < 10


# Finalize


def test_finalize_deletes_the_function_and_says_finalized(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)

    reply = mc.sync(fn, finalizing=True)

    assert reply["finalized"] is True
    assert lambda_client(aws).list_functions()["Functions"] == []


def test_finalize_of_a_function_already_gone_is_done(hooks, ready_provider, aws):
    fn = lambda_function()
    reply = hooks.metacontroller(ready_provider, fn).sync(fn, finalizing=True)
    assert reply["finalized"] is True
    assert hooks.mutations() == []


def test_finalize_with_retain_leaves_the_function(hooks, ready_provider, aws):
    fn = lambda_function(deletionPolicy="Retain")
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    hooks.calls.clear()

    assert mc.sync(fn, finalizing=True)["finalized"] is True
    assert hooks.calls == []
    assert len(lambda_client(aws).list_functions()["Functions"]) == 1


def test_finalize_never_deletes_a_function_this_object_does_not_own(hooks, ready_provider, aws):
    create_outside(aws)
    fn = lambda_function()
    reply = hooks.metacontroller(ready_provider, fn).sync(fn, finalizing=True)

    assert reply["finalized"] is True
    assert hooks.mutations() == []
    assert len(lambda_client(aws).list_functions()["Functions"]) == 1


def test_finalize_that_cannot_reach_aws_is_not_finalized_and_retries(hooks, ready_provider, aws):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    # Two faults: botocore's own retry takes the first.
    aws.fidelity.faults.append(
        Fault("DeleteFunction", times=2, status=503, code="ServiceException")
    )

    reply = mc.sync(fn, finalizing=True)
    assert reply["finalized"] is False
    assert reply["resyncAfterSeconds"] > 0

    assert mc.sync(fn, finalizing=True)["finalized"] is True


def _zip(name: str = "index.py", text: str = "def handler(e, c):\n    return 1\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def test_a_sync_that_has_spent_its_time_leaves_the_rest_to_the_next(
    hooks, ready_provider, aws, monkeypatch
):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    mc.converge(fn)
    monkeypatch.setattr("compositions.lambdafunctions.CALL_BUDGET_SECONDS", 0.2)
    aws.fidelity.faults.append(Fault("TagResource", delay=0.3))
    fn["spec"]["tags"] = {"team": "a"}
    fn["spec"]["reservedConcurrentExecutions"] = 3
    hooks.calls.clear()

    reply = mc.sync(fn)

    assert hooks.mutations() == ["TagResource"]
    assert condition(reply["status"], "Synced")["reason"] == "Progressing"
    assert reply["resyncAfterSeconds"] <= 5
    mc.converge(fn)
    assert hooks.mutations() == ["TagResource", "PutFunctionConcurrency"]


def test_a_sync_out_of_time_before_creating_says_so_and_creates_next_time(
    hooks, ready_provider, monkeypatch
):
    fn = lambda_function()
    mc = hooks.metacontroller(ready_provider, fn)
    with monkeypatch.context() as patch:
        patch.setattr("compositions.lambdafunctions.CALL_BUDGET_SECONDS", -1.0)
        reply = mc.sync(fn)

    assert hooks.mutations() == []
    assert condition(reply["status"], "Synced")["reason"] == "Progressing"
    assert reply["resyncAfterSeconds"] <= 5
    mc.converge(fn)
    assert hooks.mutations() == ["CreateFunction"]
