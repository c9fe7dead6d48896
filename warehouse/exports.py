"""What every export connector adapter offers: list a tenant's export, read its manifests,
stream its parts. One adapter module per outside system implements :class:`ExportStore`
(``warehouse/s3.py`` for S3 and S3-compatible stores such as OCI's, ``warehouse/azure_blob.py``,
``warehouse/storage.py`` for GCS); the connectors app reads exports only through it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

#: Manifests are small JSON documents; anything bigger is not a manifest.
MANIFEST_MAX_BYTES = 8 * 1024 * 1024
#: What ``head`` reads by default: a header line is far shorter, and a gzip stream's first
#: block decodes from its start.
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

    def head(self, key: str, *, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes of an object as stored (a gzip part's compressed bytes), in
        one ranged request whatever the object's size: enough to check a part's header line."""
        ...
