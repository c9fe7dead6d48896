"""The Azure Blob Storage adapter: the only module that reads a tenant's Azure storage container
(its Cost Management exports), as the tenant's service principal, a container SAS URL, or, for
Azurite and storage accounts that allow it, the account's shared key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import BinaryIO
from urllib.parse import urlsplit

from azure.core import exceptions as azure_exceptions
from azure.identity import ClientSecretCredential
from azure.storage.blob import ContainerClient
from django.conf import settings

from warehouse.exports import (
    HEAD_BYTES,
    MANIFEST_MAX_BYTES,
    ExportAccessDenied,
    ExportNotFound,
    ExportObject,
    ExportStoreError,
    store_pages,
    store_stream,
)

#: A listing page: Azure's own maximum, so a big export is listed in few requests.
PAGE_SIZE = 5000
#: A part is downloaded in ranges of this size, the first one included, so a stream holds at
#: most one range (the SDK's default first range is 32 MB).
CHUNK_BYTES = 4 * 1024 * 1024
# A check answers within seconds when the account's host does not answer at all.
CONNECTION_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 120
RETRIES = 3
#: The blob endpoint of a storage account in Azure's public, China and US Government clouds.
AZURE_ACCOUNT_URL = re.compile(
    r"\Ahttps://[a-z0-9]{3,24}\.blob\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)\Z"
)
#: What Azure's error codes for a refused request mean to the tenant who gave the credentials.
DENIED_REASONS = {
    "": "access denied: the credentials were not accepted",
    "AuthenticationFailed": "access denied: the credentials were not accepted",
    "InvalidAuthenticationInfo": "access denied: the credentials were not accepted",
    "NoAuthenticationInformation": "access denied: no credentials were given",
    "AuthorizationPermissionMismatch": (
        "access denied: the credentials may not list or read this container (a service "
        "principal needs Storage Blob Data Reader on it; a SAS, read and list permissions)"
    ),
    "AuthorizationResourceTypeMismatch": (
        "access denied: the SAS token does not cover this container's blobs"
    ),
    "AuthorizationFailure": (
        "access denied: the request was not authorized (a wrong key, or the storage "
        "account's network rules refuse it)"
    ),
}


class AzureBlobStore:
    """One container of a storage account, read with the credentials it was built with."""

    def __init__(self, client: ContainerClient, *, location: str, page_size: int = PAGE_SIZE):
        self._client = client
        self.location = location
        self._page_size = page_size

    def list(self, prefix: str) -> Iterator[ExportObject]:
        """Every blob whose name starts with ``prefix``, in name order (Azure lists blobs in
        lexicographic order), page by page."""
        pages = self._client.list_blobs(
            name_starts_with=prefix or None, results_per_page=self._page_size
        ).by_page()
        error = partial(_translate, location=self.location, prefix=prefix)
        for page in store_pages(pages, error=error):
            for blob in page:
                yield ExportObject(
                    key=blob.name,
                    size=blob.size,
                    etag=(blob.etag or "").strip('"'),
                    last_modified=_utc(blob.last_modified),
                )

    def read(self, key: str, *, max_bytes: int = MANIFEST_MAX_BYTES) -> bytes:
        """A small blob whole; ExportStoreError when it is bigger than ``max_bytes``."""
        try:
            downloader = self._client.download_blob(key, max_concurrency=1)
            size = downloader.size
            data = downloader.readall() if size <= max_bytes else None
        except Exception as exc:
            raise _translate(exc, self.location, key=key) from None
        if data is None:
            raise ExportStoreError(
                f"{self.location}/{key}: {size} bytes, more than the {max_bytes} a manifest "
                "may have"
            )
        return data

    def read_head(self, key: str, *, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes of a blob (all of it when it is shorter), as stored: one
        ranged download, whatever the blob's size."""
        try:
            return self._client.download_blob(
                key, offset=0, length=size, max_concurrency=1
            ).readall()
        except azure_exceptions.HttpResponseError as exc:
            if exc.status_code == 416:
                return b""  # an empty blob has no first byte to range over
            raise _translate(exc, self.location, key=key) from None
        except Exception as exc:
            raise _translate(exc, self.location, key=key) from None

    def open(self, key: str) -> BinaryIO:
        """A blob as a stream downloaded range by range as it is read: at most one range of
        :data:`CHUNK_BYTES` (plus the reader's buffer) is held at a time. A blob rewritten while
        it is read fails the read instead of mixing two versions."""
        try:
            downloader = self._client.download_blob(key, max_concurrency=1)
        except Exception as exc:
            raise _translate(exc, self.location, key=key) from None
        return store_stream(
            downloader.read,
            error=lambda exc: _translate(exc, self.location, key=key),
            buffer_size=CHUNK_BYTES,
        )


def azure_blob_store(
    *,
    account_url: str,
    container: str,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    sas_url: str | None = None,
    account_key: str | None = None,
    authority: str | None = None,
    page_size: int = PAGE_SIZE,
    **transport,
) -> AzureBlobStore:
    """The export container ``container`` of the storage account at ``account_url``
    (``https://<account>.blob.core.windows.net``; Azurite's ``http://127.0.0.1:<port>/<account>``).

    Exactly one way in: a service principal (``tenant_id``, ``client_id``, ``client_secret``,
    granted *Storage Blob Data Reader* on the container), a container ``sas_url`` (read and list
    permissions; ``account_url`` and ``container`` are then taken from it and must match when
    given), or the account's shared ``account_key``. ``authority`` overrides Microsoft Entra
    ID's host (sovereign clouds, or a stand-in); ``transport`` passes options to the SDK's
    HTTP pipeline (``connection_verify``, ``retry_total``, hooks)."""
    options = {
        "max_single_get_size": CHUNK_BYTES,
        "max_chunk_get_size": CHUNK_BYTES,
        "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
        "read_timeout": READ_TIMEOUT_SECONDS,
        "retry_total": RETRIES,
        **transport,
    }
    principal = (tenant_id, client_id, client_secret)
    ways = [any(principal), bool(sas_url), bool(account_key)]
    if sum(ways) != 1:
        raise ExportStoreError(
            "Azure Blob Storage needs exactly one of: a service principal (tenant id, client "
            "id, client secret), a container SAS URL, or an account key"
        )
    if sas_url:
        sas_account_url, sas_container = _split_container_url(sas_url)
        _check_account_url(sas_account_url)
        if account_url and account_url.rstrip("/") != sas_account_url:
            raise ExportStoreError(
                f"the SAS URL is for {sas_account_url}, not the account {_public(account_url)}"
            )
        if container and container != sas_container:
            raise ExportStoreError(
                f"the SAS URL is for the container {sas_container!r}, not {container!r}"
            )
        location = _location(sas_account_url, sas_container)
        client = ContainerClient.from_container_url(sas_url, **options)
        return AzureBlobStore(client, location=location, page_size=page_size)
    if not account_url or not container:
        raise ExportStoreError("Azure Blob Storage needs the account URL and the container")
    _check_account_url(account_url)
    location = _location(account_url, container)
    if account_key:
        credential = {"account_name": _account_name(account_url), "account_key": account_key}
    else:
        if not all(principal):
            raise ExportStoreError(
                "an Azure service principal needs its tenant id, client id and client secret"
            )
        # An authority given is trusted as is: MSAL's instance discovery knows only
        # Microsoft's own hosts.
        extra = {"authority": authority, "disable_instance_discovery": True} if authority else {}
        try:
            credential = ClientSecretCredential(
                tenant_id, client_id, client_secret, **extra, **transport
            )
        except ValueError:
            raise ExportStoreError(
                "the Azure tenant id is not valid (a GUID or a domain such as contoso.com)"
            ) from None
    client = ContainerClient(account_url, container, credential=credential, **options)
    return AzureBlobStore(client, location=location, page_size=page_size)


def _check_account_url(account_url: str) -> None:
    """Only Azure Storage accounts are read (or, where AZURE_BLOB_ENDPOINT names a local
    server, its accounts too): a tenant's credentials are never sent to another host."""
    url = account_url.rstrip("/")
    local = settings.AZURE_BLOB_ENDPOINT.rstrip("/")
    if AZURE_ACCOUNT_URL.match(url) or (local and url.startswith(f"{local}/")):
        return
    raise ExportStoreError(
        f"{_public(url)} is not an Azure Blob Storage account URL "
        "(https://<account>.blob.core.windows.net)"
    )


def _split_container_url(url: str) -> tuple[str, str]:
    """(account URL, container) of a container URL, either style, without its query."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme not in {"http", "https"} or not parts.netloc or not segments:
        raise ExportStoreError(
            "the SAS URL is not a container URL (https://<account>.blob…/<container>?…)"
        )
    if _path_style(parts.netloc):
        if len(segments) < 2:
            raise ExportStoreError("the SAS URL names no container")
        return f"{parts.scheme}://{parts.netloc}/{segments[0]}", segments[1]
    return f"{parts.scheme}://{parts.netloc}", segments[0]


def _path_style(netloc: str) -> bool:
    """Azurite and other local endpoints put the account in the path, not the host."""
    host = netloc.rsplit("@", 1)[-1].split(":")[0]
    return host in {"127.0.0.1", "localhost"} or host.replace(".", "").isdigit()


def _account_name(account_url: str) -> str:
    parts = urlsplit(account_url)
    if _path_style(parts.netloc):
        return parts.path.strip("/").split("/")[0]
    return parts.hostname.split(".")[0] if parts.hostname else ""


def _location(account_url: str, container: str) -> str:
    return f"azure://{_account_name(account_url)}/{container}"


def _public(url: str) -> str:
    """A URL without its query string (a SAS token) or user info, for messages."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _translate(
    exc: Exception,
    location: str,
    *,
    key: str | None = None,
    prefix: str | None = None,
) -> ExportStoreError:
    """The store's error for any failure of a request: names the container (and blob) and the
    cause from Azure's error code, never the SDK's message (it can quote a request URL with its
    SAS)."""
    if isinstance(exc, ExportStoreError):
        return exc
    where = f"{location}/{key}" if key else location
    if prefix and not key:
        where = f"{location} (prefix {prefix!r})"
    code = getattr(exc, "error_code", None) or ""
    code = str(getattr(code, "value", code))
    status = getattr(exc, "status_code", None)
    cause = f" ({code})" if code else ""
    if isinstance(exc, azure_exceptions.ClientAuthenticationError) or status in {401, 403}:
        reason = DENIED_REASONS.get(code, "access denied")
        return ExportAccessDenied(f"{where}: {reason}{cause}")
    if isinstance(exc, azure_exceptions.ResourceNotFoundError) or status == 404:
        if code == "ContainerNotFound":
            return ExportNotFound(f"{location}: no such container")
        if code == "BlobNotFound" and key:
            return ExportNotFound(f"{where}: no such blob")
        if code == "ResourceNotFound" or not code:
            return ExportNotFound(f"{where}: not found (no such account or container)")
        return ExportNotFound(f"{where}: not found{cause}")
    if isinstance(exc, azure_exceptions.ResourceModifiedError) or status == 412:
        return ExportStoreError(f"{where}: the blob changed while it was read; retry")
    if isinstance(exc, azure_exceptions.ServiceRequestError):
        return ExportStoreError(f"{where}: the storage account could not be reached")
    if isinstance(exc, azure_exceptions.ServiceResponseError):
        return ExportStoreError(f"{where}: the storage account did not answer")
    if status:
        return ExportStoreError(f"{where}: Azure answered HTTP {status}{cause}")
    return ExportStoreError(f"{where}: could not be read ({type(exc).__name__})")
