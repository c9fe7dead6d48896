"""API keys and admin keys: issued once, stored as hashes, checked without a database hit
when malformed or when their checksum fails, revocable at once."""

import hashlib
import hmac
import re
import secrets
import string
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from core.throttling import KeyAhead
from tenants.models import AdminKey, ApiKey, KeyBase, Tenant
from tenants.services.audit import Actor, audit_record

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
# 43 base-62 characters carry 256 random bits; 6 more carry a CRC32 of everything before
# them (as GitHub's tokens do), so a key typed wrong or made up is refused without a query.
_RANDOM_LENGTH = 43
_CHECKSUM_LENGTH = 6
_BODY = rf"[0-9A-Za-z]{{{_RANDOM_LENGTH + _CHECKSUM_LENGTH}}}"
# Keys issued before checksums: 43 url-safe characters. They keep working until rotated.
_LEGACY_BODY = r"[A-Za-z0-9_-]{43}"
API_KEY_PATTERN = re.compile(rf"^sk_(?P<tenant>[a-z0-9_]{{3,50}})_(?P<random>{_BODY})$")
ADMIN_KEY_PATTERN = re.compile(rf"^ak_(?P<random>{_BODY})$")
LEGACY_API_KEY_PATTERN = re.compile(
    rf"^sk_(?P<tenant>[a-z0-9_]{{3,50}})_(?P<random>{_LEGACY_BODY})$"
)
LEGACY_ADMIN_KEY_PATTERN = re.compile(rf"^ak_(?P<random>{_LEGACY_BODY})$")
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)
PREFIX_LENGTH = 12
# How long a process trusts its answer to "is any legacy key still usable?".
LEGACY_CHECK_SECONDS = 60.0


def key_checksum(body: str) -> str:
    """CRC32 of ``body`` in base 62, six characters."""
    value, digits = zlib.crc32(body.encode()), []
    for _ in range(_CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def _key_new(head: str) -> str:
    body = head + "".join(secrets.choice(BASE62) for _ in range(_RANDOM_LENGTH))
    return body + key_checksum(body)


def key_checksum_valid(plaintext: str) -> bool:
    body, checksum = plaintext[:-_CHECKSUM_LENGTH], plaintext[-_CHECKSUM_LENGTH:]
    return hmac.compare_digest(key_checksum(body), checksum)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: ``plaintext`` exists only here and is never stored."""

    record: KeyBase
    plaintext: str


def key_hash(plaintext: str) -> str:
    # Keys carry 256 random bits, so a plain SHA-256 is not open to guessing.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _prefix(plaintext: str, fixed: str) -> str:
    return plaintext[: len(fixed) + PREFIX_LENGTH]


def api_key_issue(
    *, tenant: Tenant, actor: Actor, name: str = "", expires_at: datetime | None = None
) -> IssuedKey:
    head = f"sk_{tenant.id}_"
    plaintext = _key_new(head)
    with transaction.atomic():
        key = ApiKey.objects.create(
            tenant=tenant,
            name=name,
            prefix=_prefix(plaintext, head),
            key_hash=key_hash(plaintext),
            expires_at=expires_at,
        )
        audit_record(
            actor=actor,
            action="api_key.issue",
            tenant_id=tenant.id,
            target=key.prefix,
            details={"key_id": key.pk, "name": name},
        )
    return IssuedKey(record=key, plaintext=plaintext)


def admin_key_issue(
    *, actor: Actor, name: str = "", expires_at: datetime | None = None
) -> IssuedKey:
    plaintext = _key_new("ak_")
    with transaction.atomic():
        key = AdminKey.objects.create(
            name=name,
            prefix=_prefix(plaintext, "ak_"),
            key_hash=key_hash(plaintext),
            expires_at=expires_at,
            created_by=actor.user if getattr(actor.user, "pk", None) else None,
        )
        audit_record(
            actor=actor, action="admin_key.issue", target=key.prefix, details={"key_id": key.pk}
        )
    return IssuedKey(record=key, plaintext=plaintext)


def key_revoke(*, key: KeyBase, actor: Actor) -> KeyBase:
    """Revoke a key at once; revoking twice keeps the first time."""
    with transaction.atomic():
        type(key).objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        key.refresh_from_db()
        key_forget(key=key)
        legacy_keys_forget()
        audit_record(
            actor=actor,
            action=f"{key._meta.model_name}.revoke",
            tenant_id=getattr(key, "tenant_id", "") or "",
            target=key.prefix,
            details={"key_id": key.pk},
        )
    return key


def _authenticate(
    model: type[KeyBase], plaintext: str, cache_reads: Mapping[str, Any] | None
) -> KeyBase | None:
    now = timezone.now()
    digest = key_hash(plaintext)
    key = _key_cached(model, digest, cache_reads or {})
    if key is None:
        keys = model.objects.select_related("tenant") if model is ApiKey else model.objects
        key = keys.filter(key_hash=digest).first()
        if key is None:
            return None
        _key_cache(key)
    if not key.is_usable(now):
        return None
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        model.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        _key_cache(key)
    return key


# A known key's row is kept in the shared cache (Redis in production) for this long, so a
# request with it costs one cache read instead of a query. Revoking or deleting a key
# removes its entry at once (``key_revoke``, ``key_forget``), and expiry is checked on every
# use; anything else that changes a key's row shows within this many seconds.
KEY_CACHE_SECONDS = 30


def _key_cache_name(model: type[KeyBase], digest: str) -> str:
    return f"auth-key:{model._meta.model_name}:{digest}"


def _key_cached(
    model: type[KeyBase], digest: str, cache_reads: Mapping[str, Any]
) -> KeyBase | None:
    name = _key_cache_name(model, digest)
    # Read already, with the request's rate limits, in one round trip (``key_ahead``)?
    values = cache_reads[name] if name in cache_reads else cache.get(name)
    if values is None:
        return None
    names = [f.attname for f in model._meta.concrete_fields]
    return model.from_db(DEFAULT_DB_ALIAS, names, values)


def _key_cache(key: KeyBase) -> None:
    """Keep the key's own row (not its tenant: that is read when a request needs it)."""
    values = [getattr(key, f.attname) for f in key._meta.concrete_fields]
    cache.set(_key_cache_name(type(key), key.key_hash), values, KEY_CACHE_SECONDS)


def key_forget(*, key: KeyBase) -> None:
    """Drop the key's cached row, now and again after the transaction commits (so a request
    that read the old row meanwhile cannot put it back for long)."""
    name = _key_cache_name(type(key), key.key_hash)
    cache.delete(name)
    transaction.on_commit(lambda: cache.delete(name))


_legacy_usable: dict[type, tuple[float, bool]] = {}


def legacy_keys_usable(model: type[KeyBase]) -> bool:
    """Whether any key issued before checksums can still be used; asked once a minute.

    Legacy keys are never issued again, so once none is usable, a key of their shape is
    refused without a query (after at most ``LEGACY_CHECK_SECONDS``).
    """
    now = time.monotonic()
    checked = _legacy_usable.get(model)
    if checked is None or checked[0] < now:
        usable = (
            model.objects.filter(checksummed=False, revoked_at__isnull=True)
            .exclude(expires_at__lte=timezone.now())
            .exists()
        )
        checked = (now + LEGACY_CHECK_SECONDS, usable)
        _legacy_usable[model] = checked
    return checked[1]


def legacy_keys_forget() -> None:
    """Ask the database again on the next legacy-shaped key (after a key is revoked)."""
    _legacy_usable.clear()


def _well_formed(model: type[KeyBase], plaintext: str, pattern, legacy_pattern) -> bool:
    if pattern.fullmatch(plaintext):
        return key_checksum_valid(plaintext)
    return bool(legacy_pattern.fullmatch(plaintext)) and legacy_keys_usable(model)


def api_key_authenticate(
    plaintext: str, *, cache_reads: Mapping[str, Any] | None = None
) -> ApiKey | None:
    """The usable key for this plaintext, or None.

    A malformed key, or one whose checksum does not match, never reaches the database.
    ``cache_reads``: cache entries already read for this request (name -> value or None).
    """
    if not _well_formed(ApiKey, plaintext or "", API_KEY_PATTERN, LEGACY_API_KEY_PATTERN):
        return None
    return _authenticate(ApiKey, plaintext, cache_reads)


def admin_key_authenticate(
    plaintext: str, *, cache_reads: Mapping[str, Any] | None = None
) -> AdminKey | None:
    if not _well_formed(AdminKey, plaintext or "", ADMIN_KEY_PATTERN, LEGACY_ADMIN_KEY_PATTERN):
        return None
    return _authenticate(AdminKey, plaintext, cache_reads)


_PATTERNS = {ApiKey: API_KEY_PATTERN, AdminKey: ADMIN_KEY_PATTERN}


def key_ahead(model: type[KeyBase], plaintext: str) -> KeyAhead | None:
    """Where a checksummed key's cached row would be, for the request's rate-limit round trip
    to read it too (``core.throttling.address_check``); None for any other text (a
    key of the legacy shape is read as before). No query, no cache call."""
    if not (_PATTERNS[model].fullmatch(plaintext) and key_checksum_valid(plaintext)):
        return None
    digest = key_hash(plaintext)
    return KeyAhead(_key_cache_name(model, digest), model.__name__, digest)
