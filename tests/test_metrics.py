"""/metrics: what the hooks did, in Prometheus's format, matching what AWS saw."""

from __future__ import annotations

import urllib.request

from conftest import NAMESPACE, lambda_function, provider, served
from prometheus_client.parser import text_string_to_metric_families

from compositions.aws import Connector
from compositions.context import Dependencies
from compositions.kube import KubernetesSecrets
from hooks import metrics
from sandbox.aws import Fault
from sandbox.replay import Metacontroller, seed


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_hooks_aws_calls_and_sync_results_as_aws_saw_them(aws, kube):
    seed(aws.endpoint, [lambda_function()])
    deps = Dependencies(aws=Connector(on_client=metrics.watch_client), secrets=KubernetesSecrets())
    prov, fn = provider(aws), lambda_function(name="metered", reservedConcurrentExecutions=2)
    with served(deps) as url:
        before = scrape(url)
        mc = Metacontroller(url, [prov, fn])
        mc.sync(prov)
        mc.converge(fn)
        aws.fidelity.faults.append(
            Fault("GetFunction", times=2, status=429, code="TooManyRequestsException")
        )
        fn["spec"]["timeout"] = 10
        mc.sync(fn)
        after = scrape(url)

    calls = "aws_infra_operator_aws_calls_total"
    for operation in ("CreateFunction", "PutFunctionConcurrency"):
        seen_by_aws = aws.fidelity.calls[operation]
        assert (
            delta(before, after, calls, service="lambda", operation=operation, outcome="ok")
            == seen_by_aws
            == 1
        )
    get = {
        outcome: delta(
            before, after, calls, service="lambda", operation="GetFunction", outcome=outcome
        )
        for outcome in ("ok", "ResourceNotFoundException", "TooManyRequestsException")
    }
    assert get == {"ok": 1, "ResourceNotFoundException": 1, "TooManyRequestsException": 1}
    # AWS saw one request more than the calls counted: botocore's retry of the throttled one.
    assert aws.fidelity.calls["GetFunction"] == sum(get.values()) + 1
    assert (
        delta(before, after, calls, service="sts", operation="GetCallerIdentity", outcome="ok") == 1
    )

    syncs = "aws_infra_operator_syncs_total"
    assert delta(before, after, syncs, kind="lambdafunction", result="waiting") == 1
    assert delta(before, after, syncs, kind="lambdafunction", result="changed") == 1
    assert delta(before, after, syncs, kind="lambdafunction", result="failed") == 1
    assert (
        after[
            ("aws_infra_operator_function_ready", (("name", "metered"), ("namespace", NAMESPACE)))
        ]
        == 1
    )
    hook_count = "aws_infra_operator_hook_seconds_count"
    assert delta(before, after, hook_count, kind="lambdafunction", hook="sync") == 3
    assert delta(before, after, hook_count, kind="awsprovider", hook="sync") == 1
