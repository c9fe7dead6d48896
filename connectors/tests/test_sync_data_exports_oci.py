"""Syncing AWS Data Exports (CUR 2.0 and FOCUS, Parquet) and OCI cost reports from a real S3
server (moto; OCI through its S3 compatibility API) into FOCUS tables on the BigQuery emulator:
a month, its re-delivery, the next month, nothing new."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pyarrow.parquet as pq
import pytest

from connectors.models import ExportObjectRecord
from connectors.tests.conftest import load_jobs
from connectors.tests.cur import CENT, s3_admin
from devtools.cur2_export import cur2_parquet, cur2_totals
from devtools.export_samples import data_export_month_put, oci_month_put, oci_report_put
from pipelines.models import RunStatus, StepStatus
from pipelines.tests.history import aws_cur_month
from tenants.models import ProviderConfig
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store, provider_config_set

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
RESTATED = decimal.Decimal("7.77")


def connect(tenant, provider: str, kind: str, secret: dict, settings: dict) -> ProviderConfig:
    credential = credential_store(
        tenant=tenant,
        provider=provider,
        kind=kind,
        name="exports",
        secret=secret,
        actor=Actor.system("test"),
    )
    return provider_config_set(
        tenant=tenant,
        provider=provider,
        settings=settings,
        notification_emails=[],
        credential=credential,
        actor=Actor.system("test"),
    )


def per_period(warehouse, dataset: str, table: str) -> dict:
    rows = warehouse.query(
        "SELECT DATE(BillingPeriodStart) AS period, SUM(BilledCost) AS total "
        f"FROM {warehouse.quoted(dataset, table)} GROUP BY period"
    ).rows
    return {r["period"]: r["total"].quantize(CENT) for r in rows}


def totals(*puts) -> dict:
    found: dict = {}
    for put in puts:
        for period, total in put.totals.items():
            found[period] = total.quantize(CENT)
    return found


def loaded(run) -> list[str]:
    step = next(s for s in run.steps.all() if s.step_id == "sync_export")
    return [p["billing_period"] for p in step.details.get("loaded", [])]


def assert_nothing_new(sync_run, warehouse, tenant_id: str, provider: str) -> None:
    jobs, records = load_jobs(warehouse), ExportObjectRecord.objects.count()
    idle = sync_run(tenant_id, provider)
    assert idle.status == RunStatus.COMPLETED, idle.error_message
    steps = {s.step_id: s for s in idle.steps.all()}
    assert steps["sync_export"].details["nothing_new"] is True
    assert {s.status for k, s in steps.items() if k != "sync_export"} == {StepStatus.SKIPPED}
    assert load_jobs(warehouse) == jobs
    assert ExportObjectRecord.objects.count() == records


@pytest.mark.parametrize(
    ("kind", "file_format", "provider", "table", "credential"),
    [
        # CUR 2.0 as gzip CSV (as typed Parquet: the test below). The sample writer's Parquet
        # of string columns has "" for empty costs, which the normalization cannot cast
        # (README, Known gaps); AWS writes typed columns.
        ("cur2", "csv", "aws", "aws_cost_focus", "aws_role"),
        ("focus", "parquet", "focus", "focus_cost_native", "generic"),
    ],
)
def test_data_exports(
    onboard, warehouse, sync_run, s3_endpoint, kind, file_format, provider, table, credential
):
    """CUR 2.0 (aws/cost/sync) or AWS's FOCUS export as Parquet (focus/cost/sync): each sync
    loads the new or re-delivered month, totals to the cent; nothing new loads nothing."""
    onboarded = onboard(f"dx_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    tenant, dataset = onboarded.tenant, onboarded.dataset_id
    bucket = f"exports-{uuid.uuid4().hex[:10]}"
    client = s3_admin(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    connect(
        tenant,
        provider,
        credential,
        {"role_arn": "arn:aws:iam::210987654321:role/reader", "external_id": "ext-dx-1"},
        {
            "export_layout": "aws_data_exports",
            "export_bucket": bucket,
            "export_prefix": "exports",
            "export_region": "us-east-1",
        },
    )
    put = {
        "bucket": bucket,
        "prefix": "exports",
        "export": "costs",
        "kind": kind,
        "file_format": file_format,
    }
    first_month = data_export_month_put(**put, month=dt.date(2024, 1, 1), client=client)

    first = sync_run(tenant.id, provider)
    assert first.status == RunStatus.COMPLETED, first.error_message
    assert per_period(warehouse, dataset, table) == totals(first_month)

    again = data_export_month_put(
        **put, month=dt.date(2024, 1, 1), restated=RESTATED, execution_id="exec-2", client=client
    )
    second = sync_run(tenant.id, provider)
    assert second.status == RunStatus.COMPLETED, second.error_message
    assert per_period(warehouse, dataset, table) == totals(again)
    assert totals(again)[dt.date(2024, 1, 1)] - totals(first_month)[dt.date(2024, 1, 1)] == (
        RESTATED.quantize(CENT)
    )

    february = data_export_month_put(**put, month=dt.date(2024, 2, 1), client=client)
    third = sync_run(tenant.id, provider)
    assert third.status == RunStatus.COMPLETED, third.error_message
    assert loaded(third) == ["2024-02-01"]
    assert per_period(warehouse, dataset, table) == totals(again, february)

    assert_nothing_new(sync_run, warehouse, tenant.id, provider)


def test_oci_report_bucket(onboard, warehouse, sync_run, s3_endpoint):
    """OCI cost reports through the oci mapping (oci/cost/sync): February's two files; then a
    file of February and March (late usage) and March's files: both months loaded again, each
    to its total, the shared file once; nothing new loads nothing."""
    onboarded = onboard(f"oci_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    tenant, dataset = onboarded.tenant, onboarded.dataset_id
    bucket = f"ocid1.tenancy.oc1..{uuid.uuid4().hex[:12]}"
    client = s3_admin(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    connect(
        tenant,
        "oci",
        "generic",
        {"access_key_id": "oci-key-id", "secret_access_key": "oci-secret-key"},
        {
            "export_layout": "oci_reports",
            "export_bucket": bucket,
            "export_namespace": "bling",
            "export_region": "us-ashburn-1",
            "export_prefix": "reports/cost-csv",
        },
    )
    feb, mar = dt.date(2024, 2, 1), dt.date(2024, 3, 1)
    february = oci_month_put(bucket=bucket, month=feb, files=2, client=client)

    first = sync_run(tenant.id, "oci")
    assert first.status == RunStatus.COMPLETED, first.error_message
    assert per_period(warehouse, dataset, "oci_cost_focus") == totals(february)

    late = oci_report_put(bucket=bucket, number=3, months=(feb, mar), share=(0, 2), client=client)
    march = oci_month_put(bucket=bucket, month=mar, files=2, first_number=4, client=client)
    second = sync_run(tenant.id, "oci")
    assert second.status == RunStatus.COMPLETED, second.error_message
    assert loaded(second) == ["2024-02-01", "2024-03-01"]
    expected = {
        feb: (february.totals[feb] + late.totals[feb]).quantize(CENT),
        mar: (march.totals[mar] + late.totals[mar]).quantize(CENT),
    }
    assert per_period(warehouse, dataset, "oci_cost_focus") == expected

    assert_nothing_new(sync_run, warehouse, tenant.id, "oci")


def test_cur2_parquet_typed_as_aws_writes_it(onboard, warehouse, sync_run, s3_endpoint, tmp_path):
    """CUR 2.0 Parquet with AWS's types and maps (``devtools.cur2_export``), two months of one
    part each under a Data Exports manifest: one sync loads both, each to the cent."""
    onboarded = onboard(f"dx2_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    bucket = f"exports-{uuid.uuid4().hex[:10]}"
    client = s3_admin(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    connect(
        onboarded.tenant,
        "aws",
        "aws_role",
        {"role_arn": "arn:aws:iam::210987654321:role/reader", "external_id": "ext-dx-2"},
        {
            "export_layout": "aws_data_exports",
            "export_bucket": bucket,
            "export_prefix": "exports",
            "export_region": "us-east-1",
        },
    )
    expected = {}
    for months, period in ((0, dt.date(2023, 11, 1)), (1, dt.date(2023, 12, 1))):
        source = aws_cur_month(tmp_path / f"cur-{months}.csv", months)
        parquet = cur2_parquet(source, tmp_path / f"cur2-{months}.parquet")
        partition = f"BILLING_PERIOD={period:%Y-%m}"
        key = f"exports/costs/data/{partition}/costs-00001.snappy.parquet"
        client.put_object(Bucket=bucket, Key=key, Body=parquet.read_bytes())
        end = dt.date(period.year + period.month // 12, period.month % 12 + 1, 1)
        manifest = {
            "executionId": f"exec-{months}",
            "exportName": "costs",
            "billingPeriod": {
                "start": f"{period:%Y-%m-%d}T00:00:00.000Z",
                "end": f"{end:%Y-%m-%d}T00:00:00.000Z",
            },
            "bucket": bucket,
            "dataFiles": [f"s3://{bucket}/{key}"],
            "columns": [{"name": n, "type": "string"} for n in pq.read_schema(parquet).names],
        }
        client.put_object(
            Bucket=bucket,
            Key=f"exports/costs/metadata/{partition}/costs-Manifest.json",
            Body=json.dumps(manifest).encode(),
        )
        expected[period] = cur2_totals(parquet)[0].quantize(CENT)

    run = sync_run(onboarded.tenant.id, "aws")
    assert run.status == RunStatus.COMPLETED, run.error_message
    assert loaded(run) == ["2023-11-01", "2023-12-01"]
    assert per_period(warehouse, onboarded.dataset_id, "aws_cost_focus") == expected
    assert_nothing_new(sync_run, warehouse, onboarded.tenant.id, "aws")
