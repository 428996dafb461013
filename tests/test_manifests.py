"""The kustomize base in metacontroller/: what a cluster gets from `kubectl apply -k`.

Nothing here talks to a cluster. The base is rendered with `kubectl kustomize`, exactly as
`kubectl apply -k` would render it, and the rendered objects are checked against what the
hooks and Metacontroller rely on: CRDs with a status subresource and every field the hooks
read or write, CompositeControllers that call the six hook paths the Flask app serves, and
CRD schemas that refuse values outside the documented Lambda limits before they reach AWS.
The rules of the deployment itself (network, disruption, token, image) are checked in
test_deployment.py.
"""

from __future__ import annotations

from typing import Any

import celpy
import controllerschema
import crdschema
import pytest
import rendering

BASE = rendering.BASE
GROUP = "aws-infra-operator.runner.codes"
HOOK_PATHS = frozenset(
    f"/hooks/{kind}/{hook}"
    for kind in ("lambdafunction", "awsprovider")
    for hook in ("sync", "finalize", "customize")
)


def rendered() -> tuple[dict[str, Any], ...]:
    return rendering.render(BASE)


def objects_of(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in rendered() if obj["kind"] == kind]


def crd_for(kind: str) -> dict[str, Any]:
    (crd,) = [
        obj
        for obj in objects_of("CustomResourceDefinition")
        if obj["spec"]["names"]["kind"] == kind
    ]
    return crd


def served_version(kind: str) -> dict[str, Any]:
    (version,) = crd_for(kind)["spec"]["versions"]
    return version


def schema_at(kind: str, path: str) -> dict[str, Any]:
    """The schema node of `kind` at a dotted path such as `spec.code.s3Key`."""
    node = served_version(kind)["schema"]["openAPIV3Schema"]
    for name in path.split("."):
        node = node["properties"][name]
    return node


# --- The rendering --------------------------------------------------------------------


def test_the_base_renders_with_kubectl_kustomize() -> None:
    kinds = sorted(obj["kind"] for obj in rendered())

    assert kinds.count("CustomResourceDefinition") == 2
    assert kinds.count("CompositeController") == 2
    assert {
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    } <= set(kinds)


def test_every_rendered_object_has_an_api_version_a_kind_and_a_name() -> None:
    for obj in rendered():
        assert obj.get("apiVersion"), obj
        assert obj.get("kind"), obj
        assert obj.get("metadata", {}).get("name"), obj


# --- The CRDs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plural", "short_names", "columns"),
    [
        (
            "LambdaFunction",
            "lambdafunctions",
            ["lambda", "lf"],
            ["Function", "Runtime", "State", "Ready", "Age"],
        ),
        ("AWSProvider", "awsproviders", ["awsp"], ["Region", "Account", "Ready", "Age"]),
    ],
)
def test_each_crd_is_a_namespaced_v1alpha1_resource_with_a_status_subresource(
    kind: str, plural: str, short_names: list[str], columns: list[str]
) -> None:
    crd = crd_for(kind)
    version = served_version(kind)

    assert crd["metadata"]["name"] == f"{plural}.{GROUP}"
    assert crd["spec"]["group"] == GROUP
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == short_names
    assert crd["spec"]["names"]["categories"] == ["aws"]
    assert version["name"] == "v1alpha1"
    assert version["served"] is True and version["storage"] is True
    # Metacontroller ignores a parent whose CRD has no status subresource.
    assert version["subresources"] == {"status": {}}
    assert [column["name"] for column in version["additionalPrinterColumns"]] == columns


@pytest.mark.parametrize("kind", ["LambdaFunction", "AWSProvider"])
def test_crd_schemas_are_structural(kind: str) -> None:
    schema = served_version(kind)["schema"]["openAPIV3Schema"]

    assert crdschema.structural_problems(schema) == []


CONDITION_FIELDS = {"type", "status", "reason", "message", "lastTransitionTime"}

# fmt: off
DECLARED_FIELDS = {
    ("LambdaFunction", "spec"): {
        "providerRef", "functionName", "runtime", "handler", "role", "code", "memorySize",
        "timeout", "description", "environment", "vpcConfig", "layers", "deadLetterConfig",
        "ephemeralStorage", "reservedConcurrentExecutions", "architectures", "tags",
        "tracingConfig", "deletionPolicy",
    },
    ("LambdaFunction", "spec.code"): {"zipFile", "s3Bucket", "s3Key", "s3ObjectVersion"},
    ("LambdaFunction", "status"): {
        "functionArn", "functionName", "version", "state", "stateReason",
        "lastUpdateStatus", "lastUpdateStatusReason", "lastModified", "lastSyncTime",
        "codeSize", "codeSha256", "memorySize", "timeout", "ready", "observedGeneration",
        "consecutiveFailures", "deployedCode", "conditions", "syncedInputs",
    },
    ("LambdaFunction", "status.deployedCode"): {
        "s3Bucket", "s3Key", "s3ObjectVersion", "codeSha256",
    },
    ("AWSProvider", "spec"): {
        "region", "endpoint", "accessKeyIDRef", "secretAccessKeyRef", "roleARN",
        "externalID", "defaultTags",
    },
    ("AWSProvider", "status"): {
        "ready", "accountID", "callerIdentity", "lastAuthenticationTime",
        "observedGeneration", "conditions", "credentialsVersion", "consecutiveFailures",
    },
}
# fmt: on


@pytest.mark.parametrize(("kind", "path"), DECLARED_FIELDS)
def test_the_crds_declare_every_field_the_hooks_read_and_write(kind: str, path: str) -> None:
    # The status returned by a sync hook replaces .status whole, and the API server drops
    # any field its schema does not declare.
    assert set(schema_at(kind, path)["properties"]) == DECLARED_FIELDS[kind, path]


@pytest.mark.parametrize("kind", ["LambdaFunction", "AWSProvider"])
def test_conditions_are_a_list_keyed_by_type(kind: str) -> None:
    conditions = schema_at(kind, "status.conditions")

    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(conditions["items"]["properties"]) == CONDITION_FIELDS
    assert conditions["items"]["properties"]["status"]["enum"] == [
        "True",
        "False",
        "Unknown",
    ]
    assert conditions["items"]["properties"]["lastTransitionTime"]["format"] == "date-time"


def rules_at(kind: str, path: str) -> list[str]:
    return [rule["rule"] for rule in schema_at(kind, path).get("x-kubernetes-validations", [])]


@pytest.mark.parametrize(
    ("kind", "path", "words"),
    [
        ("LambdaFunction", "spec.code", ["zipFile", "s3Bucket", "s3ObjectVersion"]),
        ("LambdaFunction", "spec.functionName", ["oldSelf"]),
        ("LambdaFunction", "spec.tags", ["[aA][wW][sS]:", "128"]),
        ("LambdaFunction", "spec.vpcConfig", ["securityGroupIds", "subnetIds"]),
        ("LambdaFunction", "spec.environment.variables", ["matches"]),
        ("AWSProvider", "spec", ["accessKeyIDRef", "secretAccessKeyRef"]),
    ],
)
def test_rules_beyond_json_schema_are_left_to_cel(kind: str, path: str, words: list[str]) -> None:
    # The jsonschema conversion cannot run these rules: at least check they are there.
    rules = " ".join(rules_at(kind, path))

    for word in words:
        assert word in rules


LF, AP = "LambdaFunction", "AWSProvider"
ZIP, S3 = {"zipFile": "x"}, {"s3Bucket": "bkt", "s3Key": "f.zip"}
VPC = {"securityGroupIds": ["sg-1"], "subnetIds": ["subnet-1"]}
VARIABLES = "spec.environment.variables"


def cel(kind: str, path: str, value: Any, accepted: bool, reason: str, old: Any = None) -> Any:
    """One case for a CEL rule; `old` is the value before an update (transition rules)."""
    return pytest.param(kind, path, value, old, accepted, id=reason)


CEL_CASES = [
    cel(LF, "spec.code", ZIP, True, "inline code alone"),
    cel(LF, "spec.code", S3, True, "an S3 object alone"),
    cel(LF, "spec.code", {**S3, "s3ObjectVersion": "3"}, True, "a pinned S3 version"),
    cel(LF, "spec.code", {}, False, "no code source"),
    cel(LF, "spec.code", {**ZIP, **S3}, False, "two code sources"),
    cel(LF, "spec.code", {"s3Bucket": "bkt"}, False, "a bucket without a key"),
    cel(LF, "spec.code", {**ZIP, "s3ObjectVersion": "3"}, False, "a version without S3"),
    cel(LF, "spec.functionName", "orders", True, "the same function name", old="orders"),
    cel(LF, "spec.functionName", "orders2", False, "a renamed function", old="orders"),
    cel(LF, "spec.tags", {"Team": "backend"}, True, "a tag of ours"),
    cel(LF, "spec.tags", {"aws:cloudformation:stack-name": "s"}, False, "an aws: tag"),
    cel(LF, "spec.tags", {"AWS:Owner": "s"}, False, "an aws: tag in capitals"),
    cel(LF, "spec.tags", {"k" * 129: "v"}, False, "a tag key of 129 characters"),
    cel(LF, "spec.vpcConfig", {"subnetIds": ["subnet-1"]}, False, "subnets alone"),
    cel(LF, "spec.vpcConfig", {"securityGroupIds": ["sg-1"]}, False, "groups alone"),
    cel(LF, "spec.vpcConfig", {"securityGroupIds": [], "subnetIds": []}, True, "no VPC"),
    cel(LF, "spec.vpcConfig", VPC, True, "groups and subnets"),
    cel(LF, VARIABLES, {"LOG_LEVEL": "debug"}, True, "a variable name"),
    cel(LF, VARIABLES, {"X": "1"}, False, "a one-letter variable name"),
    cel(LF, VARIABLES, {"1ST": "1"}, False, "a variable name starting with a digit"),
    cel(LF, VARIABLES, {"LOG-LEVEL": "1"}, False, "a dash in a variable name"),
    cel(AP, "spec", {"region": "us-east-1"}, True, "no static keys"),
    cel(AP, "spec", {"accessKeyIDRef": {}, "secretAccessKeyRef": {}}, True, "both keys"),
    cel(AP, "spec", {"accessKeyIDRef": {}}, False, "an access key without its secret"),
    cel(AP, "spec.defaultTags", {"aws:owner": "me"}, False, "an aws: default tag"),
]


@pytest.mark.parametrize(("kind", "path", "value", "old", "accepted"), CEL_CASES)
def test_cel_rules_accept_and_refuse_what_they_promise(
    kind: str, path: str, value: Any, old: Any, accepted: bool
) -> None:
    environment = celpy.Environment()
    activation = {"self": celpy.json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)

    verdicts = [
        bool(environment.program(environment.compile(rule)).evaluate(activation))
        for rule in rules_at(kind, path)
    ]

    assert verdicts and all(verdicts) is accepted


def test_fields_left_out_get_the_lambda_defaults() -> None:
    defaults = {
        name: schema_at("LambdaFunction", f"spec.{name}").get("default")
        for name in ("memorySize", "timeout", "architectures", "deletionPolicy")
    }

    assert defaults == {
        "memorySize": 128,
        "timeout": 3,
        "architectures": ["x86_64"],
        "deletionPolicy": "Delete",
    }


# --- The documented limits ------------------------------------------------------------


def lambda_function(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "LambdaFunction",
        "metadata": {"name": "limits", "namespace": "default"},
        "spec": {
            "functionName": "limits",
            "runtime": "python3.12",
            "handler": "index.handler",
            "role": "arn:aws:iam::123456789012:role/lambda-role",
            "code": {"zipFile": "def handler(event, context):\n    return 1\n"},
            **spec,
        },
    }


LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:deps:{}"

# (field, value just outside the documented range, value just inside)
LIMITS = [
    ("memorySize", 127, 128),
    ("memorySize", 10241, 10240),
    ("timeout", 0, 1),
    ("timeout", 901, 900),
    ("ephemeralStorage", 511, 512),
    ("ephemeralStorage", 10241, 10240),
    ("layers", [LAYER.format(n) for n in range(6)], [LAYER.format(n) for n in range(5)]),
    ("architectures", ["x86_64", "arm64"], ["arm64"]),
    ("reservedConcurrentExecutions", -1, 0),
    ("functionName", "f" * 65, "f" * 64),
    ("runtime", "python2.7", "python3.14"),
]


def limit_id(case: tuple[str, Any, Any]) -> str:
    field, outside, _ = case
    if isinstance(outside, list):
        return f"{field} with {len(outside)} items"
    if isinstance(outside, str) and len(outside) > 20:
        return f"{field} of {len(outside)} characters"
    return f"{field}={outside}"


@pytest.mark.parametrize(
    ("field", "outside", "inside"), LIMITS, ids=[limit_id(case) for case in LIMITS]
)
def test_the_crd_refuses_a_value_just_outside_a_documented_limit(
    field: str, outside: Any, inside: Any
) -> None:
    problems = crdschema.errors(lambda_function(**{field: outside}))

    assert problems, f"{field}={outside!r} was accepted"
    assert all(problem.startswith(f"$.spec.{field}") for problem in problems), problems


@pytest.mark.parametrize(
    ("field", "outside", "inside"), LIMITS, ids=[limit_id(case) for case in LIMITS]
)
def test_the_crd_accepts_a_value_just_inside_a_documented_limit(
    field: str, outside: Any, inside: Any
) -> None:
    assert crdschema.errors(lambda_function(**{field: inside})) == []


def test_the_crd_refuses_fields_it_does_not_declare() -> None:
    (problem,) = crdschema.errors(lambda_function(memory=256))

    assert problem.startswith("$.spec:") and "'memory'" in problem


def test_kustomize_adds_only_a_label_to_the_crds_the_limits_are_checked_against() -> None:
    # The checks above read the CRD files; what the cluster gets is the rendered CRD.
    def unlabelled(crd: dict[str, Any]) -> dict[str, Any]:
        return {**crd, "metadata": {"name": crd["metadata"]["name"]}}

    for kind, crd in crdschema.crds().items():
        assert unlabelled(crd_for(kind)) == unlabelled(crd)


# --- The CompositeControllers ---------------------------------------------------------


def hooks_of(controller: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return controller["spec"]["hooks"]


def test_there_is_one_composite_controller_per_kind() -> None:
    resources = {
        controller["spec"]["parentResource"]["resource"]: controller["metadata"]["name"]
        for controller in objects_of("CompositeController")
    }

    assert resources == {
        "lambdafunctions": "aws-infra-operator-lambdafunctions",
        "awsproviders": "aws-infra-operator-awsproviders",
    }


def test_every_hook_path_is_one_the_hooks_serve() -> None:
    paths = [
        hook["webhook"]["path"]
        for controller in objects_of("CompositeController")
        for hook in hooks_of(controller).values()
    ]

    assert sorted(paths) == sorted(HOOK_PATHS)


@pytest.mark.parametrize("resource", ["lambdafunctions", "awsproviders"])
def test_each_controller_calls_v2_hooks_of_its_own_kind_on_the_hooks_service(
    resource: str,
) -> None:
    (controller,) = [
        controller
        for controller in objects_of("CompositeController")
        if controller["spec"]["parentResource"]["resource"] == resource
    ]
    kind = resource.removesuffix("s")

    assert set(hooks_of(controller)) == {"sync", "finalize", "customize"}
    for name, hook in hooks_of(controller).items():
        assert hook["version"] == "v2"
        assert hook["webhook"]["path"] == f"/hooks/{kind}/{name}"
        # Above the hooks' worst case for one AWS call and one Secret read (about 34 s).
        assert controllerschema.duration_seconds(hook["webhook"]["timeout"]) == 45
        assert hook["webhook"]["service"] == {
            "name": "aws-infra-operator-hooks",
            "namespace": "aws-infra-operator",
            "port": 80,
            "protocol": "http",
        }


def test_controllers_ignore_status_changes_and_have_no_children() -> None:
    # Otherwise every status write (lastSyncTime changes on each sync) triggers a sync.
    for controller in objects_of("CompositeController"):
        spec = controller["spec"]
        assert spec["parentResource"]["apiVersion"] == f"{GROUP}/v1alpha1"
        assert spec["parentResource"]["ignoreStatusChanges"] is True
        assert spec["generateSelector"] is True
        assert spec["childResources"] == []
        assert spec["resyncPeriodSeconds"] == 300


# --- The hooks' Deployment and the rights ---------------------------------------------


def test_the_hooks_service_reaches_the_http_port_of_the_deployment() -> None:
    (deployment,) = objects_of("Deployment")
    (service,) = objects_of("Service")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]

    assert service["metadata"]["name"] == "aws-infra-operator-hooks"
    assert service["metadata"]["namespace"] == "aws-infra-operator"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert (
        service["spec"]["selector"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}


def test_the_hooks_run_unprivileged_on_a_read_only_root_filesystem() -> None:
    (deployment,) = objects_of("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    context = container["securityContext"]

    assert pod["serviceAccountName"] == "aws-infra-operator-hooks"
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    assert container["resources"]["requests"] and container["resources"]["limits"]


def granted(role_name: str) -> set[tuple[str, str, str]]:
    (role,) = [obj for obj in objects_of("ClusterRole") if obj["metadata"]["name"] == role_name]
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def bound_to(role_name: str) -> list[dict[str, str]]:
    (binding,) = [
        obj
        for obj in objects_of("ClusterRoleBinding")
        if obj["roleRef"]
        == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role_name,
        }
    ]
    return binding["subjects"]


def test_the_hooks_may_read_secrets_and_providers_and_record_events_nothing_more() -> None:
    assert granted("aws-infra-operator-hooks") == {
        ("", "secrets", "get"),
        (GROUP, "awsproviders", "get"),
        ("", "events", "create"),
        ("", "events", "patch"),
    }
    assert bound_to("aws-infra-operator-hooks") == [
        {
            "kind": "ServiceAccount",
            "name": "aws-infra-operator-hooks",
            "namespace": "aws-infra-operator",
        }
    ]


def test_metacontroller_may_watch_our_objects_write_their_status_and_record_events() -> None:
    ours = {
        (GROUP, resource, verb)
        for resource in ("lambdafunctions", "awsproviders")
        for verb in ("get", "list", "watch", "update", "patch")
    }
    status = {
        (GROUP, f"{resource}/status", verb)
        for resource in ("lambdafunctions", "awsproviders")
        for verb in ("update", "patch")
    }
    # Secrets: those the customize hooks name as related objects, and the hooks' token.
    secrets = {("", "secrets", verb) for verb in ("get", "list", "watch")}
    events = {
        (group, "events", verb) for group in ("", "events.k8s.io") for verb in ("create", "patch")
    }

    assert granted("aws-infra-operator-metacontroller") == ours | status | secrets | events
    assert bound_to("aws-infra-operator-metacontroller") == [
        {"kind": "ServiceAccount", "name": "metacontroller", "namespace": "metacontroller"}
    ]
