"""gunicorn's settings for the hooks, read with `gunicorn -c python:hooks.gunicorn_conf`.

Each setting comes from the environment so that one image fits every cluster. A hook call
spends most of its time waiting on AWS, so each worker runs a few threads. The worker
timeout sits above the hooks' own AWS time budget, and the graceful shutdown lets calls in
flight finish when Kubernetes stops the pod.
"""

import os
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("HOOKS_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("HOOKS_THREADS", "4"))
timeout = int(os.environ.get("HOOKS_WORKER_TIMEOUT", "60"))
graceful_timeout = 25
keepalive = 30

# The root filesystem is read-only in the pod: heartbeats go to memory, and gunicorn's
# control socket, which would be written under $HOME, is not needed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
control_socket_disable = True

# One JSON object per request, like the hooks' own log lines; no query strings or headers,
# so no token can end up in a log.
accesslog = "-"
errorlog = "-"
access_log_format = (
    '{"time": "%(t)s", "logger": "gunicorn.access", "method": "%(m)s", "path": "%(U)s",'
    ' "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s}'
)

# Workers are processes: their metrics meet in a directory made fresh for each start. It
# must be set before prometheus_client is first imported, which is why that import waits.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="hooks-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
