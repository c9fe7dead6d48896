"""No JSON column can be written a value no answer could carry, whoever writes it; rows that
hold one from before are reported by the migration, not changed."""

import json
import logging
import uuid

import pytest
from django.apps import apps
from django.db import DataError, connection, models, transaction

from core.bulk import array_literal, rows_copy, rows_insert
from core.migration_ops import json_rows_report, json_rows_unstorable
from core.parsers import JsonUnstorable, StoredJSONEncoder
from pipelines.models import PipelineRun
from scheduling.admin import ScheduleForm
from tenants.models import ProviderConfig

UNSTORABLE = [{"k": "\ud800"}, {"\udfff": 1}, ["a\x00"], {"n": float("inf")}, [float("nan")]]
PROJECT_APPS = {"tenants", "pipelines", "scheduling", "billing", "budgets", "mappings"}


def _json_fields():
    for model in apps.get_models():
        if model._meta.app_label in PROJECT_APPS:
            for field in model._meta.concrete_fields:
                if isinstance(field, models.JSONField):
                    yield model, field


def test_every_json_column_refuses_what_no_answer_could_carry():
    """By enumeration: every JSONField of the project's models writes through
    StoredJSONEncoder, so a new one is guarded or this fails."""
    fields = list(_json_fields())
    assert len(fields) >= 9
    for model, field in fields:
        assert field.encoder is StoredJSONEncoder, f"{model.__name__}.{field.name}"
        for value in UNSTORABLE:
            with pytest.raises(JsonUnstorable):
                json.dumps(value, cls=field.encoder)
        assert json.loads(json.dumps({"é": "\U0001f600", "n": 1e308}, cls=field.encoder))


@pytest.mark.django_db
def test_orm_writes_refuse_and_store_nothing(onboard):
    tenant = onboard().tenant
    for value in UNSTORABLE:
        with pytest.raises(JsonUnstorable), transaction.atomic():
            ProviderConfig.objects.create(tenant=tenant, provider="gcp", settings=value)
    assert not ProviderConfig.objects.exists()
    config = ProviderConfig.objects.create(tenant=tenant, provider="gcp", settings={"a": "b"})
    with pytest.raises(JsonUnstorable), transaction.atomic():
        ProviderConfig.objects.filter(pk=config.pk).update(settings={"a": "\ud800"})
    config.refresh_from_db()
    assert config.settings == {"a": "b"}


def test_set_based_writes_refuse_too():
    """The dispatcher's and the run API's bulk writes (core.bulk) use the column's
    encoder, not plain json.dumps."""
    bad = {"date": "2024-09-01", "greeting": "\ud800"}
    run = {"tenant_id": "t", "provider": "example", "domain": "demo", "pipeline": "hello"}
    with pytest.raises(JsonUnstorable):
        rows_insert(PipelineRun, rows=[{**run, "id": uuid.uuid4(), "parameters": bad}])
    with pytest.raises(JsonUnstorable):
        rows_insert(
            PipelineRun,
            rows=[
                {**run, "id": uuid.uuid4(), "parameters": {"date": "2024-09-01"}},
                {**run, "id": uuid.uuid4(), "parameters": bad},
            ],
        )
    with pytest.raises(JsonUnstorable):
        array_literal([bad], json_field=True, encoder=StoredJSONEncoder)


@pytest.mark.django_db
def test_copy_refuses_too(requires_postgres, onboard):
    tenant = onboard().tenant
    with pytest.raises(JsonUnstorable):
        rows_copy(
            ProviderConfig,
            fields=["tenant_id", "provider", "settings"],
            rows=[(tenant.pk, "gcp", {"a": "\ud800"})],
        )
    assert not ProviderConfig.objects.exists()


@pytest.mark.django_db
def test_admin_form_reports_it_as_invalid_json(onboard):
    """The schedule form's JSON field: a form error, not a 500 (JsonUnstorable is a
    TypeError too, which Django's JSONField.validate reports as invalid JSON)."""
    tenant = onboard().tenant
    form = ScheduleForm(
        data={
            "tenant": tenant.pk,
            "provider": "example",
            "domain": "demo",
            "pipeline": "hello",
            "cron": "0 * * * *",
            "timezone": "UTC",
            "active": "on",
            "parameters": '{"greeting": "\\ud800"}',
            "priority": 0,
            "max_retries": 0,
            "retry_backoff_seconds": 60,
            "catch_up": "latest",
        }
    )
    assert not form.is_valid()
    assert "parameters" in form.errors


def _store_raw(table: str, column: str, pk, text: str) -> None:
    """Write JSON text as it was possible before the guard (SQLite kept a lone surrogate's
    escape as written)."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [text, pk])


@pytest.mark.django_db
def test_migration_reports_rows_written_before_and_leaves_them(onboard, caplog):
    """The data migration names each row that would answer 500 (model, key, field, why) and
    changes none of them."""
    tenant = onboard().tenant
    good = ProviderConfig.objects.create(tenant=tenant, provider="aws", settings={"a": "b"})
    bad = ProviderConfig.objects.create(tenant=tenant, provider="gcp", settings={"a": "b"})
    stored = '{"\\ud800": "x", "ok": "\\ud83d\\ude00"}'
    if connection.vendor == "postgresql":
        # jsonb cannot hold one at all: there is nothing to find there.
        with pytest.raises(DataError), transaction.atomic():
            _store_raw("tenants_providerconfig", "settings", bad.pk, stored)
        assert json_rows_unstorable(ProviderConfig, ["settings"]) == []
        return
    _store_raw("tenants_providerconfig", "settings", bad.pk, stored)
    found = json_rows_unstorable(ProviderConfig, ["settings", "notification_emails"])
    assert [row[:2] for row in found] == [(bad.pk, "settings")]
    assert found[0][2].startswith("The JSON document has a key holding a lone surrogate")
    operation = json_rows_report("tenants.ProviderConfig", ("settings", "notification_emails"))
    with caplog.at_level(logging.WARNING, logger="convergence.migrations"):
        operation.code(apps, type("Editor", (), {"connection": connection})())
    report = caplog.text
    assert f"tenants.ProviderConfig pk={bad.pk} field settings cannot be answered" in report
    assert "lone surrogate (U+D800)" in report
    assert f"pk={good.pk}" not in report
    with connection.cursor() as cursor:
        cursor.execute("SELECT settings FROM tenants_providerconfig WHERE id = %s", [bad.pk])
        assert cursor.fetchone()[0] == stored
