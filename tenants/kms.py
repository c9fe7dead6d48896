"""Envelope encryption of tenant secrets with a local keyring or Google Cloud KMS."""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import functools
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google_crc32c
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import kms_v1
from requests import RequestException

__all__ = [
    "EncryptedSecret",
    "KmsDecryptError",
    "KmsError",
    "KmsUnavailable",
    "keyring_rotate",
    "kms_ping",
    "secret_decrypt",
    "secret_encrypt",
    "secret_rewrap",
]

_KEY_BYTES = 32
_NONCE_BYTES = 12
_AAD_PREFIX = b"convergence:tenant:"
_LOCAL_REF_PREFIX = "local:"
_KEYRING_FORMAT = 1
# Interactive callers (requests, health checks) should not hang for the client's 60 s default.
_GCP_TIMEOUT_SECONDS = 20.0


class KmsError(Exception):
    """Base class; messages never carry plaintext or key bytes."""


class KmsUnavailable(KmsError):
    """The backend cannot be reached, read or used."""


class KmsDecryptError(KmsError):
    """The secret is not for this tenant, was altered, or its key is unknown."""


@dataclass(frozen=True)
class EncryptedSecret:
    ciphertext: bytes
    nonce: bytes
    wrapped_key: bytes
    key_ref: str

    def __repr__(self) -> str:
        # Keeps wrapped keys and ciphertext out of logs and tracebacks.
        return (
            f"EncryptedSecret(key_ref={self.key_ref!r}, ciphertext=<{len(self.ciphertext)} bytes>)"
        )


def secret_encrypt(plaintext: bytes, *, tenant_id: str) -> EncryptedSecret:
    """Encrypt `plaintext` under a fresh data key bound to `tenant_id`."""
    if not isinstance(plaintext, bytes | bytearray | memoryview):
        raise TypeError("plaintext must be bytes")
    aad = _tenant_aad(tenant_id)
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, bytes(plaintext), aad)
    wrapped_key, key_ref = _backend().wrap(data_key, aad)
    return EncryptedSecret(
        ciphertext=ciphertext, nonce=nonce, wrapped_key=wrapped_key, key_ref=key_ref
    )


def secret_decrypt(secret: EncryptedSecret, *, tenant_id: str) -> bytes:
    """Return the plaintext; KmsDecryptError if the tenant differs or anything was altered."""
    aad = _tenant_aad(tenant_id)
    data_key = _backend().unwrap(secret.wrapped_key, secret.key_ref, aad)
    return _open(secret, data_key, aad)


def secret_rewrap(secret: EncryptedSecret, *, tenant_id: str) -> EncryptedSecret:
    """Wrap the secret's data key again with the current primary key; ciphertext unchanged."""
    aad = _tenant_aad(tenant_id)
    backend = _backend()
    data_key = backend.unwrap(secret.wrapped_key, secret.key_ref, aad)
    # Refuse to give a fresh wrapping to a ciphertext that no longer authenticates.
    _open(secret, data_key, aad)
    wrapped_key, key_ref = backend.wrap(data_key, aad)
    return EncryptedSecret(
        ciphertext=secret.ciphertext, nonce=secret.nonce, wrapped_key=wrapped_key, key_ref=key_ref
    )


def kms_ping() -> None:
    """Raise KmsUnavailable unless the configured backend can be used."""
    _backend().ping()


def keyring_rotate() -> str:
    """Add a new primary version to the local keyring and return its id."""
    backend = _backend()
    if not isinstance(backend, _LocalBackend):
        raise KmsError(
            "keyring_rotate only applies to the local backend; rotate Cloud KMS keys in Google "
            "Cloud (new primary version), then secret_rewrap existing secrets"
        )
    return backend.rotate()


def _tenant_aad(tenant_id: str) -> bytes:
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError("tenant_id must be a non-empty string")
    return _AAD_PREFIX + tenant_id.encode()


def _open(secret: EncryptedSecret, data_key: bytes, aad: bytes) -> bytes:
    if len(secret.nonce) != _NONCE_BYTES:
        raise KmsDecryptError("secret has a malformed nonce")
    try:
        return AESGCM(data_key).decrypt(secret.nonce, secret.ciphertext, aad)
    except InvalidTag:
        raise KmsDecryptError("secret does not decrypt for this tenant or was altered") from None


def _backend() -> _LocalBackend | _GcpBackend:
    kind = settings.KMS_BACKEND
    if kind == "local":
        return _LocalBackend(Path(settings.KMS_LOCAL_KEYRING_PATH).expanduser())
    if kind == "gcp":
        key_name = settings.KMS_KEY_NAME
        if not key_name:
            raise KmsUnavailable("KMS_BACKEND is 'gcp' but KMS_KEY_NAME is empty")
        return _GcpBackend(key_name=key_name, endpoint=settings.KMS_ENDPOINT)
    raise KmsUnavailable(f"KMS_BACKEND must be 'local' or 'gcp', not {kind!r}")


class _LocalBackend:
    """A JSON keyring of 256-bit KEKs; the primary wraps, every version still unwraps.

    File layout: {"format": 1, "primary": id, "keys": [{"id", "key" (base64), "created"}]}.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def wrap(self, data_key: bytes, aad: bytes) -> tuple[bytes, str]:
        keyring = self._load(create=True)
        kek = _keyring_key(keyring, keyring["primary"])
        nonce = os.urandom(_NONCE_BYTES)
        wrapped = nonce + AESGCM(kek).encrypt(nonce, data_key, aad)
        return wrapped, _LOCAL_REF_PREFIX + keyring["primary"]

    def unwrap(self, wrapped_key: bytes, key_ref: str, aad: bytes) -> bytes:
        if not key_ref.startswith(_LOCAL_REF_PREFIX):
            raise KmsDecryptError("secret was not wrapped by the local keyring")
        key_id = key_ref.removeprefix(_LOCAL_REF_PREFIX)
        # A missing keyring means the keys are lost; creating a new one would only hide that.
        keyring = self._load(create=False)
        kek = _keyring_key(keyring, key_id)
        try:
            return AESGCM(kek).decrypt(wrapped_key[:_NONCE_BYTES], wrapped_key[_NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise KmsDecryptError(
                "data key does not unwrap for this tenant or was altered"
            ) from None

    def ping(self) -> None:
        self._load(create=True)

    def rotate(self) -> str:
        with self._locked():
            keyring = self._read() if self.path.exists() else None
            if keyring is None:
                keyring = {"format": _KEYRING_FORMAT, "primary": "", "keys": []}
            entry = _new_key_entry(len(keyring["keys"]) + 1)
            keyring["keys"].append(entry)
            keyring["primary"] = entry["id"]
            self._write(keyring)
            return entry["id"]

    def _load(self, *, create: bool) -> dict[str, Any]:
        if self.path.exists():
            return self._read()
        if not create:
            raise KmsUnavailable(f"no local keyring at {self.path}")
        with self._locked():
            # Another process may have created it while we waited for the lock.
            if self.path.exists():
                return self._read()
            entry = _new_key_entry(1)
            keyring = {"format": _KEYRING_FORMAT, "primary": entry["id"], "keys": [entry]}
            self._write(keyring)
            return keyring

    def _read(self) -> dict[str, Any]:
        try:
            mode = self.path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KmsUnavailable(
                    f"local keyring {self.path} is accessible to other users; chmod 600 it"
                )
            keyring = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise KmsUnavailable(f"cannot read local keyring {self.path}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError):
            raise KmsUnavailable(f"local keyring {self.path} is not valid JSON") from None
        _keyring_validate(keyring, self.path)
        return keyring

    def _write(self, keyring: dict[str, Any]) -> None:
        # Write-then-rename so readers never see a half-written keyring.
        tmp_name = ""
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self.path.parent, prefix=".keyring-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(keyring, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, self.path)
        except OSError as exc:
            raise KmsUnavailable(f"cannot write keyring {self.path}: {exc.strerror}") from None
        finally:
            if tmp_name and os.path.exists(tmp_name):
                os.unlink(tmp_name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        directory = self.path.parent
        try:
            if not directory.exists():
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                directory.chmod(0o700)
            lock_fd = os.open(
                self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600
            )
        except OSError as exc:
            raise KmsUnavailable(
                f"cannot create local keyring in {directory}: {exc.strerror}"
            ) from None
        try:
            # Serialises creation and rotation so concurrent processes cannot drop a version.
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock_fd)


def _new_key_entry(sequence: int) -> dict[str, str]:
    # The random suffix makes a recreated keyring's ids differ from the lost one's.
    return {
        "id": f"v{sequence}-{secrets.token_hex(4)}",
        "key": base64.b64encode(os.urandom(_KEY_BYTES)).decode("ascii"),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _keyring_validate(keyring: Any, path: Path) -> None:
    malformed = KmsUnavailable(f"local keyring {path} is malformed")
    if not isinstance(keyring, dict) or keyring.get("format") != _KEYRING_FORMAT:
        raise malformed
    keys = keyring.get("keys")
    if not isinstance(keys, list) or not keys:
        raise malformed
    for entry in keys:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise malformed
        try:
            key = base64.b64decode(entry.get("key", ""), validate=True)
        except (binascii.Error, TypeError):
            raise malformed from None
        if len(key) != _KEY_BYTES:
            raise malformed
    if not any(entry["id"] == keyring.get("primary") for entry in keys):
        raise malformed


def _keyring_key(keyring: dict[str, Any], key_id: str) -> bytes:
    for entry in keyring["keys"]:
        if entry["id"] == key_id:
            return base64.b64decode(entry["key"])
    raise KmsDecryptError(f"local keyring has no key version {key_id!r}")


class _GcpBackend:
    """Cloud KMS wraps data keys; only the 32-byte data key ever leaves the process."""

    def __init__(self, *, key_name: str, endpoint: str) -> None:
        self.key_name = key_name
        self.endpoint = endpoint

    def wrap(self, data_key: bytes, aad: bytes) -> tuple[bytes, str]:
        response = self._call(
            "encrypt",
            {
                "name": self.key_name,
                "plaintext": data_key,
                "plaintext_crc32c": _crc32c(data_key),
                "additional_authenticated_data": aad,
                "additional_authenticated_data_crc32c": _crc32c(aad),
            },
        )
        # Integrity checks as Google's samples do: request and response both survived transit.
        if not response.verified_plaintext_crc32c:
            raise KmsUnavailable("Cloud KMS encrypt request was corrupted in transit")
        if not response.verified_additional_authenticated_data_crc32c:
            raise KmsUnavailable("Cloud KMS encrypt request was corrupted in transit")
        if response.ciphertext_crc32c != _crc32c(response.ciphertext):
            raise KmsUnavailable("Cloud KMS encrypt response was corrupted in transit")
        return bytes(response.ciphertext), response.name

    def unwrap(self, wrapped_key: bytes, key_ref: str, aad: bytes) -> bytes:
        # Only this deployment's key may unwrap: a stored key_ref must not steer us elsewhere.
        if key_ref.startswith(_LOCAL_REF_PREFIX):
            raise KmsDecryptError("secret was wrapped by the local keyring, not Cloud KMS")
        if key_ref != self.key_name and not key_ref.startswith(self.key_name + "/"):
            raise KmsDecryptError("secret was wrapped by a Cloud KMS key other than KMS_KEY_NAME")
        response = self._call(
            "decrypt",
            {
                "name": self.key_name,
                "ciphertext": wrapped_key,
                "ciphertext_crc32c": _crc32c(wrapped_key),
                "additional_authenticated_data": aad,
                "additional_authenticated_data_crc32c": _crc32c(aad),
            },
        )
        if response.plaintext_crc32c != _crc32c(response.plaintext):
            raise KmsUnavailable("Cloud KMS decrypt response was corrupted in transit")
        data_key = bytes(response.plaintext)
        if len(data_key) != _KEY_BYTES:
            raise KmsDecryptError("Cloud KMS returned a data key of the wrong length")
        return data_key

    def ping(self) -> None:
        self._call("get_crypto_key", {"name": self.key_name}, retry=None)

    def _call(self, method: str, request: dict[str, Any], **kwargs: Any) -> Any:
        try:
            client = _gcp_client(self.endpoint)
            return getattr(client, method)(request=request, timeout=_GCP_TIMEOUT_SECONDS, **kwargs)
        except api_exceptions.BadRequest:
            # KMS answers 400 INVALID_ARGUMENT when the AAD differs or the ciphertext was altered.
            if method == "decrypt":
                raise KmsDecryptError(
                    "data key does not unwrap for this tenant or was altered"
                ) from None
            raise KmsUnavailable(f"Cloud KMS rejected {method} on {self.key_name}") from None
        except api_exceptions.GoogleAPIError as exc:
            raise KmsUnavailable(
                f"Cloud KMS {method} on {self.key_name} failed: {type(exc).__name__}"
            ) from exc
        except (auth_exceptions.GoogleAuthError, RequestException) as exc:
            where = self.endpoint or "Cloud KMS"
            raise KmsUnavailable(
                f"cannot reach {where} for {method}: {type(exc).__name__}"
            ) from exc


@functools.lru_cache(maxsize=4)
def _gcp_client(endpoint: str) -> kms_v1.KeyManagementServiceClient:
    # Building a client resolves credentials and opens a session: once per endpoint, not per call.
    if not endpoint:
        return kms_v1.KeyManagementServiceClient(transport="rest")
    # The REST transport keeps an explicit "http://" in api_endpoint (it only prefixes its
    # url_scheme, "https", to bare hosts), which is how a local stand-in is reached.
    # Only a plain-http stand-in goes without credentials; an https override (regional or
    # private endpoint) is real Cloud KMS and needs the default credentials.
    credentials = AnonymousCredentials() if endpoint.startswith("http://") else None
    return kms_v1.KeyManagementServiceClient(
        transport="rest",
        credentials=credentials,
        client_options={"api_endpoint": endpoint},
    )


def _crc32c(data: bytes) -> int:
    return int(google_crc32c.value(bytes(data)))
