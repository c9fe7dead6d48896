"""A protocol-level stand-in for the Cloud KMS REST API: encrypt, decrypt and get a crypto key."""

from __future__ import annotations

import base64
import json
import os
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import google_crc32c
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass
class Received:
    """One request as the stand-in saw it, with the decoded bytes it was asked to protect."""

    method: str
    path: str
    raw_body: bytes
    body: dict[str, Any]
    plaintext: bytes | None = None
    aad: bytes | None = None


@dataclass
class KmsStandin:
    """Holds real AES-256 keys per version; ciphertexts name their version like Google's do."""

    key_name: str
    versions: list[bytes] = field(default_factory=lambda: [AESGCM.generate_key(bit_length=256)])
    received: list[Received] = field(default_factory=list)
    corrupt_response_crc: bool = False
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def primary_name(self) -> str:
        return f"{self.key_name}/cryptoKeyVersions/{len(self.versions)}"

    def rotate(self) -> None:
        self.versions.append(AESGCM.generate_key(bit_length=256))

    def start(self) -> KmsStandin:
        standin = self

        class Handler(_Handler):
            owner = standin

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown (every test's teardown) quick.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        # Idempotent: tests stop it early to simulate an outage, the fixture stops it again.
        if self.server is not None and self.thread is not None and self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def calls(self, suffix: str) -> list[Received]:
        return [r for r in self.received if r.path.endswith(suffix)]


def _crc(data: bytes) -> int:
    return int(google_crc32c.value(data))


def _field(body: dict[str, Any], camel: str, snake: str) -> Any:
    # Proto JSON parsers accept both spellings; the client sends camelCase.
    return body.get(camel, body.get(snake))


def _b64(body: dict[str, Any], camel: str, snake: str) -> bytes:
    return base64.b64decode(_field(body, camel, snake) or "")


class _Error(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


class _Handler(BaseHTTPRequestHandler):
    owner: KmsStandin

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        path = unquote(urlsplit(self.path).path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else {}
        received = Received(method=method, path=path, raw_body=raw, body=body)
        self.owner.received.append(received)
        try:
            payload = self._route(method, path, body, received)
        except _Error as err:
            error = {"code": err.code, "message": err.message, "status": err.status}
            self._send(err.code, {"error": error})
            return
        self._send(200, payload)

    def _route(
        self, method: str, path: str, body: dict[str, Any], received: Received
    ) -> dict[str, Any]:
        owner = self.owner
        prefix = f"/v1/{owner.key_name}"
        if method == "GET" and path == prefix:
            return {
                "name": owner.key_name,
                "purpose": "ENCRYPT_DECRYPT",
                "primary": {"name": owner.primary_name, "state": "ENABLED"},
            }
        if method == "POST" and path == prefix + ":encrypt":
            return self._encrypt(body, received)
        if method == "POST" and path == prefix + ":decrypt":
            return self._decrypt(body, received)
        raise _Error(404, "NOT_FOUND", f"{path} not found")

    def _encrypt(self, body: dict[str, Any], received: Received) -> dict[str, Any]:
        owner = self.owner
        plaintext = _b64(body, "plaintext", "plaintext")
        aad = _b64(body, "additionalAuthenticatedData", "additional_authenticated_data")
        received.plaintext, received.aad = plaintext, aad
        plaintext_crc = _field(body, "plaintextCrc32c", "plaintext_crc32c")
        aad_crc = _field(
            body, "additionalAuthenticatedDataCrc32c", "additional_authenticated_data_crc32c"
        )
        if plaintext_crc is not None and int(plaintext_crc) != _crc(plaintext):
            raise _Error(400, "INVALID_ARGUMENT", "plaintext_crc32c did not match")
        if aad_crc is not None and int(aad_crc) != _crc(aad):
            raise _Error(400, "INVALID_ARGUMENT", "additional_authenticated_data_crc32c mismatch")
        version = len(owner.versions)
        nonce = os.urandom(12)
        sealed = AESGCM(owner.versions[version - 1]).encrypt(nonce, plaintext, aad)
        ciphertext = struct.pack(">I", version) + nonce + sealed
        crc = _crc(ciphertext) ^ (1 if owner.corrupt_response_crc else 0)
        return {
            "name": owner.primary_name,
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "ciphertextCrc32c": str(crc),
            "verifiedPlaintextCrc32c": plaintext_crc is not None,
            "verifiedAdditionalAuthenticatedDataCrc32c": aad_crc is not None,
            "protectionLevel": "SOFTWARE",
        }

    def _decrypt(self, body: dict[str, Any], received: Received) -> dict[str, Any]:
        owner = self.owner
        ciphertext = _b64(body, "ciphertext", "ciphertext")
        aad = _b64(body, "additionalAuthenticatedData", "additional_authenticated_data")
        received.aad = aad
        ciphertext_crc = _field(body, "ciphertextCrc32c", "ciphertext_crc32c")
        if ciphertext_crc is not None and int(ciphertext_crc) != _crc(ciphertext):
            raise _Error(400, "INVALID_ARGUMENT", "ciphertext_crc32c did not match")
        invalid = _Error(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
        if len(ciphertext) < 4 + 12 + 16:
            raise invalid
        (version,) = struct.unpack(">I", ciphertext[:4])
        if not 1 <= version <= len(owner.versions):
            raise invalid
        try:
            plaintext = AESGCM(owner.versions[version - 1]).decrypt(
                ciphertext[4:16], ciphertext[16:], aad
            )
        except InvalidTag:
            raise invalid from None
        crc = _crc(plaintext) ^ (1 if owner.corrupt_response_crc else 0)
        return {
            "plaintext": base64.b64encode(plaintext).decode(),
            "plaintextCrc32c": str(crc),
            "usedPrimary": version == len(owner.versions),
            "protectionLevel": "SOFTWARE",
        }

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
