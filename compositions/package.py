"""Deployment packages: turning `spec.code` into exactly what Lambda is given.

Lambda never shows the package it runs, only its `CodeSha256`, so code drift is visible
only as a hash. The same spec must therefore always give the same bytes: inline source is
zipped with fixed names, times and permissions, and stored rather than deflated, because
deflate output may differ between zlib builds and a new image would then redeploy every
function. A base64 zip is deployed byte for byte.

Every sync compares the package's hash with the function's, and decoding a large zip and
checking each of its entries would be the costliest step of a sync that changes nothing:
so each worker keeps the packages it has built, by a digest of what they were built from,
up to a bound on their bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import threading
import zipfile
import zlib
from dataclasses import dataclass, field

import cachetools

from compositions.spec import Code

# Lambda's limits on a package uploaded directly, zipped and unzipped.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024

# Bytes of built packages a worker keeps; a package larger than this is built on each sync.
KEPT_BYTES = 16 * 1024 * 1024

# Inline source needs an interpreter: compiled runtimes cannot take it.
SOURCE_EXTENSIONS = {"python": ".py", "nodejs": ".js", "ruby": ".rb"}

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_REGULAR_FILE_RW_R_R = 0o100644 << 16


class PackageError(Exception):
    """The code in the spec cannot become a deployment package."""


@dataclass(frozen=True)
class ZipPackage:
    data: bytes = b""
    # The hash as Lambda reports it: base64 of the SHA-256 digest.
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        digest = base64.b64encode(hashlib.sha256(self.data).digest()).decode()
        object.__setattr__(self, "sha256", digest)


@dataclass(frozen=True)
class S3Package:
    bucket: str
    key: str
    version: str | None = None


def build(code: Code, runtime: str, handler: str) -> ZipPackage | S3Package:
    if code.zip_file is None:
        assert code.s3_bucket and code.s3_key, "the spec guarantees one source"
        return S3Package(code.s3_bucket, code.s3_key, code.s3_object_version)
    return _zip_package(code.zip_file, runtime, handler)


def _built_from(text: str, runtime: str, handler: str) -> tuple[bytes, str, str]:
    # A digest rather than the text: a key is kept as long as its package.
    return hashlib.sha256(text.encode()).digest(), runtime, handler


# A package that fails to build raises, and is not kept.
@cachetools.cached(
    cachetools.LRUCache(maxsize=KEPT_BYTES, getsizeof=lambda built: len(built.data)),
    key=_built_from,
    lock=threading.Lock(),
)
def _zip_package(text: str, runtime: str, handler: str) -> ZipPackage:
    archive = _decode_zip(text)
    if archive is None:
        return ZipPackage(zip_source(text, source_filename(runtime, handler)))
    _check_archive(archive)
    return ZipPackage(archive)


def source_filename(runtime: str, handler: str) -> str:
    """Where Lambda looks for the handler's module: `index.handler` on Python is index.py."""
    family = next((f for f in SOURCE_EXTENSIONS if runtime.startswith(f)), None)
    if family is None:
        raise PackageError(
            f"inline source needs a Python, Node.js or Ruby runtime, not {runtime}; "
            "give a base64-encoded zip or an S3 object instead"
        )
    module, dot, _function = handler.rpartition(".")
    if not dot or not module:
        raise PackageError(f"handler {handler!r} must read <file>.<function> for inline source")
    if family == "python":
        module = module.replace(".", "/")
    return module + SOURCE_EXTENSIONS[family]


def zip_source(source: str, filename: str) -> bytes:
    entry = zipfile.ZipInfo(filename, date_time=_FIXED_TIME)
    entry.external_attr = _REGULAR_FILE_RW_R_R
    entry.create_system = 3
    entry.compress_type = zipfile.ZIP_STORED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(entry, source.encode())
    return buffer.getvalue()


def _decode_zip(text: str) -> bytes | None:
    """The zip that `text` encodes in base64, or None when `text` is source code."""
    compact = "".join(text.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith((b"PK\x03\x04", b"PK\x05\x06")) else None


def _check_archive(data: bytes) -> None:
    if len(data) > MAX_ZIPPED_BYTES:
        raise PackageError("the zip is larger than Lambda's 50 MB direct-upload limit")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if sum(e.file_size for e in entries) > MAX_UNZIPPED_BYTES:
                raise PackageError("the zip unpacks to more than Lambda's 250 MB")
            # Sizes are checked first so that a zip bomb is refused without inflating it.
            broken = archive.testzip()
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,
        RuntimeError,
    ) as error:
        # Unknown compression methods, encryption and truncated data all land here.
        raise PackageError("the base64 value is not a readable zip archive") from error
    if broken is not None:
        raise PackageError(f"the zip entry {broken!r} is corrupt")
