"""The S3 adapter: the only module that reads ``s3://`` objects, for AWS exports and for
S3-compatible stores (OCI Object Storage's compatibility API), through boto3."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, TypeVar

import boto3
from botocore import exceptions as botocore_exceptions
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.session import get_session
from django.conf import settings

from warehouse.exports import (
    HEAD_BYTES,
    MANIFEST_MAX_BYTES,
    ExportAccessDenied,
    ExportNotFound,
    ExportObject,
    ExportStoreError,
)

#: Objects per ListObjectsV2 page (S3's own maximum).
LIST_PAGE_SIZE = 1000
#: How a read of the platform's sessions names itself in the tenant's CloudTrail.
ROLE_SESSION_NAME = "convergence-export-sync"
#: Assumed-role sessions are refreshed this long before they expire.
_REFRESH_MARGIN = timedelta(minutes=5)

ROLE_ARN = re.compile(r"\Aarn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}\Z")
OCI_NAMESPACE = re.compile(r"\A[a-z0-9-]{1,64}\Z")
OCI_REGION = re.compile(r"\A[a-z]{2,}-[a-z]+-\d+\Z")
#: OCI's S3 compatibility endpoint; OCI_S3_ENDPOINT_URL replaces it locally.
OCI_ENDPOINT = "https://{namespace}.compat.objectstorage.{region}.oraclecloud.com"

# Error codes, grouped by what a tenant must do about them. Only the code is ever looked at:
# the store's own message text is never repeated (it can quote a request or a signature).
_DENIED = {"AccessDenied", "AllAccessDisabled", "403", "Forbidden"}
_BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "TokenRefreshRequired",
}
_WRONG_REGION = {
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
    "301",
}
_NO_BUCKET = {"NoSuchBucket"}
_NO_KEY = {"NoSuchKey", "404", "NotFound"}

T = TypeVar("T")


class S3Store:
    """One bucket, read with one identity: a :class:`warehouse.exports.ExportStore`."""

    def __init__(
        self,
        *,
        bucket: str,
        client: Any,
        page_size: int = LIST_PAGE_SIZE,
        location: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.location = location or f"s3://{bucket}"
        self._client = client
        self._page_size = page_size

    def __repr__(self) -> str:
        return f"S3Store({self.location})"

    def list(self, prefix: str) -> Iterator[ExportObject]:
        """Every object under ``prefix``, in key order (S3 lists in UTF-8 binary order)."""
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self._page_size}
        )
        iterator = iter(pages)
        while True:
            page = self._call(lambda: next(iterator, None), prefix=prefix)
            if page is None:
                return
            for item in page.get("Contents", ()):
                yield ExportObject(
                    key=item["Key"],
                    size=int(item["Size"]),
                    etag=item.get("ETag", "").strip('"'),
                    # In UTC whatever the store wrote (moto omits the zone, read as local).
                    last_modified=item["LastModified"].astimezone(UTC),
                )

    def read(self, key: str, *, max_bytes: int = MANIFEST_MAX_BYTES) -> bytes:
        """A small object whole; ExportStoreError when it is bigger than ``max_bytes``."""
        # One byte past the bound tells "exactly max_bytes" from "bigger", without a HEAD.
        data = self._ranged_get(key, last_byte=max_bytes)
        if len(data) > max_bytes:
            raise ExportStoreError(
                f"{self._where(key)} is larger than {max_bytes} bytes: not a manifest"
            )
        return data

    def read_head(self, key: str, *, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes of an object as stored (still compressed), by a ranged GET."""
        return self._ranged_get(key, last_byte=size - 1)

    def _ranged_get(self, key: str, *, last_byte: int) -> bytes:
        try:
            response = self._client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{last_byte}"
            )
        except botocore_exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # a range of an empty object
            raise self._error(exc, key=key) from None
        except Exception as exc:
            raise self._error(exc, key=key) from None
        return self._call(lambda: response["Body"].read(), key=key)

    def open(self, key: str) -> BinaryIO:
        """The object as a buffered stream over the HTTP response, read in chunks."""
        response = self._call(lambda: self._client.get_object(Bucket=self.bucket, Key=key), key=key)
        raw = _ResponseStream(response["Body"], on_error=lambda exc: self._error(exc, key=key))
        return io.BufferedReader(raw, buffer_size=1 << 20)

    def _call(
        self, action: Callable[[], T], *, key: str | None = None, prefix: str | None = None
    ) -> T:
        try:
            return action()
        except ExportStoreError:
            raise
        except Exception as exc:
            raise self._error(exc, key=key, prefix=prefix) from None

    def _where(self, key: str | None = None, prefix: str | None = None) -> str:
        if key is not None:
            return f"{self.location}/{key}"
        if prefix:
            return f"{self.location}/{prefix}"
        return self.location

    def _error(
        self, exc: BaseException, *, key: str | None = None, prefix: str | None = None
    ) -> ExportStoreError:
        """The store's refusal as an ExportStoreError naming the bucket (and key) and the
        cause in words; never the store's raw text."""
        where = self._where(key, prefix)
        if isinstance(exc, ExportStoreError):
            return exc
        if isinstance(exc, _RoleNotAssumed):
            return exc.error
        if isinstance(exc, botocore_exceptions.NoCredentialsError):
            return ExportAccessDenied(
                f"{where}: no credentials to sign with (the platform has no AWS identity "
                "configured, and the provider config names no role or access key)"
            )
        if isinstance(exc, botocore_exceptions.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _NO_BUCKET:
                return ExportNotFound(f"{self.location}: no such bucket")
            if code in _NO_KEY or (status == 404 and key is not None):
                if key is None:
                    return ExportNotFound(f"{self.location}: no such bucket")
                return ExportNotFound(f"{where}: no such object")
            if code in _BAD_CREDENTIALS:
                return ExportAccessDenied(
                    f"{where}: the credentials were refused ({_CREDENTIAL_CAUSES[code]})"
                )
            if code in _DENIED or status == 403:
                return ExportAccessDenied(f"{where}: access denied")
            if code in _WRONG_REGION or status == 301:
                region = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
                    "x-amz-bucket-region"
                ) or error.get("Region")
                hint = f" (the bucket is in {region})" if _is_region(region) else ""
                return ExportStoreError(
                    f"{self.location}: wrong region{hint}; set the provider config's region"
                )
            if code in {"SlowDown", "ServiceUnavailable", "InternalError", "503", "500"}:
                return ExportStoreError(f"{where}: the store is unavailable, try again later")
            return ExportStoreError(f"{where}: the store refused the request ({_safe_code(code)})")
        if isinstance(exc, botocore_exceptions.EndpointConnectionError | ConnectionError):
            return ExportStoreError(f"{where}: the store could not be reached")
        if isinstance(exc, botocore_exceptions.ReadTimeoutError | TimeoutError):
            return ExportStoreError(f"{where}: the store did not answer in time")
        if isinstance(
            exc,
            botocore_exceptions.IncompleteReadError
            | botocore_exceptions.ResponseStreamingError
            | botocore_exceptions.HTTPClientError,
        ):
            return ExportStoreError(f"{where}: the transfer broke off")
        if isinstance(exc, botocore_exceptions.ParamValidationError):
            return ExportStoreError(f"{where}: not a valid bucket or key name")
        return ExportStoreError(f"{where}: could not be read ({type(exc).__name__})")


_CREDENTIAL_CAUSES = {
    "InvalidAccessKeyId": "unknown access key id",
    "SignatureDoesNotMatch": "the secret does not match the access key id",
    "InvalidToken": "invalid session token",
    "ExpiredToken": "the session has expired",
    "InvalidClientTokenId": "unknown access key id",
    "TokenRefreshRequired": "the session has expired",
}


def _safe_code(code: str) -> str:
    """An error code as a tenant may see it: a short word, nothing else."""
    return code if re.fullmatch(r"[A-Za-z0-9.]{1,64}", code) else "unknown error"


def _is_region(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value) is not None


class _RoleNotAssumed(Exception):
    """STS refused the role: carries the ExportStoreError to raise (through botocore's
    credential refresh, which may happen in the middle of any call)."""

    def __init__(self, error: ExportStoreError) -> None:
        super().__init__(str(error))
        self.error = error


class _ResponseStream(io.RawIOBase):
    """A botocore StreamingBody as a raw stream; transfer errors become ExportStoreError."""

    def __init__(self, body: Any, *, on_error: Callable[[BaseException], ExportStoreError]):
        self._body = body
        self._on_error = on_error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            data = self._body.read(len(buffer))
        except Exception as exc:
            raise self._on_error(exc) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _client_config(*, s3_compatible: bool) -> Config:
    options: dict[str, Any] = {
        "retries": {"max_attempts": 5, "mode": "standard"},
        "connect_timeout": 10,
        "read_timeout": 60,
    }
    if s3_compatible:
        # Path-style addressing, and no checksums S3-compatible stores (OCI, local servers)
        # do not all implement.
        options["s3"] = {"addressing_style": "path"}
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return Config(**options)


def _platform_session(region: str | None) -> boto3.session.Session:
    """The platform's own AWS identity: explicit keys from settings, else boto3's default
    chain (environment, web identity, instance or container role)."""
    key_id = getattr(settings, "AWS_PLATFORM_ACCESS_KEY_ID", "")
    secret = getattr(settings, "AWS_PLATFORM_SECRET_ACCESS_KEY", "")
    if key_id and secret:
        return boto3.session.Session(
            aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=region
        )
    return boto3.session.Session(region_name=region)


def _assumed_role_session(
    *, role_arn: str, external_id: str, region: str | None
) -> boto3.session.Session:
    """A session whose credentials come from assuming ``role_arn`` (with ``external_id``) as
    the platform, refreshed before they expire (a long sync outlives one session)."""
    sts = _platform_session(region).client(
        "sts",
        region_name=region or "us-east-1",
        endpoint_url=getattr(settings, "STS_ENDPOINT_URL", "") or None,
        config=_client_config(s3_compatible=False),
    )

    def fetch() -> dict[str, str]:
        try:
            credentials = sts.assume_role(
                RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME, ExternalId=external_id
            )["Credentials"]
        except Exception as exc:
            raise _RoleNotAssumed(_role_error(exc, role_arn)) from None
        expiry = credentials["Expiration"]
        if isinstance(expiry, datetime):
            expiry = expiry.astimezone(UTC).isoformat()
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiry,
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    credentials._advisory_refresh_timeout = int(_REFRESH_MARGIN.total_seconds())
    botocore_session = get_session()
    # botocore has no public way to hand a session refreshable credentials; this attribute is
    # what its own assume-role provider sets.
    botocore_session._credentials = credentials
    return boto3.session.Session(botocore_session=botocore_session, region_name=region)


def _role_error(exc: BaseException, role_arn: str) -> ExportStoreError:
    base = f"could not assume role {role_arn}"
    if isinstance(exc, botocore_exceptions.NoCredentialsError):
        return ExportAccessDenied(f"{base}: the platform has no AWS identity configured")
    if isinstance(exc, botocore_exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _DENIED or code == "AccessDeniedException":
            return ExportAccessDenied(
                f"{base}: access denied (the role's trust policy must name this platform's "
                "account and the external id shown in its setup)"
            )
        if code in _BAD_CREDENTIALS:
            return ExportAccessDenied(f"{base}: the platform's own AWS credentials were refused")
        if code == "RegionDisabledException":
            return ExportStoreError(f"{base}: STS is not enabled in this region")
        if code == "ValidationError":
            return ExportStoreError(f"{base}: not a valid role ARN or external id")
        return ExportStoreError(f"{base} ({_safe_code(code)})")
    if isinstance(exc, botocore_exceptions.EndpointConnectionError | ConnectionError):
        return ExportStoreError(f"{base}: STS could not be reached")
    return ExportStoreError(f"{base} ({type(exc).__name__})")


def s3_store(
    *,
    bucket: str,
    region: str | None = None,
    endpoint_url: str | None = None,
    role_arn: str | None = None,
    external_id: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    page_size: int = LIST_PAGE_SIZE,
    location: str | None = None,
) -> S3Store:
    """An AWS S3 bucket (or an S3-compatible one at ``endpoint_url``) read as the tenant.

    With ``role_arn`` the platform assumes the tenant's role (with ``external_id``) through
    STS; with ``access_key_id``/``secret_access_key`` it signs with the tenant's keys; with
    neither, as the platform itself (tests and the local server only). ``endpoint_url``
    defaults to settings.S3_ENDPOINT_URL, empty meaning AWS. Nothing is called until the
    first read, except STS when a role is given.
    """
    if not bucket or "/" in bucket:
        raise ExportStoreError(f"{bucket!r} is not a bucket name")
    if role_arn:
        if not ROLE_ARN.match(role_arn):
            raise ExportStoreError(f"{role_arn!r} is not an IAM role ARN")
        if not external_id:
            # A third party assumes a customer's role only with the customer's external id
            # (AWS's confused-deputy guard); the role's trust policy must require it.
            raise ExportStoreError(f"role {role_arn} needs its external id")
        try:
            session = _assumed_role_session(
                role_arn=role_arn, external_id=external_id, region=region
            )
        except _RoleNotAssumed as exc:
            raise exc.error from None
    elif access_key_id or secret_access_key:
        if not (access_key_id and secret_access_key):
            raise ExportAccessDenied(
                f"s3://{bucket}: an access key needs both its id and its secret"
            )
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
    else:
        session = _platform_session(region)
    endpoint = endpoint_url or getattr(settings, "S3_ENDPOINT_URL", "") or None
    client = session.client(
        "s3",
        region_name=region or "us-east-1",
        endpoint_url=endpoint,
        config=_client_config(s3_compatible=endpoint is not None),
    )
    return S3Store(bucket=bucket, client=client, page_size=page_size, location=location)


def oci_endpoint(*, namespace: str, region: str) -> str:
    """The S3 compatibility endpoint of an OCI tenancy's Object Storage namespace."""
    local = getattr(settings, "OCI_S3_ENDPOINT_URL", "")
    if local:
        return local
    if not OCI_NAMESPACE.match(namespace):
        raise ExportStoreError(f"{namespace!r} is not an Object Storage namespace")
    if not OCI_REGION.match(region):
        raise ExportStoreError(f"{region!r} is not an OCI region identifier")
    return OCI_ENDPOINT.format(namespace=namespace, region=region)


def oci_store(
    *,
    bucket: str,
    namespace: str,
    region: str,
    access_key_id: str,
    secret_access_key: str,
    page_size: int = LIST_PAGE_SIZE,
) -> S3Store:
    """An OCI Object Storage bucket read through its S3 compatibility API with a customer
    secret key (OCI cost reports: namespace ``bling``, the bucket named by the tenancy OCID)."""
    if not (access_key_id and secret_access_key):
        raise ExportAccessDenied(
            f"s3://{bucket}: an OCI customer secret key needs both its access key and secret"
        )
    return s3_store(
        bucket=bucket,
        region=region,
        endpoint_url=oci_endpoint(namespace=namespace, region=region),
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        page_size=page_size,
        location=f"oci://{namespace}/{bucket}",
    )
