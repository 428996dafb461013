"""How `spec.code` becomes the bytes Lambda is given, and which code is refused.

Lambda shows only a hash of the code it runs, so the same spec must give the same bytes on
every sync and in every image, a zip given in base64 must reach Lambda untouched, and a
package Lambda would refuse (too big, unreadable, compiled code given as source) must be
refused here with a message that says why.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from compositions import package
from compositions.package import PackageError, S3Package, ZipPackage, build
from compositions.spec import Code, LambdaFunctionSpec, parse

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SOURCE = "def handler(event, context):\n    return {'statusCode': 200}\n"


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch):
    """Set one of Lambda's limits for the rest of the test. A worker keeps the packages it
    built, and in a worker the limits never change; here they do, so none is kept."""

    def set_limit(name: str, value: int) -> None:
        monkeypatch.setattr(package, name, value)
        package._zip_package.cache_clear()

    yield set_limit
    package._zip_package.cache_clear()


def code(**raw: Any) -> Code:
    return Code.model_validate(raw)


def inline(source: str, runtime: str = "python3.12", handler: str = "index.h") -> bytes:
    built = build(code(zipFile=source), runtime, handler)
    assert isinstance(built, ZipPackage)
    return built.data


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def lambda_sha256(data: bytes) -> str:
    """The hash as GetFunction reports it in CodeSha256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def quick_start_zip() -> str:
    path = EXAMPLES / "lambdafunction-e2e-hello-function.yaml"
    return yaml.safe_load(path.read_text())["spec"]["code"]["zipFile"]


def small_zip(payload: bytes = b"print('hello')\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", payload)
    return buffer.getvalue()


def with_declared_size(data: bytes, size: int) -> bytes:
    """`data`, a one-entry zip, with the entry's unzipped size forged in both headers."""
    forged = bytearray(data)
    local = forged.index(b"PK\x03\x04")
    forged[local + 22 : local + 26] = struct.pack("<I", size)
    central = forged.index(b"PK\x01\x02")
    forged[central + 24 : central + 28] = struct.pack("<I", size)
    return bytes(forged)


# Inline source


def test_the_same_source_gives_the_same_bytes_and_hash_every_time() -> None:
    first = build(code(zipFile=SOURCE), "python3.12", "index.handler")
    second = build(code(zipFile=SOURCE), "python3.12", "index.handler")

    assert isinstance(first, ZipPackage) and isinstance(second, ZipPackage)
    assert first.data == second.data
    assert first.sha256 == second.sha256


def test_different_source_gives_a_different_hash() -> None:
    first = build(code(zipFile=SOURCE), "python3.12", "index.handler")
    second = build(code(zipFile=SOURCE + "# changed\n"), "python3.12", "index.handler")

    assert isinstance(first, ZipPackage) and isinstance(second, ZipPackage)
    assert first.sha256 != second.sha256


def test_inline_source_is_zipped_alone_with_fixed_times_and_permissions() -> None:
    with zipfile.ZipFile(io.BytesIO(inline(SOURCE))) as archive:
        [entry] = archive.infolist()
        content = archive.read(entry)

    assert content == SOURCE.encode()
    assert entry.filename == "index.py"
    assert entry.date_time == (1980, 1, 1, 0, 0, 0)
    assert entry.external_attr >> 16 == 0o100644
    assert entry.compress_type == zipfile.ZIP_STORED


def test_the_hash_is_base64_of_the_sha256_of_the_package() -> None:
    built = build(code(zipFile=SOURCE), "python3.12", "index.handler")

    assert isinstance(built, ZipPackage)
    assert built.sha256 == lambda_sha256(built.data)


@pytest.mark.parametrize(
    ("runtime", "handler", "filename"),
    [
        ("python3.12", "index.handler", "index.py"),
        ("python3.9", "lambda_function.lambda_handler", "lambda_function.py"),
        ("python3.13", "pkg.mod.handler", "pkg/mod.py"),
        ("nodejs20.x", "api.handler", "api.js"),
        ("nodejs22.x", "src/app.handler", "src/app.js"),
        ("ruby3.3", "function.handler", "function.rb"),
    ],
)
def test_the_source_is_stored_where_the_runtime_looks_for_the_handler(
    runtime: str, handler: str, filename: str
) -> None:
    assert entries(inline(SOURCE, runtime, handler)) == {filename: SOURCE.encode()}


@pytest.mark.parametrize("runtime", ["java21", "go1.x", "provided.al2023", "dotnet8"])
def test_a_compiled_runtime_with_inline_source_is_refused(runtime: str) -> None:
    with pytest.raises(PackageError, match=runtime):
        build(code(zipFile=SOURCE), runtime, "index.handler")


@pytest.mark.parametrize("handler", ["handler", ".handler"])
def test_inline_source_needs_a_handler_naming_its_file(handler: str) -> None:
    with pytest.raises(PackageError, match=r"<file>\.<function>"):
        build(code(zipFile=SOURCE), "python3.12", handler)


def test_source_that_happens_to_be_valid_base64_is_zipped_as_source() -> None:
    # "pass" decodes as base64, but to bytes that are no zip.
    assert base64.b64decode("pass", validate=True)

    assert entries(inline("pass")) == {"index.py": b"pass"}


# Base64 zips


def test_a_base64_zip_is_deployed_byte_for_byte() -> None:
    given = quick_start_zip()

    built = build(code(zipFile=given), "python3.12", "index.handler")

    assert isinstance(built, ZipPackage)
    assert built.data == base64.b64decode(given)
    assert built.sha256 == lambda_sha256(base64.b64decode(given))


def test_a_base64_zip_split_over_lines_is_deployed_unchanged() -> None:
    given = quick_start_zip()
    folded = "\n".join(given[i : i + 60] for i in range(0, len(given), 60)) + "\n"

    assert inline(folded) == base64.b64decode(given)


def test_a_base64_zip_is_deployed_whatever_the_runtime() -> None:
    # A zip carries its own build output, so compiled runtimes take it too.
    given = quick_start_zip()

    assert inline(given, "java21", "example.Handler") == base64.b64decode(given)


def corrupted_payload() -> bytes:
    data = bytearray(small_zip(b"print('hello')\n" * 20))
    start = 30 + len("index.py")
    data[start + 4] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(small_zip()[:40], id="truncated"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 60, id="header-only"),
        pytest.param(corrupted_payload(), id="corrupt-payload"),
    ],
)
def test_a_base64_zip_that_cannot_be_read_is_refused(data: bytes) -> None:
    with pytest.raises(PackageError):
        build(code(zipFile=base64.b64encode(data).decode()), "python3.12", "index.handler")


def test_a_zip_declaring_more_than_250_mb_unzipped_is_refused_without_inflating_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = with_declared_size(small_zip(), package.MAX_UNZIPPED_BYTES + 1)

    def inflate(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the archive was opened for reading")

    monkeypatch.setattr(zipfile.ZipFile, "open", inflate)
    with pytest.raises(PackageError, match="250 MB"):
        build(code(zipFile=base64.b64encode(bomb).decode()), "python3.12", "index.handler")


def test_the_unzipped_limit_counts_every_entry_and_admits_a_zip_at_it(limit) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", b"a" * 600)
        archive.writestr("lib/util.py", b"b" * 400)
    given = code(zipFile=base64.b64encode(buffer.getvalue()).decode())

    limit("MAX_UNZIPPED_BYTES", 1000)
    assert isinstance(build(given, "python3.12", "index.handler"), ZipPackage)

    limit("MAX_UNZIPPED_BYTES", 999)
    with pytest.raises(PackageError, match="250 MB"):
        build(given, "python3.12", "index.handler")


def test_a_zip_understating_its_unzipped_size_is_refused_as_corrupt() -> None:
    # 8 MB of zeros declared as 100 bytes: reading stops at 100 and the checksum fails.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", bytes(8 * 1024 * 1024))
    understated = with_declared_size(buffer.getvalue(), 100)

    with pytest.raises(PackageError, match="corrupt"):
        build(code(zipFile=base64.b64encode(understated).decode()), "python3.12", "index.h")


def test_a_zip_over_the_direct_upload_limit_is_refused(limit) -> None:
    data = small_zip()
    given = code(zipFile=base64.b64encode(data).decode())

    limit("MAX_ZIPPED_BYTES", len(data))
    assert isinstance(build(given, "python3.12", "index.handler"), ZipPackage)

    limit("MAX_ZIPPED_BYTES", len(data) - 1)
    with pytest.raises(PackageError, match="50 MB"):
        build(given, "python3.12", "index.handler")


# Built once per worker


def test_a_zip_built_before_is_not_decoded_and_checked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = code(zipFile=base64.b64encode(small_zip(b"print('kept')\n")).decode())
    first = build(given, "python3.12", "index.handler")

    def read(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the archive was read again")

    monkeypatch.setattr(zipfile.ZipFile, "__init__", read)
    again = build(code(zipFile=given.zip_file), "python3.12", "index.handler")

    assert again == first


def test_the_same_source_under_another_handler_is_another_package() -> None:
    source = "def main(event, context):\n    return 1\n"
    index = build(code(zipFile=source), "python3.12", "index.main")
    app = build(code(zipFile=source), "python3.12", "app.main")

    assert isinstance(index, ZipPackage) and isinstance(app, ZipPackage)
    assert list(entries(index.data)) == ["index.py"]
    assert list(entries(app.data)) == ["app.py"]


def test_a_package_larger_than_what_a_worker_keeps_is_built_on_each_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("index.py", b"#" * package.KEPT_BYTES)
    given = code(zipFile=base64.b64encode(buffer.getvalue()).decode())
    build(given, "python3.12", "index.handler")
    opened = []
    real = zipfile.ZipFile.__init__

    def counted(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
        opened.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "__init__", counted)
    build(given, "python3.12", "index.handler")

    assert len(opened) == 1


# S3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"s3Bucket": "my-bucket", "s3Key": "builds/orders.zip"},
            S3Package("my-bucket", "builds/orders.zip", None),
        ),
        (
            {"s3Bucket": "my-bucket", "s3Key": "orders.zip", "s3ObjectVersion": "3HL4kqtJ"},
            S3Package("my-bucket", "orders.zip", "3HL4kqtJ"),
        ),
    ],
)
def test_s3_code_is_passed_on_as_its_location(raw: dict, expected: S3Package) -> None:
    assert build(code(**raw), "java21", "example.Handler") == expected


# Examples


def example_specs() -> list[Any]:
    found = []
    for path in sorted(EXAMPLES.glob("lambdafunction-*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "LambdaFunction":
                found.append(pytest.param(document["spec"], id=path.name))
    return found


@pytest.mark.parametrize("raw", example_specs())
def test_the_code_of_every_example_becomes_a_package(raw: dict[str, Any]) -> None:
    spec = parse(LambdaFunctionSpec, raw)
    assert isinstance(spec, LambdaFunctionSpec), spec

    built = build(spec.code, spec.runtime, spec.handler)

    if spec.code.zip_file is not None:
        assert isinstance(built, ZipPackage)
        assert entries(built.data)
    else:
        assert isinstance(built, S3Package)
