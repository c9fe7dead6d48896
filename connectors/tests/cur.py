"""CUR 1.0 months written into a real S3 bucket as AWS writes them: gzip CSV parts under an
assembly folder and the month's ``<report>-Manifest.json`` listing them (``reportKeys``) with
the columns, rewritten on each delivery."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import io
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3

from pipelines.tests.history import COST, aws_cur_month

CENT = decimal.Decimal("0.01")
REPORT = "acme-cur"


def s3_admin(endpoint: str):
    """A client of the local S3 server as the bucket's owner (the server takes any key)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="owner",
        aws_secret_access_key="owner-secret",
    )


@dataclass(frozen=True)
class CurMonth:
    period: dt.date
    assembly_id: str
    manifest_key: str
    part_keys: tuple[str, ...]
    total: decimal.Decimal
    rows: int


def _month_start(months: int) -> dt.date:
    index = 2023 * 12 + 10 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def cur_month_put(
    client,
    bucket: str,
    prefix: str,
    tmp: Path,
    *,
    months: int = 0,
    restated: decimal.Decimal | None = None,
    parts: int = 3,
    assembly_id: str | None = None,
    header_of_part: dict[int, str] | None = None,
    part_body: dict[int, bytes] | None = None,
    extra_keys: tuple[str, ...] = (),
    folder_months: int | None = None,
) -> CurMonth:
    """November 2023's sample moved ``months`` on (``restated``: its first usage line raised)
    split into ``parts`` gzip parts under a new assembly, and the month's manifest. Bad input
    for tests: ``header_of_part`` replaces a part's header line, ``part_body`` a part's bytes,
    ``extra_keys`` are listed in the manifest without being written, ``folder_months``
    delivers the rows as another month's (its folder and manifest)."""
    source = aws_cur_month(tmp / f"cur-{uuid.uuid4().hex[:6]}.csv", months, restated=restated)
    text = source.read_text(encoding="utf-8")
    header, *lines = text.splitlines(keepends=True)
    start = _month_start(months if folder_months is None else folder_months)
    end = _month_start((months if folder_months is None else folder_months) + 1)
    folder = f"{prefix}/{REPORT}/{start:%Y%m%d}-{end:%Y%m%d}"
    assembly = assembly_id or str(uuid.uuid4())
    size = -(-len(lines) // parts)
    keys = []
    for index in range(parts):
        key = f"{folder}/{assembly}/{REPORT}-{index + 1:05d}.csv.gz"
        head = (header_of_part or {}).get(index, header)
        body = (part_body or {}).get(index)
        if body is None:
            body = gzip.compress(
                (head + "".join(lines[index * size : (index + 1) * size])).encode()
            )
        client.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(key)
    columns = [
        {"category": name.split("/", 1)[0], "name": name.split("/", 1)[1], "type": "String"}
        for name in next(csv.reader(io.StringIO(header)))
    ]
    manifest = {
        "assemblyId": assembly,
        "account": "123456789012",
        "columns": columns,
        "charset": "UTF-8",
        "compression": "GZIP",
        "contentType": "text/csv",
        "reportId": uuid.uuid4().hex,
        "reportName": REPORT,
        "billingPeriod": {
            "start": f"{start:%Y%m%d}T000000.000Z",
            "end": f"{end:%Y%m%d}T000000.000Z",
        },
        "bucket": bucket,
        "reportKeys": [*keys, *extra_keys],
        "additionalArtifactKeys": [],
    }
    manifest_key = f"{folder}/{REPORT}-Manifest.json"
    body = json.dumps(manifest).encode()
    client.put_object(Bucket=bucket, Key=manifest_key, Body=body)
    # AWS also keeps a copy of the manifest in the assembly's folder.
    client.put_object(Bucket=bucket, Key=f"{folder}/{assembly}/{REPORT}-Manifest.json", Body=body)
    total = sum(
        (decimal.Decimal(r[COST]) for r in csv.DictReader(io.StringIO(text)) if r[COST]),
        decimal.Decimal(0),
    )
    return CurMonth(start, assembly, manifest_key, tuple(keys), total.quantize(CENT), len(lines))
