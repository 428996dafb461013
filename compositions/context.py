"""What the hooks need from outside: AWS, the Kubernetes API, a clock, and their timing.

`hooks.app.create_app` makes one from the environment; tests and `make run` make their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from compositions.aws import Connector
from compositions.kube import KubernetesSecrets, SecretReader


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dependencies:
    aws: Connector = field(default_factory=Connector)
    secrets: SecretReader = field(default_factory=KubernetesSecrets)
    clock: Callable[[], datetime] = utcnow
    # How often a settled function is compared with AWS, and a provider's credentials checked.
    drift_check_seconds: float = 300.0
    provider_check_seconds: float = 600.0

    @classmethod
    def from_environment(cls, on_client: Callable[[Any], None] | None = None) -> Dependencies:
        """Settings from the environment; `on_client` sees every AWS client made."""
        return cls(
            aws=Connector(on_client=on_client),
            drift_check_seconds=float(os.environ.get("DRIFT_CHECK_SECONDS", "300")),
            provider_check_seconds=float(os.environ.get("PROVIDER_CHECK_SECONDS", "600")),
        )
