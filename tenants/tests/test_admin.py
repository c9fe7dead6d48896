"""The tenants admin: constant-query lists, onboarding and actions through services, no secrets."""

import base64
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tenants.models import (
    AdminKey,
    ApiKey,
    AuditEvent,
    CloudCredential,
    Plan,
    Tenant,
)
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store
from tenants.services.keys import admin_key_authenticate, api_key_authenticate, key_hash
from tenants.tests.factories import (
    AdminKeyFactory,
    ApiKeyFactory,
    AuditEventFactory,
    CloudCredentialFactory,
    PlanFactory,
    TenantFactory,
    UsageWindowFactory,
)
from warehouse.bigquery import tenant_dataset_id

ONBOARD_URL = "/admin/tenants/tenant/onboard/"
TENANT_CHANGELIST = "/admin/tenants/tenant/"
ADMIN_KEY_ISSUE_URL = "/admin/tenants/adminkey/issue/"
REGISTERED = (
    "plan",
    "tenant",
    "apikey",
    "adminkey",
    "cloudcredential",
    "usagewindow",
    "auditevent",
)
# Session, user, counts, rows, filter choices: well under this whatever the row count.
MAX_CHANGELIST_QUERIES = 12
SECRET_MARKER = "recognisable-secret-7f3a9c1e"


def _unique_tenant_id(prefix: str = "adm") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _api_keys_in(content: str, tenant_id: str) -> list[str]:
    return re.findall(rf"sk_{tenant_id}_[A-Za-z0-9]{{49}}", content)


def _onboard_data(tenant_id: str, button: str, **overrides) -> dict:
    return {
        "tenant_id": tenant_id,
        "company_name": "Admin Onboarded Ltd",
        "admin_email": f"ops+{tenant_id}@example.com",
        "plan": "PROFESSIONAL",
        "status": Tenant.Status.TRIAL,
        button: "1",
        **overrides,
    }


def _populate(count: int, user) -> None:
    """Rows for every registered model, with the relations each list displays."""
    for _ in range(count):
        tenant = TenantFactory()
        ApiKeyFactory(tenant=tenant)
        CloudCredentialFactory(tenant=tenant)
        UsageWindowFactory(tenant=tenant)
        AdminKeyFactory()
        PlanFactory()
        AuditEventFactory(tenant_id=tenant.id, actor=user)


def _change_form_data(response, **changes) -> dict:
    """The POST a browser would send back from a change form, with ``changes`` applied."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management.initial.get(name, "")
    return {**data, **changes}


def test_every_model_is_registered():
    """Each tenants model that staff work with has an admin."""
    registered = {
        m._meta.model_name for m in admin.site._registry if m._meta.app_label == "tenants"
    }
    assert registered == set(REGISTERED)


@pytest.mark.parametrize("model_name", REGISTERED)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, admin_user, model_name, django_assert_max_num_queries
):
    """Every changelist renders with the same number of queries for 3 rows as for 33."""
    url = reverse(f"admin:tenants_{model_name}_changelist")
    _populate(3, admin_user)
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert len(few) <= MAX_CHANGELIST_QUERIES
    few_rows = response.context["cl"].result_count

    _populate(30, admin_user)
    with django_assert_max_num_queries(len(few)):
        response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= few_rows + 30


def test_tenant_changelist_links_onboarding(admin_client):
    """The tenant list offers an "Onboard tenant" button instead of a plain add form."""
    response = admin_client.get(TENANT_CHANGELIST)
    content = response.content.decode()
    assert ONBOARD_URL in content
    assert "Onboard tenant" in content
    assert admin_client.get("/admin/tenants/tenant/add/").status_code == 403


def test_onboard_view_needs_staff(client):
    """An anonymous visitor is sent to the admin login, not shown the onboarding form."""
    response = client.get(ONBOARD_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_onboard_view_creates_tenant_and_dataset(admin_client, admin_user, warehouse):
    """Onboard creates the tenant and its dataset, then shows the API key exactly once."""
    tenant_id = _unique_tenant_id()
    try:
        response = admin_client.post(
            ONBOARD_URL, _onboard_data(tenant_id, "_onboard", status="ACTIVE"), follow=True
        )
        change_url = reverse("admin:tenants_tenant_change", args=[quote(tenant_id)])
        assert response.redirect_chain == [(change_url, 302)], response.context["form"].errors
        tenant = Tenant.objects.select_related("subscription__plan").get(pk=tenant_id)
        assert tenant.status == Tenant.Status.ACTIVE
        assert tenant.subscription.plan.code == "PROFESSIONAL"
        assert warehouse.dataset_exists(tenant.dataset_id)

        keys = _api_keys_in(response.content.decode(), tenant_id)
        assert len(keys) == 1
        assert api_key_authenticate(keys[0]).tenant_id == tenant_id
        assert keys[0] not in admin_client.get(change_url).content.decode()
        assert AuditEvent.objects.filter(
            action="tenant.onboard", tenant_id=tenant_id, actor=admin_user
        ).exists()
    finally:
        warehouse.dataset_delete(tenant_dataset_id(tenant_id))


def test_dry_run_button_shows_checks_and_creates_nothing(admin_client, warehouse):
    """Dry run lists every check with its result and message, and creates nothing."""
    tenant_id = _unique_tenant_id()
    response = admin_client.post(ONBOARD_URL, _onboard_data(tenant_id, "_dry_run"))
    assert response.status_code == 200
    report = response.context["report"]
    content = response.content.decode()
    assert len(report.checks) == report.summary["total_checks"] >= 8
    for check in report.checks:
        assert check.name in content
        assert escape(check.message) in content
    assert (
        f"{report.summary['passed']} of {report.summary['total_checks']} checks passed" in content
    )
    assert {c.name: c.passed for c in report.checks}["tenant_id_unused"] is True
    assert not Tenant.objects.filter(pk=tenant_id).exists()
    assert not AuditEvent.objects.exists()
    assert not warehouse.dataset_exists(tenant_dataset_id(tenant_id))


def test_dry_run_reports_failed_checks(admin_client, warehouse):
    """A bad tenant id and email come back as failed checks and "not ready", not form errors."""
    response = admin_client.post(
        ONBOARD_URL, _onboard_data("Bad-Id!", "_dry_run", admin_email="not-an-email")
    )
    assert response.status_code == 200
    results = {c.name: c.passed for c in response.context["report"].checks}
    assert results["tenant_id_format"] is False
    assert results["admin_email"] is False
    assert "not ready" in response.content.decode()
    assert not Tenant.objects.exists()


def test_onboard_duplicate_tenant_id_shows_form_error(admin_client):
    """Onboarding a taken tenant id re-renders the form with the error; nothing else changes."""
    TenantFactory(id="dup_co")
    response = admin_client.post(ONBOARD_URL, _onboard_data("dup_co", "_onboard"))
    assert response.status_code == 200
    assert "already exists" in response.context["form"].errors["tenant_id"][0]
    assert "already exists" in response.content.decode()
    assert Tenant.objects.filter(pk="dup_co").count() == 1
    assert not ApiKey.objects.filter(tenant_id="dup_co").exists()
    assert not AuditEvent.objects.filter(action="tenant.onboard").exists()


def test_onboard_invalid_email_shows_field_error(admin_client):
    """The service's validation error lands on the field it names."""
    tenant_id = _unique_tenant_id()
    response = admin_client.post(
        ONBOARD_URL, _onboard_data(tenant_id, "_onboard", admin_email="nope")
    )
    assert response.status_code == 200
    assert "not a valid email" in response.context["form"].errors["admin_email"][0]
    assert not Tenant.objects.filter(pk=tenant_id).exists()


def test_suspend_and_reactivate_actions(admin_client, admin_user):
    """Suspend and Reactivate change the status through the service, one audit event each."""
    tenants = TenantFactory.create_batch(2, status=Tenant.Status.ACTIVE)
    ids = [t.pk for t in tenants]

    response = admin_client.post(
        TENANT_CHANGELIST, {"action": "suspend_tenants", "_selected_action": ids}
    )
    assert response.status_code == 302
    assert set(Tenant.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Tenant.Status.SUSPENDED
    }
    suspended = AuditEvent.objects.filter(action="tenant.status", actor=admin_user)
    assert sorted((e.tenant_id, e.details["from"], e.details["to"]) for e in suspended) == [
        (tenant_id, "ACTIVE", "SUSPENDED") for tenant_id in sorted(ids)
    ]
    assert {e.actor_label for e in suspended} == {admin_user.username}

    admin_client.post(TENANT_CHANGELIST, {"action": "reactivate_tenants", "_selected_action": ids})
    assert set(Tenant.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Tenant.Status.ACTIVE
    }
    reactivated = AuditEvent.objects.filter(action="tenant.status", details__to="ACTIVE")
    assert sorted(reactivated.values_list("tenant_id", flat=True)) == sorted(ids)


def test_issue_api_key_action_shows_key_once_and_stores_only_hash(admin_client, admin_user):
    """The new key appears once, in a message; its row holds the hash and no plaintext."""
    tenant = TenantFactory()
    response = admin_client.post(
        TENANT_CHANGELIST,
        {"action": "issue_api_keys", "_selected_action": [tenant.pk]},
        follow=True,
    )
    keys = _api_keys_in(response.content.decode(), tenant.pk)
    assert len(keys) == 1
    row = ApiKey.objects.filter(tenant=tenant).values().get()
    assert row["key_hash"] == key_hash(keys[0])
    for value in row.values():
        assert keys[0] not in str(value)
    assert keys[0].removeprefix(f"sk_{tenant.pk}_") not in row["prefix"]
    assert AuditEvent.objects.filter(action="api_key.issue", actor=admin_user).count() == 1
    assert keys[0] not in admin_client.get(TENANT_CHANGELIST).content.decode()


@pytest.mark.parametrize(
    ("factory", "model_name", "authenticate"),
    [
        (ApiKeyFactory, "apikey", api_key_authenticate),
        (AdminKeyFactory, "adminkey", admin_key_authenticate),
    ],
)
def test_revoke_action_revokes_through_service(
    admin_client, admin_user, factory, model_name, authenticate
):
    """Revoke stops the key at once and leaves an audit event naming the staff user."""
    key, other = factory(), factory()
    response = admin_client.post(
        reverse(f"admin:tenants_{model_name}_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert authenticate(key.plaintext) is None
    assert authenticate(other.plaintext) is not None
    assert AuditEvent.objects.filter(
        action=f"{model_name}.revoke", actor=admin_user, target=key.prefix
    ).exists()


@pytest.mark.parametrize(
    ("factory", "model_name"), [(ApiKeyFactory, "apikey"), (AdminKeyFactory, "adminkey")]
)
def test_key_pages_never_show_hash(admin_client, factory, model_name):
    """The key change page (and the tenant page) show metadata, never the hash or the key."""
    key = factory()
    urls = [reverse(f"admin:tenants_{model_name}_change", args=[key.pk])]
    if model_name == "apikey":
        urls.append(reverse("admin:tenants_tenant_change", args=[quote(key.tenant_id)]))
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200
        content = response.content.decode()
        assert key.prefix in content
        assert key.key_hash not in content
        assert key.plaintext not in content
    assert admin_client.get(reverse(f"admin:tenants_{model_name}_add")).status_code == 403


def test_key_filters(admin_client):
    """The revoked and expired filters keep only the matching keys."""
    live = ApiKeyFactory()
    expired = ApiKeyFactory(expires_at=timezone.now() - timedelta(days=1))
    revoked = ApiKeyFactory()
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    url = reverse("admin:tenants_apikey_changelist")

    def listed(query: str) -> set[int]:
        return {k.pk for k in admin_client.get(url + query).context["cl"].result_list}

    assert listed("?revoked=yes") == {revoked.pk}
    assert listed("?expired=yes") == {expired.pk}
    assert listed("?revoked=no&expired=no") == {live.pk}


def test_issue_admin_key_view_shows_key_once(admin_client, admin_user):
    """Issuing an admin key shows it once and stores its hash, credited to the staff user."""
    assert ADMIN_KEY_ISSUE_URL in admin_client.get("/admin/tenants/adminkey/").content.decode()
    response = admin_client.post(
        ADMIN_KEY_ISSUE_URL, {"name": "nightly cron", "expires_days": "30"}, follow=True
    )
    keys = re.findall(r"ak_[A-Za-z0-9]{49}", response.content.decode())
    assert len(keys) == 1
    record = admin_key_authenticate(keys[0])
    assert record.name == "nightly cron"
    assert record.created_by == admin_user
    assert timedelta(days=29) < record.expires_at - timezone.now() <= timedelta(days=30)
    assert AdminKey.objects.filter(key_hash=key_hash(keys[0])).count() == 1
    assert AuditEvent.objects.filter(action="admin_key.issue", actor=admin_user).exists()
    assert keys[0] not in admin_client.get("/admin/tenants/adminkey/").content.decode()


def test_credential_pages_show_no_secret_or_ciphertext(admin_client, admin_user):
    """Neither the credential page nor the tenant page renders the secret or encrypted bytes."""
    tenant = TenantFactory()
    credential_store(
        tenant=tenant,
        provider="aws",
        kind=CloudCredential.Kind.AWS_ACCESS_KEY,
        name="billing",
        secret={"access_key_id": "AKIAEXAMPLE", "secret_access_key": SECRET_MARKER},
        actor=Actor.system("test"),
    )
    stored = CloudCredential.objects.get(tenant=tenant)
    blobs = [bytes(stored.ciphertext), bytes(stored.nonce), bytes(stored.wrapped_key)]
    for url in (
        reverse("admin:tenants_cloudcredential_change", args=[stored.pk]),
        reverse("admin:tenants_tenant_change", args=[quote(tenant.pk)]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200
        content = response.content.decode()
        assert stored.key_ref in content
        assert SECRET_MARKER not in content
        assert "AKIAEXAMPLE" not in content
        for blob in blobs:
            assert base64.b64encode(blob).decode() not in content
            assert blob.hex() not in content
            assert escape(str(blob)) not in content
    add_url = reverse("admin:tenants_cloudcredential_add")
    assert admin_client.get(add_url).status_code == 403


def test_credential_delete_goes_through_service(admin_client, admin_user):
    """Deleting credentials from the list removes them and audits each deletion."""
    credential = CloudCredentialFactory()
    response = admin_client.post(
        reverse("admin:tenants_cloudcredential_changelist"),
        {"action": "delete_selected", "_selected_action": [credential.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not CloudCredential.objects.filter(pk=credential.pk).exists()
    assert AuditEvent.objects.filter(
        action="credential.delete", actor=admin_user, tenant_id=credential.tenant_id
    ).exists()


def test_tenant_change_form_status_goes_through_service(admin_client, admin_user):
    """Editing status on the change form calls the lifecycle service; profile edits are audited."""
    tenant = TenantFactory(status=Tenant.Status.TRIAL)
    url = reverse("admin:tenants_tenant_change", args=[quote(tenant.pk)])
    data = _change_form_data(
        admin_client.get(url),
        status=Tenant.Status.SUSPENDED,
        status_reason="Unpaid invoice",
        company_name="Renamed Ltd",
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.refresh_from_db()
    assert (tenant.status, tenant.status_reason, tenant.company_name) == (
        Tenant.Status.SUSPENDED,
        "Unpaid invoice",
        "Renamed Ltd",
    )
    status_event = AuditEvent.objects.get(action="tenant.status", tenant_id=tenant.pk)
    assert status_event.actor == admin_user
    assert status_event.details == {"from": "TRIAL", "to": "SUSPENDED", "reason": "Unpaid invoice"}
    update_event = AuditEvent.objects.get(action="tenant.update", tenant_id=tenant.pk)
    assert update_event.details == {"fields": ["company_name"]}


def test_tenant_change_page_shows_last_20_audit_events(admin_client):
    """The change form lists the tenant's 20 newest audit events and no older ones."""
    tenant = TenantFactory()
    now = timezone.now()
    for i in range(25):
        AuditEventFactory(
            tenant_id=tenant.pk, target=f"evt{i:02d}x", created_at=now - timedelta(minutes=i)
        )
    AuditEventFactory(tenant_id="someone_else", target="foreign_evt", created_at=now)
    content = admin_client.get(
        reverse("admin:tenants_tenant_change", args=[quote(tenant.pk)])
    ).content
    content = content.decode()
    assert all(f"evt{i:02d}x" in content for i in range(20))
    assert not any(f"evt{i:02d}x" in content for i in range(20, 25))
    assert "foreign_evt" not in content
    link = reverse("admin:tenants_auditevent_changelist") + f"?tenant_id={tenant.pk}"
    assert link in content
    assert admin_client.get(link).context["cl"].result_count == 25


def test_plan_limits_edit_in_list_and_are_audited(admin_client, admin_user):
    """Plan limits are editable in the list; each change leaves an audit event."""
    url = reverse("admin:tenants_plan_changelist")
    formset = admin_client.get(url).context["cl"].formset
    data = {
        formset.management_form.add_prefix(k): v for k, v in formset.management_form.initial.items()
    }
    for form in formset.forms:
        for name in form.fields:
            value = form.initial.get(name)
            if name == "id":
                value = form.instance.pk
            if value is not None and value is not False:
                data[form.add_prefix(name)] = value
        if form.instance.code == "STARTER":
            data[form.add_prefix("runs_per_day")] = 7
    response = admin_client.post(url, {**data, "_save": "Save"})
    assert response.status_code == 302
    assert Plan.objects.get(code="STARTER").runs_per_day == 7
    event = AuditEvent.objects.get(action="plan.update", actor=admin_user)
    assert (event.target, event.details) == ("STARTER", {"runs_per_day": 7})


@pytest.mark.parametrize("model_name", ["auditevent", "usagewindow"])
def test_read_only_admins_refuse_writes(admin_client, model_name):
    """Audit events and usage windows can be viewed but not added, changed or deleted."""
    row = AuditEventFactory() if model_name == "auditevent" else UsageWindowFactory()
    change_url = reverse(f"admin:tenants_{model_name}_change", args=[row.pk])
    response = admin_client.get(change_url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert admin_client.get(reverse(f"admin:tenants_{model_name}_add")).status_code == 403
    delete_url = reverse(f"admin:tenants_{model_name}_delete", args=[row.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert type(row).objects.filter(pk=row.pk).exists()
