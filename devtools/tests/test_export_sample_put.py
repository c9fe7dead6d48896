"""`manage.py export_sample_put` writes exports the layouts read, into the local S3 server."""

import io
import subprocess
import sys
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from connectors.layouts.aws import CurLayout, DataExportsLayout
from connectors.layouts.oci import OciCostReportsLayout
from warehouse.s3 import s3_store


def _run(*args) -> str:
    out = io.StringIO()
    call_command("export_sample_put", *args, stdout=out)
    return out.getvalue()


def _bucket() -> str:
    return f"sample-{uuid.uuid4().hex[:12]}"


def test_cur_month_then_redelivery(s3_endpoint):
    """A month of 3 parts, then the same month under a new assembly with one line restated:
    the total moves by exactly the restated amount."""
    bucket = _bucket()
    first = _run(
        "cur",
        "--bucket",
        bucket,
        "--prefix",
        "cur",
        "--report",
        "acme",
        "--month",
        "2024-01",
        "--parts",
        "3",
    )
    second = _run(
        "cur",
        "--bucket",
        bucket,
        "--prefix",
        "cur",
        "--report",
        "acme",
        "--month",
        "2024-01",
        "--assembly-id",
        "second",
        "--restate",
        "1.25",
    )

    (delivery,) = CurLayout().deliveries(s3_store(bucket=bucket), "cur", known_periods={})
    assert delivery.delivery_id == "second"
    assert first.count("part ") == 3
    totals = [Decimal(out.split("total     2024-01  ")[1].split()[0]) for out in (first, second)]
    assert totals[1] - totals[0] == Decimal("1.25")
    assert "rows      1281" in first


def test_data_export_month(s3_endpoint):
    bucket = _bucket()
    _run(
        "data-export",
        "--bucket",
        bucket,
        "--prefix",
        "exports",
        "--export",
        "focus",
        "--month",
        "2024-03",
        "--kind",
        "focus",
        "--format",
        "csv",
    )

    (delivery,) = DataExportsLayout().deliveries(
        s3_store(bucket=bucket), "exports", known_periods={}
    )
    assert delivery.period == date(2024, 3, 1)
    assert delivery.format == "CSV"


def test_oci_month_with_the_previous_month(s3_endpoint):
    bucket = f"ocid1.tenancy.oc1..{uuid.uuid4().hex[:16]}"
    out = _run(
        "oci", "--bucket", bucket, "--month", "2024-03", "--files", "2", "--with-previous-month"
    )

    deliveries = OciCostReportsLayout().deliveries(
        s3_store(bucket=bucket), "reports/cost-csv", known_periods={}
    )
    assert [(d.period, len(d.parts)) for d in deliveries] == [
        (date(2024, 2, 1), 1),
        (date(2024, 3, 1), 3),
    ]
    assert "total     2024-02" in out and "total     2024-03" in out


def test_bad_month(s3_endpoint):
    """A bad month is a usage error naming the argument, not a traceback."""
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "export_sample_put",
            "cur",
            "--bucket",
            "b-b-b",
            "--report",
            "r",
            "--month",
            "January",
        ],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "argument --month: 'January': give a month as YYYY-MM" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_restatement(s3_endpoint):
    with pytest.raises(CommandError, match="give an amount"):
        _run("cur", "--bucket", "b-b-b", "--report", "r", "--month", "2024-01", "--restate", "lots")
