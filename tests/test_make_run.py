"""`make run` as a user runs it: the hooks under gunicorn, every example replayed once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_every_example_becomes_ready_and_a_repeat_sync_calls_no_aws_api():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run = subprocess.run(
        [sys.executable, "-m", "sandbox", "--once", "--port", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    examples = [
        doc
        for path in sorted((REPO / "examples").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] in ("AWSProvider", "LambdaFunction")
    ]
    summary = run.stdout.split("\nsummary")[1]
    for obj in examples:
        name = f"{obj['kind']}/default/{obj['metadata']['name']}"
        row = re.search(rf"^{re.escape(name)}\s+(\d+)\s+(\w+)\s+(.*) / (.*)$", summary, re.M)
        assert row, f"{name} is missing from the summary"
        _syncs, ready, _, repeat = row.groups()
        assert ready == "True", name
        assert repeat == "-", f"{name}: the repeat sync made {repeat}"
        assert f"--- {name}\nstatus:" in run.stdout
