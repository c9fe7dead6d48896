"""API keys: shown once, stored as a hash, rotated, revoked and expired at once."""

import random
import re
import string
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.models import AdminKey, ApiKey
from tenants.services.audit import Actor
from tenants.services.keys import (
    LAST_USED_RESOLUTION,
    admin_key_authenticate,
    admin_key_issue,
    api_key_authenticate,
    api_key_issue,
    key_checksum,
    key_hash,
    key_revoke,
    legacy_keys_forget,
)
from tenants.tests.conftest import key_client

ACTOR = Actor.system("test")


def test_issued_key_format_and_hash_only(onboard):
    """A key is sk_{tenant}_{43 random + 6 checksum base-62 chars}; the row holds its hash."""
    onboarded = onboard("keys_co")
    issued = api_key_issue(tenant=onboarded.tenant, actor=ACTOR, name="ci")
    assert issued.plaintext.startswith("sk_keys_co_")
    assert re.fullmatch(r"[0-9A-Za-z]{49}", issued.plaintext.removeprefix("sk_keys_co_"))
    assert issued.plaintext[-6:] == key_checksum(issued.plaintext[:-6])
    assert issued.record.checksummed
    row = ApiKey.objects.filter(pk=issued.record.pk).values().get()
    assert row["key_hash"] == key_hash(issued.plaintext)
    for value in row.values():
        assert issued.plaintext not in str(value)
    random_part = issued.plaintext.removeprefix("sk_keys_co_")
    assert random_part not in row["prefix"]


def test_rotation_keeps_old_key_until_revoked(onboard):
    """A second key works beside the first; revoking the first stops it at once."""
    onboarded = onboard("rotate_co")
    old = onboarded.api_key
    new = api_key_issue(tenant=onboarded.tenant, actor=ACTOR, name="rotated")
    assert api_key_authenticate(old) is not None
    assert api_key_authenticate(new.plaintext) is not None
    key_revoke(key=ApiKey.objects.get(key_hash=key_hash(old)), actor=ACTOR)
    assert api_key_authenticate(old) is None
    assert api_key_authenticate(new.plaintext) is not None
    assert key_client(old).get("/api/v1/tenants/rotate_co/usage").status_code == 401
    assert key_client(new.plaintext).get("/api/v1/tenants/rotate_co/usage").status_code == 200


def test_expired_key_refused(onboard):
    """A key past its expiry authenticates no more."""
    onboarded = onboard("expire_co")
    issued = api_key_issue(
        tenant=onboarded.tenant, actor=ACTOR, expires_at=timezone.now() + timedelta(hours=1)
    )
    assert api_key_authenticate(issued.plaintext) is not None
    key = ApiKey.objects.get(pk=issued.record.pk)
    key.expires_at = timezone.now() - timedelta(seconds=1)
    key.save()  # a saved key leaves the authentication cache (as the admin saves it)
    assert api_key_authenticate(issued.plaintext) is None


def test_a_cached_key_is_refused_once_its_expiry_passes(onboard):
    """Expiry is checked on every use, also for a key read from the authentication cache."""
    onboarded = onboard("expire_cached")
    soon = timezone.now() + timedelta(hours=1)
    issued = api_key_issue(tenant=onboarded.tenant, actor=ACTOR, expires_at=soon)
    assert api_key_authenticate(issued.plaintext) is not None  # now cached
    with mock.patch("tenants.services.keys.timezone.now", return_value=soon + timedelta(1)):
        assert api_key_authenticate(issued.plaintext) is None


def test_revoked_and_deleted_keys_leave_the_cache_at_once(onboard):
    """A revoked key, and a deleted one, are refused on the next request, cached or not."""
    onboarded = onboard("revoke_cached")
    revoked = api_key_issue(tenant=onboarded.tenant, actor=ACTOR)
    deleted = api_key_issue(tenant=onboarded.tenant, actor=ACTOR)
    for issued in (revoked, deleted):
        assert api_key_authenticate(issued.plaintext) is not None  # now cached
    key_revoke(key=revoked.record, actor=ACTOR)
    ApiKey.objects.filter(pk=deleted.record.pk).delete()
    assert api_key_authenticate(revoked.plaintext) is None
    assert api_key_authenticate(deleted.plaintext) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        "",
        "sk_",
        "sk_acme",
        "sk_ACME_" + "a" * 43,
        "sk_acme_" + "a" * 42,
        "x" * 5000,
        "sk_a'--_" + "b" * 43,
    ],
)
def test_malformed_key_never_touches_the_database(raw):
    """A key that cannot be well formed is refused without a query."""
    with CaptureQueriesContext(connection) as queries:
        assert api_key_authenticate(raw) is None
        assert admin_key_authenticate(raw) is None
    assert len(queries) == 0


def test_last_used_written_at_most_once_per_interval(onboard):
    """last_used_at is updated on first use, then not again within the resolution window."""
    onboarded = onboard("lastused_co")
    assert api_key_authenticate(onboarded.api_key).last_used_at is not None
    with CaptureQueriesContext(connection) as queries:
        api_key_authenticate(onboarded.api_key)
    assert not any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)
    later = timezone.now() + LAST_USED_RESOLUTION + timedelta(seconds=1)
    with (
        mock.patch("tenants.services.keys.timezone.now", return_value=later),
        CaptureQueriesContext(connection) as queries,
    ):
        api_key_authenticate(onboarded.api_key)
    assert any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)
    assert ApiKey.objects.get(tenant_id="lastused_co").last_used_at == later


@pytest.mark.django_db
def test_admin_key_grants_staff_routes():
    """An X-Admin-Key reaches staff routes; revoked, it does not."""
    from rest_framework.test import APIClient

    issued = admin_key_issue(actor=ACTOR, name="cron")
    client = APIClient()
    client.credentials(HTTP_X_ADMIN_KEY=issued.plaintext)
    assert client.get("/api/v1/admin/tenants").status_code == 200
    key_revoke(key=issued.record, actor=ACTOR)
    assert client.get("/api/v1/admin/tenants").status_code == 401


def _forged(head: str, rng: random.Random) -> str:
    """A key of the real shape: the right head and 49 base-62 characters."""
    return head + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(49))


@pytest.mark.django_db
def test_forged_keys_of_valid_shape_make_no_query(api_client):
    """Random keys shaped like real ones fail their checksum: refused with 0 queries.

    Through the whole API request too: 401, and the database is never asked.
    """
    rng = random.Random(15)
    forged = [_forged("sk_acme_corp_", rng) for _ in range(200)]
    forged_admin = [_forged("ak_", rng) for _ in range(200)]
    with CaptureQueriesContext(connection) as queries:
        assert not any(api_key_authenticate(k) for k in forged)
        assert not any(admin_key_authenticate(k) for k in forged_admin)
        api_client.credentials(HTTP_X_API_KEY=forged[0])
        assert api_client.get("/api/v1/tenants/acme_corp/runs").status_code == 401
        api_client.credentials(HTTP_X_ADMIN_KEY=forged_admin[0])
        assert api_client.get("/api/v1/admin/tenants").status_code == 401
    assert queries.captured_queries == []


def test_a_key_with_one_character_changed_is_refused_without_a_query(onboard):
    """Changing any one character of a real key breaks its checksum."""
    key = onboard("typo_co").api_key
    body = key.removeprefix("sk_typo_co_")
    with CaptureQueriesContext(connection) as queries:
        for i, char in enumerate(body):
            swapped = "b" if char == "a" else "a"
            typo = "sk_typo_co_" + body[:i] + swapped + body[i + 1 :]
            assert api_key_authenticate(typo) is None
    assert len(queries) == 0


def _legacy_key(model, plaintext: str, **fields):
    """A key as issued before checksums: 43 url-safe characters, stored as its hash."""
    return model.objects.create(
        prefix=plaintext[:20], key_hash=key_hash(plaintext), checksummed=False, **fields
    )


def test_legacy_keys_work_until_rotated_then_their_shape_costs_no_query(onboard):
    """Keys issued before checksums keep working; once none is left, their shape is refused
    without a query."""
    onboarded = onboard("legacy_co")
    legacy = "sk_legacy_co_" + "A-b_" * 10 + "xyz"
    legacy_admin = "ak_" + "Q_r-" * 10 + "uvw"
    old = _legacy_key(ApiKey, legacy, tenant=onboarded.tenant)
    old_admin = _legacy_key(AdminKey, legacy_admin)
    legacy_keys_forget()
    assert api_key_authenticate(legacy) == old
    assert admin_key_authenticate(legacy_admin) == old_admin
    assert key_client(legacy).get("/api/v1/tenants/legacy_co/usage").status_code == 200

    key_revoke(key=old, actor=ACTOR)
    key_revoke(key=old_admin, actor=ACTOR)
    assert api_key_authenticate(legacy) is None  # asks the database once more
    assert admin_key_authenticate(legacy_admin) is None
    with CaptureQueriesContext(connection) as queries:
        assert api_key_authenticate("sk_legacy_co_" + "z" * 43) is None
        assert admin_key_authenticate("ak_" + "z" * 43) is None
    assert len(queries) == 0
    # The tenant's checksummed key works as before.
    assert api_key_authenticate(onboarded.api_key) is not None
