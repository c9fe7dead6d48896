"""Emails kept under var/mail/ locally, and the command that lists them and finds a key."""

import pytest
from django.core.mail import send_mail
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.services.emails import email_welcome_send
from core.mail import kept_emails_list
from tenants.services.keys import API_KEY_PATTERN, LEGACY_API_KEY_PATTERN, key_checksum
from tenants.tests.factories import TenantFactory

KEY = "sk_acme_corp_" + "A" * 43 + key_checksum("sk_acme_corp_" + "A" * 43)
# A key issued before checksums: still valid, so its email still counts.
SHORTER_TENANT_KEY = "sk_acme_" + "b" * 43


@pytest.fixture
def kept(settings, tmp_path):
    settings.EMAIL_BACKEND = "core.mail.KeptEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.EMAIL_ECHO = False
    return tmp_path / "mail"


def test_every_email_is_kept_as_a_file_and_listed_newest_first(kept, capsys):
    """Each message becomes one .eml file; `emails` lists them newest first with subject."""
    send_mail("First", "one", "from@example.com", ["a@example.com"])
    send_mail("Second", "two", "from@example.com", ["b@example.com"])
    assert len(list(kept.glob("*.eml"))) == 2
    assert [m.subject for m in kept_emails_list()] == ["Second", "First"]
    call_command("emails")
    out = capsys.readouterr().out.splitlines()
    assert "Second" in out[0] and "b@example.com" in out[0] and "First" in out[1]
    call_command("emails", "--to", "a@example.com", "--full")
    out = capsys.readouterr().out
    assert "First" in out and "one" in out and "Second" not in out


@pytest.mark.django_db
def test_a_welcome_key_is_found_again_by_tenant_id(kept, capsys):
    """`emails --api-key TENANT` prints exactly that tenant's key, not one of a longer id."""
    acme_corp = TenantFactory(id="acme_corp")
    acme = TenantFactory(id="acme")
    email_welcome_send(tenant=acme_corp, api_key=KEY, recipient="ops@acme.example.com")
    email_welcome_send(tenant=acme, api_key=SHORTER_TENANT_KEY, recipient="x@acme.example.com")
    call_command("emails", "--api-key", "acme_corp")
    assert capsys.readouterr().out.strip() == KEY
    call_command("emails", "--api-key", "acme")
    assert capsys.readouterr().out.strip() == SHORTER_TENANT_KEY
    assert API_KEY_PATTERN.fullmatch(KEY)
    assert LEGACY_API_KEY_PATTERN.fullmatch(SHORTER_TENANT_KEY)
    with pytest.raises(CommandError, match="No welcome email with an API key for 'nobody'"):
        call_command("emails", "--api-key", "nobody")


@pytest.mark.django_db
def test_welcome_email_suggests_only_pipelines_that_can_run(mailoutbox):
    """The example run is one the new tenant can run; GCP pipelines name the missing setting."""
    tenant = TenantFactory(id="acme_corp")
    email_welcome_send(tenant=tenant, api_key=KEY, recipient="ops@acme.example.com")
    body = mailoutbox[0].body
    assert "/api/v1/pipelines/run/acme_corp/example/demo/hello" in body
    runnable, needs_config = body.split("Pipelines that need a provider config first")
    assert "aws/cost/focus" in runnable and "source_file" in runnable
    assert "gcp/cost/billing" not in runnable
    assert "gcp/cost/billing: the gcp provider config's setting 'billing_export_table'" in (
        needs_config
    )
