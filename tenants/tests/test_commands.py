"""The tenants management commands: issue_admin_key and rewrap_credentials."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tenants.kms import keyring_rotate
from tenants.models import AdminKey, AuditEvent, CloudCredential
from tenants.services.audit import Actor
from tenants.services.credentials import credential_secret, credential_store
from tenants.services.keys import ADMIN_KEY_PATTERN, admin_key_authenticate
from tenants.tests.factories import TenantFactory


def _issue(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("issue_admin_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_issue_admin_key_prints_key_once_and_stores_hash():
    """The command prints a working admin key alone on stdout; the row holds only its hash."""
    out, err = _issue("--name", "nightly cron", "--expires-days", "7")
    key = out.strip()
    assert ADMIN_KEY_PATTERN.fullmatch(key)
    assert key not in err
    record = admin_key_authenticate(key)
    assert record is not None
    assert record.name == "nightly cron"
    assert record.created_by is None
    assert timedelta(days=6, hours=23) < record.expires_at - timezone.now() <= timedelta(days=7)
    for value in AdminKey.objects.filter(pk=record.pk).values().get().values():
        assert key not in str(value)
    event = AuditEvent.objects.get(action="admin_key.issue")
    assert event.actor_label == "manage.py"


@pytest.mark.django_db
def test_issue_admin_key_without_expiry():
    """Without --expires-days the key does not expire."""
    out, _ = _issue("--name", "script")
    assert admin_key_authenticate(out.strip()).expires_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("args", [(), ("--name", "x", "--expires-days", "0")])
def test_issue_admin_key_refuses_bad_arguments(args):
    """A missing name or a non-positive expiry issues nothing."""
    with pytest.raises(CommandError):
        _issue(*args)
    assert not AdminKey.objects.exists()


@pytest.mark.django_db
def test_rewrap_credentials_after_rotation(settings, tmp_path):
    """After a keyring rotation the command re-wraps every credential under the new key,
    and the secrets still decrypt."""
    settings.KMS_BACKEND = "local"
    settings.KMS_LOCAL_KEYRING_PATH = str(tmp_path / "kms" / "keyring.json")
    secret = {"role_arn": "arn:aws:iam::123456789012:role/billing-reader"}
    credential = credential_store(
        tenant=TenantFactory(),
        provider="aws",
        kind=CloudCredential.Kind.AWS_ROLE,
        name="billing",
        secret=secret,
        actor=Actor.system("test"),
    )
    old_ref = credential.key_ref
    new_version = keyring_rotate()

    out = StringIO()
    call_command("rewrap_credentials", stdout=out)

    credential.refresh_from_db()
    assert old_ref != credential.key_ref == f"local:{new_version}"
    assert credential_secret(credential=credential) == secret
    assert "Re-wrapped 1 credential(s)." in out.getvalue()
    assert AuditEvent.objects.get(action="credentials.rewrap").details == {"count": 1}
