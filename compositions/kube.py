"""The one module that talks to the Kubernetes API: it reads the Secrets that hold keys.

Metacontroller hands the hooks the objects they watch, so the Kubernetes API is needed only
for a Secret the call did not bring. The client is configured from the pod's service
account when there is one, else from KUBECONFIG, and lazily, so a process that never needs
a Secret never needs a cluster. Secret values are decoded here and go nowhere but into the
AWS credentials.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from compositions.errors import Permanent, Retryable

log = logging.getLogger(__name__)

# Seconds to connect and to read: a hung API server must not hang the hook.
TIMEOUTS = (3.0, 5.0)


@dataclass(frozen=True)
class Secret:
    values: dict[str, str] = field(repr=False)
    # The Secret's UID and resourceVersion: it changes whenever the values may have.
    version: str


class SecretReader(Protocol):
    def read(self, namespace: str, name: str) -> Secret:
        """The Secret, decoded; raises Permanent or Retryable."""
        ...


def decode(
    data: Mapping[str, str] | None,
    namespace: str,
    name: str,
    uid: str,
    resource_version: str,
) -> Secret:
    """A Secret from its base64 `data` and metadata."""
    try:
        values = {k: base64.b64decode(v, validate=True).decode() for k, v in (data or {}).items()}
    except ValueError as error:  # bad base64, text that is not ASCII, bytes that are not UTF-8
        raise Permanent(
            "SecretUnreadable", f"Secret {namespace}/{name} holds a value that is not text"
        ) from error
    return Secret(values, f"{uid}/{resource_version}")


class KubernetesSecrets:
    """Reads Secrets with the official client, configured on first use."""

    def __init__(self) -> None:
        self._api = None
        self._lock = threading.Lock()

    def read(self, namespace: str, name: str) -> Secret:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        api = self._core_api()
        try:
            secret = api.read_namespaced_secret(name, namespace, _request_timeout=TIMEOUTS)
        except ApiException as error:
            if error.status == 404:
                raise Permanent(
                    "SecretNotFound", f"Secret {namespace}/{name} does not exist"
                ) from None
            if error.status in (401, 403):
                raise Permanent(
                    "SecretForbidden",
                    f"the hooks' service account may not read Secret {namespace}/{name}",
                ) from None
            raise Retryable(
                "KubernetesUnavailable",
                f"reading Secret {namespace}/{name} failed with HTTP {error.status}",
            ) from None
        except HTTPError as error:
            raise Retryable(
                "KubernetesUnavailable",
                f"the Kubernetes API did not answer: {type(error).__name__}",
            ) from None
        meta = secret.metadata
        return decode(secret.data, namespace, name, meta.uid or "", meta.resource_version or "")

    def _core_api(self):
        with self._lock:
            if self._api is None:
                self._api = _connect()
            return self._api


def _connect():
    from kubernetes import client, config

    try:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        log.info("reading Secrets with the pod's service account")
        return client.CoreV1Api(client.ApiClient(configuration))
    except config.ConfigException:
        pass
    try:
        api_client = config.new_client_from_config(persist_config=False)
    except (config.ConfigException, OSError) as error:
        raise Retryable(
            "KubernetesUnavailable",
            "no Kubernetes access: neither in a pod nor given a KUBECONFIG",
        ) from error
    log.info("reading Secrets with the current KUBECONFIG context")
    return client.CoreV1Api(api_client)
