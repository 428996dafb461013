"""`make bench`: what the hooks add to the AWS calls they make, measured under gunicorn.

A sync that makes one GetFunction should cost little more than that GetFunction, and a
sync answered from the status little more than the server's health check. To see whether
they do, the hooks run exactly as deployed (the gunicorn config, 2 workers) against the
embedded AWS, and each path is measured next to its baseline at the same concurrency:
creating functions through the hooks against creating them with boto3, a sync due for its
drift check against a bare GetFunction, and a sync answered from the status against GET
/healthz. The AWS calls of every sync are counted twice, by the embedded AWS and by the
hooks' own /metrics, and the two counts must agree.

Six rules keep the comparison fair:
- Each path and its baseline take turns, in rounds, so that a slow spell of the machine
  (this is often a shared VM) falls on both.
- Every path is warmed up before it is measured: clients made, roles assumed, code loaded.
- Every thread keeps one connection to the hooks for the whole run, so no TCP handshake
  with the hooks is timed, and the connections are spread evenly over the workers.
- Both clients, the Metacontroller stand-in and bare boto3, run in one child process, so
  neither queues for the interpreter lock behind the embedded AWS in this one.
- The embedded AWS collects its garbage between rounds, never during one: it holds every
  function made, and a full collection of its heap stops every AWS call for a tenth of a
  second or more, on whichever side is measured then. The hooks' workers and the clients'
  process collect as they would anyway, since their pauses are part of what is compared.
- Each phase records the CPU time of every process. The embedded AWS shares the cores
  with the hooks, so where they are saturated latency follows CPU time, and the report
  shows the hooks' share next to boto3's; CPU time no process of ours accounts for means
  other work on the machine, and the report warns when there was much of it.

Results go to .bench/: results.json (every figure, with the machine) and latency.png. A
missed target is a finding, not a failure: the exit code is non-zero only when the
benchmark itself breaks.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import http.client
import io
import json
import math
import multiprocessing
import os
import platform
import re
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
from prometheus_client.parser import text_string_to_metric_families

from sandbox.aws import DEFAULT_ACCOUNT, EmbeddedAWS
from sandbox.kubeapi import KubernetesAPI
from sandbox.replay import SETTLED_AFTER_SECONDS, post, seed
from sandbox.serve import free_port, serve_hooks, wait_healthy

API_VERSION = "aws-infra-operator.runner.codes/v1alpha1"
NAMESPACE = "bench"
OPERATOR_ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/bench-operator"
FUNCTION_ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/bench-function"
SOURCE = "import json\n\ndef handler(event, context):\n    return {'body': json.dumps(event)}\n"
OWNER_TAG = "aws-infra-operator.runner.codes/owner"
SYNC_PATH = "/hooks/lambdafunction/sync"

WORKERS = 2
DRIFT_CHECK_SECONDS = 3600
# Requests per path, whatever N is: on a shared VM the rate of one round of 200 can be
# half or twice that of the next, so a ratio needs many rounds to settle (and a p95 more
# than a few requests).
LATENCY_SAMPLES = 2000
THROUGHPUT_REQUESTS = 8000
MAX_SYNCS = 5
# Each path and its baseline take turns: creation in this many rounds of at least so many
# objects, the syncs in rounds of at most so many requests.
CREATE_ROUNDS = 4
MIN_CREATE_ROUND = 50
ROUND_SIZE = 200

# The targets: hooks over bare boto3 at most this much, from-status syncs at least this
# share of /healthz's rate, and this much memory per worker.
MAX_OVERHEAD = 1.3
MIN_SHARE_OF_HEALTHZ = 0.7
MAX_WORKER_MB = 120.0
# The share of the machine other processes may take before the figures are called skewed.
OTHERS_TOLERATED = 0.1

# The processes whose CPU time each phase records.
HOOKS, CLIENTS, AWS = "hooks workers", "clients", "embedded AWS"


class BenchError(Exception):
    """The benchmark itself broke: a hook failed, or AWS did not end as expected."""


# --- the clients, in a child process ------------------------------------------------------

# What a batch of requests gives back: each one's latency, the wall time of the batch,
# and each one's output, in the order of the requests.
Batch = tuple[list[float], float, list[Any]]


class Connection:
    """One keep-alive HTTP connection to the hooks, used by one thread at a time."""

    def __init__(self, port: int) -> None:
        self._http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.opened = 0

    def send(self, method: str, path: str, body: bytes | None = None) -> tuple[float, bytes]:
        """The time to the last byte of the reply, and the reply."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            # NB: http.client connects inside request(); counted so that a measured phase
            # can show it timed no handshake.
            self.opened += self._http.sock is None
            started = time.perf_counter()
            try:
                self._http.request(method, path, body=body, headers=headers)
                reply = self._http.getresponse()
                payload = reply.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                # gunicorn drops a connection left idle past its keep-alive; once is normal.
                self._http.close()
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if reply.status != 200:
                raise BenchError(f"{method} {path} answered {reply.status}: {payload[:300]!r}")
            return elapsed, payload
        raise AssertionError("unreachable")

    def local_port(self) -> int | None:
        return self._http.sock.getsockname()[1] if self._http.sock else None

    def close(self) -> None:
        self._http.close()


def concurrently(
    clients: Sequence[Any], items: Sequence[Any], work: Callable[[Any, Any], tuple[float, Any]]
) -> Batch:
    """Run `work(client, item)` for every item, one thread per client, all at once.

    `work` returns its own latency, so that only the call is timed and not what the caller
    does around it.
    """
    pending = deque(enumerate(items))
    latencies: list[float] = []
    outputs: dict[int, Any] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(clients) + 1)

    def drain(client: Any) -> None:
        start.wait()
        while not errors:
            try:
                index, item = pending.popleft()
            except IndexError:
                return
            try:
                elapsed, outputs[index] = work(client, item)
            except BaseException as error:  # re-raised once every thread has stopped
                errors.append(error)
                return
            latencies.append(elapsed)

    threads = [threading.Thread(target=drain, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if errors:
        raise errors[0]
    return latencies, wall, [outputs[i] for i in range(len(items))]


class Clients:
    """One keep-alive connection to the hooks and one boto3 client per thread."""

    def __init__(self, endpoint: str, threads: int) -> None:
        # A session per client: boto3's default session is not safe to share between threads.
        self.lambdas = [
            boto3.session.Session().client(
                "lambda", endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
            )
            for _ in range(threads)
        ]  # fmt: skip
        self.connections: list[Connection] = []
        self.package = _package()

    def connect(self, port: int) -> None:
        for connection in self.connections:
            connection.close()
        self.connections = [Connection(port) for _ in self.lambdas]

    def ports(self) -> list[int | None]:
        """Each connection's local port, once a request has made sure it is open."""
        for connection in self.connections:
            connection.send("GET", "/healthz")
        return [c.local_port() for c in self.connections]

    def reopen(self, index: int) -> None:
        """Close a connection: the next request opens it again, maybe to another worker."""
        self.connections[index].close()

    def opened(self) -> int:
        return sum(c.opened for c in self.connections)

    def send(self, path: str, bodies: list[bytes]) -> Batch:
        return concurrently(self.connections, bodies, lambda c, body: c.send("POST", path, body))

    def healthz(self, count: int) -> Batch:
        return concurrently(self.connections, range(count), lambda c, _: c.send("GET", "/healthz"))

    def create(self, names: list[str], related: dict[str, Any]) -> Batch:
        """Customize, then sync until settled, for each new function; one latency each."""

        def create(connection: Connection, name: str) -> tuple[float, tuple[dict, int]]:
            parent = _function(name)
            body = json.dumps({"controller": {}, "parent": parent}).encode()
            elapsed, payload = connection.send("POST", "/hooks/lambdafunction/customize", body)
            wanted = json.loads(payload)["relatedResources"]
            if [r["resource"] for r in wanted] != ["awsproviders"]:
                raise BenchError(f"customize asked for {wanted}")

            syncs, settled = 0, False
            while not settled and syncs < MAX_SYNCS:
                took, payload = connection.send("POST", SYNC_PATH, _sync_body(parent, related))
                elapsed += took
                syncs += 1
                reply = json.loads(payload)
                parent = _with_status(parent, reply["status"])
                settled = reply.get("resyncAfterSeconds", 0) >= SETTLED_AFTER_SECONDS
            return elapsed, (parent, syncs)

        return concurrently(self.connections, names, create)

    def boto3_create(self, names: list[str]) -> Batch:
        """What the hooks make AWS do to create a function: look, create, look again."""

        def create(client: Any, name: str) -> tuple[float, None]:
            started = time.perf_counter()
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.get_function(FunctionName=name)
                raise BenchError(f"function {name} exists before it is created")
            client.create_function(
                FunctionName=name, Runtime="python3.11", Handler="index.handler",
                Role=FUNCTION_ROLE, Code={"ZipFile": self.package}, MemorySize=128, Timeout=10,
                Tags={"team": "bench", OWNER_TAG: f"{NAMESPACE}/{name}"},
            )  # fmt: skip
            client.get_function(FunctionName=name)
            return time.perf_counter() - started, None

        return concurrently(self.lambdas, names, create)

    def boto3_get(self, names: list[str]) -> Batch:
        def get(client: Any, name: str) -> tuple[float, None]:
            started = time.perf_counter()
            client.get_function(FunctionName=name)
            return time.perf_counter() - started, None

        return concurrently(self.lambdas, names, get)


def _drive(pipe: Any, endpoint: str, threads: int) -> None:
    """The child process: run each (method, arguments) of Clients it is sent, until None."""
    clients = Clients(endpoint, threads)
    while (request := pipe.recv()) is not None:
        method, arguments = request
        try:
            pipe.send(("ok", getattr(clients, method)(*arguments)))
        except Exception as error:  # the benchmark reports it and stops
            pipe.send(("error", f"{type(error).__name__}: {error}"))


class Driver:
    """The parent's handle on the clients' process: `driver.create(names, related)` runs
    `Clients.create` there and returns what it returned."""

    def __init__(self, endpoint: str, threads: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(
            target=_drive, args=(theirs, endpoint, threads), daemon=True
        )
        self._process.start()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_") or not hasattr(Clients, method):
            raise AttributeError(method)

        def call(*arguments: Any) -> Any:
            try:
                self._pipe.send((method, arguments))
                outcome, value = self._pipe.recv()
            except (EOFError, OSError) as error:
                code = self._process.exitcode
                raise BenchError(f"the clients' process died (exit code {code})") from error
            if outcome != "ok":
                raise BenchError(f"{method}: {value}")
            return value

        return call

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # the process is gone already
            self._pipe.send(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.terminate()


# --- the objects Metacontroller would send ------------------------------------------------


def _provider() -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION, "kind": "AWSProvider",
        "metadata": {"name": "default", "namespace": NAMESPACE, "generation": 1,
                     "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, "bench/provider"))},
        "spec": {"region": "us-east-1", "roleARN": OPERATOR_ROLE,
                 "defaultTags": {"managed-by": "aws-infra-operator"}},
    }  # fmt: skip


def _function(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION, "kind": "LambdaFunction",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1,
                     "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{name}"))},
        "spec": {"functionName": name, "runtime": "python3.11", "handler": "index.handler",
                 "code": {"zipFile": SOURCE}, "role": FUNCTION_ROLE, "memorySize": 128,
                 "timeout": 10, "tags": {"team": "bench"}},
    }  # fmt: skip


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", SOURCE)
    return buffer.getvalue()


def _sync_body(parent: dict[str, Any], related: dict[str, Any]) -> bytes:
    body = {"controller": {}, "parent": parent, "children": {}, "related": related,
            "finalizing": False}  # fmt: skip
    return json.dumps(body).encode()


def _with_status(parent: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    # Metacontroller adds observedGeneration to whatever status the hook returns.
    generation = parent["metadata"]["generation"]
    return {**parent, "status": {**status, "observedGeneration": generation}}


def _overdue(parent: dict[str, Any]) -> dict[str, Any]:
    """The parent as if its last sync were two drift intervals ago: a check is due
    whatever the jitter."""
    last = datetime.now(UTC) - timedelta(seconds=2 * DRIFT_CHECK_SECONDS)
    status = {**parent["status"], "lastSyncTime": last.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {**parent, "status": status}


# --- what a phase cost: AWS calls and CPU time --------------------------------------------


@dataclass
class Phase:
    """One measured path, added up over its rounds: latencies, AWS calls and CPU time."""

    through_hooks: bool
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    embedded: Counter[str] = field(default_factory=Counter)
    metrics: Counter[tuple[str, str]] = field(default_factory=Counter)
    cpu: Counter[str] = field(default_factory=Counter)
    busy: float = 0.0
    elapsed: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def calls_each(self) -> dict[str, float]:
        count = len(self.latencies)
        return {op: round(n / count, 3) for op, n in sorted(self.embedded.items())}

    def sts_calls(self) -> int:
        return sum(n for (service, _), n in self.metrics.items() if service == "sts")

    def metrics_agree(self) -> bool:
        """Whether the hooks counted the Lambda calls the embedded AWS saw, no more or less."""
        seen = Counter({op: n for (svc, op), n in self.metrics.items() if svc == "lambda"})
        return +seen == +self.embedded

    def summary(self) -> dict[str, Any]:
        count = len(self.latencies)
        figures: dict[str, Any] = {
            "count": count,
            "p50_ms": round(self.percentile(50) * 1000, 3),
            "p95_ms": round(self.percentile(95) * 1000, 3),
            "mean_ms": round(sum(self.latencies) / count * 1000, 3),
            "wall_s": round(self.wall, 3),
            "per_second": round(count / self.wall, 1),
            "cpu_ms_each": {k: round(s * 1000 / count, 3) for k, s in sorted(self.cpu.items())},
            "machine_busy": round(self.busy / self.elapsed, 3),
            # Busy time no process of the benchmark accounts for: other work on the machine
            # and, a little, the kernel's loopback networking.
            "others_share": round(max(0.0, self.busy - sum(self.cpu.values())) / self.elapsed, 3),
            "lambda_calls_each": self.calls_each(),
        }
        if self.through_hooks:
            figures["aws_calls_in_hooks_metrics"] = {
                f"{svc}:{op}": n for (svc, op), n in sorted(self.metrics.items())
            }
            figures["sts_calls"] = self.sts_calls()
            figures["metrics_agree"] = self.metrics_agree()
        return figures


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine so far, over all cores."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    clock = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / clock, sum(ticks) / clock


def _workers(master: int) -> list[int]:
    """The pids whose parent is `master`."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.append(int(stat.parent.name))
    return sorted(children)


def _memory_mb(pid: int, field: str = "VmRSS") -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    kilobytes = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return round(int(kilobytes.group(1)) / 1024, 1) if kilobytes else float("nan")


def _holders(workers: list[int], ports: set[int]) -> dict[int, int]:
    """Which worker holds each of the clients' connections, by the client's port."""
    remote_port_by_inode = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port_by_inode[fields[9]] = int(fields[2].split(":")[1], 16)
    holders = {}
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    port = remote_port_by_inode.get(target[len("socket:[") : -1])
                    if port in ports:
                        holders[port] = pid
    return holders


# --- one benchmark run, for one N ---------------------------------------------------------


class Run:
    """The hooks under gunicorn, freshly started, and the measurements made for one N."""

    def __init__(
        self, aws: EmbeddedAWS, kube: KubernetesAPI, clients: Driver, n: int, threads: int,
        out: Path,
    ) -> None:  # fmt: skip
        self.aws, self.clients, self.n, self.threads = aws, clients, n, threads
        self.port = free_port()
        self._metrics_dir = tempfile.TemporaryDirectory(prefix="bench-metrics-")
        self.hooks = serve_hooks(
            self.port, aws.endpoint, kube.kubeconfig(), out / f"hooks-{n}.log",
            env={"DRIFT_CHECK_SECONDS": str(DRIFT_CHECK_SECONDS),
                 "PROMETHEUS_MULTIPROC_DIR": self._metrics_dir.name},
            workers=WORKERS,
        )  # fmt: skip
        self.related: dict[str, Any] = {}
        self.parents: dict[str, dict[str, Any]] = {}
        self.syncs_to_create = 0
        self.scrapes: list[float] = []
        self._processes: dict[str, list[int]] = {}

    def stop(self) -> None:
        self.hooks.terminate()
        try:
            self.hooks.wait(timeout=30)
        except Exception:
            self.hooks.kill()
            raise
        finally:
            self._metrics_dir.cleanup()

    def measure(self) -> dict[str, Any]:
        wait_healthy(f"http://127.0.0.1:{self.port}/healthz", self.hooks)
        self._processes = {
            HOOKS: self._all_workers(), CLIENTS: [self.clients.pid], AWS: [os.getpid()]
        }  # fmt: skip
        self.clients.connect(self.port)
        self._provider()
        warm = [f"bench-warm-{i:03d}" for i in range(2 * self.threads)]
        names = [f"bench-{i:05d}" for i in range(self.n)]
        phases = {
            "create_hooks": Phase(True), "create_boto3": Phase(False),
            "due_sync": Phase(True), "get_function": Phase(False),
            "from_status_sync": Phase(True), "healthz": Phase(True),
        }  # fmt: skip
        opened = 0

        # Creation: each object from nothing to ready, through the hooks and bare, in turns,
        # so that both meet the same machine and an embedded AWS holding as many functions.
        self._balance()
        self._create(warm)
        self.clients.boto3_create([f"bench-raw-warm-{i:03d}" for i in range(2 * self.threads)])
        self.syncs_to_create = 0
        opened -= self.clients.opened()
        raw = [f"bench-raw-{i:05d}" for i in range(self.n)]
        # A round's time is that of its slowest creation: rounds of a few objects would
        # measure little but the slowest.
        size = max(math.ceil(self.n / CREATE_ROUNDS), MIN_CREATE_ROUND)
        for ours, bare in zip(
            _rounds(names, self.n, size), _rounds(raw, self.n, size), strict=True
        ):
            self._measured(phases["create_hooks"], functools.partial(self._create, ours))
            self._measured(
                phases["create_boto3"], functools.partial(self.clients.boto3_create, bare)
            )
        opened += self.clients.opened()

        # A sync due for its drift check against the GetFunction it makes, in turns.
        self._balance()
        self._due(warm * 4)
        self.clients.boto3_get(warm * 4)
        opened -= self.clients.opened()
        for chunk in _rounds(names, LATENCY_SAMPLES):
            self._measured(phases["due_sync"], functools.partial(self._due, chunk))
            self._measured(phases["get_function"], functools.partial(self.clients.boto3_get, chunk))
        opened += self.clients.opened()

        # A sync answered from the status against the cheapest request the server answers.
        self._balance()
        self._from_status(warm * 4)
        self.clients.healthz(len(warm) * 4)
        opened -= self.clients.opened()
        for chunk in _rounds(names, THROUGHPUT_REQUESTS):
            self._measured(phases["from_status_sync"], functools.partial(self._from_status, chunk))
            self._measured(phases["healthz"], functools.partial(self.clients.healthz, len(chunk)))
        opened += self.clients.opened()

        held = Counter(self._holders().values())
        result = {
            "n": self.n,
            "phases": {name: phase.summary() for name, phase in phases.items()},
            "syncs_per_created_object": round(self.syncs_to_create / self.n, 3),
            "workers": {
                str(pid): {"rss_mb": _memory_mb(pid), "peak_rss_mb": _memory_mb(pid, "VmHWM"),
                           "connections": held.get(pid, 0)}
                for pid in self._processes[HOOKS]
            },
            "handshakes_while_measuring": opened,
            "metrics_scrape_ms": {
                "p50": round(sorted(self.scrapes)[len(self.scrapes) // 2] * 1000, 1),
                "max": round(max(self.scrapes) * 1000, 1),
            },
        }  # fmt: skip
        result["targets"] = _targets(result)
        return result

    def _all_workers(self, seconds: float = 30) -> list[int]:
        """The workers' pids, once all have started: one answering is not all of them."""
        deadline = time.monotonic() + seconds
        while len(workers := _workers(self.hooks.pid)) < WORKERS:
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn started {len(workers)} of {WORKERS} workers")
            time.sleep(0.1)
        return workers

    def _measured(self, phase: Phase, run: Callable[[], Batch]) -> None:
        """`run()`, with its latencies, AWS calls and CPU time added to `phase`."""
        with _uncollected():
            calls, counted = self.aws.fidelity.calls.copy(), self._hooks_metrics()
            # Read inside the scrapes, so that their cost is not the phase's.
            cpu = {name: sum(map(_cpu_seconds, pids)) for name, pids in self._processes.items()}
            busy, total = _machine_cpu()

            latencies, wall, _ = run()

            busy_after, total_after = _machine_cpu()
        for name, pids in self._processes.items():
            phase.cpu[name] += sum(map(_cpu_seconds, pids)) - cpu[name]
        phase.embedded.update(self.aws.fidelity.calls - calls)
        phase.metrics.update(self._hooks_metrics() - counted)
        phase.busy += busy_after - busy
        phase.elapsed += total_after - total
        phase.latencies += latencies
        phase.wall += wall

    def _balance(self) -> None:
        """Open every connection, and spread them evenly over the workers.

        gunicorn's workers race to accept a connection and keep it for its whole life, so
        the split is luck: anything from even to all on one worker, which would halve the
        capacity measured. Reopening a connection held by a crowded worker runs the race
        again; if it never comes out even, the table shows the split it got.
        """
        share = math.ceil(self.threads / len(self._processes[HOOKS]))
        for _ in range(50 * self.threads):
            ports = self.clients.ports()
            holders = _holders(self._processes[HOOKS], set(ports) - {None})
            crowded = Counter(holders.values())
            for index, port in enumerate(ports):
                worker = holders.get(port or -1)
                if worker is None or crowded[worker] > share:
                    self.clients.reopen(index)
                    break
            else:
                return

    def _holders(self) -> dict[int, int]:
        ports = set(self.clients.ports()) - {None}
        return _holders(self._processes[HOOKS], ports)

    def _hooks_metrics(self) -> Counter[tuple[str, str]]:
        """AWS calls the hooks counted, by (service, operation), all outcomes together."""
        started = time.perf_counter()
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=30) as reply:
            text = reply.read().decode()
        self.scrapes.append(time.perf_counter() - started)
        counts: Counter[tuple[str, str]] = Counter()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "aws_infra_operator_aws_calls_total":
                    key = (sample.labels["service"], sample.labels["operation"])
                    counts[key] += int(sample.value)
        return counts

    def _provider(self) -> None:
        provider = _provider()
        base = f"http://127.0.0.1:{self.port}/hooks/awsprovider"
        post(f"{base}/customize", {"parent": provider})
        reply = post(f"{base}/sync", {"parent": provider, "children": {}, "related": {}})
        if reply["status"].get("ready") is not True:
            raise BenchError(f"the AWSProvider did not become ready: {reply['status']}")
        # Keyed as hook version v2 keys related objects.
        served = _with_status(provider, reply["status"])
        self.related = {f"AWSProvider.{API_VERSION}": {f"{NAMESPACE}/default": served}}

    def _create(self, names: list[str]) -> Batch:
        batch = self.clients.create(names, self.related)
        for name, (parent, syncs) in zip(names, batch[2], strict=True):
            if parent["status"].get("ready") is not True:
                raise BenchError(f"{name} is not ready after {syncs} syncs: {parent['status']}")
            self.parents[name] = parent
        self.syncs_to_create += sum(syncs for _, syncs in batch[2])
        return batch

    def _due(self, names: list[str]) -> Batch:
        overdue = {n: _overdue(self.parents[n]) for n in names}
        batch = self.clients.send(SYNC_PATH, [_sync_body(overdue[n], self.related) for n in names])
        for name, payload in zip(names, batch[2], strict=True):
            status = json.loads(payload)["status"]
            if status.get("ready") is not True or (
                status.get("lastSyncTime", "") <= overdue[name]["status"]["lastSyncTime"]
            ):
                raise BenchError(f"a due sync of {name} answered from its stale status")
            self.parents[name] = _with_status(self.parents[name], status)
        return batch

    def _from_status(self, names: list[str]) -> Batch:
        bodies = [_sync_body(self.parents[n], self.related) for n in names]
        batch = self.clients.send(SYNC_PATH, bodies)
        for name, payload in zip(names, batch[2], strict=True):
            sent = dict(self.parents[name]["status"])
            sent.pop("observedGeneration")
            if json.loads(payload)["status"] != sent:
                raise BenchError(f"a sync of {name} with a fresh status changed the status")
        return batch


@contextlib.contextmanager
def _uncollected() -> Iterator[None]:
    """Collect this process's garbage now, and none until the block ends."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _rounds(names: list[str], total: int, most: int = ROUND_SIZE) -> Iterator[list[str]]:
    """At least `total` of `names`, each as often as the others, in rounds of at most
    `most` with no name twice in one round."""
    size = min(len(names), most)
    cycle = names * math.ceil(max(total, len(names)) / len(names))
    for start in range(0, len(cycle), size):
        yield cycle[start : start + size]


# --- targets, table, files ----------------------------------------------------------------


def _targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    phases = result["phases"]
    due, fresh = phases["due_sync"], phases["from_status_sync"]
    created = phases["create_hooks"]["wall_s"] / phases["create_boto3"]["wall_s"]
    due_ratio = due["p50_ms"] / phases["get_function"]["p50_ms"]
    share = fresh["per_second"] / phases["healthz"]["per_second"]
    one_get = due["lambda_calls_each"] == {"GetFunction": 1.0} and due["sts_calls"] == 0
    no_call = not fresh["lambda_calls_each"] and fresh["sts_calls"] == 0
    agree = all(p["metrics_agree"] for p in phases.values() if "metrics_agree" in p)

    def target(name: str, value: Any, goal: str, passed: bool) -> dict[str, Any]:
        return {"name": name, "value": value, "goal": goal, "passed": passed}

    targets = [
        target("create: wall time, hooks/boto3", round(created, 3), f"<= {MAX_OVERHEAD}",
               created <= MAX_OVERHEAD),
        target("due sync: p50, hooks/GetFunction", round(due_ratio, 3), f"<= {MAX_OVERHEAD}",
               due_ratio <= MAX_OVERHEAD),
        target("from status: rate, sync/healthz", round(share, 3), f">= {MIN_SHARE_OF_HEALTHZ}",
               share >= MIN_SHARE_OF_HEALTHZ),
        target("due sync: AWS calls each", _calls_text(due), "GetFunction 1, STS 0", one_get),
        target("from status: AWS calls each", _calls_text(fresh), "none, STS 0", no_call),
        target("hooks' /metrics vs embedded AWS", "agree" if agree else "DISAGREE", "agree",
               agree),
    ]  # fmt: skip
    for pid, worker in result["workers"].items():
        rss = worker["rss_mb"]
        goal = f"<= {MAX_WORKER_MB:g}"
        targets.append(target(f"worker {pid}: RSS MB", rss, goal, rss <= MAX_WORKER_MB))
    return targets


def _calls_text(phase: dict[str, Any]) -> str:
    calls = ", ".join(f"{op} {n:g}" for op, n in phase["lambda_calls_each"].items()) or "none"
    return f"{calls}, STS {phase['sts_calls']}" if "sts_calls" in phase else calls


def render(result: dict[str, Any], threads: int) -> str:
    """The table for one N."""
    phases, targets = result["phases"], {t["name"]: t for t in result["targets"]}
    rows = [
        ("create via hooks: customize + syncs", "create_hooks", HOOKS,
         "create: wall time, hooks/boto3"),
        ("create via boto3: Get, Create, Get", "create_boto3", CLIENTS, None),
        ("sync, drift check due", "due_sync", HOOKS, "due sync: p50, hooks/GetFunction"),
        ("boto3 GetFunction", "get_function", CLIENTS, None),
        ("sync, answered from status", "from_status_sync", HOOKS,
         "from status: rate, sync/healthz"),
        ("GET /healthz", "healthz", HOOKS, None),
    ]  # fmt: skip
    split = "/".join(str(w["connections"]) for w in result["workers"].values())
    lines = [
        f"N={result['n']}: {threads} threads, one keep-alive connection each ({split} per"
        f" worker, {result['handshakes_while_measuring']} opened while measuring);"
        f" {WORKERS} gunicorn workers",
        f"{'operation':36} {'p50 ms':>7} {'p95 ms':>7} {'per s':>6} {'CPU ms':>6}"
        f"  {'AWS calls each':38} {'ratio':>5} {'target':>7}  result",
    ]
    for label, key, process, target_name in rows:
        figures = phases[key]
        text = ""
        if target_name:
            target = targets[target_name]
            text = f"{target['value']:>5} {target['goal']:>7}  {_verdict(target)}"
        lines.append(
            f"{label:36} {figures['p50_ms']:7.2f} {figures['p95_ms']:7.2f}"
            f" {figures['per_second']:6.0f} {figures['cpu_ms_each'].get(process, 0):6.2f}"
            f"  {_calls_text(figures):38} {text}".rstrip()
        )

    lines += ["", f"{'check':36} {'value':38} {'target':22} result"]
    in_rows = {target_name for *_, target_name in rows}
    for target in (t for name, t in targets.items() if name not in in_rows):
        lines.append(
            f"{target['name']:36} {target['value']!s:38} {target['goal']:22} {_verdict(target)}"
        )

    busy = sorted(p["machine_busy"] for p in phases.values())
    others = max(p["others_share"] for p in phases.values())
    aws = phases["get_function"]["cpu_ms_each"].get(AWS, 0)
    stand_in = phases["due_sync"]["cpu_ms_each"].get(CLIENTS, 0)
    lines += [
        "",
        "CPU ms: CPU time per request (per object for creates) of the hooks' workers, or of boto3",
        f"for its rows. The {os.cpu_count()} cores were {busy[0]:.0%} to {busy[-1]:.0%} busy, and"
        f" the embedded AWS, one process, took {aws:.1f} ms",
        f"per GetFunction: with {threads} requests in flight, latency is mostly queueing for it"
        " and for the cores, so",
        "CPU time the hooks spend shows in it. The Metacontroller stand-in took"
        f" {stand_in:.1f} ms per due sync; processes",
        f"outside the benchmark at most {others:.0%} of the machine.",
    ]
    if others > OTHERS_TOLERATED:
        lines.append(
            "WARNING: other work on this machine took a share of the CPUs big enough to skew"
            " these figures; run again when it is idle."
        )
    return "\n".join(lines)


def _verdict(target: dict[str, Any]) -> str:
    return "PASS" if target["passed"] else "FAIL"


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    versions = {p: metadata.version(p) for p in ("boto3", "moto", "gunicorn", "flask")}
    return {
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": versions,
    }


def chart(runs: list[dict[str, Any]], threads: int, path: Path) -> None:
    """p50 and p95 of the three steady-state paths against N."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    sizes = [r["n"] for r in runs]
    figure, axes = pyplot.subplots(figsize=(8, 5), dpi=120)
    series = [("sync, drift check due", "due_sync", "tab:red"),
              ("boto3 GetFunction", "get_function", "tab:blue"),
              ("sync, answered from status", "from_status_sync", "tab:green")]  # fmt: skip
    for label, key, colour in series:
        for quantile, style in (("p50", "o-"), ("p95", "s--")):
            values = [r["phases"][key][f"{quantile}_ms"] for r in runs]
            axes.plot(sizes, values, style, color=colour, label=f"{label}, {quantile}",
                      alpha=1.0 if quantile == "p50" else 0.55)  # fmt: skip
    if len(sizes) > 1:
        axes.set_xscale("log")
    axes.set_xticks(sizes, [str(s) for s in sizes])
    axes.minorticks_off()
    axes.set_ylim(bottom=0)
    axes.set_xlabel("LambdaFunctions (N)")
    axes.set_ylabel("latency (ms)")
    axes.set_title(f"Hook latency against N: {threads} threads, {WORKERS} gunicorn workers")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def _summary(runs: list[dict[str, Any]]) -> str:
    names = ("create: wall time, hooks/boto3", "due sync: p50, hooks/GetFunction",
             "from status: rate, sync/healthz")  # fmt: skip
    lines = [f"{'N':>6} {'create':>7} {'due p50':>8} {'from status':>12} {'max RSS MB':>11}"]
    for run in runs:
        values = {t["name"]: t for t in run["targets"]}
        ratios = [f"{values[n]['value']}{'' if values[n]['passed'] else '!'}" for n in names]
        rss = max(w["rss_mb"] for w in run["workers"].values())
        lines.append(f"{run['n']:>6} {ratios[0]:>7} {ratios[1]:>8} {ratios[2]:>12} {rss:>11}")
    return "\n".join(lines) + "\n(! marks a missed target)"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive integers, comma-separated")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=os.environ.get("BENCH_SIZES", "200"),
        help="numbers of LambdaFunctions to run with, comma-separated (default: $BENCH_SIZES"
        " or 200)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=8, help="concurrent requests (8)")
    parser.add_argument("--out", type=Path, default=Path(".bench"), help="results folder (.bench)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    aws = EmbeddedAWS().start()
    kube = KubernetesAPI().start()
    clients = Driver(aws.endpoint, args.threads)
    runs = []
    try:
        for n in args.sizes:
            # Each N starts from an empty AWS and freshly started workers.
            reset = urllib.request.Request(f"{aws.endpoint}/moto-api/reset", method="POST")
            urllib.request.urlopen(reset, timeout=30).close()
            aws.fidelity.reset()
            seed(aws.endpoint, [_provider(), _function("seed")])
            run = Run(aws, kube, clients, n, args.threads, args.out)
            try:
                result = run.measure()
            finally:
                run.stop()
            runs.append(result)
            print(render(result, args.threads), end="\n\n", flush=True)
    except BenchError as error:
        print(f"the benchmark broke: {error}", file=sys.stderr)
        return 2
    finally:
        clients.stop()
        kube.stop()
        aws.stop()

    settings = {
        "threads": args.threads, "workers": WORKERS, "drift_check_seconds": DRIFT_CHECK_SECONDS,
        "latency_samples": LATENCY_SAMPLES, "throughput_requests": THROUGHPUT_REQUESTS,
        "create_rounds": CREATE_ROUNDS, "round_size": ROUND_SIZE,
    }  # fmt: skip
    results = {"machine": machine(), "settings": settings, "runs": runs}
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(runs, args.threads, args.out / "latency.png")
    if len(runs) > 1:
        print(_summary(runs), end="\n\n")
    print(f"results: {args.out / 'results.json'}, chart: {args.out / 'latency.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
