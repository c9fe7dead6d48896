"""A tenant's costs over time: each billing period replaced on its own, history kept, staging
per run (real emulator, real Celery worker)."""

import csv
import datetime as dt
import decimal
import hashlib
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from pipelines.models import PipelineRun, RunStatus
from pipelines.tests.history import aws_cur_month, cur_total
from tenants.tests.conftest import key_client
from warehouse.tables import FOCUS_PERIODS

CENT = decimal.Decimal("0.01")
AWS_FOCUS = "/api/v1/pipelines/run/{tenant}/aws/cost/focus"
NOVEMBER = dt.datetime(2023, 11, 1, tzinfo=dt.UTC)
DECEMBER = dt.datetime(2023, 12, 1, tzinfo=dt.UTC)


@pytest.fixture
def imports(settings, tmp_path):
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path / "imports")
    return tmp_path / "imports"


def run_start(client, tenant: str, source_file: str) -> str:
    answer = client.post(
        AWS_FOCUS.format(tenant=tenant), {"source_file": source_file}, format="json"
    )
    assert answer.status_code == 202, answer.content
    return answer.json()["run_id"]


def run_wait(client, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"/api/v1/pipelines/runs/{run_id}").json()
        if answer["status"] not in ("PENDING", "RUNNING"):
            return answer
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} still {answer['status']} after {timeout} s")


def run_through(client, tenant: str, source_file: str) -> dict:
    return run_wait(client, run_start(client, tenant, source_file))


def per_period(warehouse, dataset: str) -> dict:
    """Rows and billed total per billing period of the tenant's AWS FOCUS table."""
    rows = warehouse.query(
        "SELECT BillingPeriodStart AS period, COUNT(*) AS n, SUM(BilledCost) AS total "
        f"FROM {warehouse.quoted(dataset, 'aws_cost_focus')} GROUP BY period"
    ).rows
    return {r["period"]: (r["n"], r["total"].quantize(CENT)) for r in rows}


def period_rows(warehouse, dataset: str, period: dt.datetime) -> list[str]:
    """Every row of one period, each as its text, sorted: equal lists are equal tables."""
    _, rows = warehouse.table_rows(dataset, "aws_cost_focus")
    return sorted(repr(sorted(r.items())) for r in rows if r["BillingPeriodStart"] == period)


def replaced(period: dt.datetime, before: int, after: int, source) -> dict:
    """A billing period as the run answer lists it."""
    return {
        "table": "aws_cost_focus",
        "billing_period_start": period.isoformat(),
        "rows_before": before,
        "rows_after": after,
        "source_name": source.name,
        "source_bytes": source.stat().st_size,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
    }


def staging_tables(warehouse, dataset: str) -> list[str]:
    return [t for t in warehouse.tables_list(dataset) if "__" in t]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_months_are_replaced_on_their_own_and_history_is_kept(
    celery_worker, onboard, warehouse, imports
):
    """November, December, then November restated: both months kept, November with the
    restated line, December untouched; the same file twice changes nothing."""
    onboarded = onboard("history_co", plan="PROFESSIONAL")
    dataset = onboarded.dataset_id
    folder = imports / "history_co"
    folder.mkdir(parents=True)
    november = aws_cur_month(folder / "cur-2023-11.csv")
    december = aws_cur_month(folder / "cur-2023-12.csv", 1)
    restated = aws_cur_month(folder / "cur-2023-11-r2.csv", restated=decimal.Decimal("12.34"))
    client = key_client(onboarded.api_key)

    first = run_through(client, "history_co", november.name)
    assert first["status"] == "COMPLETED", first["error_message"]
    assert first["rows_processed"] == 1281
    assert first["billing_periods"] == [replaced(NOVEMBER, 0, 1281, november)]
    second = run_through(client, "history_co", december.name)
    assert second["status"] == "COMPLETED", second["error_message"]
    assert per_period(warehouse, dataset) == {
        NOVEMBER: (1281, cur_total(november).quantize(CENT)),
        DECEMBER: (1281, cur_total(december).quantize(CENT)),
    }
    december_rows = period_rows(warehouse, dataset, DECEMBER)

    third = run_through(client, "history_co", restated.name)
    assert third["status"] == "COMPLETED", third["error_message"]
    assert third["billing_periods"] == [replaced(NOVEMBER, 1281, 1281, restated)]
    totals = per_period(warehouse, dataset)
    assert totals[NOVEMBER] == (1281, cur_total(restated).quantize(CENT))
    assert totals[NOVEMBER][1] - cur_total(november).quantize(CENT) == decimal.Decimal("12.34")
    assert totals[DECEMBER] == (1281, cur_total(december).quantize(CENT))
    assert period_rows(warehouse, dataset, DECEMBER) == december_rows

    # The same file again: the table is the same, row for row and value for value.
    _, before = warehouse.table_rows(dataset, "aws_cost_focus")
    again = run_through(client, "history_co", december.name)
    assert again["status"] == "COMPLETED", again["error_message"]
    _, after = warehouse.table_rows(dataset, "aws_cost_focus")
    as_text = sorted(repr(sorted(r.items())) for r in before)
    assert sorted(repr(sorted(r.items())) for r in after) == as_text

    # Which run and file last wrote each period, kept in the tenant's dataset.
    ledger = warehouse.query(
        "SELECT billing_period_start AS period, pipeline_logging_id AS run, source_name, "
        f"source_bytes, row_count FROM {warehouse.quoted(dataset, FOCUS_PERIODS)} "
        "WHERE table_name = 'aws_cost_focus' ORDER BY period"
    ).rows
    assert ledger == [
        {
            "period": NOVEMBER,
            "run": third["run_id"],
            "source_name": restated.name,
            "source_bytes": restated.stat().st_size,
            "row_count": 1281,
        },
        {
            "period": DECEMBER,
            "run": again["run_id"],
            "source_name": december.name,
            "source_bytes": december.stat().st_size,
            "row_count": 1281,
        },
    ]
    assert staging_tables(warehouse, dataset) == []

    # The admin's run page lists them too.
    admin = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    page = Client()
    page.force_login(admin)
    html = page.get(f"/admin/pipelines/pipelinerun/{third['run_id']}/change/").content.decode()
    assert 'id="run-periods"' in html and restated.name in html and "2023-11-01" in html


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_normalize_leaves_the_loaded_months_as_they_were(
    celery_worker, onboard, warehouse, imports
):
    """A bad file fails its run, which wrote nothing: every month stays, rows_processed 0."""
    onboarded = onboard("failing_co", plan="PROFESSIONAL")
    dataset = onboarded.dataset_id
    folder = imports / "failing_co"
    folder.mkdir(parents=True)
    november = aws_cur_month(folder / "cur-2023-11.csv")
    # A CUR whose header passes the load's variant check but whose cost is no number:
    # it loads (every row), and normalize fails on it.
    lines = november.read_text().splitlines()
    cost = next(csv.reader([lines[0]])).index("lineItem/UnblendedCost")
    rows = [next(csv.reader([line])) for line in lines[1:]]
    for row in rows:
        row[cost] = "not-a-number"
    with (folder / "bad.csv").open("w", newline="") as bad:
        csv.writer(bad).writerows([next(csv.reader([lines[0]])), *rows])
    client = key_client(onboarded.api_key)
    assert run_through(client, "failing_co", november.name)["status"] == "COMPLETED"
    _, before = warehouse.table_rows(dataset, "aws_cost_focus")

    failed = run_through(client, "failing_co", "bad.csv")

    assert failed["status"] == "FAILED"
    assert "normalize_focus" in failed["error_message"]
    steps = {s["step_id"]: s for s in failed["steps"]}
    assert steps["load_cur"]["rows_processed"] == len(rows)  # it loaded: the figure is not it
    assert failed["rows_processed"] == 0
    assert PipelineRun.objects.get(pk=failed["run_id"]).rows_processed == 0
    _, after = warehouse.table_rows(dataset, "aws_cost_focus")
    assert len(after) == 1281
    assert sorted(map(repr, after)) == sorted(map(repr, before))
    assert staging_tables(warehouse, dataset) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_runs_at_once_on_two_months_keep_each_month_whole(
    requires_postgres, celery_worker, onboard, warehouse, imports
):
    """The same pipeline twice at once for one tenant, on two months: each run stages its own
    file, and both months end intact with no row of one in the other."""
    onboarded = onboard("parallel_co", plan="PROFESSIONAL")
    dataset = onboarded.dataset_id
    folder = imports / "parallel_co"
    folder.mkdir(parents=True)
    march = aws_cur_month(folder / "cur-2024-03.csv", 4)
    april = aws_cur_month(folder / "cur-2024-04.csv", 5, restated=decimal.Decimal("100"))
    client = key_client(onboarded.api_key)

    run_ids = [run_start(client, "parallel_co", f.name) for f in (march, april)]
    answers = [run_wait(client, run_id) for run_id in run_ids]

    assert [a["status"] for a in answers] == ["COMPLETED", "COMPLETED"], answers
    runs = PipelineRun.objects.filter(pk__in=run_ids).order_by("started_at")
    assert runs[1].started_at < runs[0].ended_at  # they did run at the same time
    march_start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    april_start = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    assert per_period(warehouse, dataset) == {
        march_start: (1281, cur_total(march).quantize(CENT)),
        april_start: (1281, cur_total(april).quantize(CENT)),
    }
    mixed = warehouse.query(
        "SELECT COUNT(*) AS n FROM "
        f"{warehouse.quoted(dataset, 'aws_cost_focus')} WHERE "
        "TIMESTAMP_TRUNC(ChargePeriodStart, MONTH) <> BillingPeriodStart"
    ).rows[0]["n"]
    assert mixed == 0
    assert staging_tables(warehouse, dataset) == []
    assert runs[0].status == RunStatus.COMPLETED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backfill_runs_a_folder_of_months_in_one_run(celery_worker, onboard, warehouse, imports):
    """A folder of monthly files is one run (one quota unit): each file's month is loaded,
    checked and replaced in turn; the run lists every period it replaced."""
    onboarded = onboard("backfill_co", plan="PROFESSIONAL")
    dataset = onboarded.dataset_id
    folder = imports / "backfill_co" / "history"
    folder.mkdir(parents=True)
    files = [aws_cur_month(folder / f"cur-{n:02d}.csv", n) for n in range(3)]
    client = key_client(onboarded.api_key)

    answer = run_through(client, "backfill_co", "history/")

    assert answer["status"] == "COMPLETED", answer["error_message"]
    assert answer["parameters"]["source_file"] == [f"history/{f.name}" for f in files]
    months = [
        dt.datetime(2023, 11, 1, tzinfo=dt.UTC),
        DECEMBER,
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    ]
    assert [p["billing_period_start"] for p in answer["billing_periods"]] == [
        m.isoformat() for m in months
    ]
    assert answer["rows_processed"] == 3 * 1281
    assert per_period(warehouse, dataset) == {
        m: (1281, cur_total(f).quantize(CENT)) for m, f in zip(months, files, strict=True)
    }
    checks = {c["name"] for s in answer["steps"] for c in s["checks"]}
    assert {f"history/{f.name}: cost_total" for f in files} <= checks
    usage = client.get("/api/v1/tenants/backfill_co/usage").json()
    assert usage["daily"]["used"] == 1
    assert staging_tables(warehouse, dataset) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source_file", "problem"),
    [
        ([], "expected 1 to 120 files"),
        (["cur-a.csv", "missing.csv"], "no file 'missing.csv'"),
        ("nowhere/", "no folder 'nowhere/'"),
        ("empty/", "holds 0 loadable files"),
        ("gs://bucket/exports/", "gs:// prefixes are not listed"),
        (["cur-a.csv", 3], "file source must be a non-empty string"),
    ],
)
def test_a_bad_backfill_is_refused_naming_the_problem(onboard, imports, source_file, problem):
    """A list or folder that cannot run is a 400 naming it: no run, no quota used."""
    onboarded = onboard("refused_co")
    (imports / "refused_co" / "empty").mkdir(parents=True)
    aws_cur_month(imports / "refused_co" / "cur-a.csv")
    client = key_client(onboarded.api_key)

    answer = client.post(
        AWS_FOCUS.format(tenant="refused_co"), {"source_file": source_file}, format="json"
    )

    assert answer.status_code == 400, answer.content
    assert problem in answer.json()["detail"]
    assert not PipelineRun.objects.filter(tenant_id="refused_co").exists()
