"""Requests no well-behaved Metacontroller would send, and what the hooks answer them.

Whatever arrives, a hook answers 200 with a status (the object's fault, reported to its
owner) or 4xx with a JSON error (the caller's fault), never 500, which means a bug of ours,
and never a traceback. The generated requests start from real ones of each hook and break
them: wrong JSON types anywhere, unknown fields, deep nesting, huge strings, random bytes,
and specs made of the real field names with random values.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.client
import io
import json
import struct
import urllib.error
import urllib.request
import zipfile
from typing import Any

import pytest
from conftest import API_VERSION, NAMESPACE, ROLE, Hooks, lambda_function, provider
from hypothesis import HealthCheck, given, settings, strategies as st

from compositions.spec import RUNTIMES, AWSProviderSpec, LambdaFunctionSpec
from sandbox.aws import EmbeddedAWS
from sandbox.replay import seed

KINDS = ("lambdafunction", "awsprovider")
HOOKS = ("customize", "sync", "finalize")
ENDPOINTS = [(kind, hook) for kind in KINDS for hook in HOOKS]

PROVIDER_GROUP = f"AWSProvider.{API_VERSION}"
FUNCTION_GROUP = f"LambdaFunction.{API_VERSION}"

HOSTILE = settings(
    max_examples=150,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def assert_answered_properly(hook: str, status: int, text: str) -> None:
    """200 with what the hook answers, or 4xx with a JSON error; no traceback either way."""
    assert "Traceback" not in text and 'File "' not in text, text[:500]
    assert status == 200 or 400 <= status < 500, (status, text[:500])
    reply = json.loads(text)
    if status != 200:
        assert isinstance(reply["error"], str) and reply["error"], reply
    elif hook == "customize":
        assert isinstance(reply["relatedResources"], list), reply
    else:
        assert isinstance(reply["status"], dict), reply
        assert set(reply) <= {"status", "children", "resyncAfterSeconds", "finalized"}, reply


# Real requests, as Metacontroller sends them, to break


def identify(obj: dict[str, Any]) -> dict[str, Any]:
    """Give `obj` a UID that changes with its spec, as a new object's would.

    The hooks keep AWS clients per provider UID and generation: objects that kept their
    UID across different specs would be served a client made for another spec.
    """
    spec = json.dumps(obj.get("spec"), sort_keys=True).encode()
    obj["metadata"].update(uid=f"hostile-{hashlib.sha256(spec).hexdigest()[:12]}", generation=1)
    return obj


def _status(ready: bool) -> dict[str, Any]:
    return {
        "ready": ready,
        "conditions": [
            {"type": "Ready", "status": str(ready), "reason": "Available", "message": "",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ],
        "consecutiveFailures": 0,
        "observedGeneration": 1,
        "lastAuthenticationTime": "2026-01-01T00:00:00Z",
        "lastSyncTime": "2026-01-01T00:00:00Z",
    }  # fmt: skip


def _secret() -> dict[str, Any]:
    encode = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "keys", "namespace": NAMESPACE, "uid": "s", "resourceVersion": "1"},
        "data": {"id": encode("AKIAHOSTILE"), "secret": encode("hostile")},
    }


def real_request(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    refs = {"accessKeyIDRef": {"name": "keys", "key": "id"},
            "secretAccessKeyRef": {"name": "keys", "key": "secret"}}  # fmt: skip
    prov = identify({**provider(aws, **refs), "status": _status(True)})
    fn = identify({**lambda_function(tags={"team": "a"}), "status": _status(False)})
    if kind == "lambdafunction":
        parent, related = fn, {PROVIDER_GROUP: {f"{NAMESPACE}/default": prov}}
    else:
        parent = prov
        related = {"Secret.v1": {f"{NAMESPACE}/keys": _secret()},
                   FUNCTION_GROUP: {f"{NAMESPACE}/orders": fn}}  # fmt: skip
    if hook == "customize":
        return {"controller": {}, "parent": parent}
    return {"controller": {}, "parent": parent, "children": {}, "related": related,
            "finalizing": hook == "finalize"}  # fmt: skip


# What to break them with

_DEEP = "\u0000deep:"


def deep(depth: int) -> str:
    """A stand-in for a value nested `depth` lists deep, spelled out by `encode`."""
    return f"{_DEEP}{depth}\u0000"


def encode(body: Any) -> bytes:
    """JSON of `body`, with the stand-ins of `deep` made into nesting json.dumps refuses."""
    text = json.dumps(body)
    while (start := text.find(json.dumps(_DEEP)[:-1])) >= 0:
        end = text.index('"', start + 1)
        depth = int(json.loads(text[start : end + 1])[len(_DEEP) :].rstrip("\u0000"))
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1 :]
    return text.encode()


def long_text(shortest: int, longest: int) -> st.SearchStrategy[str]:
    """Strings of one repeated piece: long to send, cheap for hypothesis to make."""
    return st.builds(
        lambda piece, times: piece * times,
        st.sampled_from(["x", "é", "\u0000", "💥", "a-", "/", "\\", '"', "\ud800"]),
        st.integers(shortest, longest),
    )


huge_strings = long_text(1_000, 200_000)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | long_text(100, 5_000)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(value: Any, where: tuple = ()) -> list[tuple]:
    found = [where]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*where, index))
    return found


def _get(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


def _set(body: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    holder = body
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return body


@st.composite
def broken(draw: st.DrawFn, request: dict[str, Any]) -> Any:
    """`request` with a few of its values replaced, removed, or joined by unknown fields."""
    body: Any = copy.deepcopy(request)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(body)))
        target = _get(body, path)
        action = draw(st.sampled_from(["replace", "unknown field", "remove", "wrap", "nest"]))
        if action == "replace":
            body = _set(body, path, draw(json_values))
        elif action == "nest":
            body = _set(body, path, deep(draw(st.integers(1, 3_000))))
        elif action == "unknown field" and isinstance(target, dict):
            target[draw(st.text(max_size=20) | huge_strings)] = draw(json_values)
        elif action == "remove" and path:
            del _get(body, path[:-1])[path[-1]]
        elif action == "wrap":
            body = _set(body, path, draw(st.sampled_from([[target], {"value": target}])))
    return body


# Values of the spec fields, plausible and not

LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:l:1"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:q"
EMPTY_ZIP = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="


def _refs(names: list[str]) -> st.SearchStrategy:
    keys = st.sampled_from(["id", "secret", "nope"])
    return st.fixed_dictionaries({"name": st.sampled_from(names), "key": keys})


function_fields = {
    "providerRef": st.fixed_dictionaries({"name": st.sampled_from(["default", "", "missing"])}),
    "functionName": st.from_regex(r"\A[a-zA-Z0-9_-]{1,64}\Z") | st.text(max_size=80),
    "runtime": st.sampled_from(RUNTIMES) | st.text(max_size=20),
    "handler": st.sampled_from(["index.handler", "a.b.c", "handler", "x" * 200])
    | st.text(max_size=20),
    "role": st.sampled_from([ROLE, ROLE.replace("lambda-role", "nobody")])
    | st.text(max_size=30),
    "code": st.fixed_dictionaries({}, optional={
        "zipFile": st.text(max_size=200) | st.sampled_from(["UEsDBA==", EMPTY_ZIP]),
        "s3Bucket": st.text(max_size=70), "s3Key": st.text(max_size=30),
        "s3ObjectVersion": st.text(max_size=10),
    }),
    "description": st.text(max_size=300),
    "memorySize": st.integers(-10, 20_000),
    "timeout": st.integers(-10, 1_000),
    "environment": st.fixed_dictionaries({
        "variables": st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=5)
    }),
    "vpcConfig": st.fixed_dictionaries({}, optional={
        "subnetIds": st.lists(st.sampled_from(["subnet-0a", "subnet-", "x"]), max_size=3),
        "securityGroupIds": st.lists(st.sampled_from(["sg-01", "sg-", ""]), max_size=3),
    }),
    "layers": st.lists(st.sampled_from([LAYER, "x"]), max_size=6),
    "deadLetterConfig": st.fixed_dictionaries({"targetArn": st.sampled_from([QUEUE, ""])}),
    "ephemeralStorage": st.integers(0, 20_000),
    "reservedConcurrentExecutions": st.integers(-5, 2_000),
    "architectures": st.lists(st.sampled_from(["x86_64", "arm64", "mips"]), max_size=2),
    "tags": st.dictionaries(st.text(max_size=140), st.text(max_size=300), max_size=55),
    "tracingConfig": st.fixed_dictionaries(
        {"mode": st.sampled_from(["Active", "PassThrough", "On"])}
    ),
    "deletionPolicy": st.sampled_from(["Delete", "Retain", "Keep"]),
}  # fmt: skip

provider_fields = {
    "region": st.sampled_from(["us-east-1", "eu-west-3", "aa-b-0", "US-EAST-1"])
    | st.text(max_size=15),
    # Endpoints that reach nothing but this machine, and some that are not URLs at all.
    "endpoint": st.sampled_from([
        None, "http://127.0.0.1:9", "http://[", "http://127.0.0.1:99999", "http://", "https://:",
        "ftp://127.0.0.1",
    ]) | st.text(max_size=20),
    "accessKeyIDRef": _refs(["keys", "absent", ""]),
    "secretAccessKeyRef": _refs(["keys", "absent"]),
    "roleARN": st.sampled_from([ROLE, "arn:aws:iam::123:role/x"]) | st.text(max_size=20),
    "externalID": st.text(max_size=30),
    "defaultTags": st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
}  # fmt: skip


def _field_names(model: type) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_the_generated_specs_cover_every_field_of_both_kinds():
    assert set(function_fields) == _field_names(LambdaFunctionSpec)
    assert set(provider_fields) == _field_names(AWSProviderSpec)


def random_spec(fields: dict[str, st.SearchStrategy], required: set[str]) -> st.SearchStrategy:
    """Specs made of the real field names, with values mostly plausible, sometimes anything:
    enough of them valid to get as far as AWS."""

    def value(plausible: st.SearchStrategy) -> st.SearchStrategy:
        return st.integers(0, 3).flatmap(lambda pick: json_values if pick == 0 else plausible)

    return st.fixed_dictionaries(
        {name: value(fields[name]) for name in sorted(required)},
        optional={name: value(v) for name, v in fields.items() if name not in required},
    )


FUNCTION_REQUIRED = {"functionName", "runtime", "handler", "role", "code"}
PROVIDER_REQUIRED = {"region"}


@pytest.fixture
def roles(aws: EmbeddedAWS, kube: Any) -> None:
    """The roles and Secret the real requests name, so that they get as far as AWS."""
    seed(aws.endpoint, [lambda_function()])
    kube.put_secret(NAMESPACE, "keys", {"id": "AKIAHOSTILE", "secret": "hostile"})


# The properties

# A value of each JSON type but null (which mostly means "not given") and boolean (which
# Python takes for a number anyway).
WRONG_TYPES = (7, "x", [7], {"x": 7})


@pytest.mark.parametrize(("kind", "hook"), ENDPOINTS)
def test_a_wrong_json_type_at_any_one_place_of_a_real_request_never_gets_a_500(
    hooks: Hooks, roles, kind, hook
):
    real = real_request(hooks.aws, kind, hook)
    refused = []
    for path in _paths(real)[1:]:
        original = _get(real, path)
        for value in (v for v in WRONG_TYPES if type(v) is not type(original)):
            body = _set(copy.deepcopy(real), path, value)
            status, text = post(f"{hooks.url}/hooks/{kind}/{hook}", encode(body))
            if status >= 500 or "Traceback" in text:
                refused.append(f"{'.'.join(map(str, path))} = {value!r}: {status}")

    assert not refused, "\n".join(refused)


@HOSTILE
@given(data=st.data())
def test_a_broken_real_request_never_gets_a_500_or_a_traceback(hooks: Hooks, roles, data):
    kind, hook = data.draw(st.sampled_from(ENDPOINTS), label="endpoint")
    body = data.draw(broken(real_request(hooks.aws, kind, hook)), label="body")

    status, text = post(f"{hooks.url}/hooks/{kind}/{hook}", encode(body))

    assert_answered_properly(hook, status, text)


@HOSTILE
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=st.binary(max_size=3000)
    | st.text(max_size=300).map(str.encode)
    | json_values.map(encode)
    | st.sampled_from([b"", b"{", b'{"parent": ', b"\xff\xfe{}", b"null", b'"\xed\xa0\x80"']),
)
def test_random_bytes_never_get_a_500_or_a_traceback(hooks: Hooks, endpoint, body):
    kind, hook = endpoint
    status, text = post(f"{hooks.url}/hooks/{kind}/{hook}", body)
    assert_answered_properly(hook, status, text)


@HOSTILE
@given(data=st.data())
def test_specs_of_real_fields_with_random_values_never_get_a_500(hooks: Hooks, roles, data):
    kind, hook = data.draw(st.sampled_from(ENDPOINTS), label="endpoint")
    body = real_request(hooks.aws, kind, hook)
    if kind == "lambdafunction":
        spec = random_spec(function_fields, FUNCTION_REQUIRED)
    else:
        spec = random_spec(provider_fields, PROVIDER_REQUIRED)
    body["parent"]["spec"] = data.draw(spec, label="spec")
    identify(body["parent"])
    if (
        kind == "lambdafunction"
        and hook != "customize"
        and data.draw(st.booleans(), label="own provider")
    ):
        # The provider too, as the function's sync reads it.
        related = body["related"][PROVIDER_GROUP][f"{NAMESPACE}/default"]
        related["spec"] = data.draw(
            random_spec(provider_fields, PROVIDER_REQUIRED), label="provider spec"
        )
        identify(related)

    status, text = post(f"{hooks.url}/hooks/{kind}/{hook}", encode(body))

    assert_answered_properly(hook, status, text)


@HOSTILE
@given(data=st.data())
def test_huge_names_tags_and_annotations_never_get_a_500(hooks: Hooks, roles, data):
    kind, hook = data.draw(st.sampled_from(ENDPOINTS), label="endpoint")
    body = real_request(hooks.aws, kind, hook)
    parent = body["parent"]
    where = data.draw(st.sampled_from([
        ("metadata", "name"), ("metadata", "namespace"), ("spec", "functionName"),
        ("spec", "description"), ("spec", "handler"), ("spec", "providerRef", "name"),
        ("metadata", "annotations", "aws-infra-operator.runner.codes/adopt"),
    ]), label="field")  # fmt: skip
    holder = parent
    for step in where[:-1]:
        holder = holder.setdefault(step, {})
    holder[where[-1]] = data.draw(huge_strings, label="value")
    if data.draw(st.booleans(), label="huge tags"):
        tags = data.draw(st.dictionaries(huge_strings, huge_strings, min_size=1, max_size=3))
        parent["spec"]["tags" if kind == "lambdafunction" else "defaultTags"] = tags

    status, text = post(f"{hooks.url}/hooks/{kind}/{hook}", encode(body))

    assert_answered_properly(hook, status, text)


# Cases worth naming


def _conditions_not_a_list(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    body = real_request(aws, kind, hook)
    body["parent"]["status"]["conditions"] = 5
    return body


def _provider_conditions_not_a_list(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    body = real_request(aws, kind, hook)
    provider_obj = body["related"][PROVIDER_GROUP][f"{NAMESPACE}/default"]
    provider_obj["status"] = {"ready": False, "conditions": True}
    return body


def _endpoint(url: str) -> Any:
    def make(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
        body = real_request(aws, kind, hook)
        body["parent"]["spec"]["endpoint"] = url
        identify(body["parent"])
        return body

    return make


def _condition_type_a_list(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    body = real_request(aws, kind, hook)
    body["parent"]["status"]["conditions"][0]["type"] = ["Ready"]
    return body


def _function_name_of_lone_surrogates(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    # Valid JSON ("\ud800" escaped), but no UTF-8 can carry it to AWS.
    body = real_request(aws, kind, hook)
    body["parent"]["spec"]["functionName"] = "\ud800" * 8
    return body


def _secret_data_that_is_not_ascii(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    body = real_request(aws, kind, hook)
    body["related"]["Secret.v1"][f"{NAMESPACE}/keys"]["data"]["id"] = "é"
    return body


def _nested_past_the_parser(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    body = real_request(aws, kind, hook)
    body["parent"]["status"]["state"] = deep(100_000)
    return body


def _nested_just_within_the_parser(aws: EmbeddedAWS, kind: str, hook: str) -> dict[str, Any]:
    body = real_request(aws, kind, hook)
    body["parent"]["status"]["state"] = deep(900)
    return body


NAMED_CASES = [
    pytest.param("lambdafunction", "sync", _conditions_not_a_list,
                 id="function-status-conditions-a-number"),
    pytest.param("lambdafunction", "finalize", _conditions_not_a_list,
                 id="function-finalize-conditions-a-number"),
    pytest.param("awsprovider", "sync", _conditions_not_a_list,
                 id="provider-status-conditions-a-number"),
    pytest.param("awsprovider", "finalize", _conditions_not_a_list,
                 id="provider-finalize-conditions-a-number"),
    pytest.param("lambdafunction", "sync", _provider_conditions_not_a_list,
                 id="related-provider-conditions-a-boolean"),
    pytest.param("lambdafunction", "sync", _condition_type_a_list,
                 id="function-condition-type-a-list"),
    pytest.param("awsprovider", "sync", _endpoint("http://["),
                 id="provider-endpoint-not-a-url"),
    pytest.param("awsprovider", "sync", _endpoint("http://127.0.0.1:99999"),
                 id="provider-endpoint-port-out-of-range"),
    pytest.param("lambdafunction", "finalize", _function_name_of_lone_surrogates,
                 id="finalize-function-name-of-lone-surrogates"),
    pytest.param("awsprovider", "sync", _secret_data_that_is_not_ascii,
                 id="secret-data-not-ascii"),
    pytest.param("lambdafunction", "sync", _nested_past_the_parser, id="nested-100000-deep"),
    pytest.param("lambdafunction", "sync", _nested_just_within_the_parser, id="nested-900-deep"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "hook", "make"), NAMED_CASES)
def test_a_named_hostile_request_never_gets_a_500(hooks: Hooks, roles, kind, hook, make):
    status, text = post(f"{hooks.url}/hooks/{kind}/{hook}", encode(make(hooks.aws, kind, hook)))
    assert_answered_properly(hook, status, text)


def test_a_body_over_8_mb_is_refused_with_413_without_being_read(hooks: Hooks):
    host, port = hooks.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.putrequest("POST", "/hooks/lambdafunction/sync")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(9 * 1024 * 1024))
    connection.endheaders()
    # Only the first kilobyte is ever sent: a server that read on would wait for the rest
    # and this would time out.
    connection.send(b'{"parent": ' + b" " * 1024)

    reply = connection.getresponse()
    text = reply.read().decode()
    connection.close()

    assert reply.status == 413
    assert isinstance(json.loads(text)["error"], str)
    assert hooks.calls == []


# Deployment packages refused before AWS is asked


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    """One entry that inflates from about a megabyte to 251 MB, over Lambda's 250 MB."""
    buffer = io.BytesIO()
    zeros = bytes(1 << 20)
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("index.py", "w", force_zip64=True) as entry,
    ):
        for _ in range(251):
            entry.write(zeros)
    return buffer.getvalue()


def _declaring(size: int) -> bytes:
    """A tiny zip whose headers claim its one entry is `size` bytes, packed and unpacked."""
    data = bytearray(_zip({"index.py": b"def handler(e, c):\n    return 1\n"}))
    for header, offset in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        start = data.find(header)
        struct.pack_into("<II", data, start + offset, size, size)
    return bytes(data)


def _corrupt() -> bytes:
    data = bytearray(_zip({"index.py": b"def handler(e, c):\n    return 1\n"}))
    data[data.find(b"def handler")] ^= 0xFF
    return bytes(data)


def _truncated() -> bytes:
    data = _zip({"index.py": b"def handler(e, c):\n    return 1\n" * 20})
    return data[: len(data) // 2]


PACKAGES = [
    pytest.param(_zip_bomb, id="zip-bomb"),
    pytest.param(lambda: _declaring(60 * 1024 * 1024), id="declares-60-MB"),
    pytest.param(_corrupt, id="corrupt-entry"),
    pytest.param(_truncated, id="truncated"),
]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_lambda_would_refuse_is_refused_in_the_status_before_any_aws_call(
    hooks: Hooks, ready_provider, package
):
    fn = lambda_function(code={"zipFile": base64.b64encode(package()).decode()})
    reply = hooks.metacontroller(ready_provider, fn).sync(fn)

    synced = next(c for c in reply["status"]["conditions"] if c["type"] == "Synced")
    assert (synced["status"], synced["reason"]) == ("False", "InvalidSpec")
    assert synced["message"].startswith("spec.code.zipFile: ")
    assert hooks.calls == []
