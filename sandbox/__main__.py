"""`make run`: the hooks under gunicorn, against an embedded AWS, fed every example.

Starts the embedded AWS and a Kubernetes API holding the examples' Secrets, creates in AWS
what the examples take as given (IAM roles, layers, S3 code), serves the hooks as the
image does, and replays each example as Metacontroller would: providers first, then
functions until they settle, then one more sync of each to show it changes nothing. Each
resulting status is printed; the hooks keep serving until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

import yaml

from sandbox.aws import EmbeddedAWS
from sandbox.kubeapi import KubernetesAPI
from sandbox.replay import Metacontroller, load, seed
from sandbox.serve import free_port, serve_hooks, wait_healthy

MUTATING = lambda calls: {op: n for op, n in calls.items() if op != "GetFunction"}  # noqa: E731


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=Path, default=Path("examples"))
    parser.add_argument("--port", type=int, default=8080, help="the hooks' port (0: any free)")
    parser.add_argument("--hook-version", choices=("v1", "v2"), default="v2")
    parser.add_argument("--once", action="store_true", help="stop after the replay")
    args = parser.parse_args()

    aws = EmbeddedAWS().start()
    kube = KubernetesAPI().start()
    objects = load(args.examples.glob("*.yaml"))
    for obj in objects:
        if obj["kind"] == "Secret":
            kube.put_manifest(obj)
    seed(aws.endpoint, objects)

    port = args.port or free_port()
    log_path = Path(tempfile.gettempdir()) / "aws-infra-operator-hooks.log"
    hooks = serve_hooks(port, aws.endpoint, kube.kubeconfig(), log_path)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", hooks)
        print(f"hooks: http://127.0.0.1:{port} (gunicorn, log in {log_path})")
        print(f"embedded AWS: {aws.endpoint}\n")
        settled = _replay(
            Metacontroller(f"http://127.0.0.1:{port}", objects, args.hook_version), aws
        )
        if args.once:
            return 0 if settled else 1
        print(f"\nserving hooks on http://127.0.0.1:{port}; Ctrl-C to stop", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
        return 0
    finally:
        hooks.terminate()
        hooks.wait(timeout=30)
        kube.stop()
        aws.stop()


def _replay(metacontroller: Metacontroller, aws: EmbeddedAWS) -> bool:
    """Replay every object; True when each ends ready and a repeat sync changes nothing."""
    rows, all_settled = [], True
    for kind in ("AWSProvider", "LambdaFunction"):
        for parent in metacontroller.parents(kind):
            before = aws.fidelity.calls.copy()
            outcome = metacontroller.converge(parent)
            made = aws.fidelity.calls - before

            before = aws.fidelity.calls.copy()
            metacontroller.sync(parent)
            again = aws.fidelity.calls - before

            status = parent["status"]
            settled = status.get("ready") is True and not MUTATING(again)
            all_settled &= settled
            name = f"{kind}/{parent['metadata']['namespace']}/{parent['metadata']['name']}"
            print(f"--- {name}")
            print(yaml.safe_dump({"status": status}, sort_keys=False, width=100), end="")
            rows.append((name, outcome.syncs, _calls(made), _calls(again), status.get("ready")))

    print("\nsummary (AWS Lambda calls seen by the embedded AWS)")
    print(f"{'object':52} {'syncs':>5}  {'ready':5}  calls until settled / on the repeat sync")
    for name, syncs, made, again, ready in rows:
        print(f"{name:52} {syncs:>5}  {ready!s:5}  {made or '-'} / {again or '-'}")
    return all_settled


def _calls(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in sorted(counts.items()))


if __name__ == "__main__":
    sys.exit(main())
