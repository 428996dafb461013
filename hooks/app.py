"""The Flask app that Metacontroller calls: routing, request parsing and error replies.

Served by `gunicorn 'hooks.app:create_app()'`. Every route parses the body into the
contract's model and hands it to `compositions.lambdafunctions` or
`compositions.awsproviders`; nothing else happens here. A
body that is not a Metacontroller request gets a 4xx with a JSON error; a 500 means a bug of
ours, and its reply says no more than that.

When a token is configured (`HOOKS_TOKEN_FILE`, a file such as a mounted Secret, or
`HOOKS_TOKEN`), every hook call must carry it as `Authorization: Bearer <token>`, as
Metacontroller sends it from `webhook.authorization`; `/healthz` stays open for probes.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from pydantic import ValidationError
from pydantic_core import to_json
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    LengthRequired,
    RequestEntityTooLarge,
    Unauthorized,
)

from compositions import awsproviders, lambdafunctions
from compositions.context import Dependencies
from compositions.metacontroller import CustomizeRequest, SyncReply, SyncRequest
from hooks import logs, metrics

log = logging.getLogger(__name__)

# The largest Kubernetes object is about 1.5 MB; a request carries the parent and its
# related objects, so allow for a few of them and refuse anything larger (unread, when the
# request gives its length).
MAX_REQUEST_BYTES = 8 * 1024 * 1024

Sync = Callable[[SyncRequest, Dependencies], SyncReply]
Customize = Callable[[CustomizeRequest], dict[str, Any]]

KINDS: dict[str, tuple[Customize, Sync, Sync]] = {
    "lambdafunction": (
        lambdafunctions.customize,
        lambdafunctions.sync,
        lambdafunctions.finalize,
    ),
    "awsprovider": (awsproviders.customize, awsproviders.sync, awsproviders.finalize),
}


def create_app(config: Dependencies | None = None) -> Flask:
    """The hooks' app; `config` replaces the real AWS and Kubernetes access, for tests."""
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    deps = config or Dependencies.from_environment(on_client=metrics.watch_client)
    app = Flask(__name__)

    @app.before_request
    def authenticate():
        if request.path.startswith("/hooks/"):
            _check_token(request)

    @app.after_request
    def close_after_refusal(response: Response) -> Response:
        if response.status_code >= 400:
            # A refused request may leave its body unread on the connection; the next
            # request must not be parsed out of it (nor that body end up in a log line).
            response.headers["Connection"] = "close"
        return response

    @app.get("/metrics")
    def prometheus():
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    # A static route per kind and hook: matching a rule with a <kind> converter would cost
    # every call a regular expression.
    for kind, (customize, sync, finalize) in KINDS.items():
        app.add_url_rule(
            f"/hooks/{kind}/customize",
            f"{kind}.customize",
            _customize_route(kind, customize),
            methods=["POST"],
        )
        for hook, answer in (("sync", sync), ("finalize", finalize)):
            app.add_url_rule(
                f"/hooks/{kind}/{hook}",
                f"{kind}.{hook}",
                _sync_route(kind, hook, answer, deps),
                methods=["POST"],
            )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        description = error.description
        if error.code == 404:
            kinds = ", ".join(KINDS)
            description = f"no such path; the hooks are /hooks/<kind>/<hook> for kinds {kinds}"
        reply = jsonify(error=description)
        if error.code == 401:
            reply.headers["WWW-Authenticate"] = "Bearer"
        return reply, error.code

    @app.errorhandler(Exception)
    def bug(error: Exception):
        log.exception("unexpected failure in %s %s", request.method, request.path)
        return jsonify(error="internal error in the hooks; see their log"), 500

    return app


def _json(body: dict[str, Any]) -> Response:
    # pydantic's encoder (Rust) is several times faster than json.dumps on a status, and
    # does not sort keys as Flask's jsonify does: Metacontroller needs neither.
    return Response(to_json(body), content_type="application/json")


def _check_token(incoming: Request) -> None:
    expected = _configured_token()
    if expected is None:
        return
    scheme, _, given = incoming.headers.get("Authorization", "").partition(" ")
    # compare_digest takes as long for a near miss as for a wild guess.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("a hook call needs the bearer token Metacontroller is given")


def _configured_token() -> str | None:
    """The token, read on each call so that a rotated Secret takes effect at once."""
    path = os.environ.get("HOOKS_TOKEN_FILE")
    if path:
        with open(path, encoding="utf-8") as token:
            return token.read().strip() or None
    return os.environ.get("HOOKS_TOKEN") or None


def _customize_route(kind: str, answer: Customize) -> Callable[[], Response]:
    def route() -> Response:
        with metrics.timed(kind, "customize"):
            return _json(answer(_parse(CustomizeRequest, request)))

    return route


def _sync_route(kind: str, hook: str, answer: Sync, deps: Dependencies) -> Callable[[], Response]:
    def route() -> Response:
        with metrics.timed(kind, hook):
            parsed = _parse(SyncRequest, request)
            reply = answer(parsed, deps)
            meta = parsed.parent.metadata
            metrics.record_sync(kind, meta.namespace, meta.name, reply)
            return _json(reply.body())

    return route


def _body(incoming: Request) -> bytes:
    """The request's body, or a 413 once it is known to be over MAX_REQUEST_BYTES."""
    stream = incoming.environ["wsgi.input"]
    length = incoming.content_length
    if length is not None:
        if length > MAX_REQUEST_BYTES:
            raise RequestEntityTooLarge()
        # WSGI lets an app read exactly Content-Length bytes from the server's stream;
        # werkzeug's wrapper, which guards any reader from reading more, costs about half
        # as much time as parsing the body does.
        return stream.read(length)
    if not incoming.environ.get("wsgi.input_terminated"):
        # Without a length, only a server that ends the stream itself can say where it ends.
        raise LengthRequired("a hook call needs a Content-Length or a chunked body")
    # Chunked: counted as it comes, since werkzeug's bounded reader would cut a body short
    # at the bound rather than refuse it.
    body = bytearray()
    while chunk := stream.read(64 * 1024):
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise RequestEntityTooLarge()
    return bytes(body)


def _parse(model: type, incoming: Request) -> Any:
    body = _body(incoming)
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_input=False, include_url=False)
    # Not UTF-8, not JSON, nested too deep, or not an object: no Metacontroller request.
    if any(p["type"] == "json_invalid" or not p["loc"] for p in problems):
        raise BadRequest("the body must be a JSON object")
    # Name the fields, never echo the values: they may be Secret data.
    where = sorted({".".join(str(part) for part in p["loc"]) for p in problems})
    raise BadRequest("not a Metacontroller request; bad fields: " + ", ".join(where[:10]))
