"""The Azure Cost Management exports layout against exports written into a real Azurite, as
Cost Management writes them (devtools.azure_exports)."""

import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from azure.storage.blob import BlobServiceClient

from connectors.layouts import ExportLayoutError
from connectors.layouts.azure import AzureExportsLayout
from devtools.azure_exports import export_run_put, rows_in_month, sample_rows
from devtools.azurite import ACCOUNT, ACCOUNT_KEY
from warehouse.azure_blob import azure_blob_store

SEPTEMBER, OCTOBER = date(2023, 9, 1), date(2023, 10, 1)
T0 = datetime(2023, 10, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def container(azure_blob_endpoint):
    service = BlobServiceClient(
        azure_blob_endpoint, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}
    )
    client = service.create_container(f"exports-{uuid.uuid4().hex[:12]}")
    yield client
    client.delete_container()


@pytest.fixture
def store(azure_blob_endpoint, container):
    return azure_blob_store(
        account_url=azure_blob_endpoint,
        container=container.container_name,
        account_key=ACCOUNT_KEY,
    )


@pytest.fixture
def sample():
    return sample_rows()


def _put(container, sample, kind, period, **kwargs):
    header, rows = sample
    kwargs.setdefault("root", "costs")
    return export_run_put(
        container,
        export_name=f"{kind}-cost",
        kind=kind,
        period=period,
        header=header,
        rows=rows_in_month(rows, period),
        **kwargs,
    )


def test_one_month_actual_and_amortized(container, store, sample):
    """A month exported as actual and as amortized cost is two deliveries of that month, each
    its run's parts in the manifest's order, told apart by kind."""
    actual = _put(container, sample, "actual", SEPTEMBER, parts=3, submitted=T0)
    amortized = _put(container, sample, "amortized", SEPTEMBER, parts=2, submitted=T0)

    deliveries = AzureExportsLayout().deliveries(store, "costs/", known_periods={})

    assert [(d.period, d.kind) for d in deliveries] == [
        (SEPTEMBER, "ActualCost"),
        (SEPTEMBER, "AmortizedCost"),
    ]
    first, second = deliveries
    assert first.delivery_id == actual.run_id and second.delivery_id == amortized.run_id
    assert first.manifest_key == actual.manifest_key
    assert tuple(p.key for p in first.parts) == actual.part_keys
    assert tuple(p.key for p in second.parts) == amortized.part_keys
    assert all(p.size > 0 and p.etag for p in first.parts)
    assert first.format == "CSV" and first.columns is None
    # The parts hold the month's rows, each part with the header.
    assert sum(store.read(k).count(b"\n") - 1 for k in actual.part_keys) == len(sample[1])


def test_a_newer_run_replaces_the_month(container, store, sample):
    """A later run of the same export and month (Azure re-runs a month until it closes) is
    the month's current delivery; the earlier run is no longer offered."""
    _put(container, sample, "actual", SEPTEMBER, submitted=T0)
    newer = _put(
        container, sample, "actual", SEPTEMBER, submitted=T0 + timedelta(hours=12), parts=2
    )

    (delivery,) = AzureExportsLayout().deliveries(store, "costs/", known_periods={})

    assert delivery.delivery_id == newer.run_id
    assert delivery.manifest_key == newer.manifest_key
    assert tuple(p.key for p in delivery.parts) == newer.part_keys


def test_two_months_oldest_first(container, store, sample):
    """Two months, each with actual and amortized runs, come oldest month first."""
    for period in (OCTOBER, SEPTEMBER):
        for kind in ("amortized", "actual"):
            _put(container, sample, kind, period, submitted=T0)

    deliveries = AzureExportsLayout().deliveries(store, "costs/", known_periods={})

    assert [(d.period, d.kind) for d in deliveries] == [
        (SEPTEMBER, "ActualCost"),
        (SEPTEMBER, "AmortizedCost"),
        (OCTOBER, "ActualCost"),
        (OCTOBER, "AmortizedCost"),
    ]
    assert len({d.delivery_id for d in deliveries}) == 4


def test_gzip_parts_and_other_prefixes(container, store, sample):
    """Gzip CSV parts are listed as they are named; exports outside the prefix are not read."""
    run = _put(container, sample, "actual", SEPTEMBER, compress=True, submitted=T0)
    _put(container, sample, "actual", OCTOBER, root="elsewhere", submitted=T0)

    (delivery,) = AzureExportsLayout().deliveries(store, "costs/", known_periods={})

    assert delivery.period == SEPTEMBER
    assert all(p.key.endswith(".csv.gz") for p in delivery.parts)
    assert tuple(p.key for p in delivery.parts) == run.part_keys


def test_parquet_runs_are_parquet_deliveries(container, store, sample):
    """A run delivered as Parquet (deliveryConfig.fileFormat) is a PARQUET delivery of its
    .snappy.parquet parts, which hold the month's rows."""
    run = _put(container, sample, "amortized", SEPTEMBER, file_format="parquet", submitted=T0)

    (delivery,) = AzureExportsLayout().deliveries(store, "costs/", known_periods={})

    assert delivery.format == "PARQUET" and delivery.kind == "AmortizedCost"
    assert tuple(p.key for p in delivery.parts) == run.part_keys
    assert all(p.key.endswith(".snappy.parquet") for p in delivery.parts)
    rows = sum(pq.read_table(io.BytesIO(store.read(p.key))).num_rows for p in delivery.parts)
    assert rows == len(sample[1])


def test_a_manifest_naming_a_missing_blob_is_an_error(container, store, sample):
    """A manifest that lists a part the container does not hold fails the layout, naming the
    manifest and the blob."""
    run = _put(container, sample, "actual", SEPTEMBER, parts=3, missing_part=2, submitted=T0)

    with pytest.raises(ExportLayoutError) as caught:
        AzureExportsLayout().deliveries(store, "costs/", known_periods={})

    message = str(caught.value)
    assert run.manifest_key in message
    assert f"{run.part_keys[1]}, which is not in the container" in message


def test_a_manifest_naming_a_blob_outside_the_prefix_is_an_error(container, store, sample):
    """A manifest whose parts lie outside the registered prefix is refused by name: the sync
    reads only what the tenant registered."""
    run = _put(container, sample, "actual", SEPTEMBER, submitted=T0)
    manifest = json.loads(store.read(run.manifest_key))
    manifest["blobs"][0]["blobName"] = "other-tenant/part_0_0001.csv"
    container.upload_blob("other-tenant/part_0_0001.csv", b"x")
    container.upload_blob(run.manifest_key, json.dumps(manifest).encode(), overwrite=True)

    with pytest.raises(ExportLayoutError, match=r"other-tenant/part_0_0001\.csv, outside the"):
        AzureExportsLayout().deliveries(store, "costs/", known_periods={})


def test_a_manifest_that_is_not_json_is_an_error(container, store, sample):
    """A corrupt manifest fails the layout naming it."""
    run = _put(container, sample, "actual", SEPTEMBER, submitted=T0)
    container.upload_blob(run.manifest_key, b"{not json", overwrite=True)

    with pytest.raises(ExportLayoutError, match=f"{run.manifest_key}: the manifest is not valid"):
        AzureExportsLayout().deliveries(store, "costs/", known_periods={})


def test_price_sheets_and_empty_runs_are_not_deliveries(container, store, sample):
    """An export of another dataset (a price sheet) and a run that exported no rows are passed
    over; the cost export beside them is delivered."""
    run = _put(container, sample, "actual", SEPTEMBER, submitted=T0)
    _put(container, sample, "actual", OCTOBER, submitted=T0)
    manifest = json.loads(store.read(run.manifest_key))
    price_sheet = {**manifest, "exportConfig": {**manifest["exportConfig"], "type": "PriceSheet"}}
    container.upload_blob("costs/prices/20230901-20230930/r/manifest.json", json.dumps(price_sheet))
    october = [
        d
        for d in AzureExportsLayout().deliveries(store, "costs/", known_periods={})
        if d.period == OCTOBER
    ]
    october_manifest = october[0].manifest_key
    empty = {**json.loads(store.read(october_manifest)), "blobs": [], "blobCount": 0}
    container.upload_blob(october_manifest, json.dumps(empty).encode(), overwrite=True)

    deliveries = AzureExportsLayout().deliveries(store, "costs/", known_periods={})

    assert [(d.period, d.kind, d.manifest_key) for d in deliveries] == [
        (SEPTEMBER, "ActualCost", run.manifest_key)
    ]


def test_a_run_spanning_two_months_is_an_error(container, store, sample):
    """A custom-range run over two months cannot replace one billing period: refused by name."""
    run = _put(container, sample, "actual", SEPTEMBER, submitted=T0)
    manifest = json.loads(store.read(run.manifest_key))
    manifest["runInfo"]["endDate"] = "2023-10-15T00:00:00Z"
    container.upload_blob(run.manifest_key, json.dumps(manifest).encode(), overwrite=True)

    with pytest.raises(ExportLayoutError, match="more than one billing month"):
        AzureExportsLayout().deliveries(store, "costs/", known_periods={})
