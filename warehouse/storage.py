"""The Cloud Storage adapter: the only module that reads ``gs://`` objects (their first bytes)."""

from __future__ import annotations

from django.conf import settings
from google.api_core import exceptions as google_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import storage

from warehouse.exports import HEAD_BYTES, head_decompress


class StorageError(Exception):
    """A ``gs://`` object could not be read."""


def _client(credentials: Credentials | None = None) -> storage.Client:
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
