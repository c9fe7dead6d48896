"""Provider exports written into a local S3 server as AWS and OCI write them: a CUR 1.0 month of
N gzip CSV parts with its manifest (re-delivered under a new assembly id), an AWS Data Exports
month (CUR 2.0 or FOCUS, Parquet or gzip CSV) with its manifest, OCI cost report files.

Rows come from the repository's samples (``pipelines/tests/data``, ``mappings/tests/data``;
see the NOTICE.md beside them), moved to the month asked for. Deterministic: the same
arguments write the same bytes. For tests, ``manage.py export_sample_put`` and the README.
"""

from __future__ import annotations

import csv
import decimal
import gzip
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from focus.sql import cur2_name

# The history tests' rule for moving a sample to another month (days past 28 kept at 28).
from pipelines.tests.history import month_shift
from warehouse.files import column_names_from_header

ROOT = Path(__file__).resolve().parents[1]
CUR_SAMPLE = ROOT / "pipelines" / "tests" / "data" / "aws_cur_sample.csv"
FOCUS_SAMPLE = ROOT / "pipelines" / "tests" / "data" / "variants" / "aws_focus_1_0.csv"
OCI_SAMPLE = ROOT / "mappings" / "tests" / "data" / "oci_cost_report_sample.csv"
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T")


@dataclass
class PutExport:
    """What a helper wrote: the manifest (if any), the parts, and each month's cost total."""

    manifest_key: str | None
    part_keys: list[str]
    delivery_id: str
    totals: dict[date, decimal.Decimal] = field(default_factory=dict)
    rows: int = 0


def s3_client(endpoint: str | None = None):
    """A client of the local S3 server (settings.S3_ENDPOINT_URL), signed with the platform's
    local keys (the server accepts any)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint or settings.S3_ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id=settings.AWS_PLATFORM_ACCESS_KEY_ID or "local",
        aws_secret_access_key=settings.AWS_PLATFORM_SECRET_ACCESS_KEY or "local",
    )


def bucket_ensure(client, bucket: str) -> None:
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def _sample_rows(path: Path, month: date, period_column: str) -> tuple[list[str], list[list[str]]]:
    """The sample's header and rows, every date moved so ``period_column`` falls in ``month``."""
    text = path.read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    first = next(csv.DictReader(io.StringIO(text)))[period_column]
    match = _DATE.match(first)
    base = int(match[1]) * 12 + int(match[2]) - 1
    shifted = month_shift(text, month.year * 12 + month.month - 1 - base)
    rows = list(csv.reader(io.StringIO(shifted)))[1:]
    return header, rows


def _restate(header: list[str], rows: list[list[str]], cost_column: str, amount) -> None:
    """One line's cost raised by ``amount``: the first line with a cost."""
    if amount is None:
        return
    cost = header.index(cost_column)
    first = next(i for i, row in enumerate(rows) if row[cost])
    rows[first] = list(rows[first])
    rows[first][cost] = str(decimal.Decimal(rows[first][cost]) + decimal.Decimal(str(amount)))


def _total(header: list[str], rows: list[list[str]], cost_column: str) -> decimal.Decimal:
    cost = header.index(cost_column)
    return sum((decimal.Decimal(row[cost]) for row in rows if row[cost]), decimal.Decimal(0))


def _split(rows: list, parts: int) -> list[list]:
    size, extra = divmod(len(rows), parts)
    out, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        out.append(rows[start:end])
        start = end
    return out


def _csv_gz(header: list[str], rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return gzip.compress(text.getvalue().encode("utf-8"), compresslevel=6, mtime=0)


def _month_end(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _join(prefix: str, *names: str) -> str:
    return "/".join(p for p in (prefix.strip("/"), *names) if p)


def cur_month_put(
    *,
    bucket: str,
    prefix: str,
    report: str,
    month: date,
    parts: int = 3,
    assembly_id: str | None = None,
    restated=None,
    client=None,
) -> PutExport:
    """A CUR 1.0 month as AWS delivers it: ``parts`` gzip CSV parts under
    ``<prefix>/<report>/<YYYYMMDD-YYYYMMDD>/<assemblyId>/``, and the period's
    ``<report>-Manifest.json`` (also copied into the assembly folder, as AWS does) naming
    them. A second call for the same month with another ``assembly_id`` (and ``restated``:
    one line's cost raised by that amount) is a re-delivery: the manifest is rewritten."""
    client = client or s3_client()
    bucket_ensure(client, bucket)
    header, rows = _sample_rows(CUR_SAMPLE, month, "bill/BillingPeriodStartDate")
    _restate(header, rows, "lineItem/UnblendedCost", restated)
    assembly = assembly_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{report}/{month}/{restated}"))
    end = _month_end(month)
    folder = _join(prefix, report, f"{month:%Y%m%d}-{end:%Y%m%d}")
    keys = []
    for index, chunk in enumerate(_split(rows, parts), start=1):
        key = f"{folder}/{assembly}/{report}-{index:05d}.csv.gz"
        client.put_object(Bucket=bucket, Key=key, Body=_csv_gz(header, chunk))
        keys.append(key)
    columns = []
    for name in header:
        category, _, column = name.partition("/")
        columns.append({"category": category, "name": column, "type": "String"})
    manifest = {
        "assemblyId": assembly,
        "account": "111122223333",
        "columns": columns,
        "charset": "UTF-8",
        "compression": "GZIP",
        "contentType": "text/csv",
        "reportId": uuid.uuid5(uuid.NAMESPACE_URL, report).hex,
        "reportName": report,
        "billingPeriod": {
            "start": f"{month:%Y%m%d}T000000.000Z",
            "end": f"{end:%Y%m%d}T000000.000Z",
        },
        "bucket": bucket,
        "reportKeys": keys,
        "additionalArtifactKeys": [],
    }
    body = json.dumps(manifest, indent=2).encode()
    manifest_key = f"{folder}/{report}-Manifest.json"
    client.put_object(Bucket=bucket, Key=f"{folder}/{assembly}/{report}-Manifest.json", Body=body)
    client.put_object(Bucket=bucket, Key=manifest_key, Body=body)
    return PutExport(
        manifest_key=manifest_key,
        part_keys=keys,
        delivery_id=assembly,
        totals={month: _total(header, rows, "lineItem/UnblendedCost")},
        rows=len(rows),
    )


def data_export_month_put(
    *,
    bucket: str,
    prefix: str,
    export: str,
    month: date,
    parts: int = 2,
    kind: str = "cur2",
    file_format: str = "parquet",
    execution_id: str | None = None,
    restated=None,
    client=None,
) -> PutExport:
    """An AWS Data Exports month (overwrite mode): parts under
    ``<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/`` and
    ``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json``.

    ``kind``: ``cur2`` (the CUR sample under CUR 2.0's snake_case names) or ``focus`` (the
    AWS FOCUS sample). ``file_format``: ``parquet`` (every column a string) or ``csv`` (gzip).
    A re-delivery with another ``execution_id`` overwrites the parts, as AWS does."""
    client = client or s3_client()
    bucket_ensure(client, bucket)
    if kind == "cur2":
        header, rows = _sample_rows(CUR_SAMPLE, month, "bill/BillingPeriodStartDate")
        _restate(header, rows, "lineItem/UnblendedCost", restated)
        total = _total(header, rows, "lineItem/UnblendedCost")
        header = [cur2_name(name) for name in column_names_from_header(header)]
    elif kind == "focus":
        header, rows = _sample_rows(FOCUS_SAMPLE, month, "BillingPeriodStart")
        _restate(header, rows, "BilledCost", restated)
        total = _total(header, rows, "BilledCost")
    else:
        raise ValueError(f"kind {kind!r}: cur2 or focus")
    execution = execution_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{export}/{month}/{restated}"))
    partition = f"BILLING_PERIOD={month:%Y-%m}"
    data = _join(prefix, export, "data", partition)
    keys = []
    for index, chunk in enumerate(_split(rows, parts), start=1):
        if file_format == "parquet":
            key = f"{data}/{export}-{index:05d}.snappy.parquet"
            table = pa.table(
                {
                    name: pa.array([row[i] for row in chunk], pa.string())
                    for i, name in enumerate(header)
                }
            )
            sink = io.BytesIO()
            pq.write_table(table, sink, compression="snappy")
            body = sink.getvalue()
        else:
            key = f"{data}/{export}-{index:05d}.csv.gz"
            body = _csv_gz(header, chunk)
        client.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(key)
    end = _month_end(month)
    manifest = {
        "executionId": execution,
        "exportArn": (
            f"arn:aws:bcm-data-exports:us-east-1:111122223333:export/{export}-{execution[:8]}"
        ),
        "exportName": export,
        "billingPeriod": {
            "start": f"{month:%Y-%m-%d}T00:00:00.000Z",
            "end": f"{end:%Y-%m-%d}T00:00:00.000Z",
        },
        "bucket": bucket,
        "dataFiles": [f"s3://{bucket}/{key}" for key in keys],
        "columns": [{"name": name, "type": "string"} for name in header],
        "additionalOutputFiles": [],
    }
    manifest_key = f"{_join(prefix, export, 'metadata', partition)}/{export}-Manifest.json"
    client.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest, indent=2).encode())
    return PutExport(
        manifest_key=manifest_key,
        part_keys=keys,
        delivery_id=execution,
        totals={month: total},
        rows=len(rows),
    )


def oci_report_put(
    *,
    bucket: str,
    number: int,
    months: tuple[date, ...],
    prefix: str = "reports/cost-csv",
    share: tuple[int, int] = (0, 1),
    client=None,
) -> PutExport:
    """One OCI cost report file, ``<prefix>/<number>.csv.gz`` (OCI's numbering), holding the
    sample's rows (the ``share`` (index, count) slice of them) moved into each of ``months``:
    a file of two months when two are given (late usage and corrections arrive that way)."""
    client = client or s3_client()
    bucket_ensure(client, bucket)
    header: list[str] = []
    rows: list[list[str]] = []
    totals = {}
    for month in months:
        header, month_rows = _sample_rows(OCI_SAMPLE, month, "lineItem/intervalUsageStart")
        month_rows = _split(month_rows, share[1])[share[0]]
        totals[month] = _total(header, month_rows, "cost/myCost")
        rows += month_rows
    key = f"{prefix.strip('/')}/{number:016d}.csv.gz"
    client.put_object(Bucket=bucket, Key=key, Body=_csv_gz(header, rows))
    return PutExport(
        manifest_key=None, part_keys=[key], delivery_id="", totals=totals, rows=len(rows)
    )


def oci_month_put(
    *,
    bucket: str,
    month: date,
    files: int = 2,
    first_number: int = 1,
    prefix: str = "reports/cost-csv",
    client=None,
) -> PutExport:
    """A month of OCI cost reports: the sample's rows spread over ``files`` files numbered
    from ``first_number`` (OCI writes one about every six hours)."""
    put = PutExport(
        manifest_key=None, part_keys=[], delivery_id="", totals={month: decimal.Decimal(0)}
    )
    for index in range(files):
        one = oci_report_put(
            bucket=bucket,
            number=first_number + index,
            months=(month,),
            prefix=prefix,
            share=(index, files),
            client=client,
        )
        put.part_keys += one.part_keys
        put.totals[month] += one.totals[month]
        put.rows += one.rows
    return put
