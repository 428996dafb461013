"""Render a kustomization the way `kubectl apply -k` does, for tests without a cluster.

kubectl renders with the kustomize built into it, so the tests use kubectl itself rather
than a Python reimplementation: what they check is what a cluster would receive.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "metacontroller"
LOCALSTACK = BASE / "overlays" / "localstack"


@functools.cache
def render(root: Path) -> tuple[dict[str, Any], ...]:
    """The objects `kubectl kustomize root` prints, in its order."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        # Every machine of ours has kubectl: its absence is a broken setup, not a reason
        # to skip what the manifest tests check.
        pytest.fail(f"kubectl is not on PATH; install it to render {root}", pytrace=False)
    result = subprocess.run(
        [kubectl, "kustomize", str(root)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {root} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects_of(root: Path, kind: str) -> list[dict[str, Any]]:
    return [obj for obj in render(root) if obj["kind"] == kind]


def the(root: Path, kind: str) -> dict[str, Any]:
    """The one object of `kind`; fails when there is none or more than one."""
    found = objects_of(root, kind)
    assert len(found) == 1, f"{root} renders {len(found)} objects of kind {kind}"
    return found[0]
