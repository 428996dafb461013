"""A Kubernetes API on localhost that serves Secrets, for the hooks' real Kubernetes client.

The hooks read Secrets with the official client. Pointing that client at this server,
through an ordinary kubeconfig file, exercises the same code as in a cluster.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

_SECRET_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$")


class KubernetesAPI:
    """Serves GET of Secrets held in `secrets`, keyed by (namespace, name)."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.reads = 0
        self._server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._dir = tempfile.TemporaryDirectory(prefix="kubeapi-")

    def put_secret(self, namespace: str, name: str, values: dict[str, str]) -> None:
        self.secrets[(namespace, name)] = dict(values)

    def put_manifest(self, manifest: dict[str, Any]) -> None:
        """Hold a Secret manifest as `kubectl apply` would, `stringData` merged into `data`."""
        meta = manifest["metadata"]
        values = {k: base64.b64decode(v).decode() for k, v in (manifest.get("data") or {}).items()}
        values.update(manifest.get("stringData") or {})
        self.put_secret(meta.get("namespace", "default"), meta["name"], values)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def kubeconfig(self) -> str:
        """The path of a kubeconfig file whose current context is this server."""
        path = Path(self._dir.name) / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "sandbox", "user": {"token": "sandbox"}}],
            "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox"}}],
            "current-context": "sandbox",
        }))  # fmt: skip
        return str(path)

    def start(self) -> KubernetesAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._dir.cleanup()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        match = _SECRET_PATH.match(request.path)
        if request.method != "GET" or match is None:
            return _status(404, "NotFound", "only Secrets are served here")(environ, start_response)
        namespace, name = match.groups()
        values = self.secrets.get((namespace, name))
        self.reads += 1
        if values is None:
            return _status(404, "NotFound", f'secrets "{name}" not found')(environ, start_response)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
        return Response(json.dumps(secret), content_type="application/json")(
            environ, start_response
        )


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _status(code: int, reason: str, message: str) -> Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
            "message": message, "code": code}  # fmt: skip
    return Response(json.dumps(body), status=code, content_type="application/json")
