"""Benchmark: a 2 GB CUR part synced from S3 with bounded memory, beside reading it whole.

Usage, from the project root:

    .venv/bin/python benchmarks/connector_sync_memory.py [--size-mb 2048] [--no-load]

A local S3 server (moto, as ``make run`` starts it) and a BigQuery emulator are started on free
ports. One CUR 1.0 month is written into S3 as AWS writes it: a manifest naming one CSV part of
``--size-mb`` MiB, the AWS CUR sample's rows repeated (each copy's ``identity/LineItemId``
suffixed), generated as a stream and sent as a multipart upload, so this process never holds
the part either.

Then, one after the other, each in a child process of its own whose peak RSS (``VmHWM``) is
printed:

- streaming (the connector's path, ``connectors/processors.py``): the CUR layout reads the
  listing and the manifest, ``part_spool`` copies the part to a local file in 8 MiB chunks,
  the header is read from the file, and the warehouse adapter loads the file into a table
  (``load_file``: a resumable upload in 8 MiB chunks, then a load job); ``--no-load`` stops
  after the spool.
- naive: the same layout, then the part read whole into memory (``store.read`` with a bound
  of its size) and its header taken from those bytes; nothing loaded (the read alone decides
  its memory).

The children set up Django but use no database: the steps are the processor's own building
blocks, without the run, the ledger and the FOCUS steps around them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")

BUCKET = "bench-billing"
PREFIX = "cur"
REPORT = "bench"
MiB = 1024 * 1024
UPLOAD_PART = 16 * MiB


def vm_hwm_mb() -> float:
    """This process's peak resident set size, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def s3_client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        # moto joins a multipart upload's parts in one request: minutes for 2 GB.
        config=Config(read_timeout=1800, retries={"max_attempts": 1}),
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",  # noqa: S106 (moto takes any key)
    )


def part_generate(endpoint: str, size: int) -> tuple[str, int, int]:
    """The CUR month with one part of ``size`` bytes, uploaded in 16 MiB pieces; (part key,
    bytes, rows)."""
    sample = ROOT / "pipelines" / "tests" / "data" / "aws_cur_sample.csv"
    with sample.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        lines = list(reader)
    line_id = header.index("identity/LineItemId")
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    assembly = str(uuid.uuid4())
    folder = f"{PREFIX}/{REPORT}/20231101-20231201"
    key = f"{folder}/{assembly}/{REPORT}-00001.csv"
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts, buffer, written, rows, copy = [], io.StringIO(), 0, 0, 0
    csv.writer(buffer, lineterminator="\n").writerow(header)

    def flush(final: bool = False) -> None:
        nonlocal buffer
        data = buffer.getvalue().encode()
        if not data or (len(data) < UPLOAD_PART and not final):
            return
        number = len(parts) + 1
        etag = client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=data
        )["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})
        buffer = io.StringIO()

    while written < size:
        for line in lines:
            row = list(line)
            row[line_id] = f"{row[line_id]}-{copy}"
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerow(row)
            encoded = len(text.getvalue().encode())
            if written + encoded > size and rows:
                break
            buffer.write(text.getvalue())
            written += encoded
            rows += 1
        else:
            copy += 1
            flush()
            continue
        break
    flush(final=True)
    client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    total = client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    manifest = {
        "assemblyId": assembly,
        "columns": [
            {"category": h.split("/", 1)[0], "name": h.split("/", 1)[1], "type": "String"}
            for h in header
        ],
        "compression": "None",
        "contentType": "text/csv",
        "reportName": REPORT,
        "billingPeriod": {"start": "20231101T000000.000Z", "end": "20231201T000000.000Z"},
        "bucket": BUCKET,
        "reportKeys": [key],
    }
    client.put_object(
        Bucket=BUCKET, Key=f"{folder}/{REPORT}-Manifest.json", Body=json.dumps(manifest).encode()
    )
    return key, total, rows


def worker(mode: str, s3_endpoint: str, warehouse_endpoint: str, load: bool) -> None:
    """One measured path, in this (child) process; prints one JSON line."""
    import django

    django.setup()
    from django.conf import settings

    settings.S3_ENDPOINT_URL = s3_endpoint
    settings.WAREHOUSE_ENDPOINT = warehouse_endpoint
    settings.WAREHOUSE_PROJECT = "convergence-bench"

    from connectors.layouts.aws import CurLayout
    from connectors.services.spool import part_spool
    from warehouse.files import csv_header_columns
    from warehouse.s3 import s3_store

    store = s3_store(
        bucket=BUCKET,
        region="us-east-1",
        access_key_id="bench",
        secret_access_key="bench-x",  # noqa: S106 (moto takes any key)
    )
    start = time.monotonic()
    (delivery,) = CurLayout().deliveries(store, PREFIX, known_periods={})
    (part,) = delivery.parts
    result: dict = {"mode": mode, "part_bytes": part.size}
    with tempfile.TemporaryDirectory() as folder:
        if mode == "streaming":
            path = Path(folder) / "part.csv"
            part_spool(store, part, path)
            result["spooled_s"] = round(time.monotonic() - start, 1)
            columns = csv_header_columns(path)
            result["columns"] = len(columns)
            if load:
                from warehouse.bigquery import get_warehouse

                warehouse = get_warehouse()
                warehouse.dataset_create("bench_sync")
                loaded = warehouse.load_file(
                    str(path), "bench_sync", "cur_raw", columns=columns, write_mode="overwrite"
                )
                result["rows_loaded"] = loaded.rows_loaded
        else:
            data = store.read(part.key, max_bytes=part.size)
            header = data.split(b"\n", 1)[0]
            result["columns"] = len(next(csv.reader([header.decode()])))
            result["read_whole_bytes"] = len(data)
    result["seconds"] = round(time.monotonic() - start, 1)
    result["peak_rss_mb"] = round(vm_hwm_mb(), 1)
    print(json.dumps(result), flush=True)


def child(mode: str, s3_endpoint: str, warehouse_endpoint: str, load: bool) -> dict:
    command = [sys.executable, __file__, "--worker", mode, "--s3", s3_endpoint]
    command += ["--warehouse", warehouse_endpoint] + ([] if load else ["--no-load"])
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{mode} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--worker", choices=("streaming", "naive"))
    parser.add_argument("--s3")
    parser.add_argument("--warehouse")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.s3, args.warehouse, not args.no_load)
        return

    from devtools.emulator import emulator_start, emulator_wait, free_port
    from devtools.object_stores import s3_server_start, s3_server_stop, s3_server_wait

    with tempfile.TemporaryDirectory() as scratch:
        s3_port, bq_port = free_port(), free_port()
        s3_endpoint, bq_endpoint = f"http://127.0.0.1:{s3_port}", f"http://127.0.0.1:{bq_port}"
        s3 = s3_server_start(port=s3_port, data_dir=Path(scratch) / "s3")
        bq = emulator_start(project="convergence-bench", rest_port=bq_port)
        try:
            s3_server_wait(s3_endpoint, process=s3)
            emulator_wait(bq_endpoint, process=bq)
            started = time.monotonic()
            key, size, rows = part_generate(s3_endpoint, args.size_mb * MiB)
            print(
                f"part s3://{BUCKET}/{key}: {size / MiB:,.0f} MiB, {rows:,} rows "
                f"(generated and uploaded in {time.monotonic() - started:.0f} s; "
                f"this process's peak RSS {vm_hwm_mb():.0f} MiB)",
                flush=True,
            )
            results = [
                child(mode, s3_endpoint, bq_endpoint, not args.no_load)
                for mode in ("streaming", "naive")
            ]
        finally:
            s3_server_stop(s3)
            bq.terminate()
            bq.wait(timeout=30)
    print()
    print(f"{'path':<10} {'peak RSS (MiB)':>15} {'seconds':>8}  what")
    for result in results:
        what = (
            f"spooled in {result['spooled_s']} s"
            + (f", {result['rows_loaded']:,} rows loaded" if "rows_loaded" in result else "")
            if result["mode"] == "streaming"
            else f"{result['read_whole_bytes'] / MiB:,.0f} MiB read into memory, not loaded"
        )
        print(
            f"{result['mode']:<10} {result['peak_rss_mb']:>15,.1f} {result['seconds']:>8}  {what}"
        )
    ratio = results[1]["peak_rss_mb"] / results[0]["peak_rss_mb"]
    print(f"\nnaive / streaming peak RSS: {ratio:.1f}x; streaming bound: 500 MiB")


if __name__ == "__main__":
    main()
