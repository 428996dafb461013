"""Prometheus metrics of the hooks, served at /metrics.

The numbers an operator of the operator watches: how long each hook takes, how many AWS
calls it makes and how they end, what the syncs amount to, and which functions are ready.
Under gunicorn every worker is a process of its own: with PROMETHEUS_MULTIPROC_DIR set (as
the gunicorn config does), the workers' figures are added up in that directory, and any
worker can serve the total.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.context_managers import Timer

from compositions.metacontroller import SyncReply

HOOK_SECONDS = Histogram(
    "aws_infra_operator_hook_seconds",
    "Time to answer a hook call.",
    ["kind", "hook"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
AWS_CALLS = Counter(
    "aws_infra_operator_aws_calls",
    "AWS API calls made by the hooks, by operation and how they ended.",
    ["service", "operation", "outcome"],
)
SYNCS = Counter(
    "aws_infra_operator_syncs",
    "Sync and finalize calls by what they amounted to.",
    ["kind", "result"],
)
FUNCTION_READY = Gauge(
    "aws_infra_operator_function_ready",
    "1 when the LambdaFunction's function is Active and its last update succeeded.",
    ["namespace", "name"],
    multiprocess_mode="mostrecent",
)


def watch_client(client: Any) -> None:
    """Count every call a boto3 client makes, with its outcome: ok or the AWS error code."""
    service = client.meta.service_model.service_name

    def answered(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        code = (parsed.get("Error") or {}).get("Code")
        outcome = code or ("ok" if http_response.status_code < 400 else "error")
        AWS_CALLS.labels(service, model.name, outcome).inc()

    def unanswered(event_name: str, exception: Exception, **_: Any) -> None:
        # This event names the operation only in its own name: after-call-error.<svc>.<op>.
        operation = event_name.rsplit(".", 1)[-1]
        AWS_CALLS.labels(service, operation, type(exception).__name__).inc()

    client.meta.events.register("after-call", answered)
    client.meta.events.register("after-call-error", unanswered)


def timed(kind: str, hook: str) -> Timer:
    """A context manager that times a hook call; the labelled child is looked up once."""
    return _hook_timer(kind, hook).time()


def record_sync(kind: str, namespace: str, name: str, reply: SyncReply) -> None:
    _sync_counter(kind, reply.result).inc()
    # A reply from the status cannot have changed the readiness last recorded.
    if kind == "lambdafunction" and reply.observed:
        ready = reply.status.get("ready") is True
        FUNCTION_READY.labels(namespace, name).set(1 if ready else 0)


# Looking up a labelled child costs more than the count itself; the label sets are few.
@functools.cache
def _hook_timer(kind: str, hook: str) -> Any:
    return HOOK_SECONDS.labels(kind, hook)


@functools.cache
def _sync_counter(kind: str, result: str) -> Any:
    return SYNCS.labels(kind, result)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, summed over workers when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
