"""Syncing CUR 1.0 from a real S3 server (moto, the tenant's role assumed through its STS) into
the FOCUS table on the BigQuery emulator: a month of three parts, the month re-delivered under a
new assembly with one changed line, the next month, and a sync with nothing new."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
from django.utils import timezone

from connectors.models import ExportObjectRecord
from connectors.selectors import ledger_periods
from connectors.tests.conftest import load_jobs
from connectors.tests.cur import CENT, cur_month_put, s3_admin
from pipelines.models import RunStatus, StepStatus
from pipelines.services.runs import runs_purge
from tenants.models import ProviderConfig
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store, provider_config_set
from warehouse.tables import FOCUS_PERIODS

PREFIX = "cur/acme"
NOVEMBER = dt.datetime(2023, 11, 1, tzinfo=dt.UTC)
DECEMBER = dt.datetime(2023, 12, 1, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def bucket(s3_endpoint):
    name = f"billing-{uuid.uuid4().hex[:12]}"
    s3_admin(s3_endpoint).create_bucket(Bucket=name)
    return name


def connect(
    tenant, bucket: str, *, prefix: str = PREFIX, kind: str = "aws_role", secret=None
) -> ProviderConfig:
    """The tenant's aws provider config: its bucket and prefix, read as its role (or with
    the ``secret`` of ``kind``)."""
    credential = credential_store(
        tenant=tenant,
        provider="aws",
        kind=kind,
        name="cur-reader",
        secret=secret
        or {
            "role_arn": "arn:aws:iam::210987654321:role/convergence-cur-reader",
            "external_id": f"ext-{tenant.id}",
        },
        actor=Actor.system("test"),
    )
    return provider_config_set(
        tenant=tenant,
        provider="aws",
        settings={
            "export_layout": "aws_cur",
            "export_bucket": bucket,
            "export_prefix": prefix,
            "export_region": "us-east-1",
        },
        notification_emails=[],
        credential=credential,
        actor=Actor.system("test"),
    )


def per_period(warehouse, dataset: str) -> dict:
    """Rows and billed total per billing period of the tenant's AWS FOCUS table."""
    rows = warehouse.query(
        "SELECT BillingPeriodStart AS period, COUNT(*) AS n, SUM(BilledCost) AS total "
        f"FROM {warehouse.quoted(dataset, 'aws_cost_focus')} GROUP BY period"
    ).rows
    return {r["period"]: (r["n"], r["total"].quantize(CENT)) for r in rows}


def ledger(config) -> dict:
    return {p: (v.delivery_id, v.parts) for p, v in ledger_periods(provider_config=config).items()}


def sync_step(run):
    return next(s for s in run.steps.all() if s.step_id == "sync_export")


def test_a_month_its_redelivery_the_next_month_then_nothing_new(
    onboard, warehouse, sync_run, s3_endpoint, bucket, tmp_path
):
    """Each sync loads exactly the new or re-delivered months; totals match the source to the
    cent per month after each; a sync with nothing new loads nothing and ends the run there."""
    onboarded = onboard("cursync_co", plan="PROFESSIONAL")
    tenant, dataset = onboarded.tenant, onboarded.dataset_id
    s3 = s3_admin(s3_endpoint)
    config = connect(tenant, bucket)
    november = cur_month_put(s3, bucket, PREFIX, tmp_path)

    first = sync_run(tenant.id, "aws")
    assert first.status == RunStatus.COMPLETED, first.error_message
    assert per_period(warehouse, dataset) == {NOVEMBER: (1281, november.total)}
    step = sync_step(first)
    assert step.rows_processed == 1281
    assert [p["parts"] for p in step.details["loaded"]] == [3]
    assert ledger(config) == {
        november.period: (
            november.assembly_id,
            frozenset((k, o) for k, o in _etags(s3, bucket, november.part_keys)),
        )
    }
    # The period's source, as x_meta_focus_periods keeps it: the manifest and its delivery.
    kept = warehouse.query(
        f"SELECT source_name, source_bytes FROM {warehouse.quoted(dataset, FOCUS_PERIODS)}"
    ).rows
    assert kept[0]["source_name"] == (
        f"s3://{bucket}/{november.manifest_key} (delivery {november.assembly_id}, 3 parts)"
    )
    assert kept[0]["source_bytes"] == sum(size for _, size in _sizes(s3, bucket, november))

    # AWS re-delivers the month: a new assembly, one line changed by 12.34.
    restated = cur_month_put(s3, bucket, PREFIX, tmp_path, restated=decimal.Decimal("12.34"))
    second = sync_run(tenant.id, "aws")
    assert second.status == RunStatus.COMPLETED, second.error_message
    assert per_period(warehouse, dataset) == {NOVEMBER: (1281, restated.total)}
    assert restated.total - november.total == decimal.Decimal("12.34")
    assert ledger(config)[november.period][0] == restated.assembly_id

    december = cur_month_put(s3, bucket, PREFIX, tmp_path, months=1)
    third = sync_run(tenant.id, "aws")
    assert third.status == RunStatus.COMPLETED, third.error_message
    assert [p["billing_period"] for p in sync_step(third).details["loaded"]] == ["2023-12-01"]
    assert per_period(warehouse, dataset) == {
        NOVEMBER: (1281, restated.total),
        DECEMBER: (1281, december.total),
    }

    before, jobs = ledger(config), load_jobs(warehouse)
    records = ExportObjectRecord.objects.count()
    idle = sync_run(tenant.id, "aws")
    assert idle.status == RunStatus.COMPLETED, idle.error_message
    step = sync_step(idle)
    assert step.details["nothing_new"] is True
    assert step.details["message"].startswith("Nothing new: the 2 billing period(s)")
    later = [s for s in idle.steps.all() if s.step_id != "sync_export"]
    assert {s.status for s in later} == {StepStatus.SKIPPED}
    assert idle.rows_processed == 0
    assert ledger(config) == before
    assert ExportObjectRecord.objects.count() == records
    assert load_jobs(warehouse) == jobs
    assert (idle.ended_at - idle.started_at).total_seconds() < 10

    # The run logs are purged (RUN_LOG_RETENTION_DAYS); the ledger stays, nothing is new.
    assert runs_purge(ended_before=timezone.now() + dt.timedelta(seconds=1)) >= 4
    assert ledger(config) == before
    purged = sync_run(tenant.id, "aws")
    assert purged.status == RunStatus.COMPLETED, purged.error_message
    assert sync_step(purged).details["nothing_new"] is True
    assert load_jobs(warehouse) == jobs


def _etags(s3, bucket, keys):
    for key in keys:
        yield key, s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')


def _sizes(s3, bucket, month):
    for key in month.part_keys:
        yield key, s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
