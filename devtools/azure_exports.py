"""Azure Cost Management export runs written into a container as Cost Management writes them
(partitioned CSV parts and a manifest.json), for tests and the local walk-through."""

from __future__ import annotations

import calendar
import csv
import gzip
import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from azure.storage.blob import ContainerClient

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "pipelines" / "tests" / "data" / "azure_ea_sample.csv"
#: The columns of an EA/MCA cost-details row that carry its day and billing period.
DATE_COLUMNS = ("Date", "BillingPeriodStartDate", "BillingPeriodEndDate")
KIND_NAMES = {"actual": "ActualCost", "amortized": "AmortizedCost", "focus": "FocusCost"}


@dataclass(frozen=True)
class ExportRun:
    """What one export run wrote."""

    manifest_key: str
    part_keys: tuple[str, ...]
    run_id: str
    rows: int


def sample_rows(path: Path = SAMPLE) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a cost-details CSV (by default the repository's EA sample)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def rows_in_month(rows: Sequence[dict[str, str]], period: date) -> list[dict[str, str]]:
    """The rows moved into billing month ``period``: each day kept (clamped to the month's
    last), the billing period the whole month; dates written as the source writes them
    (M/D/YYYY or YYYY-MM-DD)."""
    last = calendar.monthrange(period.year, period.month)[1]
    moved = []
    for row in rows:
        row = dict(row)
        for column in DATE_COLUMNS:
            if column not in row or not row[column]:
                continue
            day = _parse(row[column]).day
            if column == "BillingPeriodStartDate":
                day = 1
            elif column == "BillingPeriodEndDate":
                day = last
            row[column] = _write(period.replace(day=min(day, last)), like=row[column])
        moved.append(row)
    return moved


def export_run_put(
    container: ContainerClient,
    *,
    root: str,
    export_name: str,
    kind: str,
    period: date,
    header: Sequence[str],
    rows: Sequence[dict[str, str]],
    parts: int = 3,
    compress: bool = False,
    file_format: str = "csv",
    run_id: str | None = None,
    submitted: datetime | None = None,
    missing_part: int | None = None,
) -> ExportRun:
    """Write one run of an export of ``kind`` (actual, amortized, focus) for month ``period``:
    ``rows`` split over ``parts`` parts (CSV, each with the header, gzip with ``compress``; or
    ``file_format="parquet"``, snappy, every column a string), then its manifest.json as Cost
    Management writes it. ``missing_part``: that part is listed but not written."""
    parquet = file_format == "parquet"
    run_id = run_id or str(uuid.uuid4())
    submitted = submitted or datetime.now(UTC)
    last = calendar.monthrange(period.year, period.month)[1]
    folder = "/".join(
        p
        for p in (
            root.strip("/"),
            export_name,
            f"{period:%Y%m%d}-{period.replace(day=last):%Y%m%d}",
            f"{submitted:%Y%m%d%H%M}",
            run_id,
        )
        if p
    )
    count = max(1, min(parts, len(rows)))
    chunks = [list(rows[i::count]) for i in range(count)]
    keys, blobs = [], []
    for number, chunk in enumerate(chunks, start=1):
        if parquet:
            key = f"{folder}/part_0_{number:04d}.snappy.parquet"
            data = _parquet(header, chunk)
        else:
            key = f"{folder}/part_0_{number:04d}.csv" + (".gz" if compress else "")
            data = _csv(header, chunk)
            if compress:
                data = gzip.compress(data, mtime=0)
        if number != missing_part:
            container.upload_blob(key, data, overwrite=True)
        keys.append(key)
        blobs.append({"blobName": key, "byteCount": len(data), "dataRowCount": len(chunk)})
    dataset = KIND_NAMES[kind]
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": sum(b["byteCount"] for b in blobs),
        "blobCount": len(blobs),
        "dataRowCount": len(rows),
        "exportConfig": {
            "exportName": export_name,
            "resourceId": "/providers/Microsoft.Billing/billingAccounts/12345678/providers/"
            f"Microsoft.CostManagement/exports/{export_name}",
            "dataVersion": "2023-12-01-preview" if dataset != "FocusCost" else "1.2",
            "apiVersion": "2023-07-01-preview",
            "type": dataset,
            "timeFrame": "MonthToDate",
            "granularity": "Daily",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "CreateNewReport",
            "fileFormat": "Parquet" if parquet else "Csv",
            "compressionMode": "snappy" if parquet else ("gzip" if compress else "None"),
            "containerUri": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
            "rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
            "rootFolderPath": root.strip("/"),
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "runId": run_id,
            "startDate": f"{period:%Y-%m-%d}T00:00:00",
            "endDate": f"{period.replace(day=last):%Y-%m-%d}T00:00:00Z",
        },
        "blobs": blobs,
    }
    manifest_key = f"{folder}/manifest.json"
    container.upload_blob(manifest_key, json.dumps(manifest, indent=2).encode(), overwrite=True)
    return ExportRun(manifest_key, tuple(keys), run_id, len(rows))


def _csv(header: Sequence[str], rows: Sequence[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _parquet(header: Sequence[str], rows: Sequence[dict[str, str]]) -> bytes:
    table = pa.table({name: [row.get(name) for row in rows] for name in header})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def _parse(value: str) -> date:
    if "/" in value:
        return datetime.strptime(value.strip(), "%m/%d/%Y").date()
    return date.fromisoformat(value.strip()[:10])


def _write(day: date, *, like: str) -> str:
    if "/" in like:
        return f"{day.month}/{day.day}/{day.year}"
    return day.isoformat()
