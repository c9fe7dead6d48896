"""API keys and admin keys: issued once, stored as hashes, checked without a database hit
when malformed, revocable at once."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tenants.models import AdminKey, ApiKey, KeyBase, Tenant
from tenants.services.audit import Actor, audit_record

_RANDOM_BYTES = 32  # 43 url-safe characters
_RANDOM = r"[A-Za-z0-9_-]{43}"
API_KEY_PATTERN = re.compile(rf"^sk_(?P<tenant>[a-z0-9_]{{3,50}})_(?P<random>{_RANDOM})$")
ADMIN_KEY_PATTERN = re.compile(rf"^ak_(?P<random>{_RANDOM})$")
# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)
PREFIX_LENGTH = 12


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
    plaintext = head + secrets.token_urlsafe(_RANDOM_BYTES)
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
    plaintext = "ak_" + secrets.token_urlsafe(_RANDOM_BYTES)
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
        audit_record(
            actor=actor,
            action=f"{key._meta.model_name}.revoke",
            tenant_id=getattr(key, "tenant_id", "") or "",
            target=key.prefix,
            details={"key_id": key.pk},
        )
    return key


def _authenticate(model: type[KeyBase], plaintext: str) -> KeyBase | None:
    now = timezone.now()
    keys = model.objects.select_related("tenant") if model is ApiKey else model.objects
    key = keys.filter(key_hash=key_hash(plaintext)).first()
    if key is None or not key.is_usable(now):
        return None
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        model.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_authenticate(plaintext: str) -> ApiKey | None:
    """The usable key for this plaintext, or None. A malformed key never reaches the database."""
    if not API_KEY_PATTERN.fullmatch(plaintext or ""):
        return None
    return _authenticate(ApiKey, plaintext)


def admin_key_authenticate(plaintext: str) -> AdminKey | None:
    if not ADMIN_KEY_PATTERN.fullmatch(plaintext or ""):
        return None
    return _authenticate(AdminKey, plaintext)
