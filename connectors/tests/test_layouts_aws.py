"""The AWS export layouts against a real moto server holding exports written as AWS writes
them: CUR 1.0 months of gzip CSV parts with their manifests, Data Exports months."""

import io
import json
import time
import uuid
from datetime import date

import pyarrow.parquet as pq
import pytest

from connectors.layouts import ExportLayoutError
from connectors.layouts.aws import CurLayout, DataExportsLayout, aws_layout_detect
from devtools.export_samples import (
    cur_month_put,
    data_export_month_put,
    s3_client,
)
from warehouse.exports import head_decompress
from warehouse.s3 import s3_store

JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


@pytest.fixture
def bucket(s3_endpoint):
    name = f"cur-{uuid.uuid4().hex[:12]}"
    s3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(bucket):
    return s3_store(bucket=bucket)


def _deliveries(layout, store, prefix):
    return layout.deliveries(store, prefix, known_periods={})


def test_cur_month_of_three_parts(store, bucket):
    """Three parts and their manifest are one delivery: the assembly id, the three parts in
    the manifest's order, and the manifest's columns, which are each part's header."""
    put = cur_month_put(bucket=bucket, prefix="billing/cur", report="acme", month=JAN, parts=3)

    (delivery,) = _deliveries(CurLayout(), store, "billing/cur")

    assert delivery.period == JAN
    assert delivery.delivery_id == put.delivery_id
    assert delivery.manifest_key == "billing/cur/acme/20240101-20240201/acme-Manifest.json"
    assert [part.key for part in delivery.parts] == put.part_keys
    assert len(delivery.parts) == 3
    assert all(part.size > 0 and part.etag for part in delivery.parts)
    assert delivery.format == "CSV"
    assert not delivery.mixed_periods
    assert delivery.columns[:2] == ("identity/LineItemId", "identity/TimeInterval")
    for part in delivery.parts:
        header = head_decompress(store.read_head(part.key)).split(b"\n", 1)[0].decode()
        assert tuple(header.split(",")) == delivery.columns


def test_cur_redelivery_is_the_new_assembly(store, bucket):
    """AWS rewrites the period's manifest with a new assembly: the delivery is the new one,
    its parts the new assembly's, though the old parts are still in the bucket."""
    first = cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=3)
    second = cur_month_put(
        bucket=bucket,
        prefix="cur",
        report="acme",
        month=JAN,
        parts=3,
        assembly_id="5f0e3c7a-second-assembly",
        restated="1.25",
    )

    (delivery,) = _deliveries(CurLayout(), store, "cur")

    assert delivery.delivery_id == "5f0e3c7a-second-assembly" != first.delivery_id
    assert [part.key for part in delivery.parts] == second.part_keys
    assert not set(second.part_keys) & set(first.part_keys)
    assert second.totals[JAN] - first.totals[JAN] == pytest.approx(1.25)


def test_cur_two_months_oldest_first(store, bucket):
    cur_month_put(bucket=bucket, prefix="cur", report="acme", month=FEB, parts=2)
    cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=3)

    deliveries = _deliveries(CurLayout(), store, "cur")

    assert [(d.period, len(d.parts)) for d in deliveries] == [(JAN, 3), (FEB, 2)]
    assert all(part.key.startswith("cur/acme/20240201-20240301/") for part in deliveries[1].parts)


def test_cur_manifest_naming_a_missing_part(store, bucket):
    """A manifest naming a part that is not in the bucket is an error naming both."""
    put = cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=3)
    s3_client().delete_object(Bucket=bucket, Key=put.part_keys[1])

    with pytest.raises(ExportLayoutError) as caught:
        _deliveries(CurLayout(), store, "cur")

    assert str(caught.value) == (
        f"s3://{bucket}/{put.manifest_key}: names {put.part_keys[1]}, which is not in the bucket"
    )


def test_cur_part_outside_the_prefix(store, bucket):
    """A manifest under the registered prefix naming a part elsewhere in the bucket (another
    tenant's folder, say) is refused before anything reads it."""
    put = cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=1)
    client = s3_client()
    client.put_object(Bucket=bucket, Key="other/secret.csv.gz", Body=b"x")
    manifest = json.loads(store.read(put.manifest_key))
    manifest["reportKeys"].append("other/secret.csv.gz")
    client.put_object(Bucket=bucket, Key=put.manifest_key, Body=json.dumps(manifest).encode())

    with pytest.raises(ExportLayoutError, match=r"names other/secret\.csv\.gz, outside the regist"):
        _deliveries(CurLayout(), store, "cur")


def test_cur_manifest_naming_another_bucket(store, bucket):
    put = cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=1)
    manifest = json.loads(store.read(put.manifest_key))
    manifest["bucket"] = "someone-elses-bucket"
    s3_client().put_object(Bucket=bucket, Key=put.manifest_key, Body=json.dumps(manifest).encode())

    with pytest.raises(ExportLayoutError, match="names bucket someone-elses-bucket, not the"):
        _deliveries(CurLayout(), store, "cur")


def test_cur_manifest_not_json(store, bucket):
    put = cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=1)
    s3_client().put_object(Bucket=bucket, Key=put.manifest_key, Body=b"{not json")

    with pytest.raises(ExportLayoutError, match=rf"{put.manifest_key}: not a valid manifest"):
        _deliveries(CurLayout(), store, "cur")


def test_cur_prefix_is_a_folder(store, bucket):
    """Registering ``cur`` never reads ``curious/``; an empty prefix is named."""
    cur_month_put(bucket=bucket, prefix="curious", report="acme", month=JAN, parts=1)

    with pytest.raises(
        ExportLayoutError, match=rf"^no Cost and Usage Report under s3://{bucket}/cur/"
    ):
        _deliveries(CurLayout(), store, "cur")


def test_cur_two_reports_under_one_prefix(store, bucket):
    cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=1)
    cur_month_put(bucket=bucket, prefix="cur", report="hourly", month=JAN, parts=1)

    with pytest.raises(ExportLayoutError, match=r"more than one report \(acme, hourly\)"):
        _deliveries(CurLayout(), store, "cur")


def test_data_exports_parquet_month(store, bucket):
    """A CUR 2.0 Parquet month: the execution id, the Parquet parts, and the manifest's
    columns, which are each part's schema."""
    put = data_export_month_put(bucket=bucket, prefix="exports", export="cur2", month=JAN, parts=3)

    (delivery,) = _deliveries(DataExportsLayout(), store, "exports")

    assert delivery.period == JAN
    assert delivery.delivery_id == put.delivery_id
    assert delivery.manifest_key == (
        "exports/cur2/metadata/BILLING_PERIOD=2024-01/cur2-Manifest.json"
    )
    assert [part.key for part in delivery.parts] == put.part_keys
    assert delivery.format == "PARQUET"
    assert "line_item_unblended_cost" in delivery.columns
    for part in delivery.parts:
        schema = pq.read_schema(io.BytesIO(store.read(part.key, max_bytes=part.size)))
        assert tuple(schema.names) == delivery.columns


def test_data_exports_focus_csv_months_and_redelivery(store, bucket):
    """A FOCUS export as gzip CSV over two months, then February re-delivered: two
    deliveries oldest first, February's the new execution."""
    data_export_month_put(
        bucket=bucket, prefix="", export="focus", month=FEB, kind="focus", file_format="csv"
    )
    data_export_month_put(
        bucket=bucket, prefix="", export="focus", month=JAN, kind="focus", file_format="csv"
    )
    again = data_export_month_put(
        bucket=bucket,
        prefix="",
        export="focus",
        month=FEB,
        kind="focus",
        file_format="csv",
        execution_id="exec-feb-2",
        restated="0.10",
    )

    january, february = _deliveries(DataExportsLayout(), store, "")

    assert (january.period, february.period) == (JAN, FEB)
    assert february.delivery_id == "exec-feb-2"
    assert [part.key for part in february.parts] == again.part_keys
    assert february.format == "CSV"
    assert february.columns[:3] == ("AvailabilityZone", "BilledCost", "BillingAccountId")


def test_data_exports_missing_file(store, bucket):
    put = data_export_month_put(bucket=bucket, prefix="x", export="cur2", month=JAN, parts=2)
    s3_client().delete_object(Bucket=bucket, Key=put.part_keys[0])

    with pytest.raises(ExportLayoutError) as caught:
        _deliveries(DataExportsLayout(), store, "x")

    assert put.manifest_key in str(caught.value)
    assert f"names {put.part_keys[0]}, which is not in the bucket" in str(caught.value)


def test_data_exports_file_in_another_bucket(store, bucket):
    put = data_export_month_put(bucket=bucket, prefix="x", export="cur2", month=JAN, parts=1)
    manifest = json.loads(store.read(put.manifest_key))
    manifest["dataFiles"] = [f"s3://elsewhere-bucket/{put.part_keys[0]}"]
    s3_client().put_object(Bucket=bucket, Key=put.manifest_key, Body=json.dumps(manifest).encode())

    with pytest.raises(ExportLayoutError, match="names bucket elsewhere-bucket"):
        _deliveries(DataExportsLayout(), store, "x")


def test_layout_detected_from_the_manifests(store, bucket):
    """Which AWS layout a prefix holds is told from its manifests' paths."""
    cur_month_put(bucket=bucket, prefix="legacy", report="acme", month=JAN, parts=1)
    data_export_month_put(bucket=bucket, prefix="new", export="cur2", month=JAN, parts=1)

    assert aws_layout_detect(store, "legacy").name == "aws_cur"
    assert aws_layout_detect(store, "new").name == "aws_data_exports"
    with pytest.raises(ExportLayoutError, match="holds both"):
        aws_layout_detect(store, "")
    with pytest.raises(ExportLayoutError, match="no AWS export under"):
        aws_layout_detect(store, "nothing-here")


def test_data_exports_create_new_report_takes_the_newest_manifest(store, bucket):
    """With "create new report" each execution has its own folder under the partition: the
    newest manifest is the period's current one, whatever its folder's name."""
    put = data_export_month_put(bucket=bucket, prefix="x", export="cur2", month=JAN, parts=1)
    client = s3_client()
    manifest = json.loads(store.read(put.manifest_key))
    client.delete_object(Bucket=bucket, Key=put.manifest_key)
    folder = put.manifest_key.rsplit("/", 1)[0]
    for execution in ("z-older", "a-newer"):
        manifest["executionId"] = execution
        client.put_object(
            Bucket=bucket,
            Key=f"{folder}/{execution}/cur2-Manifest.json",
            Body=json.dumps(manifest).encode(),
        )
        time.sleep(1.1)  # S3 keeps LastModified to the second

    (delivery,) = _deliveries(DataExportsLayout(), store, "x")

    assert delivery.delivery_id == "a-newer"
    assert delivery.manifest_key == f"{folder}/a-newer/cur2-Manifest.json"


def test_cur_parquet_and_zip_parts(store, bucket):
    """A Parquet CUR's manifest names parts under year=/month= folders: a Parquet delivery
    without columns (its parts rename them). ZIP parts are refused with the fix."""
    put = cur_month_put(bucket=bucket, prefix="cur", report="acme", month=JAN, parts=1)
    client = s3_client()
    manifest = json.loads(store.read(put.manifest_key))
    parquet_key = "cur/acme/acme/year=2024/month=1/acme-00001.snappy.parquet"
    client.put_object(Bucket=bucket, Key=parquet_key, Body=b"PAR1")
    manifest.update(reportKeys=[parquet_key], contentType="Parquet", compression="Parquet")
    client.put_object(Bucket=bucket, Key=put.manifest_key, Body=json.dumps(manifest).encode())

    (delivery,) = _deliveries(CurLayout(), store, "cur")
    assert (delivery.format, delivery.columns) == ("PARQUET", None)
    assert [part.key for part in delivery.parts] == [parquet_key]

    zip_key = put.part_keys[0].replace(".csv.gz", ".csv.zip")
    client.put_object(Bucket=bucket, Key=zip_key, Body=b"PK")
    manifest.update(reportKeys=[zip_key])
    client.put_object(Bucket=bucket, Key=put.manifest_key, Body=json.dumps(manifest).encode())
    with pytest.raises(ExportLayoutError, match="a ZIP archive: set the report's compression"):
        _deliveries(CurLayout(), store, "cur")
