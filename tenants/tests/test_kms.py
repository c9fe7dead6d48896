"""Envelope encryption with the local keyring and with Cloud KMS via the real client."""

import base64
import contextlib
import dataclasses
import json
import stat

import pytest

from tenants.kms import (
    EncryptedSecret,
    KmsDecryptError,
    KmsError,
    KmsUnavailable,
    keyring_rotate,
    kms_ping,
    secret_decrypt,
    secret_encrypt,
    secret_rewrap,
)
from tenants.tests.kms_standin import KmsStandin

KEY_NAME = "projects/convergence-test/locations/global/keyRings/tenants/cryptoKeys/credentials"
SECRET = b'{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----abc"}'


@pytest.fixture
def keyring_path(settings, tmp_path):
    """Every test gets its own keyring path; the real home keyring is never touched."""
    path = tmp_path / "kms" / "keyring.json"
    settings.KMS_BACKEND = "local"
    settings.KMS_LOCAL_KEYRING_PATH = str(path)
    settings.KMS_ENDPOINT = ""
    settings.KMS_KEY_NAME = ""
    return path


@pytest.fixture
def standin():
    server = KmsStandin(key_name=KEY_NAME).start()
    yield server
    server.stop()


@pytest.fixture
def gcp(settings, keyring_path, standin):
    """Switch to the gcp backend, pointed at the stand-in over plain http."""
    settings.KMS_BACKEND = "gcp"
    settings.KMS_ENDPOINT = standin.endpoint
    settings.KMS_KEY_NAME = KEY_NAME
    return standin


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _leaks(text: str, *secrets_: bytes) -> bool:
    """True if any secret appears in `text` raw, as hex, or as base64."""
    for value in secrets_:
        forms = [value.hex(), base64.b64encode(value).decode()]
        with contextlib.suppress(UnicodeDecodeError):
            forms.append(value.decode())
        if any(form and form in text for form in forms):
            return True
    return False


def _keyring_keys(path) -> list[bytes]:
    return [base64.b64decode(k["key"]) for k in json.loads(path.read_text())["keys"]]


def test_local_round_trip(keyring_path):
    """A secret encrypted with the local keyring decrypts to the same bytes for its tenant."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")

    assert secret.key_ref.startswith("local:")
    assert secret_decrypt(secret, tenant_id="tenant-a") == SECRET


def test_local_keyring_created_private(keyring_path):
    """First use creates the keyring file 0600 in a 0700 directory, holding one 256-bit key."""
    assert not keyring_path.exists()

    kms_ping()

    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keyring_path.parent.stat().st_mode) == 0o700
    keyring = json.loads(keyring_path.read_text())
    assert [len(key) for key in _keyring_keys(keyring_path)] == [32]
    assert keyring["primary"] == keyring["keys"][0]["id"]


def test_local_other_tenant_cannot_decrypt(keyring_path):
    """A ciphertext made for tenant A does not decrypt as tenant B."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")

    with pytest.raises(KmsDecryptError):
        secret_decrypt(secret, tenant_id="tenant-b")


def test_local_other_tenant_cannot_decrypt_even_with_own_wrapping(keyring_path):
    """Grafting tenant B's wrapped key onto tenant A's ciphertext still fails as tenant B."""
    secret_a = secret_encrypt(SECRET, tenant_id="tenant-a")
    secret_b = secret_encrypt(b"other", tenant_id="tenant-b")
    grafted = dataclasses.replace(secret_a, wrapped_key=secret_b.wrapped_key)

    with pytest.raises(KmsDecryptError):
        secret_decrypt(grafted, tenant_id="tenant-b")


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
def test_local_tampered_secret_fails(keyring_path, field):
    """Flipping one bit of the ciphertext, nonce or wrapped key makes decryption fail."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")
    tampered = dataclasses.replace(secret, **{field: _flip_last_byte(getattr(secret, field))})

    with pytest.raises(KmsDecryptError):
        secret_decrypt(tampered, tenant_id="tenant-a")


def test_local_truncated_ciphertext_fails(keyring_path):
    """A truncated ciphertext is rejected, not returned short."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")

    with pytest.raises(KmsDecryptError):
        secret_decrypt(
            dataclasses.replace(secret, ciphertext=secret.ciphertext[:-1]), tenant_id="tenant-a"
        )


def test_encryptions_differ_and_hide_plaintext(keyring_path):
    """Two encryptions of the same plaintext differ, and no field carries the plaintext."""
    first = secret_encrypt(SECRET, tenant_id="tenant-a")
    second = secret_encrypt(SECRET, tenant_id="tenant-a")

    assert first.ciphertext != second.ciphertext
    assert first.nonce != second.nonce
    assert first.wrapped_key != second.wrapped_key
    for secret in (first, second):
        for value in dataclasses.astuple(secret):
            raw = value if isinstance(value, bytes) else value.encode()
            assert SECRET not in raw
            assert not _leaks(raw.decode("latin-1"), SECRET)
        assert len(secret.nonce) == 12


def test_secret_repr_hides_bytes(keyring_path):
    """The dataclass repr shows the key reference, not ciphertext or wrapped key bytes."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")

    text = repr(secret)
    assert secret.key_ref in text
    assert not _leaks(text, secret.ciphertext, secret.wrapped_key, SECRET)


def test_rotate_keeps_old_secrets_and_rewrap_moves_them(keyring_path):
    """After rotation old secrets still decrypt; rewrap moves them to the new primary version."""
    old = secret_encrypt(SECRET, tenant_id="tenant-a")

    new_version = keyring_rotate()

    assert old.key_ref != f"local:{new_version}"
    assert secret_decrypt(old, tenant_id="tenant-a") == SECRET
    assert secret_encrypt(b"x", tenant_id="tenant-a").key_ref == f"local:{new_version}"

    rewrapped = secret_rewrap(old, tenant_id="tenant-a")

    assert rewrapped.key_ref == f"local:{new_version}"
    assert rewrapped.ciphertext == old.ciphertext
    assert rewrapped.nonce == old.nonce
    assert rewrapped.wrapped_key != old.wrapped_key
    assert secret_decrypt(rewrapped, tenant_id="tenant-a") == SECRET
    assert len(_keyring_keys(keyring_path)) == 2
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600


def test_rewrap_refuses_other_tenant(keyring_path):
    """Rewrapping as another tenant fails instead of re-binding the secret to that tenant."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")
    keyring_rotate()

    with pytest.raises(KmsDecryptError):
        secret_rewrap(secret, tenant_id="tenant-b")


def test_local_unknown_key_version_fails(keyring_path):
    """A secret whose key version the keyring does not hold fails with KmsDecryptError."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")

    with pytest.raises(KmsDecryptError, match="no key version"):
        secret_decrypt(
            dataclasses.replace(secret, key_ref="local:v9-deadbeef"), tenant_id="tenant-a"
        )


def test_local_missing_keyring_is_not_recreated_on_decrypt(keyring_path):
    """Decrypting after the keyring vanished reports it unavailable rather than minting new keys."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")
    keyring_path.unlink()

    with pytest.raises(KmsUnavailable):
        secret_decrypt(secret, tenant_id="tenant-a")
    assert not keyring_path.exists()


def test_local_keyring_readable_by_others_is_refused(keyring_path):
    """A keyring file that group or others can read is refused."""
    kms_ping()
    keyring_path.chmod(0o644)

    with pytest.raises(KmsUnavailable, match="chmod 600"):
        secret_encrypt(SECRET, tenant_id="tenant-a")


def test_local_ping_fails_when_keyring_cannot_be_created(settings, tmp_path):
    """kms_ping raises KmsUnavailable when the keyring path cannot be created."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.KMS_BACKEND = "local"
    settings.KMS_LOCAL_KEYRING_PATH = str(blocker / "keyring.json")

    with pytest.raises(KmsUnavailable):
        kms_ping()


def test_local_ping_fails_on_malformed_keyring(keyring_path):
    """A keyring that is not the expected JSON makes kms_ping fail without echoing its content."""
    keyring_path.parent.mkdir(mode=0o700)
    keyring_path.write_text('{"format": 1, "keys": "c2VjcmV0LWtleS1tYXRlcmlhbA=="}')
    keyring_path.chmod(0o600)

    with pytest.raises(KmsUnavailable) as excinfo:
        kms_ping()
    assert "c2VjcmV0" not in str(excinfo.value)


def test_error_messages_contain_no_secret_material(keyring_path):
    """Decrypt failures name neither the plaintext, the data, nor any keyring key."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")
    tampered = dataclasses.replace(secret, ciphertext=_flip_last_byte(secret.ciphertext))
    failures = []
    for candidate, tenant in [(secret, "tenant-b"), (tampered, "tenant-a")]:
        with pytest.raises(KmsDecryptError) as excinfo:
            secret_decrypt(candidate, tenant_id=tenant)
        failures.append(excinfo.value)

    keys = _keyring_keys(keyring_path)
    for error in failures:
        for text in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
            assert not _leaks(text, SECRET, *keys, secret.ciphertext, secret.wrapped_key)


def test_tenant_id_must_be_non_empty_string(keyring_path):
    """An empty or non-string tenant id is refused before anything is encrypted."""
    with pytest.raises(ValueError):
        secret_encrypt(SECRET, tenant_id="")
    with pytest.raises(ValueError):
        secret_encrypt(SECRET, tenant_id=7)  # type: ignore[arg-type]
    assert not keyring_path.exists()


def test_unknown_backend_is_unavailable(settings, keyring_path):
    """An unknown KMS_BACKEND makes kms_ping raise KmsUnavailable."""
    settings.KMS_BACKEND = "vault"

    with pytest.raises(KmsUnavailable, match="KMS_BACKEND"):
        kms_ping()


def test_gcp_round_trip_sends_only_the_data_key(gcp):
    """Cloud KMS wraps a 32-byte data key bound to the tenant; the secret never reaches KMS."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")

    assert secret.key_ref == f"{KEY_NAME}/cryptoKeyVersions/1"
    assert secret_decrypt(secret, tenant_id="tenant-a") == SECRET

    (encrypt,) = gcp.calls(":encrypt")
    (decrypt,) = gcp.calls(":decrypt")
    assert encrypt.method == "POST"
    assert encrypt.aad == b"convergence:tenant:tenant-a"
    assert decrypt.aad == b"convergence:tenant:tenant-a"
    assert len(encrypt.plaintext) == 32
    assert encrypt.plaintext != SECRET
    assert encrypt.body["plaintextCrc32c"]
    assert encrypt.body["additionalAuthenticatedDataCrc32c"]
    assert decrypt.body["ciphertextCrc32c"]
    assert base64.b64decode(decrypt.body["ciphertext"]) == secret.wrapped_key
    for request in gcp.received:
        assert not _leaks(request.raw_body.decode(), SECRET)


def test_gcp_other_tenant_cannot_decrypt(gcp):
    """A ciphertext made for tenant A does not decrypt as tenant B: Cloud KMS refuses the AAD."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")

    with pytest.raises(KmsDecryptError) as excinfo:
        secret_decrypt(secret, tenant_id="tenant-b")

    (decrypt,) = gcp.calls(":decrypt")
    assert decrypt.aad == b"convergence:tenant:tenant-b"
    assert not _leaks(str(excinfo.value), SECRET, secret.wrapped_key)


def test_gcp_tampered_wrapped_key_fails(gcp):
    """A wrapped key altered at rest fails to unwrap with KmsDecryptError."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")
    tampered = dataclasses.replace(secret, wrapped_key=_flip_last_byte(secret.wrapped_key))

    with pytest.raises(KmsDecryptError):
        secret_decrypt(tampered, tenant_id="tenant-a")


def test_gcp_tampered_ciphertext_fails(gcp):
    """A ciphertext altered at rest fails even though Cloud KMS unwraps the data key."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")
    tampered = dataclasses.replace(secret, ciphertext=_flip_last_byte(secret.ciphertext))

    with pytest.raises(KmsDecryptError):
        secret_decrypt(tampered, tenant_id="tenant-a")


def test_gcp_rewrap_after_rotation(gcp):
    """After Cloud KMS rotates its primary, old secrets decrypt and rewrap moves them to it."""
    old = secret_encrypt(SECRET, tenant_id="tenant-a")
    gcp.rotate()

    assert secret_decrypt(old, tenant_id="tenant-a") == SECRET
    rewrapped = secret_rewrap(old, tenant_id="tenant-a")

    assert rewrapped.key_ref == f"{KEY_NAME}/cryptoKeyVersions/2"
    assert rewrapped.ciphertext == old.ciphertext
    assert rewrapped.wrapped_key != old.wrapped_key
    assert secret_decrypt(rewrapped, tenant_id="tenant-a") == SECRET


def test_gcp_corrupted_response_is_detected(gcp):
    """A response whose CRC32C does not match its bytes is treated as KMS being unusable."""
    gcp.corrupt_response_crc = True

    with pytest.raises(KmsUnavailable, match="corrupted in transit"):
        secret_encrypt(SECRET, tenant_id="tenant-a")


def test_gcp_refuses_secret_wrapped_by_another_key(gcp):
    """A secret whose key_ref names another key or the local keyring is not sent to KMS."""
    secret = secret_encrypt(SECRET, tenant_id="tenant-a")
    foreign = "projects/elsewhere/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"

    for key_ref in (foreign, "local:v1-00000000"):
        with pytest.raises(KmsDecryptError):
            secret_decrypt(dataclasses.replace(secret, key_ref=key_ref), tenant_id="tenant-a")
    assert gcp.calls(":decrypt") == []


def test_gcp_ping_reads_the_crypto_key(gcp):
    """kms_ping asks Cloud KMS for the configured crypto key."""
    kms_ping()

    assert [(r.method, r.path) for r in gcp.received] == [("GET", f"/v1/{KEY_NAME}")]


def test_gcp_ping_fails_when_standin_is_down(gcp):
    """kms_ping raises KmsUnavailable when nothing listens on the endpoint; no secret named."""
    secret_encrypt(SECRET, tenant_id="tenant-a")
    data_key = gcp.calls(":encrypt")[0].plaintext
    gcp.stop()

    with pytest.raises(KmsUnavailable) as excinfo:
        kms_ping()

    assert gcp.endpoint in str(excinfo.value)
    assert not _leaks(str(excinfo.value), SECRET, data_key, *gcp.versions)


def test_gcp_ping_fails_for_unknown_key(settings, gcp):
    """kms_ping raises KmsUnavailable when KMS_KEY_NAME does not exist."""
    settings.KMS_KEY_NAME = KEY_NAME + "-missing"

    with pytest.raises(KmsUnavailable):
        kms_ping()


def test_gcp_without_key_name_is_unavailable(settings, gcp):
    """The gcp backend with an empty KMS_KEY_NAME is reported unavailable."""
    settings.KMS_KEY_NAME = ""

    with pytest.raises(KmsUnavailable, match="KMS_KEY_NAME"):
        kms_ping()


def test_keyring_rotate_refused_for_gcp(gcp):
    """keyring_rotate explains that Cloud KMS keys rotate in Google Cloud."""
    with pytest.raises(KmsError, match="Google Cloud"):
        keyring_rotate()
    assert gcp.received == []


def test_encrypted_secret_is_frozen():
    """EncryptedSecret cannot be modified after creation."""
    secret = EncryptedSecret(ciphertext=b"c", nonce=b"n" * 12, wrapped_key=b"w", key_ref="local:v1")

    with pytest.raises(dataclasses.FrozenInstanceError):
        secret.key_ref = "local:v2"  # type: ignore[misc]
