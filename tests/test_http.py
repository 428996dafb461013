"""The HTTP layer: what a caller that is not a well-behaved Metacontroller gets back."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import lambda_function, served

from compositions.aws import Connector
from compositions.context import Dependencies


def request(url: str, body: bytes | None, method: str = "POST") -> tuple[int, dict[str, Any], str]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            text = reply.read().decode()
            return reply.status, json.loads(text), text
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, json.loads(text), text


PARENT = lambda_function()


ENVELOPE_FAULTS = [
    (b"not json", "not JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b"[1, 2]", "not an object"),
    (b"{}", "no parent"),
    (json.dumps({"parent": "LambdaFunction"}).encode(), "a parent that is not an object"),
    (json.dumps({"parent": {"kind": "LambdaFunction"}}).encode(), "a parent without metadata"),
    (json.dumps({"parent": {**PARENT, "metadata": {"name": "x"}}}).encode(), "no namespace"),
]
# Only sync and finalize requests carry these.
SYNC_FAULTS = [
    (json.dumps({"parent": PARENT, "related": [1]}).encode(), "related that is not a map"),
    (
        json.dumps({"parent": PARENT, "related": {"g": {"k": 5}}}).encode(),
        "a related object that is not an object",
    ),
    (
        json.dumps({"parent": PARENT, "finalizing": "yes"}).encode(),
        "finalizing that is not a boolean",
    ),
]
CASES = [
    (hook, body, why)
    for hook in ("sync", "finalize", "customize")
    for body, why in ENVELOPE_FAULTS + (SYNC_FAULTS if hook != "customize" else [])
]


@pytest.mark.parametrize(("hook", "body", "why"), CASES)
def test_a_malformed_request_gets_400_with_a_json_error(hooks, hook, body, why):
    status, reply, _ = request(f"{hooks.url}/hooks/lambdafunction/{hook}", body)
    assert status == 400, why
    assert isinstance(reply["error"], str) and reply["error"]
    assert hooks.calls == []


def test_a_request_body_over_the_bound_is_refused_unread(hooks):
    status, reply, _ = request(
        f"{hooks.url}/hooks/lambdafunction/sync", b"{" + b" " * (9 * 1024 * 1024) + b"}"
    )
    assert status == 413
    assert "error" in reply


def test_a_chunked_body_is_read_whole_and_bounded_as_it_comes(hooks):
    def chunked(body: bytes, size: int) -> tuple[int, dict[str, Any]]:
        connection = http.client.HTTPConnection(urlsplit(hooks.url).netloc, timeout=30)
        chunks = (body[i : i + size] for i in range(0, len(body), size))
        headers = {"Content-Type": "application/json"}
        path = "/hooks/lambdafunction/customize"
        connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        reply = connection.getresponse()
        answer = json.loads(reply.read())
        connection.close()
        return reply.status, answer

    status, reply = chunked(json.dumps({"parent": PARENT}).encode(), 100)
    assert status == 200
    assert reply["relatedResources"][0]["resource"] == "awsproviders"

    status, reply = chunked(b"{" + b" " * (9 * 1024 * 1024) + b"}", 1024 * 1024)
    assert status == 413
    assert "error" in reply


def test_a_body_of_unknown_length_gets_411(hooks):
    with socket.create_connection(urlsplit(hooks.url).netloc.split(":"), timeout=30) as raw:
        raw.sendall(b"POST /hooks/lambdafunction/sync HTTP/1.1\r\nHost: hooks\r\n\r\n{}")
        raw.shutdown(socket.SHUT_WR)
        head, _, body = b"".join(iter(lambda: raw.recv(65536), b"")).partition(b"\r\n\r\n")
    assert head.split()[1] == b"411"
    assert "Content-Length" in json.loads(body)["error"]


def test_an_unknown_kind_gets_404_and_a_wrong_method_405(hooks):
    status, reply, _ = request(f"{hooks.url}/hooks/s3bucket/sync", b"{}")
    assert status == 404
    assert "lambdafunction, awsprovider" in reply["error"]
    assert request(f"{hooks.url}/hooks/lambdafunction/sync", None, method="GET")[0] == 405


def test_healthz_answers(hooks):
    status, reply, _ = request(f"{hooks.url}/healthz", None, method="GET")
    assert (status, reply) == (200, {"ok": True})


def test_a_bug_of_ours_is_a_500_that_shows_no_traceback(aws):
    def explode(client: Any) -> None:
        raise RuntimeError("secret-internal-detail")

    parent = lambda_function()
    prov = {
        "apiVersion": parent["apiVersion"], "kind": "AWSProvider",
        "metadata": {"name": "default", "namespace": parent["metadata"]["namespace"]},
        "spec": {"region": "us-east-1", "endpoint": aws.endpoint}, "status": {"ready": True},
    }  # fmt: skip
    related = {"AWSProvider.aws-infra-operator.runner.codes/v1alpha1": {"team-a/default": prov}}
    with served(Dependencies(aws=Connector(on_client=explode))) as url:
        status, reply, text = request(
            f"{url}/hooks/lambdafunction/sync",
            json.dumps({"parent": parent, "related": related}).encode(),
        )

    assert status == 500
    assert reply == {"error": "internal error in the hooks; see their log"}
    assert "Traceback" not in text and "secret-internal-detail" not in text


def test_sync_never_says_finalized_and_finalize_always_does(hooks, aws):
    body = json.dumps(
        {"parent": lambda_function(providerRef={"name": "absent"}), "related": {}}
    ).encode()
    _, synced, _ = request(f"{hooks.url}/hooks/lambdafunction/sync", body)
    assert "finalized" not in synced

    retained = lambda_function(deletionPolicy="Retain")
    body = json.dumps({"parent": retained, "related": {}, "finalizing": True}).encode()
    _, finalized, _ = request(f"{hooks.url}/hooks/lambdafunction/finalize", body)
    assert finalized["finalized"] is True
    assert set(finalized) <= {"status", "children", "resyncAfterSeconds", "finalized"}


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, False),
        ("Bearer wrong-token", False),
        ("Basic czNjcjN0", False),
        ("Bearer s3cr3t-token-value", True),
        ("bearer s3cr3t-token-value", True),
    ],
)
def test_with_a_token_configured_only_calls_bearing_it_reach_the_hooks(
    aws, tmp_path, monkeypatch, header, allowed
):
    token_file = tmp_path / "token"
    token_file.write_text("s3cr3t-token-value\n")
    monkeypatch.setenv("HOOKS_TOKEN_FILE", str(token_file))
    headers = {"Content-Type": "application/json"} | ({"Authorization": header} if header else {})
    body = json.dumps({"parent": lambda_function()}).encode()

    with served(Dependencies()) as url:
        req = urllib.request.Request(
            f"{url}/hooks/lambdafunction/customize", data=body, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as reply:
                status, text, connection = reply.status, reply.read().decode(), None
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
            connection = error.headers.get("Connection")
        health = request(f"{url}/healthz", None, method="GET")[0]

    assert status == (200 if allowed else 401)
    # The refused body was never read: the connection must not carry another request.
    assert connection == (None if allowed else "close")
    assert "s3cr3t-token-value" not in text
    assert health == 200
