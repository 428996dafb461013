"""Metacontroller's side of the conversation, for objects read from YAML files.

For each parent: customize, then sync with the related objects the customize reply named,
keyed as the chosen hook version keys them; the reply's status becomes the object's status
and `resyncAfterSeconds` asks for the next sync, as Metacontroller does. No watching: the
replay stops once every object is settled or a bound is reached.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

from sandbox.aws import DEFAULT_ACCOUNT

# A reply that asks for no call sooner than this means the object has settled.
SETTLED_AFTER_SECONDS = 60.0

HOOK_PATHS = {"LambdaFunction": "lambdafunction", "AWSProvider": "awsprovider"}


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The objects in YAML files, with the namespace kubectl would give them."""
    objects = []
    for path in sorted(paths):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                document["metadata"].setdefault("namespace", "default")
                objects.append(document)
    return objects


@dataclass
class Outcome:
    """What the replay saw of one parent."""

    parent: dict[str, Any]
    syncs: int = 0
    replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> dict[str, Any]:
        return self.parent.get("status") or {}


class Metacontroller:
    """Calls the hooks at `base_url` over HTTP as Metacontroller would."""

    def __init__(self, base_url: str, objects: list[dict[str, Any]], hook_version: str = "v2"):
        self.base_url = base_url.rstrip("/")
        self.objects = objects
        self.hook_version = hook_version
        self._objects_seen = 0
        self._specs: dict[str, str] = {}

    def parents(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]

    def call(self, parent: dict[str, Any], hook: str, **extra: Any) -> dict[str, Any]:
        self._ensure_metadata(parent)
        body: dict[str, Any] = {"controller": {}, "parent": parent, **extra}
        url = f"{self.base_url}/hooks/{HOOK_PATHS[parent['kind']]}/{hook}"
        return post(url, body)

    def sync(self, parent: dict[str, Any], finalizing: bool = False) -> dict[str, Any]:
        related = self.related(parent)
        hook = "finalize" if finalizing else "sync"
        reply = self.call(parent, hook, children={}, related=related, finalizing=finalizing)
        status = dict(reply.get("status") or {})
        status["observedGeneration"] = parent["metadata"]["generation"]
        parent["status"] = status
        return reply

    def related(self, parent: dict[str, Any]) -> dict[str, dict[str, Any]]:
        wanted = self.call(parent, "customize").get("relatedResources", [])
        related: dict[str, dict[str, Any]] = {}
        for rule in wanted:
            for obj in self.objects:
                meta = obj["metadata"]
                if (
                    obj["apiVersion"] == rule["apiVersion"]
                    and obj["kind"].lower() + "s" == rule["resource"]
                    and meta["namespace"] == rule["namespace"]
                    # No names means every object of the namespace.
                    and (not rule.get("names") or meta["name"] in rule["names"])
                ):
                    # "Secret.v1" for core objects, "AWSProvider.<group>/<version>" otherwise.
                    group = f"{obj['kind']}.{obj['apiVersion']}"
                    key = (
                        meta["name"]
                        if self.hook_version == "v1"
                        else f"{meta['namespace']}/{meta['name']}"
                    )
                    related.setdefault(group, {})[key] = _as_served(obj)
        return related

    def converge(self, parent: dict[str, Any], max_syncs: int = 10) -> Outcome:
        """Sync until the object settles, at most `max_syncs` times.

        The hooks ask to be called back within seconds while something is in flight, and
        only minutes later once it has settled; the replay calls back at once instead of
        waiting, since the embedded AWS settles by the next read.
        """
        outcome = Outcome(parent)
        for _ in range(max_syncs):
            reply = self.sync(parent)
            outcome.syncs += 1
            outcome.replies.append(reply)
            if reply.get("resyncAfterSeconds", SETTLED_AFTER_SECONDS) >= SETTLED_AFTER_SECONDS:
                break
        return outcome

    def _ensure_metadata(self, obj: dict[str, Any]) -> None:
        """Give the object what the API server would: a UID, and a generation that goes up
        whenever its spec changes."""
        meta = obj["metadata"]
        if "uid" not in meta:
            self._objects_seen += 1
            meta["uid"] = f"00000000-0000-4000-8000-{self._objects_seen:012d}"
            meta["generation"] = 1
        spec = json.dumps(obj.get("spec"), sort_keys=True)
        if self._specs.setdefault(meta["uid"], spec) != spec:
            self._specs[meta["uid"]] = spec
            meta["generation"] += 1


def _as_served(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as the API server returns it: a Secret's stringData folded into data."""
    if obj["kind"] != "Secret" or "stringData" not in obj:
        return obj
    served = {k: v for k, v in obj.items() if k != "stringData"}
    data = dict(obj.get("data") or {})
    data.update({k: base64.b64encode(v.encode()).decode() for k, v in obj["stringData"].items()})
    served["data"] = data
    return served


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def seed(endpoint: str, objects: list[dict[str, Any]]) -> None:
    """Create in the embedded AWS what the objects take as given: roles, layers, S3 code."""
    for obj in objects:
        if obj.get("kind") == "AWSProvider" and obj["spec"].get("roleARN"):
            _role(endpoint, obj["spec"]["roleARN"], "sts.amazonaws.com")
        if obj.get("kind") != "LambdaFunction":
            continue
        spec = obj["spec"]
        _role(endpoint, spec["role"], "lambda.amazonaws.com")
        for layer in spec.get("layers") or []:
            _layer(endpoint, layer)
        code = spec.get("code") or {}
        if code.get("s3Bucket"):
            _s3_object(endpoint, code["s3Bucket"], code["s3Key"], spec["handler"])


def _client(endpoint: str, service: str, account: str, region: str = "us-east-1") -> Any:
    client = boto3.client(
        service, endpoint_url=endpoint, region_name=region,
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip

    def in_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("request-created", in_account)
    return client


def _role(endpoint: str, arn: str, service: str) -> None:
    account, name = arn.split(":")[4], arn.split("/")[-1]
    iam = _client(endpoint, "iam", account)
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))


def _layer(endpoint: str, arn: str) -> None:
    parts = arn.split(":")
    region, account, name, version = parts[3], parts[4], parts[6], int(parts[7])
    lam = _client(endpoint, "lambda", account, region)
    existing = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    for _ in range(version - len(existing)):
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": _zip("python/lib.py", "")})


def _s3_object(endpoint: str, bucket: str, key: str, handler: str) -> None:
    s3 = _client(endpoint, "s3", DEFAULT_ACCOUNT)
    s3.create_bucket(Bucket=bucket)
    module, _, function = handler.rpartition(".")
    source = f"def {function}(event, context):\n    return event\n"
    s3.put_object(Bucket=bucket, Key=key, Body=_zip(f"{module}.py", source))


def _zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()
