"""Dates, date-times, money and names are taken exactly as the schema documents them, and in
no other spelling Python's parsers would also read (issue 27)."""

import re
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework import serializers
from rest_framework.views import APIView

from budgets.models import Budget
from scheduling.models import ScheduledRun
from tenants.models import ApiKey, CloudCredential, ProviderConfig, Tenant
from tenants.tests.conftest import key_client

NOT_ISO_DATES = [
    "2026-W45-1",  # ISO week date: it queued 24 slots
    "20261102",  # basic format
    "2026-11-2",  # one-digit day
    "2026-11-02\n",  # trailing newline
    "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0662",  # Arabic-Indic digits
    "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff10\uff12",  # fullwidth digits
    " 2026-11-02",
]
NOT_RFC3339 = [
    "20261102T000000Z",  # basic format
    "2026-W45-1T00:00:00Z",  # week date
    "2026-11-02T00:00:00",  # no time zone
    "2026-11-02T00:00Z",  # no seconds
    "2026-11-02 00:00:00Z",  # a space for the T
    "2026-11-02T00:00:00Z\n",  # trailing newline
    "2026-11-02",  # a date
    "2026-11-02T00:00:00+0100",  # offset without its colon
]
SCHEDULE = {"provider": "example", "domain": "demo", "pipeline": "hello", "cron": "0 * * * *"}

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["start_date", "end_date"])
@pytest.mark.parametrize("value", NOT_ISO_DATES)
def test_backfill_takes_calendar_dates_only(onboard, staff_client, field, value):
    tenant = onboard()
    created = key_client(tenant.api_key).post(
        f"/api/v1/scheduler/tenant/{tenant.tenant.id}/pipelines", SCHEDULE, format="json"
    )
    body = {"start_date": "2026-11-01", "end_date": "2026-11-03", field: value}
    response = staff_client.post(
        f"/api/v1/scheduler/tenant/{tenant.tenant.id}/pipelines/"
        f"{created.json()['config_id']}/backfill",
        body,
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"] == f"{field}: Must be a date as YYYY-MM-DD."
    assert not ScheduledRun.objects.exists()


@pytest.mark.parametrize("value", NOT_RFC3339)
@pytest.mark.parametrize("name", ["created_after", "created_before"])
def test_run_filters_take_rfc3339_with_a_time_zone_only(onboard, name, value):
    tenant = onboard()
    response = key_client(tenant.api_key).get(
        f"/api/v1/tenants/{tenant.tenant.id}/runs", {name: value}
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith(f"{name}: Must be a date-time as RFC 3339")


@pytest.mark.parametrize(
    "value", ["2026-11-02T00:00:00Z", "2026-11-02t00:00:00.5z", "2026-11-02T01:00:00.123456+01:00"]
)
def test_run_filters_take_every_rfc3339_spelling(onboard, value):
    tenant = onboard()
    response = key_client(tenant.api_key).get(
        f"/api/v1/tenants/{tenant.tenant.id}/runs", {"created_after": value}
    )
    assert response.status_code == 200, response.json()


def test_key_expiry_needs_a_time_zone(onboard):
    tenant = onboard()
    later = timezone.now() + timedelta(days=1)
    path = f"/api/v1/tenants/{tenant.tenant.id}/api-keys"
    client = key_client(tenant.api_key)
    naive = client.post(path, {"expires_at": later.strftime("%Y-%m-%dT%H:%M:%S")}, format="json")
    assert naive.status_code == 400
    assert naive.json()["detail"].startswith("expires_at: Must be a date-time as RFC 3339")
    assert ApiKey.objects.filter(tenant=tenant.tenant).count() == 1
    aware = client.post(path, {"expires_at": later.isoformat()}, format="json")
    assert aware.status_code == 201


@pytest.mark.parametrize("amount", ["7.00\n", "7\n", "7.00 ", "\u0667.00"])
def test_budget_amount_is_the_documented_decimal_string(onboard, amount):
    tenant = onboard()
    response = key_client(tenant.api_key).post(
        f"/api/v1/tenants/{tenant.tenant.id}/budgets",
        {"name": "ops", "amount": amount, "thresholds": [{"kind": "actual", "percent": 80}]},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("amount: Must be a decimal string")
    assert not Budget.objects.exists()


@pytest.mark.parametrize("name", ["Équipe", "ops\n", "data_team²", "ops\t"])
def test_budget_name_is_ascii_as_its_pattern_reads(onboard, name):
    """The schema's ``^[\\w .-]{1,100}$`` meant ASCII to a JSON Schema reader and any letter
    to Python; the pattern now says the ASCII it always meant, and so does the server."""
    tenant = onboard()
    client = key_client(tenant.api_key)
    body = {"amount": "7.00", "thresholds": [{"kind": "actual", "percent": 80}]}
    path = f"/api/v1/tenants/{tenant.tenant.id}/budgets"
    response = client.post(path, {**body, "name": name}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith("name:")
    assert not Budget.objects.exists()
    assert client.post(path, {**body, "name": "Ops team-1.0"}, format="json").status_code == 201


@pytest.mark.parametrize("value", ["gcp\n", " gcp", "gcp "])
def test_provider_and_credential_names_match_whole(onboard, value):
    tenant = onboard()
    client = key_client(tenant.api_key)
    base = f"/api/v1/tenants/{tenant.tenant.id}"
    config = client.post(f"{base}/provider-configs", {"provider": value}, format="json")
    assert config.status_code == 400 and config.json()["detail"].startswith("provider:")
    credential = client.post(
        f"{base}/credentials",
        {"provider": "gcp", "kind": "generic", "name": value, "secret": {"a": "b"}},
        format="json",
    )
    assert credential.status_code == 400 and credential.json()["detail"].startswith("name:")
    assert not ProviderConfig.objects.exists() and not CloudCredential.objects.exists()


def test_tenant_id_with_a_trailing_newline_is_refused(staff_client):
    response = staff_client.post(
        "/api/v1/tenants/onboard",
        {
            "tenant_id": "acme_co\n",
            "company_name": "Acme",
            "admin_email": "ops@acme.example",
            "plan": "STARTER",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("tenant_id:")
    assert not Tenant.objects.exists()


def _view_classes(patterns=None):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _view_classes(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "view_class", None)
            if isinstance(view, type) and issubclass(view, APIView):
                yield view


def _fields(serializer: serializers.Serializer, prefix: str):
    for name, field in serializer.fields.items():
        yield f"{prefix}.{name}", field
        child = getattr(field, "child", None)
        if isinstance(field, serializers.Serializer):
            yield from _fields(field, f"{prefix}.{name}")
        elif isinstance(child, serializers.Serializer):
            yield from _fields(child, f"{prefix}.{name}[]")


def test_every_pattern_an_api_checks_is_whole_untrimmed_and_ascii():
    """By enumeration over every API view's serializers: a pattern field matches the whole
    value as sent (``\\A…\\Z``, not ``$``, which lets a trailing newline through, and no
    trimming), with ASCII classes written out (``\\w``, ``\\d``, ``\\s`` are Unicode in
    Python and ASCII in a JSON Schema validator)."""
    checked = []
    for view in set(_view_classes()):
        for attribute in vars(view).values():
            if not (isinstance(attribute, type) and issubclass(attribute, serializers.Serializer)):
                continue
            for where, field in _fields(attribute(), f"{view.__name__}.{attribute.__name__}"):
                if not isinstance(field, serializers.RegexField):
                    continue
                for validator in field.validators:
                    regex = getattr(validator, "regex", None)
                    if regex is None:
                        continue
                    checked.append(where)
                    assert regex.pattern.startswith("\\A"), where
                    assert regex.pattern.endswith("\\Z"), where
                    assert not re.search(r"\\[wdsWDS]", regex.pattern), where
                    assert field.trim_whitespace is False, where
    assert len(checked) >= 6, checked
