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
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, Unauthorized

from compositions import awsproviders, lambdafunctions
from compositions.context import Dependencies
from compositions.metacontroller import CustomizeRequest, SyncReply, SyncRequest
from hooks import logs, metrics

log = logging.getLogger(__name__)

# The largest Kubernetes object is about 1.5 MB; a request carries the parent and its
# related objects, so allow for a few of them and refuse anything larger unread.
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
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES

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

    @app.post("/hooks/<kind>/customize")
    def customize(kind: str):
        answer = _kind(kind)[0]
        with metrics.timed(kind, "customize"):
            return _json(answer(_parse(CustomizeRequest, request)))

    @app.post("/hooks/<kind>/sync")
    def sync(kind: str):
        return _answer(kind, "sync", _kind(kind)[1])

    @app.post("/hooks/<kind>/finalize")
    def finalize(kind: str):
        return _answer(kind, "finalize", _kind(kind)[2])

    def _answer(kind: str, hook: str, answer: Sync) -> Response:
        with metrics.timed(kind, hook):
            parsed = _parse(SyncRequest, request)
            reply = answer(parsed, deps)
            meta = parsed.parent.metadata
            metrics.record_sync(kind, meta.namespace, meta.name, reply)
            return _json(reply.body())

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        reply = jsonify(error=error.description)
        if error.code == 401:
            reply.headers["WWW-Authenticate"] = "Bearer"
        return reply, error.code

    @app.errorhandler(Exception)
    def bug(error: Exception):
        log.exception("unexpected failure in %s %s", request.method, request.path)
        return jsonify(error="internal error in the hooks; see their log"), 500

    return app


def _json(body: dict[str, Any]) -> Response:
    # Flask's jsonify sorts keys, which Metacontroller does not need and a busy hook pays for.
    return Response(json.dumps(body), content_type="application/json")


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


def _kind(kind: str) -> tuple[Customize, Sync, Sync]:
    if kind not in KINDS:
        raise NotFound(f"no hooks for kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[kind]


def _parse(model: type, incoming: Request) -> Any:
    # get_data refuses a body over MAX_REQUEST_BYTES with a 413 before reading it.
    body = incoming.get_data()
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
