"""The calls `function.plan` makes, given a spec and one GetFunction, and what it reports.

Every rule of the Lambda API that other operators got wrong has a test here, without AWS:
values reported differently from how they were given compare equal, a removed setting is
sent as an explicit empty, nothing is changed while Lambda is busy, at most one update
starts per sync and it comes last, and functions of others are never taken over.
"""

from __future__ import annotations

from typing import Any

import pytest

from compositions import function
from compositions.errors import Permanent
from compositions.function import Call, Desired, Observed
from compositions.package import S3Package, ZipPackage
from compositions.spec import OWNER_TAG, LambdaFunctionSpec, parse

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"
OTHER_LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:tools:1"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
OWNER = "team-a/orders"
SOURCE = "def handler(event, context):\n    return 1\n"


def spec_of(**fields: Any) -> LambdaFunctionSpec:
    raw = {
        "functionName": "orders",
        "runtime": "python3.12",
        "handler": "index.handler",
        "role": ROLE,
        "code": {"zipFile": SOURCE},
        **fields,
    }
    parsed = parse(LambdaFunctionSpec, raw)
    assert isinstance(parsed, LambdaFunctionSpec), parsed
    return parsed


def desired_of(default_tags: dict[str, str] | None = None, **fields: Any) -> Desired:
    return function.desire(spec_of(**fields), owner=OWNER, default_tags=default_tags or {})


def source_sha256() -> str:
    package = desired_of().package
    assert isinstance(package, ZipPackage)
    return package.sha256


def settled(
    tags: dict[str, str] | None = None,
    concurrency: int | None = None,
    **configuration: Any,
) -> Observed:
    """The function of `desired_of()` as GetFunction reports it once Lambda is done,
    with `configuration` set over what it reports."""
    reported = {
        "FunctionName": "orders",
        "FunctionArn": ARN,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "index.handler",
        "CodeSize": 250,
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "LastModified": "2024-05-01T10:00:00.000+0000",
        "CodeSha256": source_sha256(),
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": "rev-1",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        **configuration,
    }
    return Observed(
        configuration=reported,
        tags={OWNER_TAG: OWNER} if tags is None else tags,
        reserved_concurrency=concurrency,
    )


def operations(calls: list[Call]) -> list[str]:
    return [call.operation for call in calls]


# desire


def test_tags_are_provider_defaults_then_spec_tags_then_the_owner_tag() -> None:
    defaults = {"team": "platform", "env": "prod", OWNER_TAG: "someone/else"}

    desired = desired_of(default_tags=defaults, tags={"env": "dev", "app": "orders"})

    assert desired.tags == {"team": "platform", "env": "dev", "app": "orders", OWNER_TAG: OWNER}


def test_fifty_tags_with_the_owner_tag_are_accepted() -> None:
    tags = {f"tag{i}": "x" for i in range(49)}

    assert len(desired_of(tags=tags).tags) == 50


def test_more_than_fifty_tags_with_the_provider_defaults_are_refused_for_good() -> None:
    tags = {f"tag{i}": "x" for i in range(49)}

    with pytest.raises(Permanent) as refused:
        desired_of(default_tags={"managed-by": "operator"}, tags=tags)

    assert refused.value.reason == "InvalidSpec"
    assert refused.value.message.startswith("spec.tags:")
    assert "51" in refused.value.message


def test_code_that_cannot_be_packaged_is_refused_for_good_naming_the_field() -> None:
    with pytest.raises(Permanent) as refused:
        desired_of(runtime="java21")

    assert refused.value.reason == "InvalidSpec"
    assert not refused.value.retryable
    assert refused.value.message.startswith("spec.code.zipFile: ")
    assert "java21" in refused.value.message


def test_settings_left_out_of_the_spec_are_desired_as_explicit_empties() -> None:
    desired = desired_of()

    assert desired.configuration == {
        "Role": ROLE,
        "Handler": "index.handler",
        "Runtime": "python3.12",
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "Environment": {"Variables": {}},
        "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
        "DeadLetterConfig": {"TargetArn": ""},
        "TracingConfig": {"Mode": "PassThrough"},
        "Layers": [],
        "EphemeralStorage": {"Size": 512},
    }
    assert desired.architectures == ("x86_64",)
    assert desired.reserved_concurrency is None


# plan: creating


def test_a_missing_function_is_created_in_one_call_without_empty_settings() -> None:
    desired = desired_of()

    [call] = function.plan(desired, None, None)

    assert call.operation == "CreateFunction"
    assert call.params == {
        "FunctionName": "orders",
        "PackageType": "Zip",
        "Code": {"ZipFile": desired.package.data},  # type: ignore[union-attr]
        "Architectures": ["x86_64"],
        "Tags": {OWNER_TAG: OWNER},
        "Publish": False,
        "Role": ROLE,
        "Handler": "index.handler",
        "Runtime": "python3.12",
    }


def test_a_missing_function_is_created_with_every_setting_the_spec_gives() -> None:
    desired = desired_of(
        description="orders API",
        memorySize=256,
        timeout=30,
        environment={"variables": {"LOG_LEVEL": "debug"}},
        vpcConfig={"subnetIds": ["subnet-0a"], "securityGroupIds": ["sg-0b"]},
        layers=[LAYER],
        deadLetterConfig={"targetArn": QUEUE},
        tracingConfig={"mode": "Active"},
        ephemeralStorage=1024,
        architectures=["arm64"],
        tags={"app": "orders"},
    )

    [call] = function.plan(desired, None, None)

    assert call.params["Architectures"] == ["arm64"]
    assert call.params["Tags"] == {"app": "orders", OWNER_TAG: OWNER}
    assert {k: call.params[k] for k in desired.configuration} == desired.configuration


def test_s3_code_is_created_from_its_location() -> None:
    desired = desired_of(
        code={"s3Bucket": "my-bucket", "s3Key": "orders.zip", "s3ObjectVersion": "v7"}
    )

    [call] = function.plan(desired, None, None)

    assert call.params["Code"] == {
        "S3Bucket": "my-bucket",
        "S3Key": "orders.zip",
        "S3ObjectVersion": "v7",
    }


# plan: nothing to do


def test_a_function_matching_the_spec_as_aws_reports_it_needs_no_call() -> None:
    desired = desired_of(
        memorySize=256,
        timeout=30,
        layers=[LAYER, OTHER_LAYER],
        vpcConfig={"subnetIds": ["subnet-0a", "subnet-0b"], "securityGroupIds": ["sg-0c"]},
    )
    # Shapes as GetFunction gives them: layer objects, subnets in its own order, a VPC ID,
    # and no Environment or DeadLetterConfig at all when there is none.
    reply = {
        "Configuration": {
            "FunctionName": "orders",
            "FunctionArn": ARN,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "index.handler",
            "CodeSize": 250,
            "Description": "",
            "Timeout": 30,
            "MemorySize": 256,
            "CodeSha256": source_sha256(),
            "Version": "$LATEST",
            "VpcConfig": {
                "SubnetIds": ["subnet-0b", "subnet-0a"],
                "SecurityGroupIds": ["sg-0c"],
                "VpcId": "vpc-0123",
                "Ipv6AllowedForDualStack": False,
            },
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": "rev-1",
            "Layers": [
                {"Arn": LAYER, "CodeSize": 2048},
                {"Arn": OTHER_LAYER, "CodeSize": 1024},
            ],
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/orders"},
        },
        "Code": {"RepositoryType": "S3", "Location": "https://example.invalid/code"},
        "Tags": {OWNER_TAG: OWNER},
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }

    observed = Observed.from_get_function(reply)

    assert function.plan(desired, observed, None) == []
    assert function.differences(desired, observed, None) == []


@pytest.mark.parametrize(
    "reported",
    [
        pytest.param({"Environment": None}, id="environment-null"),
        pytest.param({"Environment": {"Variables": {}}}, id="environment-empty"),
        pytest.param(
            {"VpcConfig": {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": ""}},
            id="vpc-empty",
        ),
        pytest.param({"DeadLetterConfig": {}}, id="dlq-without-target"),
        pytest.param({"Layers": []}, id="layers-empty"),
        pytest.param({"Description": None}, id="description-null"),
        pytest.param({"TracingConfig": None}, id="tracing-null"),
        pytest.param({"EphemeralStorage": None}, id="storage-null"),
        pytest.param({"Architectures": None}, id="architectures-null"),
    ],
)
def test_a_default_reported_as_empty_or_missing_needs_no_call(reported: dict) -> None:
    assert function.plan(desired_of(), settled(**reported), None) == []


@pytest.mark.parametrize(
    "busy",
    [
        pytest.param({"State": "Pending", "LastUpdateStatus": None}, id="pending"),
        pytest.param({"LastUpdateStatus": "InProgress"}, id="update-in-progress"),
    ],
)
def test_a_busy_function_is_left_alone_whatever_differs(busy: dict) -> None:
    desired = desired_of(memorySize=512, tags={"app": "a"}, reservedConcurrentExecutions=3)

    observed = settled(tags={}, CodeSha256="elsewhere", **busy)

    assert observed.busy
    assert function.plan(desired, observed, None) == []


# plan: configuration


REMOVED = [
    pytest.param(
        {"Environment": {"Variables": {"LOG_LEVEL": "debug"}}},
        "Environment",
        {"Variables": {}},
        id="environment",
    ),
    pytest.param({"Layers": [{"Arn": LAYER, "CodeSize": 2048}]}, "Layers", [], id="layers"),
    pytest.param(
        {"VpcConfig": {"SubnetIds": ["subnet-0a"], "SecurityGroupIds": ["sg-0c"]}},
        "VpcConfig",
        {"SubnetIds": [], "SecurityGroupIds": []},
        id="vpc",
    ),
    pytest.param(
        {"DeadLetterConfig": {"TargetArn": QUEUE}},
        "DeadLetterConfig",
        {"TargetArn": ""},
        id="dead-letter-queue",
    ),
    pytest.param(
        {"TracingConfig": {"Mode": "Active"}},
        "TracingConfig",
        {"Mode": "PassThrough"},
        id="tracing",
    ),
    pytest.param({"Description": "old"}, "Description", "", id="description"),
    pytest.param({"Timeout": 30}, "Timeout", 3, id="timeout"),
    pytest.param({"MemorySize": 1024}, "MemorySize", 128, id="memory"),
    pytest.param(
        {"EphemeralStorage": {"Size": 2048}},
        "EphemeralStorage",
        {"Size": 512},
        id="storage",
    ),
]


@pytest.mark.parametrize(("reported", "key", "empty"), REMOVED)
def test_a_setting_removed_from_the_spec_is_sent_as_an_explicit_empty(
    reported: dict, key: str, empty: Any
) -> None:
    [call] = function.plan(desired_of(), settled(**reported), None)

    assert call.operation == "UpdateFunctionConfiguration"
    assert call.params == {"FunctionName": "orders", key: empty, "RevisionId": "rev-1"}


def test_settings_removed_together_are_updated_together_and_nothing_else() -> None:
    observed = settled(
        Environment={"Variables": {"LOG_LEVEL": "debug"}},
        Layers=[{"Arn": LAYER, "CodeSize": 2048}],
        VpcConfig={"SubnetIds": ["subnet-0a"], "SecurityGroupIds": ["sg-0c"], "VpcId": "v"},
        DeadLetterConfig={"TargetArn": QUEUE},
        TracingConfig={"Mode": "Active"},
    )

    [call] = function.plan(desired_of(), observed, None)

    assert call.operation == "UpdateFunctionConfiguration"
    assert call.params == {
        "FunctionName": "orders",
        "Environment": {"Variables": {}},
        "Layers": [],
        "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
        "DeadLetterConfig": {"TargetArn": ""},
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": "rev-1",
    }


def test_layers_in_another_order_are_updated_since_order_decides_precedence() -> None:
    desired = desired_of(layers=[LAYER, OTHER_LAYER])
    observed = settled(Layers=[{"Arn": OTHER_LAYER}, {"Arn": LAYER}])

    [call] = function.plan(desired, observed, None)

    assert call.params["Layers"] == [LAYER, OTHER_LAYER]


def test_a_changed_value_is_sent_alone_with_the_revision_guard() -> None:
    [call] = function.plan(desired_of(memorySize=256), settled(), None)

    assert call.params == {"FunctionName": "orders", "MemorySize": 256, "RevisionId": "rev-1"}


def test_no_revision_guard_is_sent_when_none_was_observed() -> None:
    [call] = function.plan(desired_of(memorySize=256), settled(RevisionId=None), None)

    assert "RevisionId" not in call.params


def test_configuration_and_code_both_changed_update_only_the_configuration_now() -> None:
    desired = desired_of(memorySize=256, code={"zipFile": SOURCE + "# v2\n"})

    calls = function.plan(desired, settled(), None)

    assert operations(calls) == ["UpdateFunctionConfiguration"]
    assert "ZipFile" not in calls[0].params
    assert function.differences(desired, settled(), None) == [
        "configuration (MemorySize)",
        "code",
    ]


def test_tags_and_concurrency_go_before_the_one_update_that_ends_the_plan() -> None:
    desired = desired_of(memorySize=256, tags={"app": "a"}, reservedConcurrentExecutions=5)
    observed = settled(tags={OWNER_TAG: OWNER, "stale": "yes"})

    calls = function.plan(desired, observed, None)

    assert operations(calls) == [
        "UntagResource",
        "TagResource",
        "PutFunctionConcurrency",
        "UpdateFunctionConfiguration",
    ]
    assert [call.settles for call in calls] == [False, False, False, True]


# plan: code


def test_changed_inline_code_is_deployed_with_the_guard() -> None:
    desired = desired_of(code={"zipFile": SOURCE + "# v2\n"})

    [call] = function.plan(desired, settled(), None)

    assert call.operation == "UpdateFunctionCode"
    assert call.params == {
        "FunctionName": "orders",
        "ZipFile": desired.package.data,  # type: ignore[union-attr]
        "Architectures": ["x86_64"],
        "RevisionId": "rev-1",
    }


def test_a_changed_architecture_is_deployed_with_the_code() -> None:
    desired = desired_of(architectures=["arm64"])

    [call] = function.plan(desired, settled(), None)

    assert call.operation == "UpdateFunctionCode"
    assert call.params["Architectures"] == ["arm64"]
    assert call.params["ZipFile"] == desired.package.data  # type: ignore[union-attr]


S3_CODE = {"s3Bucket": "my-bucket", "s3Key": "orders.zip", "s3ObjectVersion": "v7"}
DEPLOYED = {
    "s3Bucket": "my-bucket",
    "s3Key": "orders.zip",
    "s3ObjectVersion": "v7",
    "codeSha256": "c2hhLW9uZQ==",
}


@pytest.mark.parametrize(
    ("deployed", "redeploy"),
    [
        pytest.param(None, True, id="nothing-recorded"),
        pytest.param(DEPLOYED, False, id="same-location-and-hash"),
        pytest.param({**DEPLOYED, "s3Key": "orders-old.zip"}, True, id="other-key"),
        pytest.param({**DEPLOYED, "s3ObjectVersion": "v6"}, True, id="other-version"),
        pytest.param({**DEPLOYED, "s3Bucket": "old-bucket"}, True, id="other-bucket"),
        pytest.param({**DEPLOYED, "codeSha256": "b3RoZXI="}, True, id="changed-outside"),
    ],
)
def test_s3_code_is_redeployed_only_when_what_was_deployed_no_longer_holds(
    deployed: dict | None, redeploy: bool
) -> None:
    desired = desired_of(code=S3_CODE)

    calls = function.plan(desired, settled(CodeSha256="c2hhLW9uZQ=="), deployed)

    if redeploy:
        assert calls == [
            Call("UpdateFunctionCode", {
                "FunctionName": "orders",
                "S3Bucket": "my-bucket",
                "S3Key": "orders.zip",
                "S3ObjectVersion": "v7",
                "Architectures": ["x86_64"],
                "RevisionId": "rev-1",
            })
        ]  # fmt: skip
    else:
        assert calls == []


def test_the_deployed_record_remembers_location_and_hash_of_s3_code_only() -> None:
    s3 = S3Package("my-bucket", "orders.zip")

    assert function.deployed_record(s3, "aGFzaA==") == {
        "s3Bucket": "my-bucket",
        "s3Key": "orders.zip",
        "codeSha256": "aGFzaA==",
    }
    assert function.deployed_record(ZipPackage(b"PK"), "aGFzaA==") is None


# plan: tags and concurrency


def test_tags_owned_by_aws_are_never_removed() -> None:
    observed = settled(tags={OWNER_TAG: OWNER, "aws:cloudformation:stack-name": "s", "AWS:x": "y"})

    assert function.plan(desired_of(), observed, None) == []


def test_tags_are_set_and_removed_to_match_the_spec() -> None:
    observed = settled(tags={OWNER_TAG: OWNER, "app": "old", "gone": "x", "aws:owned": "y"})

    calls = function.plan(desired_of(tags={"app": "orders", "env": "dev"}), observed, None)

    assert calls == [
        Call("UntagResource", {"Resource": ARN, "TagKeys": ["gone"]}),
        Call("TagResource", {"Resource": ARN, "Tags": {"app": "orders", "env": "dev"}}),
    ]


@pytest.mark.parametrize(
    ("wanted", "observed", "expected"),
    [
        pytest.param(
            0,
            None,
            Call("PutFunctionConcurrency", {
                "FunctionName": "orders", "ReservedConcurrentExecutions": 0
            }),
            id="zero-is-put",
        ),
        pytest.param(
            5,
            10,
            Call("PutFunctionConcurrency", {
                "FunctionName": "orders", "ReservedConcurrentExecutions": 5
            }),
            id="changed-is-put",
        ),
        pytest.param(
            None,
            10,
            Call("DeleteFunctionConcurrency", {"FunctionName": "orders"}),
            id="removed-is-deleted",
        ),
        pytest.param(
            None,
            0,
            Call("DeleteFunctionConcurrency", {"FunctionName": "orders"}),
            id="removed-zero-is-deleted",
        ),
    ],
)  # fmt: skip
def test_reserved_concurrency_is_put_or_deleted_on_its_own(
    wanted: int | None, observed: int | None, expected: Call
) -> None:
    desired = desired_of(reservedConcurrentExecutions=wanted)

    assert function.plan(desired, settled(concurrency=observed), None) == [expected]


@pytest.mark.parametrize("value", [None, 0, 25])
def test_unchanged_reserved_concurrency_needs_no_call(value: int | None) -> None:
    desired = desired_of(reservedConcurrentExecutions=value)

    assert function.plan(desired, settled(concurrency=value), None) == []


# Observed.after


def test_from_get_function_reads_configuration_tags_and_concurrency() -> None:
    observed = Observed.from_get_function({
        "Configuration": {"FunctionArn": ARN, "State": "Active"},
        "Tags": {"app": "orders"},
        "Concurrency": {"ReservedConcurrentExecutions": 7},
    })  # fmt: skip

    assert observed.arn == ARN
    assert observed.tags == {"app": "orders"}
    assert observed.reserved_concurrency == 7


SETTLED_REPLY = {
    "FunctionName": "orders",
    "State": "Active",
    "LastUpdateStatus": "InProgress",
    "ResponseMetadata": {"RequestId": "r"},
}


@pytest.mark.parametrize(
    ("call", "tags", "concurrency"),
    [
        pytest.param(
            Call("UpdateFunctionConfiguration", {"FunctionName": "orders", "Timeout": 9}),
            {OWNER_TAG: OWNER, "app": "a"},
            4,
            id="update-configuration",
        ),
        pytest.param(
            Call("UpdateFunctionCode", {"FunctionName": "orders", "ZipFile": b"PK"}),
            {OWNER_TAG: OWNER, "app": "a"},
            4,
            id="update-code",
        ),
        pytest.param(
            Call("TagResource", {"Resource": ARN, "Tags": {"app": "b", "env": "dev"}}),
            {OWNER_TAG: OWNER, "app": "b", "env": "dev"},
            4,
            id="tag",
        ),
        pytest.param(
            Call("UntagResource", {"Resource": ARN, "TagKeys": ["app", "absent"]}),
            {OWNER_TAG: OWNER},
            4,
            id="untag",
        ),
        pytest.param(
            Call(
                "PutFunctionConcurrency",
                {"FunctionName": "orders", "ReservedConcurrentExecutions": 0},
            ),
            {OWNER_TAG: OWNER, "app": "a"},
            0,
            id="put-concurrency",
        ),
        pytest.param(
            Call("DeleteFunctionConcurrency", {"FunctionName": "orders"}),
            {OWNER_TAG: OWNER, "app": "a"},
            None,
            id="delete-concurrency",
        ),
    ],
)
def test_after_a_call_the_observation_holds_what_aws_then_holds(
    call: Call, tags: dict[str, str], concurrency: int | None
) -> None:
    before = settled(tags={OWNER_TAG: OWNER, "app": "a"}, concurrency=4)

    after = before.after(call, SETTLED_REPLY)

    assert after.tags == tags
    assert after.reserved_concurrency == concurrency
    if call.settles:
        assert after.configuration == {
            "FunctionName": "orders",
            "State": "Active",
            "LastUpdateStatus": "InProgress",
        }
        assert after.busy
    else:
        assert after.configuration == before.configuration


def test_after_creating_the_observation_is_the_reply_with_the_tags_sent() -> None:
    desired = desired_of(tags={"app": "orders"})
    [create] = function.plan(desired, None, None)
    reply = {**SETTLED_REPLY, "State": "Pending", "LastUpdateStatus": None}

    after = Observed(configuration={}).after(create, reply)

    assert after.tags == {"app": "orders", OWNER_TAG: OWNER}
    assert "ResponseMetadata" not in after.configuration
    assert after.configuration["State"] == "Pending"
    assert after.busy


def test_a_call_that_changes_nothing_tracked_leaves_the_observation_as_it_was() -> None:
    before = settled()
    publish = Call("PublishVersion", {"FunctionName": "orders"})

    after = before.after(publish, {"Version": "2"})

    assert after == before


def test_once_tags_and_concurrency_are_applied_only_the_update_remains() -> None:
    desired = desired_of(memorySize=256, tags={"app": "a"}, reservedConcurrentExecutions=5)
    observed = settled(tags={OWNER_TAG: OWNER, "stale": "yes"})

    for call in function.plan(desired, observed, None)[:-1]:
        observed = observed.after(call, {})

    assert function.differences(desired, observed, None) == ["configuration (MemorySize)"]


# claim


def test_a_function_carrying_our_owner_tag_is_ours() -> None:
    function.claim(settled(tags={OWNER_TAG: OWNER}), OWNER, adopt=False)


@pytest.mark.parametrize("adopt", [False, True])
def test_a_function_owned_by_another_object_is_refused_even_with_adopt(adopt: bool) -> None:
    with pytest.raises(Permanent) as refused:
        function.claim(settled(tags={OWNER_TAG: "team-b/orders"}), OWNER, adopt=adopt)

    assert refused.value.reason == "AlreadyExists"
    assert "team-b/orders" in refused.value.message


def test_an_ownerless_function_is_refused_unless_adoption_is_asked() -> None:
    with pytest.raises(Permanent) as refused:
        function.claim(settled(tags={"app": "orders"}), OWNER, adopt=False)

    assert refused.value.reason == "AlreadyExists"
    assert function.ADOPT_ANNOTATION in refused.value.message


def test_an_ownerless_function_is_adopted_when_asked_and_then_tagged() -> None:
    observed = settled(tags={"app": "orders"})

    function.claim(observed, OWNER, adopt=True)
    calls = function.plan(desired_of(), observed, None)

    assert Call("TagResource", {"Resource": ARN, "Tags": {OWNER_TAG: OWNER}}) in calls


# ready_condition


@pytest.mark.parametrize(
    ("configuration", "status", "reason"),
    [
        ({"State": "Active", "LastUpdateStatus": "Successful"}, True, "Available"),
        ({"State": "Pending"}, False, "Creating"),
        ({"State": "Active", "LastUpdateStatus": "InProgress"}, False, "Updating"),
        ({"State": "Failed", "LastUpdateStatus": "Failed"}, False, "CreateFailed"),
        ({"State": "Active", "LastUpdateStatus": "Failed"}, False, "UpdateFailed"),
        ({"State": "Inactive", "LastUpdateStatus": "Successful"}, False, "Inactive"),
        ({"State": "Active"}, False, "NotReady"),
    ],
)
def test_ready_means_active_with_a_successful_last_update(
    configuration: dict, status: bool, reason: str
) -> None:
    condition = function.ready_condition(Observed(configuration=configuration))

    assert (condition.type, condition.status, condition.reason) == ("Ready", status, reason)
    assert condition.message


@pytest.mark.parametrize(
    "configuration",
    [
        {"State": "Pending", "StateReason": "creating ENIs"},
        {"LastUpdateStatus": "Failed", "LastUpdateStatusReason": "no role"},
        {"State": "Failed", "StateReason": "bad zip"},
    ],
)
def test_the_ready_condition_carries_lambdas_own_reason(configuration: dict) -> None:
    reason = configuration.get("StateReason") or configuration["LastUpdateStatusReason"]

    assert function.ready_condition(Observed(configuration=configuration)).message == reason


def test_a_function_not_in_aws_is_not_ready() -> None:
    condition = function.ready_condition(None)

    assert (condition.status, condition.reason) == (False, "NotFound")


# differences


def test_differences_name_each_kind_of_difference() -> None:
    desired = desired_of(
        description="orders API",
        memorySize=256,
        code={"zipFile": SOURCE + "# v2\n"},
        tags={"app": "orders"},
        reservedConcurrentExecutions=2,
    )

    assert function.differences(desired, settled(), None) == [
        "configuration (Description, MemorySize)",
        "code",
        "tags",
        "reserved concurrency",
    ]


def test_differences_are_empty_when_aws_matches_the_spec() -> None:
    assert function.differences(desired_of(), settled(), None) == []


# Call.__str__


@pytest.mark.parametrize(
    ("call", "text"),
    [
        pytest.param(
            Call("UpdateFunctionConfiguration", {
                "FunctionName": "orders",
                "Environment": {"Variables": {"DB_PASSWORD": "hunter2"}},
                "Description": "hunter2",
                "RevisionId": "rev-1",
            }),
            "UpdateFunctionConfiguration (Description, Environment)",
            id="update-configuration",
        ),
        pytest.param(
            Call("UpdateFunctionCode", {"FunctionName": "orders", "ZipFile": b"hunter2"}),
            "UpdateFunctionCode",
            id="update-code",
        ),
        pytest.param(
            Call("CreateFunction", {
                "FunctionName": "orders",
                "Code": {"ZipFile": b"hunter2"},
                "Environment": {"Variables": {"DB_PASSWORD": "hunter2"}},
            }),
            "CreateFunction",
            id="create",
        ),
        pytest.param(
            Call("TagResource", {"Resource": ARN, "Tags": {"secret": "hunter2"}}),
            "TagResource",
            id="tag",
        ),
    ],
)  # fmt: skip
def test_a_call_is_logged_without_its_parameter_values(call: Call, text: str) -> None:
    assert str(call) == text
    assert "hunter2" not in str(call)


# observed_status


def test_the_status_reports_what_aws_holds_and_whether_it_is_ready() -> None:
    status = function.observed_status(settled(MemorySize=256))

    assert status["functionArn"] == ARN
    assert status["memorySize"] == 256
    assert status["codeSha256"] == source_sha256()
    assert status["ready"] is True
    assert "stateReason" not in status
    assert function.observed_status(None) == {"ready": False}
