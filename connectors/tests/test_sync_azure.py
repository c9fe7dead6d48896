"""Syncing an Azure Cost Management export from a real Azurite container into the FOCUS table
(real BigQuery emulator): actual and amortized exports with their manifests, each billing
month loaded once, re-delivered months replaced, nothing new loading nothing."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from connectors.models import ExportObjectRecord
from connectors.selectors import ledger_periods
from connectors.tests.conftest import load_jobs
from devtools.azurite import ACCOUNT, ACCOUNT_KEY
from pipelines.models import RunStatus, StepStatus
from pipelines.tests.history import DATA
from tenants.models import ProviderConfig
from tenants.services.audit import Actor
from tenants.services.credentials import credential_store, provider_config_set

CENT = decimal.Decimal("0.01")
SAMPLE = DATA / "azure_ea_sample.csv"
COST = "CostInBillingCurrency"
SEPTEMBER = dt.datetime(2023, 9, 1, tzinfo=dt.UTC)
OCTOBER = dt.datetime(2023, 10, 1, tzinfo=dt.UTC)
PREFIX = "exports/acme"

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def azure_month(months: int = 0, *, raise_first: decimal.Decimal | None = None) -> str:
    """The EA sample moved ``months`` on (its M/D/YYYY dates), the first line's cost raised."""
    text = SAMPLE.read_text(encoding="utf-8")

    def shifted(match: re.Match) -> str:
        month, day, year = (int(g) for g in match.groups())
        index = year * 12 + month - 1 + months
        return f"{index % 12 + 1}/{min(day, 28)}/{index // 12}"

    text = re.sub(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", shifted, text)
    if raise_first is not None:
        rows = list(csv.reader(io.StringIO(text)))
        cost = rows[0].index(COST)
        rows[1][cost] = str(decimal.Decimal(rows[1][cost]) + raise_first)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        text = out.getvalue()
    return text


def total(text: str) -> decimal.Decimal:
    return sum(
        (decimal.Decimal(r[COST]) for r in csv.DictReader(io.StringIO(text)) if r[COST]),
        decimal.Decimal(0),
    ).quantize(CENT)


def put_export(container, *, kind: str, month: dt.date, text: str, parts: int = 2) -> str:
    """One run of an export as Cost Management writes it: CSV parts (each with the header)
    and the run's manifest.json listing them. The run id."""
    export = f"{kind.lower()}-daily"
    end = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    run_id = str(uuid.uuid4())
    folder = f"{PREFIX}/{export}/{month:%Y%m%d}-{end:%Y%m%d}/{run_id}"
    header, *lines = text.splitlines(keepends=True)
    size = -(-len(lines) // parts)
    blobs = []
    for index in range(parts):
        name = f"{folder}/part_0_{index:04d}.csv"
        container.upload_blob(name, header + "".join(lines[index * size : (index + 1) * size]))
        blobs.append({"blobName": name, "byteCount": 0})
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": 0,
        "blobCount": parts,
        "dataRowCount": len(lines),
        "exportConfig": {"exportName": export, "type": kind, "dataVersion": "2021-10-01"},
        "deliveryConfig": {"fileFormat": "Csv", "containerName": container.container_name},
        "runInfo": {
            "runId": run_id,
            "startDate": f"{month:%Y-%m-%d}T00:00:00",
            "endDate": f"{end:%Y-%m-%d}T00:00:00",
            "submittedTime": datetime.now(UTC).isoformat(),
        },
        "blobs": blobs,
    }
    container.upload_blob(f"{folder}/manifest.json", json.dumps(manifest))
    return run_id


@pytest.fixture
def container(azure_blob_endpoint, settings):
    settings.AZURE_BLOB_ENDPOINT = azure_blob_endpoint.rsplit("/", 1)[0]
    service = BlobServiceClient(
        azure_blob_endpoint, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}
    )
    client = service.create_container(f"billing-{uuid.uuid4().hex[:12]}")
    yield client
    client.delete_container()


def connect(tenant, azure_blob_endpoint, container, **settings) -> ProviderConfig:
    token = generate_container_sas(
        ACCOUNT,
        container.container_name,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )
    credential = credential_store(
        tenant=tenant,
        provider="azure",
        kind="azure_sas",
        name="exports",
        secret={"sas_url": f"{azure_blob_endpoint}/{container.container_name}?{token}"},
        actor=Actor.system("test"),
    )
    return provider_config_set(
        tenant=tenant,
        provider="azure",
        settings={
            "export_layout": "azure_exports",
            "export_account": ACCOUNT,
            "export_container": container.container_name,
            "export_prefix": PREFIX,
            **settings,
        },
        notification_emails=[],
        credential=credential,
        actor=Actor.system("test"),
    )


def per_period(warehouse, dataset: str) -> dict:
    rows = warehouse.query(
        "SELECT BillingPeriodStart AS period, COUNT(*) AS n, SUM(BilledCost) AS billed, "
        "SUM(EffectiveCost) AS effective "
        f"FROM {warehouse.quoted(dataset, 'azure_cost_focus')} GROUP BY period"
    ).rows
    return {r["period"]: (r["n"], r["billed"].quantize(CENT)) for r in rows}


def test_actual_then_amortized_then_next_month(
    onboard, warehouse, sync_run, azure_blob_endpoint, container
):
    """September's actual-cost export (two parts) loads; a sync with nothing new loads
    nothing; switching the config to the amortized export replaces September with it; a new
    October run loads October alone, September untouched."""
    onboarded = onboard("azsync_co", plan="PROFESSIONAL")
    tenant, dataset = onboarded.tenant, onboarded.dataset_id
    actual = azure_month()
    amortized = azure_month(raise_first=decimal.Decimal("5.55"))
    put_export(container, kind="ActualCost", month=dt.date(2023, 9, 1), text=actual)
    amortized_run = put_export(
        container, kind="AmortizedCost", month=dt.date(2023, 9, 1), text=amortized, parts=1
    )
    config = connect(tenant, azure_blob_endpoint, container, export_kind="ActualCost")

    first = sync_run(tenant.id, "azure")
    assert first.status == RunStatus.COMPLETED, first.error_message
    assert per_period(warehouse, dataset) == {SEPTEMBER: (27, total(actual))}
    assert ExportObjectRecord.objects.filter(run=first).count() == 2

    ledger = {
        p: (v.delivery_id, v.parts) for p, v in ledger_periods(provider_config=config).items()
    }
    jobs = load_jobs(warehouse)
    assert len(jobs) >= 2  # the first sync's two parts: the history is kept
    idle = sync_run(tenant.id, "azure")
    assert idle.status == RunStatus.COMPLETED, idle.error_message
    steps = {s.step_id: s for s in idle.steps.all()}
    assert steps["sync_export"].details["nothing_new"] is True
    assert steps["sync_export"].status == StepStatus.COMPLETED
    assert {steps[s].status for s in ("normalize_focus", "replace_periods")} == {StepStatus.SKIPPED}
    assert load_jobs(warehouse) == jobs
    assert {
        p: (v.delivery_id, v.parts) for p, v in ledger_periods(provider_config=config).items()
    } == ledger
    assert not ExportObjectRecord.objects.filter(run=idle).exists()

    config.settings["export_kind"] = "AmortizedCost"
    config.save(update_fields=["settings"])
    second = sync_run(tenant.id, "azure")
    assert second.status == RunStatus.COMPLETED, second.error_message
    assert per_period(warehouse, dataset) == {SEPTEMBER: (27, total(amortized))}
    assert ledger_periods(provider_config=config)[dt.date(2023, 9, 1)].delivery_id == (
        amortized_run
    )

    october = azure_month(1, raise_first=decimal.Decimal("1.00"))
    put_export(container, kind="AmortizedCost", month=dt.date(2023, 10, 1), text=october)
    third = sync_run(tenant.id, "azure")
    assert third.status == RunStatus.COMPLETED, third.error_message
    loaded = next(s for s in third.steps.all() if s.step_id == "sync_export").details["loaded"]
    assert [p["billing_period"] for p in loaded] == ["2023-10-01"]
    assert per_period(warehouse, dataset) == {
        SEPTEMBER: (27, total(amortized)),
        OCTOBER: (27, total(october)),
    }


def test_a_month_with_other_columns_waits_for_the_next_sync(
    onboard, warehouse, sync_run, azure_blob_endpoint, container
):
    """September and an October whose export gained a column, both new: the first sync loads
    September and defers October (one load schema per run); the next loads October."""
    onboarded = onboard("azcols_co", plan="PROFESSIONAL")
    september = azure_month()
    october = "\n".join(
        line + (",WithExtra" if index == 0 else ",x") if line else line
        for index, line in enumerate(azure_month(1).split("\n"))
    )
    put_export(container, kind="ActualCost", month=dt.date(2023, 9, 1), text=september)
    put_export(container, kind="ActualCost", month=dt.date(2023, 10, 1), text=october)
    connect(onboarded.tenant, azure_blob_endpoint, container)

    first = sync_run(onboarded.tenant.id, "azure")
    assert first.status == RunStatus.COMPLETED, first.error_message
    step = next(s for s in first.steps.all() if s.step_id == "sync_export")
    assert [p["billing_period"] for p in step.details["loaded"]] == ["2023-09-01"]
    assert [p["billing_period"] for p in step.details["deferred"]] == ["2023-10-01"]
    assert per_period(warehouse, onboarded.dataset_id) == {SEPTEMBER: (27, total(september))}

    second = sync_run(onboarded.tenant.id, "azure")
    assert second.status == RunStatus.COMPLETED, second.error_message
    assert per_period(warehouse, onboarded.dataset_id) == {
        SEPTEMBER: (27, total(september)),
        OCTOBER: (27, total(azure_month(1))),
    }
