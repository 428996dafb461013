"""The hooks under gunicorn, as the image serves them, for `make run` and `make bench`.

Both need the real server rather than Flask's test client: the gunicorn config, its
workers and threads, keep-alive and the access log are part of what a user runs and of
what a benchmark measures. The hooks run in a subprocess pointed at the embedded AWS and
the stand-in Kubernetes API; nothing of this process's own AWS setup leaks into it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

# Settings that would send the hooks' AWS clients somewhere other than the embedded AWS.
_AMBIENT_AWS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE")


def serve_hooks(
    port: int,
    endpoint: str,
    kubeconfig: str,
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> subprocess.Popen:
    """Start gunicorn with the hooks on 127.0.0.1:`port`, its output going to `log_path`.

    `env` adds to or overrides the hooks' environment (DRIFT_CHECK_SECONDS, say);
    `workers` overrides the config's worker count, which is otherwise left as deployed.
    """
    environment = dict(os.environ)
    environment.update({
        # Every AWS client of the hooks goes to the embedded AWS; the ambient credentials
        # are those of its default account, as a pod's role would be.
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "us-east-1",
        "KUBECONFIG": kubeconfig,
    })  # fmt: skip
    for unset in _AMBIENT_AWS:
        environment.pop(unset, None)
    environment.update(env or {})

    command = [
        sys.executable, "-m", "gunicorn", "--config", "python:hooks.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "hooks.app:create_app()",
    ]  # fmt: skip
    if workers is not None:
        # gunicorn's command line wins over its config file.
        command[-1:-1] = ["--workers", str(workers)]
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    """Return once `url` answers; exit with a message if the hooks die or stay silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the hooks exited with code {process.returncode}; see their log")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the hooks did not answer {url} within {seconds} s")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
