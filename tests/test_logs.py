"""What the hooks write to their log over a whole life of objects, failures included.

The log goes wherever the cluster ships container output, read by more people than the
objects' Secrets are. So over a full run (providers with good and bad keys, a function
created, throttled, updated, re-tagged and deleted, bad specs and unauthenticated calls)
everything written to stderr and stdout is captured, and must be JSON lines that never
carry a credential, an environment value, inline code or the hooks' bearer token, with
exactly one INFO line, naming the object, for each change made in AWS.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from conftest import NAMESPACE, lambda_function, provider, served

import sandbox.replay
from compositions.aws import Connector
from compositions.context import Dependencies
from compositions.kube import KubernetesSecrets
from compositions.package import zip_source
from sandbox.aws import EmbeddedAWS, Fault
from sandbox.replay import Metacontroller, seed

# botocore's pauses between retries are not what these tests are about.
pytestmark = pytest.mark.usefixtures("quick_retries")

ACCESS_KEY_ID = "AKIALOGSCANGOOD00001"
SECRET_ACCESS_KEY = "logscan/Good+Secret+Access+Key+000000001"
BAD_ACCESS_KEY_ID = "AKIALOGSCANBAD000002"
BAD_SECRET_ACCESS_KEY = "logscan/Bad+Secret+Access+Key+0000000002"
ENVIRONMENT_VALUE = "logscan-environment-value-3f9c1"
NEW_ENVIRONMENT_VALUE = "logscan-environment-value-4a0d2"
CODE_MARKER = "logscan-code-marker-8b2e"
NEW_CODE_MARKER = "logscan-code-marker-9c3f"
TOKEN = "logscan-bearer-token-5d7a"
WRONG_TOKEN = "logscan-wrong-token-6e8b"

SOURCE = f"def handler(event, context):\n    return '{CODE_MARKER}'\n"
NEW_SOURCE = f"def handler(event, context):\n    return '{NEW_CODE_MARKER}'\n"


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Every secret as it is given, and as it travels: base64 in Secrets, zipped in packages.
SECRETS = [
    ACCESS_KEY_ID, SECRET_ACCESS_KEY, BAD_ACCESS_KEY_ID, BAD_SECRET_ACCESS_KEY,
    ENVIRONMENT_VALUE, NEW_ENVIRONMENT_VALUE, CODE_MARKER, NEW_CODE_MARKER, TOKEN, WRONG_TOKEN,
    *map(_encoded, (ACCESS_KEY_ID, SECRET_ACCESS_KEY, BAD_ACCESS_KEY_ID, BAD_SECRET_ACCESS_KEY)),
    base64.b64encode(zip_source(SOURCE, "index.py")).decode(),
    base64.b64encode(zip_source(NEW_SOURCE, "index.py")).decode(),
]  # fmt: skip

# The Lambda operations that change something, as a log line starts with them.
CHANGES = frozenset({
    "CreateFunction", "UpdateFunctionConfiguration", "UpdateFunctionCode", "TagResource",
    "UntagResource", "PutFunctionConcurrency", "DeleteFunctionConcurrency", "DeleteFunction",
})  # fmt: skip

KEYS = {
    "accessKeyIDRef": {"name": "aws-keys", "key": "id"},
    "secretAccessKeyRef": {"name": "aws-keys", "key": "secret"},
}

SIGNATURE_REFUSED = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender'
    b"</Type><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated"
    b" does not match the signature you provided. Check your AWS Secret Access Key and"
    b" signing method.</Message></Error><RequestId>logscan</RequestId></ErrorResponse>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _refuse_bad_keys(request: Any, **_: Any) -> AWSResponse | None:
    """Answer as AWS does to keys it does not know, before the request leaves."""
    if f"Credential={BAD_ACCESS_KEY_ID}/" not in str(request.headers.get("Authorization", "")):
        return None
    return AWSResponse(request.url, 403, {"Content-Type": "text/xml"}, _Body(SIGNATURE_REFUSED))


def secret(name: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "resourceVersion": "1",
        },
        "data": {k: _encoded(v) for k, v in values.items()},
    }


@pytest.fixture
def bearing_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the replay send the bearer token, as Metacontroller does."""

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    monkeypatch.setattr(sandbox.replay, "post", post)


def unauthenticated_calls(url: str, body: dict[str, Any]) -> list[int]:
    statuses = []
    for header in (None, f"Bearer {WRONG_TOKEN}", f"Basic {_encoded(WRONG_TOKEN)}"):
        headers = {"Content-Type": "application/json"} | (
            {"Authorization": header} if header else {}
        )
        request = urllib.request.Request(
            f"{url}/hooks/lambdafunction/sync", data=json.dumps(body).encode(), headers=headers
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
            statuses.append(200)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    return statuses


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def run_everything(url: str, aws: EmbeddedAWS, kube: Any) -> None:
    """A life of providers and functions, with the failures a real one meets."""
    kube.put_secret(NAMESPACE, "aws-keys", {"id": ACCESS_KEY_ID, "secret": SECRET_ACCESS_KEY})
    kube.put_secret(
        NAMESPACE, "bad-keys", {"id": BAD_ACCESS_KEY_ID, "secret": BAD_SECRET_ACCESS_KEY}
    )
    good = provider(aws, **KEYS)
    bad = provider(aws, name="bad", **{
        "accessKeyIDRef": {"name": "bad-keys", "key": "id"},
        "secretAccessKeyRef": {"name": "bad-keys", "key": "secret"}})  # fmt: skip
    half = provider(aws, name="half", **{
        "accessKeyIDRef": {"name": "half-keys", "key": "id"},
        "secretAccessKeyRef": {"name": "half-keys", "key": "secret"}})  # fmt: skip
    fn = lambda_function(
        code={"zipFile": SOURCE}, environment={"variables": {"DB_PASSWORD": ENVIRONMENT_VALUE}},
        tags={"team": "a"}, reservedConcurrentExecutions=2,
    )  # fmt: skip
    stranded = lambda_function("stranded", code={"zipFile": SOURCE}, providerRef={"name": "bad"})
    leaky = lambda_function("leaky", code={"zipFile": SOURCE}, environment={"variables": {
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY, "bad name": ENVIRONMENT_VALUE}})  # fmt: skip
    mc = Metacontroller(url, [
        good, bad, half, fn, stranded, leaky,
        secret("aws-keys", {"id": ACCESS_KEY_ID, "secret": SECRET_ACCESS_KEY}),
        secret("bad-keys", {"id": BAD_ACCESS_KEY_ID, "secret": BAD_SECRET_ACCESS_KEY}),
        secret("half-keys", {"id": ACCESS_KEY_ID}),
    ])  # fmt: skip

    assert unauthenticated_calls(url, {"parent": fn}) == [401, 401, 401]

    assert mc.sync(good)["status"]["ready"] is True
    assert condition(mc.sync(bad)["status"], "Ready")["reason"] == "SignatureDoesNotMatch"
    assert condition(mc.sync(half)["status"], "Ready")["reason"] == "SecretKeyMissing"
    assert condition(mc.sync(stranded)["status"], "Synced")["reason"] == "ProviderNotReady"
    assert condition(mc.sync(leaky)["status"], "Synced")["reason"] == "InvalidSpec"

    mc.converge(fn)
    assert fn["status"]["ready"] is True, fn["status"]

    # Throttled, then through.
    fn["spec"]["memorySize"] = 512
    aws.fidelity.faults.append(Fault(
        "UpdateFunctionConfiguration", times=1000, status=429,
        code="TooManyRequestsException", message="Rate exceeded",
    ))  # fmt: skip
    assert condition(mc.sync(fn)["status"], "Synced")["reason"] == "TooManyRequestsException"
    aws.fidelity.faults.clear()
    mc.converge(fn)

    for change in (
        {"environment": {"variables": {"DB_PASSWORD": NEW_ENVIRONMENT_VALUE}}},
        {"code": {"zipFile": NEW_SOURCE}},
        {"tags": {"owner": "b"}},
        {"reservedConcurrentExecutions": None},
    ):
        fn["spec"].update(change)
        fn["spec"] = {k: v for k, v in fn["spec"].items() if v is not None}
        mc.converge(fn)
        assert fn["status"]["ready"] is True, fn["status"]

    assert mc.sync(fn, finalizing=True)["finalized"] is True


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_full_run_logs_json_lines_with_no_secret_and_one_info_line_per_change(
    aws, kube, capfd, monkeypatch, bearing_the_token, level
):
    seed(aws.endpoint, [lambda_function()])
    monkeypatch.setenv("HOOKS_TOKEN", TOKEN)
    monkeypatch.setenv("LOG_LEVEL", level)
    made: list[str] = []

    def watch(client: Any) -> None:
        def record(model: Any, http_response: Any, **_: Any) -> None:
            if model.name in CHANGES and http_response.status_code < 300:
                made.append(model.name)

        client.meta.events.register("after-call", record)
        client.meta.events.register("before-send", _refuse_bad_keys)

    capfd.readouterr()
    # The app is made here, so that its log handler writes into what capfd captures.
    deps = Dependencies(aws=Connector(on_client=watch), secrets=KubernetesSecrets())
    with served(deps) as url:
        run_everything(url, aws, kube)
    out, err = capfd.readouterr()

    lines, not_json = [], []
    for text in err.splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            not_json.append(text)
    assert not_json == []
    assert lines and all(isinstance(line, dict) for line in lines)
    assert out == ""
    for value in SECRETS:
        assert value not in err, f"{value!r} reached the log"

    logged = Counter(
        (line["message"].split()[0], line.get("object"))
        for line in lines
        if line["level"] == "INFO" and line["message"].split()[0] in CHANGES
    )
    assert set(made) == CHANGES, "the run makes every kind of change"
    assert logged == Counter((name, f"{NAMESPACE}/orders") for name in made)


def test_an_aws_refusal_that_quotes_the_environment_keeps_it_out_of_the_log(aws, kube, capfd):
    # Lambda measures the variables as the JSON it is sent, {"NAME":"value"}, and when that
    # exceeds 4 KB it quotes the whole of it back in its error. These variables take 4096
    # bytes by name and value, 4103 as Lambda measures them.
    name = "DB_PASSWORD"
    variables = {name: ENVIRONMENT_VALUE + "x" * (4096 - len(name) - len(ENVIRONMENT_VALUE))}
    measured = json.dumps(variables, separators=(",", ":"))
    aws.fidelity.faults.append(Fault(
        "CreateFunction", times=1000, status=400, code="InvalidParameterValueException",
        message="Lambda was unable to configure your environment variables because the"
        " environment variables you have provided exceeded the 4KB limit. String measured: "
        + measured,
    ))  # fmt: skip
    seed(aws.endpoint, [lambda_function()])
    prov = provider(aws)
    fn = lambda_function(code={"zipFile": SOURCE}, environment={"variables": variables})

    capfd.readouterr()
    # The app is made here, so that its log handler writes into what capfd captures.
    with served(Dependencies(aws=Connector(), secrets=KubernetesSecrets())) as url:
        mc = Metacontroller(url, [prov, fn])
        assert mc.sync(prov)["status"]["ready"] is True
        reply = mc.sync(fn)
    out, err = capfd.readouterr()

    # Refused, by the hooks or by Lambda; either way the value is not written out.
    assert condition(reply["status"], "Synced")["status"] == "False"
    assert "POST /hooks/lambdafunction/sync" in err, "the hooks' log was captured"
    assert ENVIRONMENT_VALUE not in out + err
