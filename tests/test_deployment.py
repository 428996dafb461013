"""The deployment as a cluster receives it: the kustomize base, the LocalStack overlay, the image.

Nothing here needs a cluster or a Docker engine, yet each check stands for something a
cluster would do. Every rendered object is validated offline against the schemas of the
Kubernetes API (shipped by kubernetes-validate), our own CRDs, or Metacontroller's contract;
the rules the deployment promises (who may call the hooks, what the hooks may do, how they
survive a drain, how the token reaches both sides) are checked on the rendered objects;
and the image's command is started from a fresh install of the project, outside the source
tree, as the container would start it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import controllerschema
import crdschema
import kubernetes_validate
import pytest
import rendering
from rendering import BASE, LOCALSTACK, objects_of, render, the

from compositions import aws, kube, schedule

REPO = rendering.REPO
GROUP = "aws-infra-operator.runner.codes"
ROOTS = {"base": BASE, "localstack": LOCALSTACK}

# The oldest Kubernetes the manifests are for (CEL rules in CRDs are GA from 1.29), and the
# newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())

POD_LABELS = {
    "app.kubernetes.io/name": "aws-infra-operator",
    "app.kubernetes.io/component": "hooks",
}
TOKEN_SECRET = {
    "name": "aws-infra-operator-hooks-token",
    "namespace": "aws-infra-operator",
    "key": "token",
}


@functools.cache
def gunicorn_settings() -> dict[str, Any]:
    """The settings hooks/gunicorn_conf.py gives gunicorn in a pod that sets none of them.

    Read in a child process: the config module sets up the workers' environment when it
    is imported, which must not leak into this one.
    """
    script = (
        "import json, hooks.gunicorn_conf as c;"
        "print(json.dumps({'timeout': c.timeout, 'graceful_timeout': c.graceful_timeout}))"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("HOOKS_")}
    with tempfile.TemporaryDirectory() as scratch:
        env["TMPDIR"] = scratch
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    return json.loads(result.stdout)


def pod_spec(root: Path) -> dict[str, Any]:
    return the(root, "Deployment")["spec"]["template"]["spec"]


def hooks_container(root: Path) -> dict[str, Any]:
    (container,) = pod_spec(root)["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {variable["name"]: variable["value"] for variable in container.get("env", [])}


def webhooks(root: Path) -> list[dict[str, Any]]:
    return [
        hook["webhook"]
        for controller in objects_of(root, "CompositeController")
        for hook in controller["spec"]["hooks"].values()
    ]


def name_of(obj: dict[str, Any]) -> str:
    metadata = obj["metadata"]
    where = f"{metadata['namespace']}/" if "namespace" in metadata else ""
    return f"{obj['kind']} {where}{metadata['name']}"


# --- Every rendered object is one the API server would take ----------------------------


def problems_of(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Why the API server (or Metacontroller) would refuse `obj`; empty when it would not."""
    if obj["apiVersion"].startswith(f"{GROUP}/"):
        return crdschema.errors(obj)
    if obj["apiVersion"] == controllerschema.API_VERSION:
        return controllerschema.errors(obj)
    try:
        # Strict: an unknown field is an error, as with kubectl's default field validation.
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [error.message]
    return []


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("root", ROOTS.values(), ids=ROOTS.keys())
def test_every_rendered_object_validates_against_its_schema(
    root: Path, kubernetes_version: str
) -> None:
    problems = {
        name_of(obj): found
        for obj in render(root)
        if (found := problems_of(obj, kubernetes_version))
    }

    assert problems == {}


def test_the_overlay_renders_the_base_with_its_own_changes() -> None:
    def names(root: Path) -> set[str]:
        return {name_of(obj) for obj in render(root)}

    budget = "PodDisruptionBudget aws-infra-operator/aws-infra-operator-hooks"
    added = {"Secret default/aws-credentials", "AWSProvider default/localstack"}

    assert names(LOCALSTACK) == names(BASE) - {budget} | added


def broken(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `obj` with the dotted `path` set to `value` (digits index lists)."""
    copy = json.loads(json.dumps(obj))
    *parents, last = path.split(".")
    node = copy
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    return copy


def refused(kind: str, path: str, value: Any, reason: str) -> Any:
    return pytest.param(kind, path, value, id=reason)


WEBHOOK = "spec.hooks.sync.webhook"


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        refused("Deployment", "spec.replicas", "two", "replicas as text"),
        refused(
            "Deployment",
            "spec.template.spec.containers.0.ports.0.containerPort",
            "http",
            "a port that is a name",
        ),
        refused(
            "Deployment",
            "spec.template.spec.containers.0.securityContext.runAsUsr",
            1,
            "a misspelt security field",
        ),
        refused(
            "NetworkPolicy",
            "spec.ingress.0.from.0.namespaceSelectr",
            {},
            "a misspelt peer",
        ),
        refused("PodDisruptionBudget", "spec.minAvailabel", 1, "a misspelt budget"),
        refused("ClusterRole", "rules.0.verb", ["get"], "a misspelt rule field"),
        refused("CustomResourceDefinition", "spec.scope", 1, "a scope that is a number"),
        refused("CompositeController", f"{WEBHOOK}.timeOut", "45s", "a misspelt timeout"),
        refused("CompositeController", f"{WEBHOOK}.timeout", "45 seconds", "a bad duration"),
        refused("CompositeController", "spec.hooks.sync.version", "v3", "hook version v3"),
        refused(
            "CompositeController",
            f"{WEBHOOK}.authorization.secretRef",
            {"name": "x"},
            "a secretRef without a key",
        ),
        refused(
            "CompositeController",
            f"{WEBHOOK}.etag",
            {"cacheTimeoutSeconds": 60},
            "one etag cache field without the other",
        ),
        refused(
            "CompositeController",
            f"{WEBHOOK}.url",
            "http://elsewhere/sync",
            "both a url and a service",
        ),
        refused("CompositeController", "spec.resyncPeriodSeconds", 0, "a resync of 0 s"),
    ],
)
def test_the_validation_refuses_a_broken_object(kind: str, path: str, value: Any) -> None:
    # Without this, a validator that accepts everything would pass the test above.
    obj = broken(objects_of(BASE, kind)[0], path, value)

    assert problems_of(obj, KUBERNETES_VERSIONS[-1])


# --- Availability ---------------------------------------------------------------------


def test_two_replicas_spread_over_nodes_with_one_always_left_by_a_drain() -> None:
    deployment = the(BASE, "Deployment")
    budget = the(BASE, "PodDisruptionBudget")
    spread = {
        constraint["topologyKey"]: constraint
        for constraint in pod_spec(BASE)["topologySpreadConstraints"]
    }

    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["metadata"]["labels"] == POD_LABELS
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert budget["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert budget["spec"] == {"minAvailable": 1, "selector": {"matchLabels": POD_LABELS}}
    # Preferred, not required: a cluster with a single node still runs both replicas.
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["kubernetes.io/hostname"]["labelSelector"] == {"matchLabels": POD_LABELS}


def test_the_pod_outlives_gunicorns_graceful_shutdown() -> None:
    assert pod_spec(BASE)["terminationGracePeriodSeconds"] == 30
    assert gunicorn_settings()["graceful_timeout"] < pod_spec(BASE)["terminationGracePeriodSeconds"]


def test_both_probes_ask_healthz_and_the_container_has_requests_and_limits() -> None:
    container = hooks_container(BASE)

    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    for resource in ("cpu", "memory"):
        assert container["resources"]["requests"][resource]
        assert container["resources"]["limits"][resource]


# --- Who may reach the hooks, and what the hooks may do --------------------------------


def test_only_pods_of_metacontrollers_namespace_may_reach_the_hooks_port() -> None:
    policy = the(BASE, "NetworkPolicy")
    (port,) = [p for p in hooks_container(BASE)["ports"] if p["name"] == "http"]
    metacontroller = the_binding_subject("aws-infra-operator-metacontroller")

    assert policy["metadata"]["namespace"] == the(BASE, "Deployment")["metadata"]["namespace"]
    assert policy["spec"]["podSelector"] == {"matchLabels": POD_LABELS}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    # One rule, one peer: a namespace selector alone (no podSelector, no ipBlock).
    assert policy["spec"]["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": metacontroller["namespace"]}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": port["containerPort"]}],
        }
    ]
    assert metacontroller["namespace"] == "metacontroller"


def the_binding_subject(role_name: str) -> dict[str, str]:
    (binding,) = [
        obj for obj in objects_of(BASE, "ClusterRoleBinding") if obj["roleRef"]["name"] == role_name
    ]
    (subject,) = binding["subjects"]
    return subject


def test_the_hooks_service_account_is_the_one_bound_to_the_hooks_role() -> None:
    account = the(BASE, "ServiceAccount")
    pod = pod_spec(BASE)

    assert the_binding_subject("aws-infra-operator-hooks") == {
        "kind": "ServiceAccount",
        "name": account["metadata"]["name"],
        "namespace": account["metadata"]["namespace"],
    }
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    # The hooks read Secrets through the API with this account's token.
    assert pod["automountServiceAccountToken"] is True


def test_the_service_account_carries_an_empty_irsa_role_for_overlays_to_fill() -> None:
    annotations = the(BASE, "ServiceAccount")["metadata"]["annotations"]

    assert annotations == {"eks.amazonaws.com/role-arn": ""}


def test_the_hooks_run_as_uid_10001_unprivileged_on_a_read_only_root() -> None:
    pod = pod_spec(BASE)
    container = hooks_container(BASE)
    context = container["securityContext"]

    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert context == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]


# --- The bearer token -----------------------------------------------------------------


def test_every_hook_sends_the_token_of_the_secret_the_deployment_mounts() -> None:
    container = hooks_container(BASE)
    volumes = {volume["name"]: volume for volume in pod_spec(BASE)["volumes"]}
    token_file = Path(env_of(container)["HOOKS_TOKEN_FILE"])
    (mount,) = [m for m in container["volumeMounts"] if Path(m["mountPath"]) == token_file.parent]
    secret = volumes[mount["name"]]["secret"]

    assert len(webhooks(BASE)) == 6
    for webhook in webhooks(BASE):
        assert webhook["authorization"] == {"type": "Bearer", "secretRef": TOKEN_SECRET}
    assert the(BASE, "Deployment")["metadata"]["namespace"] == TOKEN_SECRET["namespace"]
    assert secret["secretName"] == TOKEN_SECRET["name"]
    assert secret["items"] == [{"key": TOKEN_SECRET["key"], "path": token_file.name}]
    assert mount["readOnly"] is True
    # Readable by the pod's group (fsGroup) only; a subPath mount would never be updated
    # when the Secret is rotated.
    assert secret["defaultMode"] == 0o440
    assert "subPath" not in mount


def test_the_token_secret_is_left_to_the_person_who_installs() -> None:
    # A token in git would be one token for every cluster, readable by anyone with the repo.
    for root in ROOTS.values():
        assert TOKEN_SECRET["name"] not in {
            obj["metadata"]["name"] for obj in objects_of(root, "Secret")
        }


def test_a_webhook_waits_longer_than_a_slow_call_and_less_than_gunicorn() -> None:
    # The worst case of one hook call, from the hooks' own settings: a Secret read at its
    # timeouts, AWS calls up to the sync's budget, and one more call started just before
    # the budget ran out, every attempt of it at its connect and read timeouts.
    slowest_aws_call = aws.ATTEMPTS * (aws.CONNECT_SECONDS + aws.READ_SECONDS)
    slowest_call = sum(kube.TIMEOUTS) + schedule.CALL_BUDGET_SECONDS + slowest_aws_call

    for webhook in webhooks(BASE):
        seconds = controllerschema.duration_seconds(webhook["timeout"])
        assert seconds > 30
        assert seconds > slowest_call
        # Otherwise gunicorn kills the worker while Metacontroller still waits for it.
        assert seconds < gunicorn_settings()["timeout"]


@pytest.mark.parametrize("duration", ["45s", "0.75m", "45000ms", "44s1000ms"])
def test_go_durations_are_read_in_seconds(duration: str) -> None:
    assert controllerschema.duration_seconds(duration) == pytest.approx(45)


# --- The LocalStack overlay -----------------------------------------------------------


def test_the_localstack_overlay_runs_one_debug_replica_of_a_local_image() -> None:
    container = hooks_container(LOCALSTACK)

    assert the(LOCALSTACK, "Deployment")["spec"]["replicas"] == 1
    assert container["image"] == "aws-infra-operator:dev"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert env_of(container)["LOG_LEVEL"] == "DEBUG"
    # The rest of the container is the base's.
    assert (
        env_of(container)["HOOKS_TOKEN_FILE"] == env_of(hooks_container(BASE))["HOOKS_TOKEN_FILE"]
    )
    assert container["securityContext"] == hooks_container(BASE)["securityContext"]
    # One replica could never leave one available: the budget would block every drain.
    assert objects_of(LOCALSTACK, "PodDisruptionBudget") == []


def test_the_localstack_provider_reaches_localstack_with_the_documented_test_keys() -> None:
    provider = the(LOCALSTACK, "AWSProvider")
    secret = the(LOCALSTACK, "Secret")
    spec = provider["spec"]

    assert spec["endpoint"] == "http://localstack.localstack:4566"
    assert secret["metadata"]["namespace"] == provider["metadata"]["namespace"]
    for ref in ("accessKeyIDRef", "secretAccessKeyRef"):
        assert spec[ref]["name"] == secret["metadata"]["name"]
        assert secret["stringData"][spec[ref]["key"]] == "test"


# --- The image ------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text(encoding="utf-8"))
    return [
        (instruction.upper(), arguments.strip())
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
        for instruction, _, arguments in [line.strip().partition(" ")]
    ]


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage, each list opening with its FROM; ARGs resolved."""
    defaults: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "ARG" and not stages:
            name, _, value = arguments.partition("=")
            defaults[name] = value
            continue
        if instruction == "FROM":
            arguments = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], arguments)
            stages.append([])
        stages[-1].append((instruction, arguments))
    return stages


def image_command() -> list[str]:
    (cmd,) = [args for instruction, args in dockerfile_stages()[-1] if instruction == "CMD"]
    return json.loads(cmd)


def test_the_image_runs_the_deployments_command_as_its_user_on_its_port() -> None:
    final = dict(dockerfile_stages()[-1])
    container = hooks_container(BASE)

    assert image_command() == container["command"]
    assert final["USER"] == "{0}:{0}".format(container["securityContext"]["runAsUser"])
    assert final["EXPOSE"] == str(container["ports"][0]["containerPort"])


def test_the_final_stage_is_slim_python_with_only_the_built_environment() -> None:
    builder, final = dockerfile_stages()
    copies = [args for instruction, args in final if instruction in ("COPY", "ADD")]
    runs = " ".join(args for instruction, args in final if instruction == "RUN")

    assert builder[0] == ("FROM", "python:3.11-slim AS builder")
    assert final[0] == ("FROM", "python:3.11-slim")
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    assert "PATH=/opt/venv/bin:$PATH" in dict(final)["ENV"]
    # Nothing is built or installed in the final stage: pip is removed from it, not used.
    assert not re.search(r"apt-get install|pip install|gcc|build-essential", runs)
    assert "pip uninstall" in runs


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last match wins)."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        if any(fnmatch(prefix, pattern) for prefix in prefixes):
            ignored = not negated
    return ignored


def builder_sources() -> list[str]:
    """What the builder stage copies from the build context, in order."""
    return [
        source
        for instruction, args in dockerfile_stages()[0]
        if instruction == "COPY"
        for source in args.split()[:-1]
    ]


def test_everything_the_builder_copies_is_in_the_build_context_and_nothing_else() -> None:
    sources = builder_sources()

    assert sources == ["pyproject.toml", "README.md", "hooks/", "compositions/"]
    for source in sources:
        assert (REPO / source).exists(), source
        assert not dockerignored(source), source
    for kept_out in ("tests", "sandbox", ".venv", ".git", "metacontroller", "examples"):
        assert dockerignored(kept_out), kept_out


def build_context(destination: Path) -> Path:
    """A copy of the files of the repository root that the builder stage installs from.

    Installing from this copy rather than from the working tree does what `docker build`
    does: a package that the Dockerfile forgets to copy is missing here too, and no stale
    `build/` folder of the working tree (setuptools never empties it) slips into the wheel.
    """
    destination.mkdir()
    for source in builder_sources():
        origin, copy = REPO / source, destination / source
        if origin.is_dir():
            shutil.copytree(origin, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, copy)
    return destination


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, body: bytes | None = None, token: str | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


@contextlib.contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """Run `command` until the block ends; yields its URL once /healthz answers."""
    url = f"http://127.0.0.1:{env['PORT']}"
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer in 60 s:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(OSError):
                if call(f"{url}/healthz") == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_images_command_serves_the_hooks_from_a_plain_install(tmp_path: Path) -> None:
    # What the image holds, rebuilt without Docker: a fresh environment with the project
    # and its runtime dependencies only (no dev extras), without pip and setuptools (as the
    # image removes them), started with the image's CMD from outside the source tree.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    context = build_context(tmp_path / "context")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(context)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    subprocess.run(
        [str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "pip", "setuptools"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    dev_only = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('moto'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert dev_only.stdout.strip() == "None"

    command = image_command()
    token = secrets.token_hex(16)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV", "HOOKS_TOKEN_FILE")
        and not name.startswith("PROMETHEUS_")
    }
    env |= {
        "TMPDIR": str(tmp_path),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PORT": str(free_port()),
        "HOOKS_TOKEN": token,
    }
    outside = tmp_path / "cwd"
    outside.mkdir()
    assert REPO not in outside.resolve().parents
    # The command's program is the fresh environment's, not one of this machine's.
    assert Path(shutil.which(command[0], path=env["PATH"]) or "").parent == venv / "bin"
    customize = json.dumps(
        {
            "controller": {},
            "parent": {
                "apiVersion": f"{GROUP}/v1alpha1",
                "kind": "LambdaFunction",
                "metadata": {"name": "hello", "namespace": "default", "uid": "1"},
                "spec": {"providerRef": {"name": "localstack"}},
            },
        }
    ).encode()

    with serving(command, outside, env, tmp_path / "server.log") as url:
        hook = f"{url}/hooks/lambdafunction/customize"
        healthz = call(f"{url}/healthz")
        without_token = call(hook, customize)
        with_token = call(hook, customize, token)

    assert (healthz, without_token, with_token) == (200, 401, 200)
