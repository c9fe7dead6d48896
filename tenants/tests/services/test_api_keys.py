"""API keys: shown once, stored as a hash, rotated, revoked and expired at once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.models import ApiKey
from tenants.services.audit import Actor
from tenants.services.keys import (
    LAST_USED_RESOLUTION,
    admin_key_authenticate,
    admin_key_issue,
    api_key_authenticate,
    api_key_issue,
    key_hash,
    key_revoke,
)
from tenants.tests.conftest import key_client

ACTOR = Actor.system("test")


def test_issued_key_format_and_hash_only(onboard):
    """A key is sk_{tenant}_{43 url-safe chars}; the row holds its hash, never the key."""
    onboarded = onboard("keys_co")
    issued = api_key_issue(tenant=onboarded.tenant, actor=ACTOR, name="ci")
    assert issued.plaintext.startswith("sk_keys_co_")
    assert len(issued.plaintext.removeprefix("sk_keys_co_")) == 43
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
    ApiKey.objects.filter(pk=issued.record.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert api_key_authenticate(issued.plaintext) is None


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
    key = ApiKey.objects.get(tenant_id="lastused_co")
    ApiKey.objects.filter(pk=key.pk).update(
        last_used_at=timezone.now() - LAST_USED_RESOLUTION - timedelta(seconds=1)
    )
    with CaptureQueriesContext(connection) as queries:
        api_key_authenticate(onboarded.api_key)
    assert any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)


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
