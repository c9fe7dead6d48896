"""The export ledger in the admin: read-only, searchable by tenant, period and key."""

import datetime as dt

import pytest
from django.urls import reverse

from connectors.models import ExportObjectRecord
from pipelines.models import PipelineRun, RunStatus
from tenants.models import ProviderConfig, Tenant

pytestmark = pytest.mark.django_db


def record(tenant: Tenant, config: ProviderConfig, run: PipelineRun, key: str, month: int):
    return ExportObjectRecord.objects.create(
        tenant=tenant,
        provider_config=config,
        layout="aws_cur",
        key=key,
        etag="e",
        size=10,
        last_modified=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        delivery_id="assembly-1",
        manifest_key="cur/r/20240101-20240201/r-Manifest.json",
        billing_period=dt.date(2024, month, 1),
        run=run,
    )


def test_ledger_is_read_only_and_searchable(admin_client):
    """Staff find what a sync took by tenant or key and see its run's status; nothing can be
    added, changed or deleted by hand (the next sync decides from these rows)."""
    rows = []
    for name in ("ledger_a", "ledger_b"):
        tenant = Tenant.objects.create(id=name, company_name=name, admin_email=f"{name}@x.io")
        config = ProviderConfig.objects.create(tenant=tenant, provider="aws")
        run = PipelineRun.objects.create(
            tenant=tenant,
            provider="aws",
            domain="cost",
            pipeline="sync",
            pipeline_id=f"{name}_aws_cost_sync",
            status=RunStatus.COMPLETED,
        )
        rows.append(record(tenant, config, run, f"cur/{name}/part-1.csv.gz", 1))
    url = reverse("admin:connectors_exportobjectrecord_changelist")

    found = admin_client.get(url, {"q": "ledger_a"})
    assert found.status_code == 200
    assert [r.pk for r in found.context["cl"].result_list] == [rows[0].pk]
    assert "COMPLETED" in found.content.decode()
    by_key = admin_client.get(url, {"q": "cur/ledger_b/part-1"})
    assert [r.pk for r in by_key.context["cl"].result_list] == [rows[1].pk]

    change = reverse("admin:connectors_exportobjectrecord_change", args=[rows[0].pk])
    assert admin_client.get(change).status_code == 200
    assert admin_client.post(change, {"key": "other"}).status_code == 403
    assert admin_client.get(reverse("admin:connectors_exportobjectrecord_add")).status_code == 403
    delete = reverse("admin:connectors_exportobjectrecord_delete", args=[rows[0].pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ExportObjectRecord.objects.get(pk=rows[0].pk).key == "cur/ledger_a/part-1.csv.gz"
