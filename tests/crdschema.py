"""Check objects against our CRD schemas without an API server.

The tests have no cluster, yet they must know whether the API server would take an object:
the examples of the docs, and values at the edge of the documented limits. The
`openAPIV3Schema` of a CRD is close to JSON Schema draft 4, so this module converts it and
lets the `jsonschema` library do the checking. The conversion follows how the API server
reads a structural schema:

- an object with `properties` refuses any other field, as kubectl's default strict field
  validation does (the server would otherwise prune it silently);
- `nullable: true` also admits null;
- `x-kubernetes-int-or-string: true` admits an integer or a string;
- `x-kubernetes-preserve-unknown-fields: true` keeps unknown fields;
- the other `x-kubernetes-*` keys steer the server (list types, CEL rules) and are left out.

CEL rules (`x-kubernetes-validations`) are not evaluated here: the jsonschema library has no
CEL. What passes here can still be refused by one of those rules.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.protocols import Validator

REPO = Path(__file__).resolve().parents[1]
CRD_DIRECTORY = REPO / "metacontroller" / "base"
VERSION = "v1alpha1"

Schema = dict[str, Any]

# OpenAPI keys that JSON Schema draft 4 does not know and that carry no check.
_DROPPED_KEYS = frozenset({"nullable", "example", "externalDocs", "deprecated"})


@functools.cache
def crds() -> dict[str, dict[str, Any]]:
    """Our CustomResourceDefinitions, by the kind they define."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(CRD_DIRECTORY.glob("crd-*.yaml")):
        with path.open(encoding="utf-8") as stream:
            for doc in yaml.safe_load_all(stream):
                if doc and doc.get("kind") == "CustomResourceDefinition":
                    found[doc["spec"]["names"]["kind"]] = doc
    return found


def openapi_schema(kind: str, version: str = VERSION) -> Schema:
    """The `openAPIV3Schema` that the CRD of `kind` declares for `version`."""
    for served in crds()[kind]["spec"]["versions"]:
        if served["name"] == version:
            return served["schema"]["openAPIV3Schema"]
    raise KeyError(f"the CRD of {kind} has no version {version}")


def to_json_schema(schema: Schema) -> Schema:
    """Convert one node of a structural OpenAPI v3 schema, and all below it."""
    converted: Schema = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key in _DROPPED_KEYS:
            continue
        if key in ("properties", "patternProperties"):
            converted[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            converted[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            converted[key] = [to_json_schema(sub) for sub in value]
        else:
            converted[key] = value

    if schema.get("x-kubernetes-int-or-string"):
        converted["type"] = ["integer", "string"]
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in schema and "additionalProperties" not in schema and not keeps_unknown:
        converted["additionalProperties"] = False
    if schema.get("nullable"):
        _admit_null(converted)
    return converted


def _admit_null(converted: Schema) -> None:
    if "type" in converted:
        types = converted["type"]
        converted["type"] = [*types, "null"] if isinstance(types, list) else [types, "null"]
    if "enum" in converted:
        converted["enum"] = [*converted["enum"], None]


@functools.cache
def validator(kind: str, version: str = VERSION) -> Validator:
    schema = to_json_schema(openapi_schema(kind, version))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def errors(obj: dict[str, Any]) -> list[str]:
    """What the CRD schema refuses in `obj`, one line per problem; empty when accepted."""
    version = obj["apiVersion"].rpartition("/")[2]
    found = validator(obj["kind"], version).iter_errors(obj)
    return sorted(f"{error.json_path}: {error.message}" for error in found)


def structural_problems(schema: Schema, path: str = "") -> list[str]:
    """Where a schema breaks the rules the API server sets for structural schemas.

    Covers the rules that a hand-written schema breaks most easily: every node names its
    type, and a node declares `properties` or `additionalProperties`, never both.
    """
    problems: list[str] = []
    exempt = schema.get("x-kubernetes-int-or-string") or schema.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if "type" not in schema and not exempt:
        problems.append(f"{path or '.'}: no type")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path or '.'}: both properties and additionalProperties")

    for name, sub in schema.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            problems += structural_problems(schema[key], f"{path}.{key}")
    return problems
