"""A sync of bad input fails its run naming the object and the cause; the ledger stays as it was
(so the next sync retries) and no period is partly written: real S3 server (moto), real
BigQuery emulator."""

from __future__ import annotations

import decimal
import gzip
import uuid

import pytest

from connectors.models import ExportObjectRecord
from connectors.tests.cur import cur_month_put, s3_admin
from connectors.tests.test_sync_aws_cur import NOVEMBER, PREFIX, connect, ledger, per_period
from pipelines.models import RunStatus

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def synced(onboard, warehouse, sync_run, s3_endpoint, tmp_path):
    """A tenant whose November is synced: the state every bad sync must leave as it was."""
    onboarded = onboard(f"bad_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    s3 = s3_admin(s3_endpoint)
    bucket = f"billing-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    config = connect(onboarded.tenant, bucket)
    november = cur_month_put(s3, bucket, PREFIX, tmp_path)
    run = sync_run(onboarded.tenant.id, "aws")
    assert run.status == RunStatus.COMPLETED, run.error_message

    class State:
        pass

    state = State()
    state.tenant, state.dataset, state.config = onboarded.tenant, onboarded.dataset_id, config
    state.s3, state.bucket, state.november = s3, bucket, november
    state.table = per_period(warehouse, onboarded.dataset_id)
    state.ledger = ledger(config)
    assert state.table == {NOVEMBER: (1281, november.total)}
    return state


def failed_as_before(state, warehouse, sync_run, *needles: str) -> str:
    """Sync; the run FAILED naming each needle, nothing written, the ledger unchanged."""
    run = sync_run(state.tenant.id, "aws")
    assert run.status == RunStatus.FAILED
    for needle in needles:
        assert needle in run.error_message, run.error_message
    assert not ExportObjectRecord.objects.filter(run=run).exists()
    assert ledger(state.config) == state.ledger
    assert per_period(warehouse, state.dataset) == state.table
    for secret in ("external_id", "ext-", "secret"):
        assert secret not in run.error_message
    return run.error_message


def test_unknown_bucket(synced, warehouse, sync_run):
    """A bucket that does not exist: FAILED naming it."""
    missing = f"no-such-{uuid.uuid4().hex[:10]}"
    synced.config.settings["export_bucket"] = missing
    synced.config.save(update_fields=["settings"])
    message = failed_as_before(synced, warehouse, sync_run, f"s3://{missing}")
    assert "bucket" in message


def test_manifest_naming_a_missing_part(synced, warehouse, sync_run, tmp_path):
    """A re-delivered November whose manifest lists a part that was never written."""
    missing = f"{PREFIX}/acme-cur/20231101-20231201/{uuid.uuid4()}/acme-cur-00004.csv.gz"
    cur_month_put(
        synced.s3,
        synced.bucket,
        PREFIX,
        tmp_path,
        restated=decimal.Decimal("1"),
        extra_keys=(missing,),
    )
    failed_as_before(synced, warehouse, sync_run, missing)


def test_corrupt_gzip_part(synced, warehouse, sync_run, tmp_path):
    """The second of three parts is cut short: the first was staged, nothing is replaced."""
    whole = gzip.compress(b"identity/LineItemId,x\n" + b"1,2\n" * 50_000)
    month = cur_month_put(
        synced.s3,
        synced.bucket,
        PREFIX,
        tmp_path,
        restated=decimal.Decimal("1"),
        part_body={1: whole[: len(whole) // 2]},
    )
    failed_as_before(synced, warehouse, sync_run, month.part_keys[1], "gzip")


def test_part_header_differs_from_the_manifest(synced, warehouse, sync_run, tmp_path):
    """The third part lacks a column the manifest declares."""
    header = synced.s3.get_object(Bucket=synced.bucket, Key=synced.november.part_keys[0])[
        "Body"
    ].read()
    first_line = gzip.decompress(header).split(b"\n", 1)[0].decode()
    shorter = ",".join(c for c in first_line.split(",") if c != "lineItem/Operation") + "\n"
    month = cur_month_put(
        synced.s3,
        synced.bucket,
        PREFIX,
        tmp_path,
        restated=decimal.Decimal("1"),
        header_of_part={2: shorter},
    )
    failed_as_before(
        synced, warehouse, sync_run, month.part_keys[2], "manifest", "lineItem/Operation"
    )


def test_a_manifest_naming_a_part_outside_the_prefix(synced, warehouse, sync_run, tmp_path):
    """A manifest under the tenant's prefix that names another prefix's object (another
    tenant's CUR in the same bucket): refused, the object not read."""
    foreign = "cur/victim/acme-cur/20231101-20231201/a/acme-cur-00001.csv.gz"
    synced.s3.put_object(Bucket=synced.bucket, Key=foreign, Body=gzip.compress(b"victim\n"))
    cur_month_put(
        synced.s3,
        synced.bucket,
        PREFIX,
        tmp_path,
        restated=decimal.Decimal("1"),
        extra_keys=(foreign,),
    )
    failed_as_before(synced, warehouse, sync_run, foreign, "prefix")


def test_wrong_credentials(onboard, warehouse, sync_run, on_iam_server):
    """Keys that authenticate but may not read the bucket, then keys that do not exist: each
    FAILED as access denied on the bucket, no secret in the message, nothing recorded."""
    onboarded = onboard(f"bad_{uuid.uuid4().hex[:6]}", plan="PROFESSIONAL")
    key_id, secret = on_iam_server["keys"]["nobody"]
    for keys in ((key_id, secret), ("AKIANOSUCHKEY0000000", "not-the-secret-at-all")):
        config = connect(
            onboarded.tenant,
            "tenant-cur",
            prefix="cur",
            kind="aws_access_key",
            secret={"access_key_id": keys[0], "secret_access_key": keys[1]},
        )
        run = sync_run(onboarded.tenant.id, "aws")
        assert run.status == RunStatus.FAILED
        assert "s3://tenant-cur" in run.error_message, run.error_message
        assert "access denied" in run.error_message or "credentials were refused" in (
            run.error_message
        )
        assert keys[1] not in run.error_message and keys[0] not in run.error_message
        assert not ExportObjectRecord.objects.filter(provider_config=config).exists()
        assert not warehouse.table_exists(onboarded.dataset_id, "aws_cost_focus")


def test_rows_of_another_month_than_the_delivery(synced, warehouse, sync_run, tmp_path):
    """A November delivery whose rows are December's: loaded and checked, then refused before
    anything is replaced; the parts the sync recorded go with the failed run."""
    month = cur_month_put(
        synced.s3, synced.bucket, PREFIX, tmp_path, months=1, folder_months=0, parts=2
    )
    message = failed_as_before(synced, warehouse, sync_run, "2023-12-01", "2023-11-01")
    assert "nothing was replaced" in message
    assert not ExportObjectRecord.objects.filter(key__in=month.part_keys).exists()
