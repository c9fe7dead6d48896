"""The Cloud Storage adapter: the only module that reads ``gs://`` objects, either the first
bytes of one (a load's header check) or a tenant's export bucket as an :class:`ExportStore`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from functools import partial
from typing import BinaryIO

from django.conf import settings
from google.api_core import exceptions as google_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

from warehouse.exports import (
    HEAD_BYTES,
    MANIFEST_MAX_BYTES,
    ExportAccessDenied,
    ExportNotFound,
    ExportObject,
    ExportStoreError,
    head_decompress,
    store_pages,
    store_stream,
)

#: A listing page (GCS's maximum is 1000).
PAGE_SIZE = 1000
#: A part is downloaded in ranges of this size as it is read.
CHUNK_BYTES = 4 * 1024 * 1024
#: A tenant's export is read with this scope only.
READ_ONLY_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"
# Transient failures are retried this long: a check answers "unreachable" within a minute.
RETRY = DEFAULT_RETRY.with_timeout(30.0)


class StorageError(Exception):
    """A ``gs://`` object could not be read."""


def _client(credentials: Credentials | None = None, endpoint: str | None = None) -> storage.Client:
    if endpoint is None:
        endpoint = getattr(settings, "STORAGE_ENDPOINT", "")
    if credentials is not None:
        # Someone other than the platform: a tenant's own service account.
        options = {"api_endpoint": endpoint} if endpoint else None
        return storage.Client(
            project=settings.WAREHOUSE_PROJECT, credentials=credentials, client_options=options
        )
    if endpoint:
        # A GCS-compatible server (tests): no Google credentials.
        return storage.Client(
            project=settings.WAREHOUSE_PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
    return storage.Client(project=settings.WAREHOUSE_PROJECT)


def object_head(
    uri: str, *, size: int = HEAD_BYTES, credentials: Credentials | None = None
) -> bytes:
    """The first bytes of a ``gs://bucket/object`` (decompressed when it ends in ``.gz``),
    read as ``credentials`` (by default the platform's own)."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    try:
        data = (
            _client(credentials).bucket(bucket).blob(name).download_as_bytes(start=0, end=size - 1)
        )
    except google_exceptions.NotFound as exc:
        raise StorageError(f"{uri}: no such object") from exc
    except Exception as exc:
        raise StorageError(f"{uri}: could not be read ({type(exc).__name__})") from exc
    if uri.endswith(".gz"):
        data = head_decompress(data)
    return data


class GcsStore:
    """One bucket read with the credentials its client was built with."""

    def __init__(self, client: storage.Client, bucket: str, *, page_size: int = PAGE_SIZE):
        # The client otherwise fetches each bucket's metadata in a background thread for its
        # traces: a request (storage.buckets.get) a tenant's read-only account may not make.
        client._bucket_metadata_cache = None
        self._client = client
        self._bucket = client.bucket(bucket)
        self.location = f"gs://{bucket}"
        self._page_size = page_size

    def list(self, prefix: str) -> Iterator[ExportObject]:
        """Every object whose name starts with ``prefix``, in name order, page by page."""
        pages = self._client.list_blobs(
            self._bucket, prefix=prefix or None, page_size=self._page_size, retry=RETRY
        ).pages
        error = partial(_translate, location=self.location, prefix=prefix)
        for page in store_pages(pages, error=error):
            for blob in page:
                yield ExportObject(
                    key=blob.name,
                    size=blob.size or 0,
                    # The content's MD5 where GCS has one (not for composite objects), so a
                    # rewrite of the same bytes is not a change; else the generation.
                    etag=blob.md5_hash or str(blob.generation),
                    last_modified=blob.updated.astimezone(UTC),
                )

    def read(self, key: str, *, max_bytes: int = MANIFEST_MAX_BYTES) -> bytes:
        """A small object whole; ExportStoreError when it is bigger than ``max_bytes`` (one
        ranged download of at most ``max_bytes`` + 1 bytes tells)."""
        try:
            data = self._bucket.blob(key).download_as_bytes(start=0, end=max_bytes, retry=RETRY)
        except google_exceptions.RequestRangeNotSatisfiable:
            return b""  # an empty object
        except Exception as exc:
            raise _translate(exc, self.location, key=key) from None
        if len(data) > max_bytes:
            raise ExportStoreError(
                f"{self.location}/{key}: more than the {max_bytes} bytes a manifest may have"
            )
        return data

    def read_head(self, key: str, *, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes of an object (all of it when shorter), as stored."""
        try:
            return self._bucket.blob(key).download_as_bytes(start=0, end=size - 1, retry=RETRY)
        except google_exceptions.RequestRangeNotSatisfiable:
            return b""  # an empty object
        except Exception as exc:
            raise _translate(exc, self.location, key=key) from None

    def open(self, key: str) -> BinaryIO:
        """An object as a stream downloaded range by range as it is read, pinned to the
        generation it had when opened: a rewrite meanwhile fails the read."""
        try:
            blob = self._bucket.get_blob(key, retry=RETRY)
        except Exception as exc:
            raise _translate(exc, self.location, key=key) from None
        if blob is None:
            raise ExportNotFound(f"{self.location}/{key}: no such object")
        reader = blob.open(
            "rb", chunk_size=CHUNK_BYTES, retry=RETRY, if_generation_match=blob.generation
        )
        return store_stream(
            reader.read,
            error=lambda exc: _read_error(exc, self.location, key),
            buffer_size=CHUNK_BYTES,
            close=reader.close,
        )


def _read_error(exc: Exception, location: str, key: str) -> ExportStoreError:
    """A read of an open object failed: named, as every error of the store."""
    if isinstance(exc, google_exceptions.PreconditionFailed | google_exceptions.NotFound):
        # The generation it was opened at is no longer there (412; 404 when that generation
        # is not kept).
        return ExportStoreError(f"{location}/{key}: the object changed while it was read; retry")
    return _translate(exc, location, key=key)


def gcs_store(
    *,
    bucket: str,
    credentials_info: dict | None = None,
    credentials: Credentials | None = None,
    endpoint: str | None = None,
    page_size: int = PAGE_SIZE,
) -> GcsStore:
    """The export bucket ``bucket`` read as the tenant: its service account's JSON key
    (``credentials_info``, scoped read-only), or ``credentials`` already made for it (the
    platform-managed identity the tenant granted its bucket, ``warehouse.iam.impersonated``);
    without either, only an emulator is read. ``endpoint``: a GCS-compatible server; by default
    ``settings.STORAGE_ENDPOINT`` (empty: Google Cloud Storage)."""
    if credentials_info is not None and credentials is not None:
        raise ExportStoreError(
            f"gs://{bucket}: give a service account key or credentials, not both"
        )
    if credentials_info is not None:
        try:
            credentials = service_account.Credentials.from_service_account_info(
                credentials_info, scopes=[READ_ONLY_SCOPE]
            )
        except (ValueError, KeyError, TypeError):
            raise ExportStoreError(
                f"gs://{bucket}: the service account key is not a valid JSON key"
            ) from None
    elif credentials is None and not (
        endpoint if endpoint is not None else getattr(settings, "STORAGE_ENDPOINT", "")
    ):
        raise ExportStoreError(f"gs://{bucket}: a tenant's bucket is read with its service account")
    return GcsStore(_client(credentials, endpoint), bucket, page_size=page_size)


def _translate(
    exc: Exception, location: str, *, key: str | None = None, prefix: str | None = None
) -> ExportStoreError:
    """The store's error for a client error: names the bucket (and object) and the cause,
    never Google's message (it can quote a signed URL or a token endpoint's answer)."""
    where = f"{location}/{key}" if key else location
    if prefix and not key:
        where = f"{location} (prefix {prefix!r})"
    if isinstance(exc, auth_exceptions.RefreshError | auth_exceptions.DefaultCredentialsError):
        return ExportAccessDenied(f"{where}: access denied: the credentials were not accepted")
    if isinstance(exc, google_exceptions.Forbidden | google_exceptions.Unauthorized):
        return ExportAccessDenied(
            f"{where}: access denied: the service account may not read this bucket"
        )
    if isinstance(exc, google_exceptions.NotFound):
        return ExportNotFound(f"{where}: no such object" if key else f"{location}: no such bucket")
    if isinstance(exc, google_exceptions.PreconditionFailed):
        return ExportStoreError(f"{where}: the object changed while it was read; retry")
    if isinstance(exc, google_exceptions.GoogleAPICallError):
        return ExportStoreError(f"{where}: Cloud Storage answered HTTP {exc.code}")
    if isinstance(exc, auth_exceptions.TransportError | ConnectionError | OSError):
        return ExportStoreError(f"{where}: Cloud Storage could not be reached")
    if isinstance(exc, google_exceptions.RetryError):
        return ExportStoreError(f"{where}: Cloud Storage could not be reached")
    return ExportStoreError(f"{where}: could not be read ({type(exc).__name__})")
