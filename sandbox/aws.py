"""An AWS on localhost for `make run`, the tests and the benchmark: moto's server behind a
thin WSGI layer that makes its Lambda behave as the real one does where we depend on it.

moto answers every change at once and for good, and forgets some fields. Lambda does not:
- CreateFunction answers `State: Pending`, and every update `LastUpdateStatus: InProgress`;
  the change shows as settled only on a later read. The layer answers the same way.
- Lambda keeps DeadLetterConfig, TracingConfig and EphemeralStorage as updated, the
  architecture given with new code, and a reserved concurrency of 0; moto drops them. The
  layer remembers and reports them.
- The access key `test` belongs to account 000000000000, as in LocalStack, so the
  documentation's LocalStack examples run unchanged.
Tests add faults through `faults`: an AWS error or a slow answer for the next calls of an
operation, or a function held `Pending` or `InProgress` for a number of reads.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

LOCALSTACK_ACCOUNT = "000000000000"
DEFAULT_ACCOUNT = "123456789012"

_ROUTES = [
    ("POST", r"/2015-03-31/functions/?", "CreateFunction"),
    ("GET", r"/2015-03-31/functions/(?P<name>[^/]+)/?", "GetFunction"),
    ("DELETE", r"/2015-03-31/functions/(?P<name>[^/]+)/?", "DeleteFunction"),
    ("PUT", r"/2015-03-31/functions/(?P<name>[^/]+)/configuration/?",
     "UpdateFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/(?P<name>[^/]+)/code/?", "UpdateFunctionCode"),
    ("PUT", r"/2017-10-31/functions/(?P<name>[^/]+)/concurrency/?", "PutFunctionConcurrency"),
    ("DELETE", r"/2017-10-31/functions/(?P<name>[^/]+)/concurrency/?", "DeleteFunctionConcurrency"),
    ("POST", r"/2017-03-31/tags/(?P<name>.+)", "TagResource"),
    ("DELETE", r"/2017-03-31/tags/(?P<name>.+)", "UntagResource"),
]  # fmt: skip
_COMPILED = [(m, re.compile(p + "$"), op) for m, p, op in _ROUTES]

# What moto forgets on update, by the operation that sets it.
_REMEMBERED = {
    "CreateFunction": ("DeadLetterConfig",),
    "UpdateFunctionConfiguration": ("DeadLetterConfig", "TracingConfig", "EphemeralStorage"),
    "UpdateFunctionCode": ("Architectures",),
}


def lambda_operation(method: str, path: str) -> tuple[str, str] | None:
    """The Lambda operation and function name (or ARN) of a request, if it is one of ours."""
    for verb, pattern, operation in _COMPILED:
        if verb == method and (match := pattern.match(path)):
            return operation, unquote(match.groupdict().get("name") or "")
    return None


@dataclass
class Fault:
    """What to do to the next `times` calls of `operation` (any function when `name` is None).

    Exactly one of: reply with an AWS error (`status`, `code`, `message`); on GetFunction,
    show `configuration` fields instead of the real ones (a function held Pending, say);
    or answer only after `delay` seconds.
    """

    operation: str
    times: int = 1
    name: str | None = None
    status: int = 0
    code: str = ""
    message: str = ""
    configuration: dict[str, Any] | None = None
    delay: float = 0.0

    @property
    def kind(self) -> str:
        return "error" if self.status else "delay" if self.delay else "hold"

    def matches(self, operation: str, name: str, kind: str) -> bool:
        return (
            self.times > 0
            and self.kind == kind
            and self.operation == operation
            and (self.name is None or name == self.name or name.endswith(f":{self.name}"))
        )


class LambdaFidelity:
    """WSGI middleware in front of moto; see the module's docstring."""

    def __init__(self, app: Callable) -> None:
        self._app = app
        self._remembered: dict[str, dict[str, Any]] = {}
        self._zero_concurrency: set[str] = set()
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()

    def reset(self) -> None:
        with self._lock:
            self._remembered.clear()
            self._zero_concurrency.clear()
            self.faults.clear()
            self.calls.clear()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if "HTTP_X_MOTO_ACCOUNT_ID" not in environ and _access_key(environ) == "test":
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = LOCALSTACK_ACCOUNT

        found = lambda_operation(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if found is None:
            return self._app(environ, start_response)
        operation, name = found
        with self._lock:
            self.calls[operation] += 1

        slow = self._take_fault(operation, name, "delay")
        if slow is not None:
            time.sleep(slow.delay)
        fault = self._take_fault(operation, name, "error")
        if fault is not None:
            return _error(start_response, fault)

        body = _read_body(environ)
        status, headers, payload = _call(self._app, environ)
        if status.startswith("2") and payload:
            payload = self._adjust(operation, name, json.loads(body or b"{}"), json.loads(payload))
            payload_bytes = json.dumps(payload).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(payload_bytes))))
            start_response(status, headers)
            return [payload_bytes]
        start_response(status, headers)
        return [payload]

    def _adjust(self, operation: str, name: str, sent: dict, reply: dict) -> dict:
        with self._lock:
            if (
                operation == "PutFunctionConcurrency"
                and sent.get("ReservedConcurrentExecutions") == 0
            ):
                self._zero_concurrency.add(name)
            elif operation in (
                "PutFunctionConcurrency",
                "DeleteFunctionConcurrency",
                "DeleteFunction",
            ):
                self._zero_concurrency.discard(name)
            elif operation == "GetFunction" and name in self._zero_concurrency:
                reply["Concurrency"] = {"ReservedConcurrentExecutions": 0}
        config = reply.get("Configuration", reply) if operation == "GetFunction" else reply
        arn = config.get("FunctionArn")
        if not arn:
            return reply
        with self._lock:
            remembered = self._remembered.setdefault(arn, {})
            for field in _REMEMBERED.get(operation, ()):
                if field in sent:
                    remembered[field] = sent[field]
            if operation == "DeleteFunction":
                self._remembered.pop(arn, None)
            config.update(remembered)
        if not (config.get("DeadLetterConfig") or {}).get("TargetArn"):
            config.pop("DeadLetterConfig", None)

        if operation == "CreateFunction":
            config.pop("LastUpdateStatus", None)
            config.update(State="Pending", StateReason="The function is being created.",
                          StateReasonCode="Creating")  # fmt: skip
        elif operation in ("UpdateFunctionConfiguration", "UpdateFunctionCode"):
            config.update(LastUpdateStatus="InProgress",
                          LastUpdateStatusReason="The function is being updated.",
                          LastUpdateStatusReasonCode="InProgress")  # fmt: skip
        elif operation == "GetFunction":
            held = self._take_fault(operation, name, "hold")
            if held is not None and held.configuration:
                config.update(held.configuration)
        return reply

    def _take_fault(self, operation: str, name: str, kind: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(operation, name, kind):
                    fault.times -= 1
                    return fault
        return None


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class EmbeddedAWS:
    """moto's server on a free loopback port, in a thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fidelity = LambdaFidelity(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            host, port, self.fidelity, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self._server.server_address[0]}:{self._server.server_port}"

    def start(self) -> EmbeddedAWS:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


def _access_key(environ: dict[str, Any]) -> str | None:
    match = re.search(r"Credential=([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else None


def _read_body(environ: dict[str, Any]) -> bytes:
    import io

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _call(app: Callable, environ: dict[str, Any]) -> tuple[str, list, bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        captured.update(status=status, headers=list(headers))

    chunks = app(environ, start_response)
    try:
        payload = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return captured["status"], captured["headers"], payload


def _error(start_response: Callable, fault: Fault) -> list[bytes]:
    body = json.dumps({"__type": fault.code, "message": fault.message or fault.code}).encode()
    start_response(f"{fault.status} Fault", [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", fault.code),
        ("Content-Length", str(len(body))),
    ])  # fmt: skip
    return [body]
