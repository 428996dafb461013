"""What `spec.parse` accepts and refuses, tried at each documented limit of the Lambda API.

A spec AWS would refuse must be refused before any call, with a message that names the
field by its path, so every limit is tried just outside (refused) and just inside
(accepted). The examples users copy must parse as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compositions.spec import (
    OWNER_TAG,
    RUNTIMES,
    AWSProviderSpec,
    LambdaFunctionSpec,
    parse,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:orders-dead-letters"


def function_spec(**fields: Any) -> dict[str, Any]:
    """A valid LambdaFunction spec as a user writes it, with `fields` set over it."""
    return {
        "functionName": "orders",
        "runtime": "python3.12",
        "handler": "index.handler",
        "role": ROLE,
        "code": {"zipFile": "def handler(event, context):\n    return 1\n"},
        **fields,
    }


def paths(problems: list[str]) -> list[str]:
    return [problem.split(": ", 1)[0] for problem in problems]


# LambdaFunction: one bad field


REFUSED = [
    pytest.param({"memorySize": 127}, "spec.memorySize", id="memory-below-128"),
    pytest.param({"memorySize": 10241}, "spec.memorySize", id="memory-above-10240"),
    pytest.param({"timeout": 0}, "spec.timeout", id="timeout-zero"),
    pytest.param({"timeout": 901}, "spec.timeout", id="timeout-above-900"),
    pytest.param({"ephemeralStorage": 511}, "spec.ephemeralStorage", id="storage-511"),
    pytest.param({"ephemeralStorage": 10241}, "spec.ephemeralStorage", id="storage-10241"),
    pytest.param({"layers": [LAYER] * 6}, "spec.layers", id="six-layers"),
    pytest.param(
        {"architectures": ["x86_64", "arm64"]}, "spec.architectures", id="two-architectures"
    ),
    pytest.param({"architectures": []}, "spec.architectures", id="no-architecture"),
    pytest.param({"architectures": ["sparc"]}, "spec.architectures[0]", id="unknown-arch"),
    pytest.param(
        {"reservedConcurrentExecutions": -1},
        "spec.reservedConcurrentExecutions",
        id="negative-concurrency",
    ),
    pytest.param({"functionName": "f" * 65}, "spec.functionName", id="name-65-characters"),
    pytest.param({"functionName": "my orders"}, "spec.functionName", id="name-with-space"),
    pytest.param({"functionName": ""}, "spec.functionName", id="name-empty"),
    pytest.param({"runtime": "python2.7"}, "spec.runtime", id="unknown-runtime"),
    pytest.param(
        {"role": "arn:aws:iam::12345:role/lambda-role"}, "spec.role", id="role-bad-account"
    ),
    pytest.param({"role": "lambda-role"}, "spec.role", id="role-not-an-arn"),
    pytest.param(
        {"layers": ["arn:aws:lambda:us-east-1:123456789012:layer:deps"]},
        "spec.layers[0]",
        id="layer-without-version",
    ),
    pytest.param(
        {"layers": [LAYER, "arn:aws:s3:::bucket"]}, "spec.layers[1]", id="second-layer-bad"
    ),
    pytest.param(
        {"deadLetterConfig": {"targetArn": "arn:aws:s3:::bucket"}},
        "spec.deadLetterConfig.targetArn",
        id="dlq-not-queue-or-topic",
    ),
    pytest.param(
        {"environment": {"variables": {"AWS_REGION": "us-east-1"}}},
        "spec.environment.variables",
        id="env-reserved-name",
    ),
    pytest.param(
        {"environment": {"variables": {"LOG-LEVEL": "debug"}}},
        "spec.environment.variables",
        id="env-name-with-dash",
    ),
    pytest.param(
        {"environment": {"variables": {"1ST": "x"}}},
        "spec.environment.variables",
        id="env-name-starting-with-digit",
    ),
    pytest.param(
        # Lambda's own pattern for names asks for two characters at least.
        {"environment": {"variables": {"A": "x"}}},
        "spec.environment.variables",
        id="env-one-letter-name",
    ),
    pytest.param(
        # As JSON, {"BIG":"…"} with 4087 bytes of value: one byte over 4 KB.
        {"environment": {"variables": {"BIG": "x" * 4087}}},
        "spec.environment.variables",
        id="env-over-4kb",
    ),
    pytest.param({"tags": {"aws:team": "a"}}, "spec.tags", id="tag-key-aws-prefix"),
    pytest.param({"tags": {"AWS:team": "a"}}, "spec.tags", id="tag-key-aws-prefix-upper"),
    pytest.param({"tags": {OWNER_TAG: "x/y"}}, "spec.tags", id="tag-key-owner"),
    pytest.param({"tags": {"k" * 129: "v"}}, "spec.tags", id="tag-key-too-long"),
    pytest.param({"tags": {"team": "v" * 257}}, "spec.tags", id="tag-value-too-long"),
    pytest.param({"colour": "red"}, "spec.colour", id="unknown-field"),
    pytest.param({"code": {"zipFile": "x", "dir": "."}}, "spec.code.dir", id="unknown-code-field"),
    pytest.param(
        {"code": {"zipFile": "x", "s3Bucket": "my-bucket", "s3Key": "f.zip"}},
        "spec.code",
        id="code-two-sources",
    ),
    pytest.param({"code": {}}, "spec.code", id="code-no-source"),
    pytest.param({"code": {"s3Bucket": "my-bucket"}}, "spec.code", id="s3-bucket-alone"),
    pytest.param({"code": {"s3Key": "f.zip"}}, "spec.code", id="s3-key-alone"),
    pytest.param(
        {"vpcConfig": {"subnetIds": ["subnet-0a"]}}, "spec.vpcConfig", id="vpc-subnets-only"
    ),
    pytest.param(
        {"vpcConfig": {"securityGroupIds": ["sg-0a"]}}, "spec.vpcConfig", id="vpc-sg-only"
    ),
    pytest.param({"memorySize": "256"}, "spec.memorySize", id="memory-as-string"),
    pytest.param({"deletionPolicy": "Orphan"}, "spec.deletionPolicy", id="unknown-policy"),
]


@pytest.mark.parametrize(("fields", "path"), REFUSED)
def test_a_value_just_outside_a_limit_is_refused_naming_its_field(
    fields: dict[str, Any], path: str
) -> None:
    problems = parse(LambdaFunctionSpec, function_spec(**fields))

    assert isinstance(problems, list)
    assert paths(problems) == [path], problems


ACCEPTED = [
    pytest.param({"memorySize": 128}, id="memory-128"),
    pytest.param({"memorySize": 10240}, id="memory-10240"),
    pytest.param({"timeout": 1}, id="timeout-1"),
    pytest.param({"timeout": 900}, id="timeout-900"),
    pytest.param({"ephemeralStorage": 512}, id="storage-512"),
    pytest.param({"ephemeralStorage": 10240}, id="storage-10240"),
    pytest.param({"layers": [LAYER] * 5}, id="five-layers"),
    pytest.param({"architectures": ["arm64"]}, id="one-architecture"),
    pytest.param({"reservedConcurrentExecutions": 0}, id="concurrency-zero"),
    pytest.param({"functionName": "f" * 64}, id="name-64-characters"),
    pytest.param({"functionName": "orders_v2-eu"}, id="name-with-dash-and-underscore"),
    pytest.param({"role": "arn:aws:iam::123456789012:role/service-role/x"}, id="role-path"),
    pytest.param({"role": "arn:aws-cn:iam::123456789012:role/x"}, id="role-china"),
    pytest.param({"deadLetterConfig": {"targetArn": QUEUE}}, id="dlq-queue"),
    pytest.param({"deadLetterConfig": {"targetArn": TOPIC}}, id="dlq-topic"),
    pytest.param({"environment": {"variables": {"LOG_LEVEL": "debug"}}}, id="env-plain"),
    # Lambda measures the JSON object: {"BIG":"…"} is 10 bytes around the value.
    pytest.param({"environment": {"variables": {"BIG": "x" * 4086}}}, id="env-exactly-4kb"),
    pytest.param({"tags": {"awsome": "yes"}}, id="tag-key-starting-with-aws"),
    pytest.param({"tags": {"k" * 128: "v" * 256}}, id="tag-at-length-limits"),
    pytest.param({"code": {"s3Bucket": "my-bucket", "s3Key": "f.zip"}}, id="s3-code"),
    pytest.param(
        {"code": {"s3Bucket": "my-bucket", "s3Key": "f.zip", "s3ObjectVersion": "v1"}},
        id="s3-code-versioned",
    ),
    pytest.param(
        {"vpcConfig": {"subnetIds": ["subnet-0a1b"], "securityGroupIds": ["sg-0a1b"]}},
        id="vpc-complete",
    ),
    pytest.param({"tracingConfig": {"mode": "Active"}}, id="tracing-active"),
    pytest.param({"deletionPolicy": "Retain"}, id="retain"),
]


@pytest.mark.parametrize("fields", ACCEPTED)
def test_a_value_just_inside_a_limit_is_accepted_as_given(fields: dict[str, Any]) -> None:
    parsed = parse(LambdaFunctionSpec, function_spec(**fields))

    assert isinstance(parsed, LambdaFunctionSpec), parsed
    dumped = parsed.model_dump(by_alias=True, exclude_none=True)
    for name, value in fields.items():
        assert dumped[name] == value


# A value that YAML's block scalars (`|`, `>`) end with a line break: AWS refuses such
# names and ARNs, and so does the CRD's schema.
TRAILING_LINE_BREAK = [
    pytest.param({"functionName": "orders\n"}, "spec.functionName", id="function-name"),
    pytest.param({"role": ROLE + "\n"}, "spec.role", id="role"),
    pytest.param({"handler": "index.handler\n"}, "spec.handler", id="handler"),
    pytest.param({"layers": [LAYER + "\n"]}, "spec.layers[0]", id="layer"),
    pytest.param(
        {"deadLetterConfig": {"targetArn": QUEUE + "\n"}},
        "spec.deadLetterConfig.targetArn",
        id="dead-letter-queue",
    ),
    pytest.param(
        {"environment": {"variables": {"LOG_LEVEL\n": "debug"}}},
        "spec.environment.variables",
        id="variable-name",
    ),
    pytest.param(
        {"vpcConfig": {"subnetIds": ["subnet-0a\n"], "securityGroupIds": ["sg-0b"]}},
        "spec.vpcConfig.subnetIds[0]",
        id="subnet",
    ),
]


@pytest.mark.parametrize(("fields", "path"), TRAILING_LINE_BREAK)
def test_a_value_ending_in_a_line_break_is_refused(fields: dict, path: str) -> None:
    problems = parse(LambdaFunctionSpec, function_spec(**fields))

    assert isinstance(problems, list), "accepted a value AWS refuses"
    assert paths(problems) == [path]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_listed_runtime_is_accepted(runtime: str) -> None:
    parsed = parse(LambdaFunctionSpec, function_spec(runtime=runtime))

    assert isinstance(parsed, LambdaFunctionSpec)
    assert parsed.runtime == runtime


def test_an_unknown_runtime_is_refused_with_the_runtimes_to_choose_from() -> None:
    problems = parse(LambdaFunctionSpec, function_spec(runtime="python2.7"))

    assert isinstance(problems, list)
    assert "'python2.7'" in problems[0]
    assert "python3.12" in problems[0]


def test_a_missing_required_field_is_named_as_required() -> None:
    raw = function_spec()
    del raw["role"]

    assert parse(LambdaFunctionSpec, raw) == ["spec.role: is required"]


def test_an_unknown_field_is_said_not_to_belong_to_the_kind() -> None:
    assert parse(LambdaFunctionSpec, function_spec(colour="red")) == [
        "spec.colour: is not a field of this kind"
    ]


def test_the_variable_that_breaks_the_environment_rules_is_named() -> None:
    problems = parse(
        LambdaFunctionSpec, function_spec(environment={"variables": {"AWS_REGION": "x"}})
    )

    assert isinstance(problems, list)
    assert "AWS_REGION" in problems[0]


@pytest.mark.parametrize("raw", [None, [], "functionName: orders", 3])
def test_a_spec_that_is_not_an_object_is_refused(raw: Any) -> None:
    assert parse(LambdaFunctionSpec, raw) == ["spec: must be an object"]


def test_every_bad_field_is_named_in_one_list() -> None:
    raw = function_spec(
        memorySize=127,
        timeout=901,
        role="lambda-role",
        colour="red",
        code={"zipFile": "x", "s3Bucket": "my-bucket", "s3Key": "f.zip"},
        vpcConfig={"subnetIds": ["subnet-0a1b"]},
        tags={"aws:team": "a"},
    )

    problems = parse(LambdaFunctionSpec, raw)

    assert isinstance(problems, list)
    assert sorted(paths(problems)) == sorted(
        [
            "spec.memorySize",
            "spec.timeout",
            "spec.role",
            "spec.colour",
            "spec.code",
            "spec.vpcConfig",
            "spec.tags",
        ]
    )


def test_rules_between_fields_are_reported_even_when_every_field_is_valid() -> None:
    problems = parse(
        LambdaFunctionSpec, function_spec(code={"zipFile": "x", "s3ObjectVersion": "v1"})
    )

    assert problems == ["spec.code.s3ObjectVersion: only goes with s3Bucket and s3Key"]


def test_defaults_fill_what_the_spec_leaves_out() -> None:
    parsed = parse(LambdaFunctionSpec, function_spec())

    assert isinstance(parsed, LambdaFunctionSpec)
    assert (parsed.memory_size, parsed.timeout, parsed.ephemeral_storage) == (128, 3, 512)
    assert parsed.architectures == ["x86_64"]
    assert parsed.reserved_concurrent_executions is None
    assert parsed.deletion_policy == "Delete"
    assert parsed.provider_name == "default"


def test_the_provider_reference_names_the_provider() -> None:
    parsed = parse(LambdaFunctionSpec, function_spec(providerRef={"name": "production"}))

    assert isinstance(parsed, LambdaFunctionSpec)
    assert parsed.provider_name == "production"


# AWSProvider


KEYS = {
    "accessKeyIDRef": {"name": "aws-credentials", "key": "access-key-id"},
    "secretAccessKeyRef": {"name": "aws-credentials", "key": "secret-access-key"},
}


@pytest.mark.parametrize("region", ["US-EAST-1", "useast1", "us-east", "us_east_1", ""])
def test_a_provider_with_a_malformed_region_is_refused(region: str) -> None:
    problems = parse(AWSProviderSpec, {"region": region})

    assert isinstance(problems, list)
    assert paths(problems) == ["spec.region"]


def test_a_provider_region_ending_in_a_line_break_is_refused() -> None:
    problems = parse(AWSProviderSpec, {"region": "us-east-1\n"})

    assert isinstance(problems, list), "accepted a region no endpoint has"
    assert paths(problems) == ["spec.region"]


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "us-gov-west-1"])
def test_a_provider_with_a_real_region_shape_is_accepted(region: str) -> None:
    parsed = parse(AWSProviderSpec, {"region": region})

    assert isinstance(parsed, AWSProviderSpec)
    assert parsed.region == region


@pytest.mark.parametrize("half", sorted(KEYS))
def test_half_of_the_key_references_is_refused(half: str) -> None:
    problems = parse(AWSProviderSpec, {"region": "us-east-1", half: KEYS[half]})

    assert problems == ["spec: accessKeyIDRef and secretAccessKeyRef go together"]


def test_a_provider_relying_on_its_pod_identity_needs_only_a_region() -> None:
    parsed = parse(AWSProviderSpec, {"region": "us-east-1", "roleARN": ROLE})

    assert isinstance(parsed, AWSProviderSpec)
    assert parsed.access_key_id_ref is None
    assert parsed.secret_access_key_ref is None
    assert parsed.role_arn == ROLE


def test_a_provider_with_static_keys_keeps_both_references() -> None:
    raw = {"region": "eu-west-1", **KEYS, "externalID": "team-a", "roleARN": ROLE}

    parsed = parse(AWSProviderSpec, raw)

    assert isinstance(parsed, AWSProviderSpec)
    assert parsed.access_key_id_ref is not None
    assert parsed.secret_access_key_ref is not None
    assert parsed.access_key_id_ref.key == "access-key-id"
    assert parsed.secret_access_key_ref.key == "secret-access-key"
    assert parsed.external_id == "team-a"


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        pytest.param({"roleARN": "not-a-role"}, "spec.roleARN", id="bad-role"),
        pytest.param({"endpoint": "localhost:4566"}, "spec.endpoint", id="no-scheme"),
        pytest.param({"defaultTags": {"aws:team": "a"}}, "spec.defaultTags", id="aws-tag"),
        pytest.param({"externalID": "a b"}, "spec.externalID", id="external-id-space"),
        pytest.param({"accessKeyId": "AKIA"}, "spec.accessKeyId", id="inline-key"),
    ],
)
def test_a_bad_provider_field_is_refused_naming_it(fields: dict, path: str) -> None:
    problems = parse(AWSProviderSpec, {"region": "us-east-1", **fields})

    assert isinstance(problems, list)
    assert paths(problems) == [path]


# Examples


SPECS = {"LambdaFunction": LambdaFunctionSpec, "AWSProvider": AWSProviderSpec}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_parses_as_its_kind(path: Path) -> None:
    with path.open() as stream:
        documents = [d for d in yaml.safe_load_all(stream) if d and d.get("kind") in SPECS]

    assert documents, f"{path.name} holds no LambdaFunction or AWSProvider"
    for document in documents:
        model = SPECS[document["kind"]]
        parsed = parse(model, document["spec"])
        assert isinstance(parsed, model), parsed
