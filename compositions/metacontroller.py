"""Metacontroller's webhook payloads, for hook versions v1 and v2.

The request is checked for shape only: a parent that is not a Kubernetes object is the
caller's mistake (HTTP 400), while a bad `spec` is the user's, reported in the status. The
related objects are looked up by their own metadata, never by the map's keys, which are
`name` in v1 and `namespace/name` in v2. A reply holds only the fields the contract allows,
since a v2 hook in strict mode refuses any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

API_GROUP = "aws-infra-operator.runner.codes"
API_VERSION = f"{API_GROUP}/v1alpha1"


class _Envelope(BaseModel):
    # Metacontroller and Kubernetes add fields over time; only the ones read are checked.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class ObjectMeta(_Envelope):
    name: StrictStr = Field(min_length=1, max_length=253)
    namespace: StrictStr = Field(min_length=1, max_length=63)
    uid: StrictStr = ""
    generation: StrictInt = 0
    resource_version: StrictStr = Field(default="", alias="resourceVersion")
    annotations: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    deletion_timestamp: StrictStr | None = Field(default=None, alias="deletionTimestamp")


class KubeObject(_Envelope):
    api_version: StrictStr = Field(alias="apiVersion")
    kind: StrictStr
    metadata: ObjectMeta
    # Checked by the kind's own spec model, so that its faults reach the status.
    spec: Any = None
    status: dict[StrictStr, Any] | None = None
    # Secrets hold their values here, base64-encoded.
    data: dict[StrictStr, StrictStr] | None = None

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace}/{self.metadata.name}"


class CustomizeRequest(_Envelope):
    parent: KubeObject


class SyncRequest(_Envelope):
    # `controller` (the whole controller object) and `children` (there are none) are not
    # read, so they are not parsed into Python either.
    parent: KubeObject
    related: dict[StrictStr, dict[StrictStr, KubeObject]] = Field(default_factory=dict)
    finalizing: StrictBool = False

    def related_objects(self, api_version: str, kind: str) -> Iterator[KubeObject]:
        for group in self.related.values():
            yield from (
                o for o in group.values() if o.kind == kind and o.api_version == api_version
            )

    def find_related(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> KubeObject | None:
        for candidate in self.related_objects(api_version, kind):
            if candidate.metadata.namespace == namespace and candidate.metadata.name == name:
                return candidate
        return None


@dataclass(frozen=True)
class SyncReply:
    status: dict[str, Any]
    resync_after_seconds: float = 0.0
    finalized: bool | None = None
    # What the sync amounted to, for metrics; not part of the reply.
    result: Literal["unchanged", "changed", "waiting", "failed", "finalized"] = "unchanged"
    # False when the reply repeats the last status without looking at AWS.
    observed: bool = True

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "children": []}
        if self.resync_after_seconds > 0:
            body["resyncAfterSeconds"] = self.resync_after_seconds
        if self.finalized is not None:
            body["finalized"] = self.finalized
        return body


def related_resource(
    api_version: str, resource: str, namespace: str, names: list[str]
) -> dict[str, Any]:
    """One entry of a customize reply: objects of one resource, named, in one namespace."""
    return {
        "apiVersion": api_version,
        "resource": resource,
        "namespace": namespace,
        "names": sorted(set(names)),
    }
