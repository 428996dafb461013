"""Check a CompositeController against the fields of Metacontroller's webhook contract.

The Kubernetes schemas that kubernetes-validate ships stop at the core API: Metacontroller's
CompositeController is a custom resource whose CRD is installed with Metacontroller, not
with this project. What our manifests rely on is written down in
shared/reference/metacontroller-contract.md, and this module turns that page into a JSON
Schema, strict like the API server's field validation: a misspelt field (`timeOut`,
`secretref`) is refused here instead of being dropped silently in the cluster.

Only the fields the contract lists are known. Metacontroller accepts a few more
(`preUpdateChild`, child update strategies); none of ours uses them, and a schema that
refuses them makes adding one a deliberate change.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

API_VERSION = "metacontroller.k8s.io/v1alpha1"

# A Go duration as Metacontroller parses `timeout`: one or more number-unit pairs.
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
DURATION_PATTERN = rf"^(?:{_DURATION_PART.pattern})+$"

Schema = dict[str, Any]


def _closed(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these fields allowed."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_NAME = {"type": "string", "minLength": 1}
_SECRET_REF = _closed({"name": _NAME, "namespace": _NAME, "key": _NAME}, ("name", "key"))

_WEBHOOK: Schema = {
    **_closed(
        {
            "url": {"type": "string", "pattern": "^https?://"},
            "service": _closed(
                {
                    "name": _NAME,
                    "namespace": _NAME,
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "protocol": {"enum": ["http", "https"]},
                },
                ("name", "namespace"),
            ),
            "path": {"type": "string", "pattern": "^/"},
            "timeout": {"type": "string", "pattern": DURATION_PATTERN},
            "etag": {
                **_closed(
                    {
                        "enabled": {"type": "boolean"},
                        "cacheTimeoutSeconds": {"type": "integer", "minimum": 1},
                        "cacheCleanupSeconds": {"type": "integer", "minimum": 1},
                    }
                ),
                # The contract: set both cache fields or neither.
                "dependentRequired": {
                    "cacheTimeoutSeconds": ["cacheCleanupSeconds"],
                    "cacheCleanupSeconds": ["cacheTimeoutSeconds"],
                },
            },
            "responseUnMarshallMode": {"enum": ["loose", "strict"]},
            "authorization": _closed(
                {"type": {"type": "string", "minLength": 1}, "secretRef": _SECRET_REF},
                ("type", "secretRef"),
            ),
            # Known to the contract, unused by us: their inner fields are not checked.
            "basicAuth": {"type": "object"},
            "clientTLS": {"type": "object"},
            "caBundle": {"type": "string"},
        }
    ),
    # Either a URL, or a Service with the path on it.
    "oneOf": [
        {"required": ["url"], "not": {"required": ["service"]}},
        {"required": ["service"], "not": {"required": ["url"]}},
    ],
}

_HOOK = _closed({"version": {"enum": ["v1", "v2"]}, "webhook": _WEBHOOK}, ("webhook",))

SCHEMA: Schema = _closed(
    {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "CompositeController"},
        # Cluster-scoped: a namespace would be refused by the API server.
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": _NAME},
            "not": {"required": ["namespace"]},
        },
        "spec": _closed(
            {
                "parentResource": _closed(
                    {
                        "apiVersion": _NAME,
                        "resource": _NAME,
                        "labelSelector": {"type": "object"},
                        "revisionHistory": _closed(
                            {"fieldPaths": {"type": "array", "items": {"type": "string"}}}
                        ),
                        "ignoreStatusChanges": {"type": "boolean"},
                    },
                    ("apiVersion", "resource"),
                ),
                "childResources": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["apiVersion", "resource"],
                    },
                },
                "generateSelector": {"type": "boolean"},
                "resyncPeriodSeconds": {"type": "integer", "minimum": 1},
                "hooks": _closed({"sync": _HOOK, "finalize": _HOOK, "customize": _HOOK}),
            },
            ("parentResource",),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)


@functools.cache
def validator() -> Validator:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA)


def errors(controller: dict[str, Any]) -> list[str]:
    """What the contract refuses in `controller`, one line per problem; empty if none."""
    found = validator().iter_errors(controller)
    return sorted(f"{error.json_path}: {error.message}" for error in found)


def duration_seconds(duration: str) -> float:
    """A Go duration such as `45s` or `1m30s`, in seconds."""
    if not re.fullmatch(DURATION_PATTERN, duration):
        raise ValueError(f"not a Go duration: {duration!r}")
    return sum(
        float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(duration)
    )
