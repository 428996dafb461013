"""The objects of the user docs, kept in examples/ and held to the docs and to the CRDs.

Users copy their first LambdaFunction from the docs, and examples/ holds the same objects as
files that `kubectl apply -f` takes as they are. Two things can go wrong with that, and this
module checks both: a file can drift away from the page it was taken from, and the page can
show a field or a value that the CRD refuses.

The docs reached us with part of their YAML indentation lost: a line that should sit under
the key before it starts at column 0 instead, for example

    code:
    zipFile: |
          import json

where `zipFile` belongs under `code`. `restore_indentation` puts such lines back where YAML
needs them, so that each example of the docs can be compared with its file by value.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crdschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

# The docs live in the shared folder that sits beside the repository (on a developer's
# machine and in CI alike); LAMBDA_DOCS points elsewhere when needed.
DOCS_CANDIDATES = (
    Path(os.environ["LAMBDA_DOCS"]) if "LAMBDA_DOCS" in os.environ else None,
    REPO.parent / "shared" / "reference" / "lambda-function-docs.md",
)

# The one example file that the docs do not show: the provider that objects without a
# providerRef (and without a namespace) rely on.
UNDOCUMENTED_EXAMPLES = frozenset({"awsprovider-default.yaml"})

# Fields that a Kubernetes object may have at its top level: the only lines of an example
# that belong at column 0, besides comments and document separators.
TOP_LEVEL_FIELDS = frozenset(
    {"apiVersion", "kind", "metadata", "spec", "status", "type", "data", "stringData"}
)

INDENT_STEP = 2
KEY_LINE = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*:(\s|$)")
# A key with nothing after it but, at most, a block scalar indicator (`|`, `>-`, ...).
BLOCK_OPENER = re.compile(r":\s*([|>][-+]?)?\s*(#.*)?$")
YAML_FENCE = re.compile(r"^```yaml\n(.*?)^```", re.DOTALL | re.MULTILINE)
DOCUMENTED_KINDS = ("kind: LambdaFunction", "kind: AWSProvider")


# --- Restoring the indentation --------------------------------------------------------


def restore_indentation(block: str) -> str:
    """Indent again each line of an example that lost its indentation.

    A line lost its indentation when it starts at column 0 but is neither a comment, nor a
    `---`, nor a top-level field of a Kubernetes object. It goes back to:

    - two columns left of the lines nested under it, when it opens a block whose own lines
      kept their indentation (`variables:`, `zipFile: |`, `subnetIds:`);
    - otherwise two columns right of the key before it when that key opens a block
      (`code:` then `zipFile: ...`, `layers:` then `- arn:...`);
    - otherwise the column of the line before it, as its sibling (`s3Key:` after
      `s3Bucket:`, a second list item after the first).
    """
    lines = block.splitlines()
    restored: list[str] = []
    for position, line in enumerate(lines):
        if _lost_indentation(line):
            line = " " * _indentation_for(line, restored, lines[position + 1 :]) + line
        restored.append(line)
    return "\n".join(restored) + "\n"


def _lost_indentation(line: str) -> bool:
    if not line.strip() or line[0].isspace():
        return False
    if line.startswith(("#", "---")):
        return False
    key = KEY_LINE.match(line)
    return not (key and key.group(1) in TOP_LEVEL_FIELDS)


def _indentation_for(line: str, before: list[str], after: list[str]) -> int:
    children = _first_content_line(after)
    if BLOCK_OPENER.search(line) and children is not None and _indent(children) > 0:
        return _indent(children) - INDENT_STEP

    previous = _first_content_line(reversed(before))
    if previous is None:
        return 0
    if KEY_LINE.match(previous) and BLOCK_OPENER.search(previous):
        return _indent(previous) + INDENT_STEP
    return _indent(previous)


def _first_content_line(lines: Any) -> str | None:
    # Comment lines say nothing about nesting: look past them.
    return next(
        (line for line in lines if line.strip() and not line.lstrip().startswith("#")), None
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@pytest.mark.parametrize(
    ("broken", "restored"),
    [
        pytest.param(
            "spec:\n  code:\nzipFile: UEsDBBQ=\n  role: r\n",
            "spec:\n  code:\n    zipFile: UEsDBBQ=\n  role: r\n",
            id="a scalar goes under the key that opens its block",
        ),
        pytest.param(
            "spec:\n  code:\nzipFile: |\n      import json\n  role: r\n",
            "spec:\n  code:\n    zipFile: |\n      import json\n  role: r\n",
            id="a block scalar goes two columns left of its content",
        ),
        pytest.param(
            "spec:\n  code:\ns3Bucket: b\ns3Key: k\n\n  role: r\n",
            "spec:\n  code:\n    s3Bucket: b\n    s3Key: k\n\n  role: r\n",
            id="a second lost line becomes the sibling of the first",
        ),
        pytest.param(
            "spec:\n  vpcConfig:\n    securityGroupIds:\n      - sg-1\nsubnetIds:\n"
            "      - subnet-1\n",
            "spec:\n  vpcConfig:\n    securityGroupIds:\n      - sg-1\n    subnetIds:\n"
            "      - subnet-1\n",
            id="a key goes back beside the key whose list precedes it",
        ),
        pytest.param(
            "spec:\n  layers:\n- arn:1\n- arn:2\n",
            "spec:\n  layers:\n    - arn:1\n    - arn:2\n",
            id="list items go under the key of their list",
        ),
        pytest.param(
            "# a comment\nkind: A\nmetadata:\n  name: n\nspec:\n  a: 1\n---\nkind: B\n",
            "# a comment\nkind: A\nmetadata:\n  name: n\nspec:\n  a: 1\n---\nkind: B\n",
            id="top-level fields, comments and separators stay at column 0",
        ),
    ],
)
def test_restoring_indentation_puts_each_lost_line_where_yaml_needs_it(
    broken: str, restored: str
) -> None:
    assert restore_indentation(broken) == restored


# --- The examples of the docs ---------------------------------------------------------


@dataclass(frozen=True)
class DocExample:
    """One YAML block of the docs, as the docs show it."""

    source: str

    @functools.cached_property
    def text(self) -> str:
        return restore_indentation(self.source)

    @functools.cached_property
    def documents(self) -> list[dict[str, Any]]:
        return [doc for doc in yaml.safe_load_all(self.text) if doc is not None]

    @property
    def file_name(self) -> str:
        # A block with a Secret and a provider is named after the provider, its last object.
        main = self.documents[-1]
        return f"{main['kind'].lower()}-{main['metadata']['name']}.yaml"


def find_docs() -> Path:
    for candidate in DOCS_CANDIDATES:
        if candidate is not None and candidate.is_file():
            return candidate
    searched = ", ".join(str(path) for path in DOCS_CANDIDATES if path is not None)
    raise FileNotFoundError(
        f"the Lambda user docs were not found (looked at {searched}); "
        "set LAMBDA_DOCS to the path of lambda-function-docs.md"
    )


@functools.cache
def doc_examples() -> tuple[DocExample, ...]:
    """Every YAML block of the docs that declares a LambdaFunction or an AWSProvider."""
    text = find_docs().read_text(encoding="utf-8")
    blocks = [match.group(1) for match in YAML_FENCE.finditer(text)]
    return tuple(
        DocExample(block) for block in blocks if any(kind in block for kind in DOCUMENTED_KINDS)
    )


def load_example(name: str) -> list[dict[str, Any]]:
    with (EXAMPLES / name).open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def example_files() -> list[str]:
    return sorted(path.name for path in EXAMPLES.glob("*.yaml"))


def lines_without_indentation(text: str) -> list[str]:
    return [line.lstrip(" ") for line in text.rstrip("\n").splitlines()]


def test_the_docs_show_two_providers_and_thirteen_lambda_functions() -> None:
    kinds = [example.documents[-1]["kind"] for example in doc_examples()]

    assert kinds.count("AWSProvider") == 2
    assert kinds.count("LambdaFunction") == 13
    assert len({example.file_name for example in doc_examples()}) == len(kinds)


@pytest.mark.parametrize("example", doc_examples(), ids=lambda example: example.file_name)
def test_every_doc_example_has_a_file_with_the_same_objects(example: DocExample) -> None:
    assert (EXAMPLES / example.file_name).is_file(), f"examples/{example.file_name} is missing"

    assert load_example(example.file_name) == example.documents


@pytest.mark.parametrize("example", doc_examples(), ids=lambda example: example.file_name)
def test_example_files_differ_from_the_docs_only_in_indentation(
    example: DocExample,
) -> None:
    # Parsed equality leaves comments and blank lines out; the users see them too.
    text = (EXAMPLES / example.file_name).read_text(encoding="utf-8")

    assert lines_without_indentation(text) == lines_without_indentation(example.source)


def test_every_example_file_comes_from_the_docs_or_is_the_default_provider() -> None:
    documented = {example.file_name for example in doc_examples()}

    assert set(example_files()) - documented == UNDOCUMENTED_EXAMPLES


def test_the_default_provider_says_it_is_not_from_the_docs() -> None:
    first_line = (EXAMPLES / "awsprovider-default.yaml").read_text().splitlines()[0]

    assert first_line.startswith("#")
    assert "not from the docs" in first_line.lower()


# --- The examples against the CRDs ----------------------------------------------------


@pytest.mark.parametrize("name", example_files())
def test_every_example_object_is_accepted_by_its_crd_schema(name: str) -> None:
    objects = load_example(name)

    assert objects, f"examples/{name} declares nothing"
    for obj in objects:
        if obj["kind"] == "Secret":
            assert obj["apiVersion"] == "v1"
            continue
        assert crdschema.errors(obj) == [], obj["metadata"]["name"]


def test_every_provider_reference_names_an_example_provider_in_the_same_namespace() -> None:
    objects = [obj for name in example_files() for obj in load_example(name)]

    def names_of(kind: str) -> set[tuple[str, str]]:
        return {
            (obj["metadata"].get("namespace", "default"), obj["metadata"]["name"])
            for obj in objects
            if obj["kind"] == kind
        }

    providers, secrets = names_of("AWSProvider"), names_of("Secret")
    for obj in objects:
        name, spec = obj["metadata"]["name"], obj.get("spec", {})
        namespace = obj["metadata"].get("namespace", "default")
        if obj["kind"] == "LambdaFunction":
            # No providerRef means the provider named `default` of the object's namespace.
            provider = spec.get("providerRef", {}).get("name", "default")
            assert (namespace, provider) in providers, name
        if obj["kind"] == "AWSProvider":
            for ref in ("accessKeyIDRef", "secretAccessKeyRef"):
                if ref in spec:
                    assert (namespace, spec[ref]["name"]) in secrets, name
