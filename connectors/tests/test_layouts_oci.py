"""The OCI cost report layout against a real moto server standing in for OCI Object Storage's
S3 compatibility API: periods learnt from the files' rows, and only from files not seen."""

import gzip
import uuid
from datetime import date

import pytest

from connectors.layouts import ExportLayoutError
from connectors.layouts.oci import OciCostReportsLayout
from devtools.export_samples import oci_month_put, oci_report_put, s3_client
from warehouse.s3 import oci_store

FEB, MAR = date(2024, 2, 1), date(2024, 3, 1)
LAYOUT = OciCostReportsLayout()


class CountingStore:
    """An ExportStore that counts the reads of object contents it passes on."""

    def __init__(self, store):
        self._store = store
        self.location = store.location
        self.reads: list[str] = []

    def list(self, prefix):
        return self._store.list(prefix)

    def read(self, key, **kwargs):
        self.reads.append(key)
        return self._store.read(key, **kwargs)

    def read_head(self, key, **kwargs):
        self.reads.append(key)
        return self._store.read_head(key, **kwargs)

    def open(self, key):
        self.reads.append(key)
        return self._store.open(key)


@pytest.fixture
def bucket(s3_endpoint):
    # OCI names the reports bucket by the tenancy OCID.
    name = f"ocid1.tenancy.oc1..{uuid.uuid4().hex[:20]}"
    s3_client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(bucket):
    return CountingStore(
        oci_store(
            bucket=bucket,
            namespace="bling",
            region="us-ashburn-1",
            access_key_id="oci-customer-key",
            secret_access_key="oci-customer-secret",
        )
    )


def _known(deliveries) -> dict:
    """What a ledger would pass after loading these deliveries: each file's periods."""
    known: dict = {}
    for delivery in deliveries:
        for part in delivery.parts:
            known.setdefault((part.key, part.etag), set()).add(delivery.period)
    return known


def test_a_month_of_files_is_one_delivery(store, bucket):
    put = oci_month_put(bucket=bucket, month=FEB, files=3)

    (delivery,) = LAYOUT.deliveries(store, "reports/cost-csv", known_periods={})

    assert delivery.period == FEB
    assert delivery.delivery_id == ""
    assert delivery.manifest_key is None
    assert delivery.format == "CSV"
    assert [part.key for part in delivery.parts] == put.part_keys
    assert not delivery.mixed_periods
    assert sorted(store.reads) == sorted(put.part_keys)  # each new file read once


def test_a_file_of_two_months_belongs_to_both(store, bucket):
    """A March file with February's late rows is in both deliveries, both marked mixed;
    files of one month only are not."""
    feb = oci_month_put(bucket=bucket, month=FEB, files=2, first_number=1)
    straddle = oci_report_put(bucket=bucket, number=3, months=(FEB, MAR), share=(0, 2))
    mar = oci_month_put(bucket=bucket, month=MAR, files=1, first_number=4)

    february, march = LAYOUT.deliveries(store, "reports/", known_periods={})

    assert february.period == FEB
    assert [p.key for p in february.parts] == [*feb.part_keys, *straddle.part_keys]
    assert march.period == MAR
    assert [p.key for p in march.parts] == [*straddle.part_keys, *mar.part_keys]
    assert february.mixed_periods and march.mixed_periods
    assert set(straddle.totals) == {FEB, MAR}


def test_known_files_are_not_read(store, bucket):
    """With every file known by key and ETag, the layout lists and reads nothing else: a
    sync with nothing new reads no tenant data. The deliveries are the same."""
    oci_month_put(bucket=bucket, month=FEB, files=2, first_number=1)
    oci_report_put(bucket=bucket, number=3, months=(FEB, MAR))
    first = LAYOUT.deliveries(store, "reports/cost-csv/", known_periods={})
    store.reads.clear()

    again = LAYOUT.deliveries(store, "reports/cost-csv/", known_periods=_known(first))

    assert store.reads == []
    assert again == first


def test_known_period_as_a_single_date(store, bucket):
    """A ledger may map a file to one date, as the protocol first had it."""
    put = oci_month_put(bucket=bucket, month=FEB, files=1)
    (delivery,) = LAYOUT.deliveries(store, "reports/cost-csv/", known_periods={})
    store.reads.clear()

    (again,) = LAYOUT.deliveries(
        store,
        "reports/cost-csv/",
        known_periods={(put.part_keys[0], delivery.parts[0].etag): FEB},
    )

    assert again == delivery
    assert store.reads == []


def test_only_new_or_changed_files_are_read(store, bucket):
    """A new file, and a file rewritten under its key (a new ETag), are read; the rest not."""
    oci_month_put(bucket=bucket, month=FEB, files=2, first_number=1)
    known = _known(LAYOUT.deliveries(store, "reports/cost-csv/", known_periods={}))
    new = oci_report_put(bucket=bucket, number=3, months=(MAR,))
    changed = oci_report_put(bucket=bucket, number=2, months=(MAR,))
    store.reads.clear()

    february, march = LAYOUT.deliveries(store, "reports/cost-csv/", known_periods=known)

    assert sorted(store.reads) == sorted([*new.part_keys, *changed.part_keys])
    assert [p.key for p in february.parts] == ["reports/cost-csv/0000000000000001.csv.gz"]
    assert [p.key for p in march.parts] == [*changed.part_keys, *new.part_keys]


def test_usage_reports_are_not_cost_reports(store, bucket):
    put = oci_month_put(bucket=bucket, month=FEB, files=1)
    s3_client().put_object(
        Bucket=bucket, Key="reports/usage-csv/0000000000000001.csv.gz", Body=b"not read"
    )

    (delivery,) = LAYOUT.deliveries(store, "reports/", known_periods={})

    assert [p.key for p in delivery.parts] == put.part_keys


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"not gzip at all", "not a valid gzip file"),
        (gzip.compress(b"a,b\n1,2\n" * 1000)[:-30], "the gzip stream is cut short"),
        (gzip.compress(b"a,b\n1,2\n"), "not an OCI cost report (no lineItem/intervalUsageStart"),
        (
            gzip.compress(b"lineItem/intervalUsageStart,cost/myCost\nyesterday,1\n"),
            "line 2: lineItem/intervalUsageStart is not a date",
        ),
    ],
)
def test_a_bad_file_is_named(store, bucket, body, cause):
    key = "reports/cost-csv/0000000000000009.csv.gz"
    s3_client().put_object(Bucket=bucket, Key=key, Body=body)

    with pytest.raises(ExportLayoutError) as caught:
        LAYOUT.deliveries(store, "reports/cost-csv/", known_periods={})

    assert str(caught.value).startswith(f"oci://bling/{bucket}/{key}: {cause}")


def test_no_reports_is_named(store, bucket):
    with pytest.raises(ExportLayoutError, match=r"^no OCI cost report under oci://bling/"):
        LAYOUT.deliveries(store, "reports/cost-csv/", known_periods={})
