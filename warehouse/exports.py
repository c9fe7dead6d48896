"""What every export connector adapter offers: list a tenant's export, read its manifests,
stream its parts. One adapter module per outside system implements :class:`ExportStore`
(``warehouse/s3.py`` for S3 and S3-compatible stores such as OCI's, ``warehouse/azure_blob.py``,
``warehouse/storage.py`` for GCS); the connectors app reads exports only through it."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

#: Manifests are small JSON documents; anything bigger is not a manifest.
MANIFEST_MAX_BYTES = 8 * 1024 * 1024
#: What a head read fetches by default: a CSV header line (and a few rows) is far shorter.
HEAD_BYTES = 1 << 20


@dataclass(frozen=True)
class ExportObject:
    """One object of an export as its store lists it."""

    key: str
    size: int
    #: The store's entity tag (S3 ETag, Azure ETag/Content-MD5, GCS md5/generation), unquoted.
    etag: str
    last_modified: datetime


class ExportStoreError(Exception):
    """The store refused or failed; the message names the bucket or object and the cause,
    never a credential, a signed URL or a server path."""


class ExportAccessDenied(ExportStoreError):
    """The credentials authenticate but may not read this bucket, container or prefix, or
    they do not authenticate at all."""


class ExportNotFound(ExportStoreError):
    """No such bucket, container or object."""


class ExportStore(Protocol):
    """A tenant's export location, read with the tenant's own credentials."""

    #: Where this is, for messages: ``s3://bucket``, ``azure://account/container``, ``gs://b``.
    location: str

    def list(self, prefix: str) -> Iterator[ExportObject]:
        """Every object under ``prefix`` (recursively), in key order."""
        ...

    def read(self, key: str, *, max_bytes: int = MANIFEST_MAX_BYTES) -> bytes:
        """A small object whole (a manifest); ExportStoreError past ``max_bytes``."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A part as a stream, read in chunks: never held whole in memory."""
        ...

    def read_head(self, key: str, *, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes of an object as stored (a ranged read; still compressed):
        enough to check a part's header line without downloading the part."""
        ...


class ScopedStore:
    """A store that reads only under one prefix: every listing, manifest and part outside it
    is refused before the store is asked, whatever a manifest names. Built around each
    tenant's store (``connectors.services.stores``), so no layout can read past its prefix."""

    def __init__(self, store: ExportStore, prefix: str) -> None:
        self._store = store
        self.prefix = prefix
        self.location = store.location

    def _check(self, key: str) -> str:
        parts = key.split("/")
        if not key.startswith(self.prefix) or ".." in parts or "." in parts:
            raise ExportAccessDenied(
                f"{self.location}/{key}: outside the registered prefix "
                f"{self.prefix or '(the whole bucket)'!r}; not read"
            )
        return key

    def list(self, prefix: str) -> Iterator[ExportObject]:
        return self._store.list(self._check(prefix))

    def read(self, key: str, *, max_bytes: int = MANIFEST_MAX_BYTES) -> bytes:
        return self._store.read(self._check(key), max_bytes=max_bytes)

    def open(self, key: str) -> BinaryIO:
        return self._store.open(self._check(key))

    def read_head(self, key: str, *, size: int = HEAD_BYTES) -> bytes:
        return self._store.read_head(self._check(key), size=size)


def head_decompress(data: bytes) -> bytes:
    """The start of a gzip stream decoded as far as it arrived (a head read of a ``.gz``
    part), without requiring its end; the last line may be cut short."""
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


class _StoreStream(io.RawIOBase):
    """A store's reader as a raw binary stream whose errors are the store's own."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        error: Callable[[Exception], ExportStoreError],
        close: Callable[[], None] | None,
    ):
        self._read = read
        self._error = error
        self._close = close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._read(len(buffer))
        except Exception as exc:
            raise self._error(exc) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._close is not None and not self.closed:
            self._close()
        super().close()


def store_stream(
    read: Callable[[int], bytes],
    *,
    error: Callable[[Exception], ExportStoreError],
    buffer_size: int,
    close: Callable[[], None] | None = None,
) -> BinaryIO:
    """What ``ExportStore.open`` answers: ``read(n)`` (an SDK's downloader) as a buffered
    binary stream, any exception it raises turned by ``error`` into one naming the object."""
    return io.BufferedReader(_StoreStream(read, error, close), buffer_size)


def store_pages(
    pages: Iterable, *, error: Callable[[Exception], ExportStoreError]
) -> Iterator[list]:
    """An SDK's listing pages one by one, an exception fetching any turned by ``error`` into
    one naming the listing."""
    iterator = iter(pages)
    while True:
        try:
            page = list(next(iterator))
        except StopIteration:
            return
        except Exception as exc:
            raise error(exc) from None
        yield page
