"""The two kinds' specs as users write them, and the checks AWS would otherwise make for us.

A spec that AWS would refuse is refused here instead, before any AWS call, with one message
that names every bad field: the user fixes the object once instead of meeting AWS's
complaints one sync at a time. The limits are those of the Lambda API; the CRD schema in
`metacontroller/` repeats them so that `kubectl apply` refuses the same objects early.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from compositions.errors import Permanent

# Runtimes that Lambda has accepted for new or updated functions, as the documentation
# lists them plus those released since. A runtime AWS has since blocked is still refused by
# AWS itself, with its own message, which the status then carries.
RUNTIMES = (
    "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x",
    "java8.al2", "java11", "java17", "java21", "java25",
    "dotnet6", "dotnet8", "dotnet10",
    "ruby3.2", "ruby3.3", "ruby3.4",
    "go1.x", "provided", "provided.al2", "provided.al2023",
)  # fmt: skip

# Lambda sets these itself and refuses a function that tries to.
RESERVED_ENVIRONMENT_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})  # fmt: skip

ENVIRONMENT_LIMIT_BYTES = 4096
MAX_TAGS = 50

# The tag that says which Kubernetes object a function belongs to. Users may not set it.
OWNER_TAG = "aws-infra-operator.runner.codes/owner"

ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[a-zA-Z0-9+=,.@_/-]+$")
LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[a-zA-Z0-9_-]+:[0-9]+$")
QUEUE_OR_TOPIC_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:.+$")
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ENVIRONMENT_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def _matching(pattern: re.Pattern[str], what: str):
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def _check_tag_keys(tags: dict[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise ValueError("tag keys must be 1 to 128 characters")
        if len(value) > 256:
            raise ValueError(f"the value of tag {key!r} is longer than 256 characters")
        if key.lower().startswith("aws:"):
            raise ValueError(f"tag key {key!r} is reserved: keys starting with aws: belong to AWS")
        if key == OWNER_TAG:
            raise ValueError(f"tag key {key!r} is set by the operator itself")
    return tags


def _known_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"{runtime!r} is not a Lambda runtime; one of: {', '.join(RUNTIMES)}")
    return runtime


RoleArn = Annotated[
    StrictStr, _matching(ROLE_ARN, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
]
Tags = Annotated[dict[StrictStr, StrictStr], AfterValidator(_check_tag_keys)]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True, strict=True)


class ProviderRef(_Model):
    name: StrictStr = Field(min_length=1, max_length=253)


class Code(_Model):
    zip_file: StrictStr | None = Field(default=None, min_length=1)
    s3_bucket: StrictStr | None = Field(default=None, min_length=3, max_length=63)
    s3_key: StrictStr | None = Field(default=None, min_length=1, max_length=1024)
    s3_object_version: StrictStr | None = Field(default=None, min_length=1, max_length=1024)


def _check_variables(variables: dict[str, str]) -> dict[str, str]:
    for key in variables:
        if not ENVIRONMENT_KEY.fullmatch(key):
            raise ValueError(
                f"variable name {key!r} must be a letter followed by letters, digits or _"
            )
        if key in RESERVED_ENVIRONMENT_KEYS:
            raise ValueError(f"variable name {key!r} is reserved by Lambda")
    # Lambda measures the variables as the JSON object it stores.
    size = len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False).encode())
    if size > ENVIRONMENT_LIMIT_BYTES:
        raise ValueError(f"variables take {size} bytes; Lambda allows 4 KB in all")
    return variables


class Environment(_Model):
    variables: Annotated[dict[StrictStr, StrictStr], AfterValidator(_check_variables)] = Field(
        default_factory=dict
    )


SecurityGroupId = Annotated[
    StrictStr, _matching(re.compile(r"^sg-[0-9a-f]+$"), "a security group ID (sg-...)")
]
SubnetId = Annotated[
    StrictStr, _matching(re.compile(r"^subnet-[0-9a-f]+$"), "a subnet ID (subnet-...)")
]


class VpcConfig(_Model):
    security_group_ids: list[SecurityGroupId] = Field(default_factory=list, max_length=5)
    subnet_ids: list[SubnetId] = Field(default_factory=list, max_length=16)


class DeadLetterConfig(_Model):
    target_arn: Annotated[StrictStr, _matching(QUEUE_OR_TOPIC_ARN, "an SQS queue or SNS topic ARN")]


class TracingConfig(_Model):
    mode: Literal["Active", "PassThrough"]


class LambdaFunctionSpec(_Model):
    provider_ref: ProviderRef | None = None
    function_name: Annotated[StrictStr, _matching(FUNCTION_NAME, "1 to 64 letters, digits, - or _")]
    runtime: Annotated[StrictStr, AfterValidator(_known_runtime)]
    handler: Annotated[
        StrictStr,
        _matching(re.compile(r"^[^\s]{1,128}$"), "1 to 128 characters, no spaces"),
    ]
    role: RoleArn
    code: Code
    description: StrictStr = Field(default="", max_length=256)
    memory_size: StrictInt = Field(default=128, ge=128, le=10240)
    timeout: StrictInt = Field(default=3, ge=1, le=900)
    environment: Environment | None = None
    vpc_config: VpcConfig | None = None
    layers: list[
        Annotated[
            StrictStr,
            _matching(LAYER_ARN, "a layer version ARN (...:layer:<name>:<version>)"),
        ]
    ] = Field(default_factory=list, max_length=5)
    dead_letter_config: DeadLetterConfig | None = None
    ephemeral_storage: StrictInt = Field(default=512, ge=512, le=10240)
    reserved_concurrent_executions: StrictInt | None = Field(default=None, ge=0)
    architectures: list[Literal["x86_64", "arm64"]] = Field(
        default_factory=lambda: ["x86_64"], min_length=1, max_length=1
    )
    tags: Tags = Field(default_factory=dict)
    tracing_config: TracingConfig | None = None
    deletion_policy: Literal["Delete", "Retain"] = "Delete"

    @property
    def provider_name(self) -> str:
        return self.provider_ref.name if self.provider_ref else "default"


def _check_endpoint(url: str) -> str:
    try:
        parts = urlsplit(url)
        usable = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and parts.port != 0  # .port also refuses a port out of range
            and not any(c.isspace() for c in url)
        )
    except ValueError:
        usable = False
    if not usable:
        raise ValueError("must be an http or https URL such as http://localstack:4566")
    return url


class SecretKeyRef(_Model):
    name: StrictStr = Field(min_length=1, max_length=253)
    key: StrictStr = Field(min_length=1, max_length=253)


class AWSProviderSpec(_Model):
    region: Annotated[StrictStr, _matching(REGION, "an AWS region such as us-east-1")]
    endpoint: Annotated[StrictStr, AfterValidator(_check_endpoint)] | None = None
    access_key_id_ref: SecretKeyRef | None = Field(default=None, alias="accessKeyIDRef")
    secret_access_key_ref: SecretKeyRef | None = None
    role_arn: RoleArn | None = Field(default=None, alias="roleARN")
    external_id: StrictStr | None = Field(
        default=None, alias="externalID", min_length=2, max_length=1224,
        pattern=r"^[\w+=,.@:/-]+$",
    )  # fmt: skip
    default_tags: Tags = Field(default_factory=dict)


Spec = TypeVar("Spec", bound=_Model)


def parse(model: type[Spec], raw: Any) -> Spec | list[str]:
    """The spec as `model`, or one line per bad field, each naming the field by its path."""
    if not isinstance(raw, dict):
        return ["spec: must be an object"]
    # Rules between fields are checked on the raw spec, so that they are reported together
    # with faults of single fields instead of only once those are fixed.
    problems = list(_RULES[model](raw))
    try:
        parsed = model.model_validate(raw)
    except ValidationError as error:
        errors = error.errors(include_input=False, include_url=False)
        return [_describe(e) for e in errors] + problems
    return problems or parsed


def require(model: type[Spec], raw: Any) -> Spec:
    """The spec as `model`; a bad one is a Permanent failure naming every bad field."""
    parsed = parse(model, raw)
    if isinstance(parsed, list):
        raise Permanent("InvalidSpec", "; ".join(parsed))
    return parsed


def _function_rules(raw: dict[str, Any]) -> Iterator[str]:
    code = raw.get("code")
    if isinstance(code, dict):
        given = {k for k, v in code.items() if v is not None}
        s3 = given & {"s3Bucket", "s3Key"}
        if "zipFile" in given and s3:
            yield "spec.code: give either zipFile or s3Bucket with s3Key, not both"
        elif "zipFile" not in given and not s3:
            yield "spec.code: give zipFile, or s3Bucket with s3Key"
        elif s3 and len(s3) == 1:
            yield "spec.code: s3Bucket and s3Key go together"
        if "s3ObjectVersion" in given and not s3:
            yield "spec.code.s3ObjectVersion: only goes with s3Bucket and s3Key"
    vpc = raw.get("vpcConfig")
    if isinstance(vpc, dict) and bool(vpc.get("securityGroupIds")) != bool(vpc.get("subnetIds")):
        yield "spec.vpcConfig: securityGroupIds and subnetIds go together"


def _provider_rules(raw: dict[str, Any]) -> Iterator[str]:
    if (raw.get("accessKeyIDRef") is None) != (raw.get("secretAccessKeyRef") is None):
        yield "spec: accessKeyIDRef and secretAccessKeyRef go together"


_RULES: dict[type, Callable[[dict[str, Any]], Iterator[str]]] = {
    LambdaFunctionSpec: _function_rules,
    AWSProviderSpec: _provider_rules,
}


def _describe(error: Any) -> str:
    path = "spec" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}"
        for part in error["loc"]
        # pydantic names the branch of a union or a validator step; users never wrote it
        if not (isinstance(part, str) and ("[" in part or part.startswith("function-")))
    )
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not a field of this kind"
    return f"{path}: {message}"
