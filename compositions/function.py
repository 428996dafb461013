"""What a LambdaFunction object asks of AWS, which calls get AWS there, and what to report.

Everything here is a pure function of the spec, the provider's defaults and what one
GetFunction returned: no I/O, so every rule of the Lambda API that other operators got wrong
is tested here directly. The rules that shape it:

- Values AWS reports differently from how they were given (defaults, empty versus missing,
  layer objects versus ARNs, subnet order) compare equal, so an unchanged spec never makes
  a call.
- Lambda applies updates asynchronously. While the function is `Pending` or its last update
  is `InProgress`, nothing is changed; after a call that starts an update, nothing more is
  changed in the same sync. Tags and reserved concurrency are separate resources and go
  first, before the one update a sync may start.
- A setting removed from the spec is removed in AWS with an explicit empty value, because
  UpdateFunctionConfiguration reads an omitted field as "leave it".
- Observed values go into the status only, never back into the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from compositions.conditions import Condition
from compositions.errors import Permanent
from compositions.package import PackageError, S3Package, ZipPackage, build
from compositions.spec import MAX_TAGS, OWNER_TAG, LambdaFunctionSpec

# An annotation that lets an object take over a function that exists without an owner.
ADOPT_ANNOTATION = "aws-infra-operator.runner.codes/adopt"

# Operations after which Lambda is busy until the change has settled.
SETTLING = frozenset({"CreateFunction", "UpdateFunctionConfiguration", "UpdateFunctionCode"})

CONFIGURATION_DEFAULTS: dict[str, Any] = {
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


@dataclass(frozen=True)
class Desired:
    """The function as AWS must hold it."""

    name: str
    package: ZipPackage | S3Package
    # Every field UpdateFunctionConfiguration takes that the spec governs, empty ones too.
    configuration: dict[str, Any]
    architectures: tuple[str, ...]
    tags: dict[str, str]
    reserved_concurrency: int | None


@dataclass(frozen=True)
class Observed:
    """The function as one GetFunction saw it, kept current with the replies of our calls."""

    configuration: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None

    @classmethod
    def from_get_function(cls, reply: Mapping[str, Any]) -> Observed:
        return cls(
            configuration=dict(reply.get("Configuration") or {}),
            tags=dict(reply.get("Tags") or {}),
            reserved_concurrency=(reply.get("Concurrency") or {}).get(
                "ReservedConcurrentExecutions"
            ),
        )

    @property
    def arn(self) -> str:
        return self.configuration.get("FunctionArn", "")

    @property
    def busy(self) -> bool:
        return (
            self.configuration.get("State") == "Pending"
            or self.configuration.get("LastUpdateStatus") == "InProgress"
        )

    @property
    def ready(self) -> bool:
        return (
            self.configuration.get("State") == "Active"
            and self.configuration.get("LastUpdateStatus") == "Successful"
        )

    def after(self, call: Call, reply: Mapping[str, Any]) -> Observed:
        """What AWS holds once `call` has succeeded with `reply`."""
        if call.operation in SETTLING:
            configuration = {k: v for k, v in reply.items() if k != "ResponseMetadata"}
            tags = (
                call.params.get("Tags", self.tags)
                if call.operation == "CreateFunction"
                else self.tags
            )
            return replace(self, configuration=configuration, tags=dict(tags))
        if call.operation == "TagResource":
            return replace(self, tags={**self.tags, **call.params["Tags"]})
        if call.operation == "UntagResource":
            removed = set(call.params["TagKeys"])
            return replace(self, tags={k: v for k, v in self.tags.items() if k not in removed})
        if call.operation == "PutFunctionConcurrency":
            return replace(self, reserved_concurrency=call.params["ReservedConcurrentExecutions"])
        if call.operation == "DeleteFunctionConcurrency":
            return replace(self, reserved_concurrency=None)
        return self


@dataclass(frozen=True)
class Call:
    """One Lambda API call: the operation's name as AWS spells it, and its parameters."""

    operation: str
    params: dict[str, Any]

    @property
    def settles(self) -> bool:
        return self.operation in SETTLING

    def __str__(self) -> str:
        # Parameter values stay out: they hold code and environment values.
        if self.operation == "UpdateFunctionConfiguration":
            changed = sorted(k for k in self.params if k not in ("FunctionName", "RevisionId"))
            return f"{self.operation} ({', '.join(changed)})"
        return self.operation


def owner_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def desire(spec: LambdaFunctionSpec, *, owner: str, default_tags: Mapping[str, str]) -> Desired:
    """The function `spec` asks for; a spec no package can be built from is Permanent."""
    try:
        package = build(spec.code, spec.runtime, spec.handler)
    except PackageError as error:
        raise Permanent("InvalidSpec", f"spec.code.zipFile: {error}") from error

    tags = {**default_tags, **spec.tags, OWNER_TAG: owner}
    if len(tags) > MAX_TAGS:
        raise Permanent(
            "InvalidSpec",
            f"spec.tags: with the provider's defaultTags and the owner tag the function would"
            f" carry {len(tags)} tags; Lambda allows {MAX_TAGS}",
        )

    vpc = spec.vpc_config
    configuration = {
        "Role": spec.role,
        "Handler": spec.handler,
        "Runtime": spec.runtime,
        "Description": spec.description,
        "Timeout": spec.timeout,
        "MemorySize": spec.memory_size,
        "Environment": {"Variables": dict(spec.environment.variables if spec.environment else {})},
        "VpcConfig": {
            "SubnetIds": list(vpc.subnet_ids if vpc else []),
            "SecurityGroupIds": list(vpc.security_group_ids if vpc else []),
        },
        "DeadLetterConfig": {
            "TargetArn": spec.dead_letter_config.target_arn if spec.dead_letter_config else ""
        },
        "TracingConfig": {
            "Mode": spec.tracing_config.mode if spec.tracing_config else "PassThrough"
        },
        "Layers": list(spec.layers),
        "EphemeralStorage": {"Size": spec.ephemeral_storage},
    }
    return Desired(
        name=spec.function_name,
        package=package,
        configuration=configuration,
        architectures=tuple(spec.architectures),
        tags=tags,
        reserved_concurrency=spec.reserved_concurrent_executions,
    )


def claim(observed: Observed, owner: str, adopt: bool) -> None:
    """Refuse a function that belongs to someone else; adopt an ownerless one if asked."""
    holder = observed.tags.get(OWNER_TAG)
    if holder == owner:
        return
    name = observed.configuration.get("FunctionName", "the function")
    if holder is not None:
        raise Permanent(
            "AlreadyExists",
            f"function {name} belongs to the LambdaFunction {holder}; two objects cannot"
            " manage one function: rename functionName or delete the other object",
        )
    if not adopt:
        raise Permanent(
            "AlreadyExists",
            f"function {name} already exists in AWS and was not created by this object;"
            f' to manage it from here, annotate the object with {ADOPT_ANNOTATION}="true"',
        )


def comparable(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The governed configuration in one canonical form, whichever side it comes from."""
    merged = {
        **CONFIGURATION_DEFAULTS,
        **{k: v for k, v in configuration.items() if v is not None},
    }
    vpc = merged["VpcConfig"] or {}
    return {
        "Role": merged.get("Role"),
        "Handler": merged.get("Handler"),
        "Runtime": merged.get("Runtime"),
        "Description": merged["Description"] or "",
        "Timeout": merged["Timeout"],
        "MemorySize": merged["MemorySize"],
        "Environment": dict((merged["Environment"] or {}).get("Variables") or {}),
        "VpcConfig": (
            sorted(vpc.get("SubnetIds") or []),
            sorted(vpc.get("SecurityGroupIds") or []),
        ),
        "DeadLetterConfig": (merged["DeadLetterConfig"] or {}).get("TargetArn") or "",
        "TracingConfig": (merged["TracingConfig"] or {}).get("Mode") or "PassThrough",
        "Layers": [
            layer["Arn"] if isinstance(layer, Mapping) else layer
            for layer in merged["Layers"] or []
        ],
        "EphemeralStorage": (merged["EphemeralStorage"] or {}).get("Size") or 512,
    }


def configuration_changes(desired: Desired, observed: Observed) -> dict[str, Any]:
    want, have = comparable(desired.configuration), comparable(observed.configuration)
    return {k: desired.configuration[k] for k in desired.configuration if want[k] != have[k]}


def code_changed(desired: Desired, observed: Observed, deployed: Mapping[str, Any] | None) -> bool:
    config = observed.configuration
    if tuple(config.get("Architectures") or ("x86_64",)) != desired.architectures:
        return True
    package = desired.package
    if isinstance(package, ZipPackage):
        return package.sha256 != config.get("CodeSha256")
    # GetFunction never shows where code came from: compare with what we deployed, and
    # redeploy when the code in AWS is no longer what that deployment left there.
    return deployed is None or deployed != deployed_record(package, config.get("CodeSha256"))


def deployed_record(
    package: ZipPackage | S3Package, code_sha256: str | None
) -> dict[str, str] | None:
    """What the status remembers of a deployment: needed for S3 code only."""
    if not isinstance(package, S3Package):
        return None
    record = {
        "s3Bucket": package.bucket,
        "s3Key": package.key,
        "codeSha256": code_sha256 or "",
    }
    if package.version:
        record["s3ObjectVersion"] = package.version
    return record


def differences(
    desired: Desired, observed: Observed, deployed: Mapping[str, Any] | None
) -> list[str]:
    """What still differs, in words for the status; empty when AWS matches the spec."""
    found = []
    changes = configuration_changes(desired, observed)
    if changes:
        found.append("configuration (" + ", ".join(sorted(changes)) + ")")
    if code_changed(desired, observed, deployed):
        found.append("code")
    if _tags_to_set(desired, observed) or _tags_to_remove(desired, observed):
        found.append("tags")
    if desired.reserved_concurrency != observed.reserved_concurrency:
        found.append("reserved concurrency")
    return found


def plan(
    desired: Desired, observed: Observed | None, deployed: Mapping[str, Any] | None
) -> list[Call]:
    """The calls that bring AWS closer to `desired`; empty when there is nothing to do now.

    At most one call in the plan starts an asynchronous update, and it comes last.
    """
    if observed is None:
        return [Call("CreateFunction", create_params(desired))]
    if observed.busy:
        return []

    calls = []
    name, arn = desired.name, observed.arn
    if removed := _tags_to_remove(desired, observed):
        calls.append(Call("UntagResource", {"Resource": arn, "TagKeys": removed}))
    if added := _tags_to_set(desired, observed):
        calls.append(Call("TagResource", {"Resource": arn, "Tags": added}))

    if desired.reserved_concurrency != observed.reserved_concurrency:
        if desired.reserved_concurrency is None:
            calls.append(Call("DeleteFunctionConcurrency", {"FunctionName": name}))
        else:
            calls.append(Call("PutFunctionConcurrency", {
                "FunctionName": name,
                "ReservedConcurrentExecutions": desired.reserved_concurrency,
            }))  # fmt: skip

    # The revision read guards the update only if nothing in this plan changed it since.
    guard = {} if calls else _revision_guard(observed)
    if changes := configuration_changes(desired, observed):
        calls.append(
            Call("UpdateFunctionConfiguration", {"FunctionName": name, **changes, **guard})
        )
    elif code_changed(desired, observed, deployed):
        calls.append(Call("UpdateFunctionCode", {
            "FunctionName": name,
            **_code_params(desired.package),
            "Architectures": list(desired.architectures),
            **guard,
        }))  # fmt: skip
    return calls


def create_params(desired: Desired) -> dict[str, Any]:
    config = desired.configuration
    params: dict[str, Any] = {
        "FunctionName": desired.name,
        "PackageType": "Zip",
        "Code": _code_params(desired.package),
        "Architectures": list(desired.architectures),
        "Tags": dict(desired.tags),
        "Publish": False,
    }
    # Create takes only what differs from Lambda's defaults: an empty DeadLetterConfig or
    # VpcConfig would be refused.
    wanted, defaults = comparable(config), comparable({})
    for key, value in config.items():
        if key not in CONFIGURATION_DEFAULTS or wanted[key] != defaults[key]:
            params[key] = value
    return params


# Why a function that exists is not ready, in the order they are looked for: the field of
# the configuration that holds it and its value, the reason, where AWS says more, and what
# to say when it does not.
_NOT_READY = (
    ("State", "Pending", "Creating", "StateReason", "Lambda is creating the function"),
    ("LastUpdateStatus", "InProgress", "Updating", "LastUpdateStatusReason",
     "Lambda is applying an update"),
    ("State", "Failed", "CreateFailed", "StateReason", "Lambda could not create the function"),
    ("LastUpdateStatus", "Failed", "UpdateFailed", "LastUpdateStatusReason",
     "the last update failed"),
    ("State", "Inactive", "Inactive", "StateReason",
     "Lambda has reclaimed the function's resources; the next invocation reactivates it"),
)  # fmt: skip


def ready_condition(observed: Observed | None) -> Condition:
    if observed is None:
        return Condition("Ready", False, "NotFound", "the function does not exist in AWS")
    if observed.ready:
        message = "the function is active and its last update succeeded"
        return Condition("Ready", True, "Available", message)
    config = observed.configuration
    for field_name, value, reason, detail, fallback in _NOT_READY:
        if config.get(field_name) == value:
            return Condition("Ready", False, reason, config.get(detail) or fallback)
    state, update = config.get("State"), config.get("LastUpdateStatus")
    return Condition("Ready", False, "NotReady", f"state {state}, last update {update}")


# Status fields read off the function's configuration, and where they come from.
OBSERVED_FIELDS = {
    "functionArn": "FunctionArn",
    "functionName": "FunctionName",
    "version": "Version",
    "state": "State",
    "stateReason": "StateReason",
    "lastUpdateStatus": "LastUpdateStatus",
    "lastUpdateStatusReason": "LastUpdateStatusReason",
    "lastModified": "LastModified",
    "codeSize": "CodeSize",
    "codeSha256": "CodeSha256",
    "memorySize": "MemorySize",
    "timeout": "Timeout",
}


def observed_status(observed: Observed | None) -> dict[str, Any]:
    if observed is None:
        return {"ready": False}
    config = observed.configuration
    status = {
        ours: config[theirs]
        for ours, theirs in OBSERVED_FIELDS.items()
        if config.get(theirs) is not None
    }
    status["ready"] = observed.ready
    return status


def _tags_to_set(desired: Desired, observed: Observed) -> dict[str, str]:
    return {k: v for k, v in desired.tags.items() if observed.tags.get(k) != v}


def _tags_to_remove(desired: Desired, observed: Observed) -> list[str]:
    # aws: tags belong to AWS (CloudFormation, Service Catalog) and cannot be removed.
    return sorted(
        k for k in observed.tags if k not in desired.tags and not k.lower().startswith("aws:")
    )


def _revision_guard(observed: Observed) -> dict[str, str]:
    # With the revision we read, Lambda refuses our update if someone changed the function
    # since, instead of silently overwriting their change with a plan made before it.
    revision = observed.configuration.get("RevisionId")
    return {"RevisionId": revision} if revision else {}


def _code_params(package: ZipPackage | S3Package) -> dict[str, Any]:
    if isinstance(package, ZipPackage):
        return {"ZipFile": package.data}
    params = {"S3Bucket": package.bucket, "S3Key": package.key}
    if package.version:
        params["S3ObjectVersion"] = package.version
    return params
