"""The admin dashboard and tenant overview: right figures, SVG charts, constant queries."""

import datetime as dt
import decimal
import re
import uuid
from datetime import UTC, timedelta

import pytest
from django.contrib.admin.utils import quote
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import StripeEvent
from dashboard.charts import Bar, Series, bar_chart, column_chart
from dashboard.costs import CostRange, coverage_notes, month_range, tenant_costs
from dashboard.figures import dashboard_figures, runs_per_day
from focus.model import FOCUS_COLUMNS
from pipelines.models import PipelineRun, RunStatus
from tenants.models import Tenant, UsageWindow
from tenants.services.usage import day_window_bounds
from tenants.tests.factories import TenantFactory, seeded_plan
from warehouse.bigquery import Warehouse

INDEX = "/admin/"
CHARTS = (
    "runs-per-day",
    "tenants-by-status",
    "tenants-by-plan",
    "slowest-pipelines",
    "most-failing-pipelines",
    "quota-use",
)


def make_run(
    tenant: Tenant,
    *,
    status: str = RunStatus.COMPLETED,
    pipeline: str = "hello",
    seconds: float = 10,
    ended: dt.datetime | None = None,
) -> PipelineRun:
    ended = ended or timezone.now()
    return PipelineRun.objects.create(
        tenant=tenant,
        provider="example",
        domain="demo",
        pipeline=pipeline,
        pipeline_id=f"{tenant.pk}_{pipeline}",
        status=status,
        holds_slot=False,
        started_at=ended - timedelta(seconds=seconds),
        ended_at=ended,
    )


def stripe_event(status: str) -> StripeEvent:
    return StripeEvent.objects.create(
        event_id=f"evt_{uuid.uuid4().hex}",
        type="invoice.paid",
        created=timezone.now(),
        payload={},
        status=status,
    )


def populate(runs: int) -> list[Tenant]:
    """Tenants in several states and plans, finished runs, quota use and Stripe events."""
    tenants = [
        TenantFactory(status=Tenant.Status.ACTIVE),
        TenantFactory(status=Tenant.Status.ACTIVE),
        TenantFactory(status=Tenant.Status.SUSPENDED),
    ]
    tenants[1].subscription.plan = seeded_plan("SCALE")
    tenants[1].subscription.save()
    now = timezone.now()
    for i in range(runs):
        make_run(
            tenants[i % 3],
            status=RunStatus.FAILED if i % 3 == 0 else RunStatus.COMPLETED,
            pipeline=("hello", "slow", "flaky")[i % 3],
            seconds=(5, 120, 30)[i % 3],
            ended=now - timedelta(days=i % 5),
        )
    start, end = day_window_bounds(now)
    for n, tenant in enumerate(tenants):
        UsageWindow.objects.create(
            tenant=tenant, kind="day", starts_at=start, ends_at=end, runs_used=n + 2
        )
    stripe_event(StripeEvent.Status.FAILED)
    stripe_event(StripeEvent.Status.PROCESSED)
    return tenants


def svg_charts(content: str) -> dict[str, str]:
    """Each chart card's SVG by its id."""
    found = {}
    for name in CHARTS:
        match = re.search(rf'id="chart-{name}".*?(<svg class="chart.*?</svg>)', content, re.S)
        assert match, f"chart {name} missing"
        found[name] = match.group(1)
    return found


@pytest.mark.django_db
def test_dashboard_draws_every_chart_with_the_figures(admin_client):
    """The admin index shows the dashboard: six SVG charts drawn from the data, and the tiles."""
    tenants = populate(runs=9)
    response = admin_client.get(INDEX)
    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="dashboard"' in content
    charts = svg_charts(content)
    # Six completed and three failed runs over five days: three days have both kinds.
    assert charts["runs-per-day"].count('class="column"') == 8
    assert len(re.findall(r"completed: \d", charts["runs-per-day"])) == 5
    assert "<title>ACTIVE: 2</title>" in charts["tenants-by-status"]
    assert "<title>SUSPENDED: 1</title>" in charts["tenants-by-status"]
    assert "<title>SCALE: 1</title>" in charts["tenants-by-plan"]
    assert "example/demo/slow: 2.0 min" in charts["slowest-pipelines"]
    assert "example/demo/hello: 3 of 3 (100%)" in charts["most-failing-pipelines"]
    assert f"{tenants[2].pk}: 4 / 6 today" in charts["quota-use"]
    assert re.search(r'id="kpi-stripe-awaiting">\s*<div class="value"><a [^>]*>1</a>', content)
    assert 'id="kpi-scheduler-lag"' in content
    # The stock app list is still there below the dashboard.
    assert 'id="content-main"' in content and "Pipeline runs" in content


@pytest.mark.django_db
def test_empty_dashboard_renders_with_empty_charts(admin_client):
    """With no data every chart says so instead of failing."""
    content = admin_client.get(INDEX).content.decode()
    assert content.count("chart-is-empty") == 5  # tenants by status always has its rows
    assert "No finished runs in the last 30 days." in content


@pytest.mark.django_db
def test_dashboard_needs_staff(client):
    """The dashboard is behind the admin login."""
    response = client.get(INDEX)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_dashboard_queries_do_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    """The dashboard takes the same number of queries with 3 runs as with 300."""
    populate(runs=3)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(INDEX).status_code == 200
    populate(runs=297)
    with django_assert_max_num_queries(len(few)):
        content = admin_client.get(INDEX).content.decode()
    assert "example/demo/slow" in content


@pytest.mark.django_db
def test_runs_per_day_fills_every_day_and_counts_by_end_day():
    """Thirty UTC days, oldest first, zero where nothing ended; active runs are not counted."""
    tenant = TenantFactory()
    now = dt.datetime(2024, 9, 30, 12, tzinfo=UTC)
    make_run(tenant, ended=dt.datetime(2024, 9, 30, 0, 5, tzinfo=UTC))
    make_run(tenant, status=RunStatus.FAILED, ended=dt.datetime(2024, 9, 29, 23, 55, tzinfo=UTC))
    make_run(tenant, ended=dt.datetime(2024, 8, 31, 23, 0, tzinfo=UTC))  # before the window
    PipelineRun.objects.create(tenant=tenant, provider="p", domain="d", pipeline="x")
    days = runs_per_day(now=now)
    assert len(days) == 30
    assert days[0][0] == dt.date(2024, 9, 1)
    assert days[-1] == (dt.date(2024, 9, 30), 1, 0)
    assert days[-2] == (dt.date(2024, 9, 29), 0, 1)
    assert sum(c + f for _, c, f in days) == 2


@pytest.mark.django_db
def test_figures_rank_pipelines_and_count_the_stripe_backlog():
    """Slowest by average completed duration; most failing by failures; backlog by status."""
    populate(runs=6)
    stripe_event(StripeEvent.Status.DEFERRED)
    figures = dashboard_figures()
    assert [p["config_path"] for p in figures["slowest_pipelines"]] == [
        "example/demo/slow",
        "example/demo/flaky",
    ]
    assert figures["slowest_pipelines"][0]["avg_seconds"] == pytest.approx(120)
    assert [(p["config_path"], p["failed"]) for p in figures["most_failing_pipelines"]] == [
        ("example/demo/hello", 2)
    ]
    assert figures["stripe"]["awaiting"] == 2
    assert figures["stripe"]["by_status"] == {"FAILED": 1, "DEFERRED": 1}


def test_chart_labels_are_escaped():
    """Labels and series names are escaped; a hostile label cannot inject markup."""
    hostile = '<script>alert("x")</script>'
    bars = str(bar_chart([Bar(hostile, 3)], title=hostile))
    columns = str(column_chart(["<b>d</b>"], [Series(hostile, "#000", [1])], title="t"))
    for svg in (bars, columns):
        assert "<script>" not in svg and "<b>" not in svg
        assert "&lt;script&gt;" in svg or "&lt;b&gt;" in svg
    assert bars.startswith('<svg class="chart')
    assert bars.count("<rect") == 2  # the track and the value


def _focus_rows(provider: str, services: dict[str, str], days: int) -> list[dict]:
    start = dt.datetime(2024, 9, 1, tzinfo=UTC)
    return [
        {
            "ChargePeriodStart": start + timedelta(days=d),
            "ProviderName": provider,
            "ServiceName": service,
            "BilledCost": decimal.Decimal(cost),
        }
        for d in range(days)
        for service, cost in services.items()
    ]


@pytest.fixture
def costed_tenant(warehouse, db):
    """A tenant whose dataset holds AWS and GCP FOCUS tables (no Azure one)."""
    # "_40" reads as "@" to the admin's URL unquoting: the change page's URL must be quoted.
    tenant = TenantFactory(id=f"cost_40{uuid.uuid4().hex[:6]}")
    warehouse.dataset_create(tenant.dataset_id)
    for table, rows in (
        ("aws_cost_focus", _focus_rows("AWS", {"EC2": "2.50", "S3": "0.25"}, days=40)),
        ("gcp_cost_focus", _focus_rows("Google Cloud", {"BigQuery": "1.00"}, days=3)),
    ):
        warehouse.table_create(tenant.dataset_id, table, list(FOCUS_COLUMNS))
        warehouse.insert_rows(tenant.dataset_id, table, rows)
    cache.clear()
    yield tenant
    warehouse.dataset_delete(tenant.dataset_id)


def test_tenant_costs_share_one_range_and_are_cached(costed_tenant, monkeypatch):
    """By default every provider is summed over the same 30 days, up to the latest charge of
    any provider; each provider's coverage is reported; a second call is cached."""
    costs = tenant_costs(tenant_id=costed_tenant.pk)
    assert costs["tables"] == ["aws_cost_focus", "gcp_cost_focus"]
    assert costs["range"] == CostRange(dt.date(2024, 9, 11), dt.date(2024, 10, 10))
    aws = [r for r in costs["rows"] if r["provider"] == "AWS"]
    assert {r["day"] for r in aws} == {dt.date(2024, 9, 11) + timedelta(days=n) for n in range(30)}
    assert sum(r["cost"] for r in aws) == pytest.approx(30 * 2.75)
    # GCP's three days (2024-09-01..03) lie before this range: not mixed in from another period.
    assert not [r for r in costs["rows"] if r["provider"] == "Google Cloud"]
    assert {c["provider"]: (c["first"], c["last"]) for c in costs["coverage"]} == {
        "AWS": (dt.date(2024, 9, 1), dt.date(2024, 10, 10)),
        "Google Cloud": (dt.date(2024, 9, 1), dt.date(2024, 9, 3)),
    }

    def no_queries(*args, **kwargs):
        raise AssertionError("the warehouse was queried again")

    monkeypatch.setattr(Warehouse, "query", no_queries)
    assert tenant_costs(tenant_id=costed_tenant.pk) == costs


def test_tenant_costs_over_a_month_and_a_custom_range(costed_tenant):
    """A month or a custom range sums every provider over exactly those charge days."""
    september = tenant_costs(tenant_id=costed_tenant.pk, cost_range=month_range(2024, 9))
    assert september["range"] == CostRange(dt.date(2024, 9, 1), dt.date(2024, 9, 30))
    assert sum(r["cost"] for r in september["rows"]) == pytest.approx(30 * 2.75 + 3 * 1.0)
    custom = tenant_costs(
        tenant_id=costed_tenant.pk,
        cost_range=CostRange(dt.date(2024, 9, 3), dt.date(2024, 9, 4)),
    )
    assert sorted({(r["day"], r["provider"]) for r in custom["rows"]}) == [
        (dt.date(2024, 9, 3), "AWS"),
        (dt.date(2024, 9, 3), "Google Cloud"),
        (dt.date(2024, 9, 4), "AWS"),
    ]


def test_coverage_notes_say_when_providers_cover_different_periods():
    """Different periods are named, and a provider outside or partly inside the range too."""
    coverage = [
        {"provider": "AWS", "first": dt.date(2023, 11, 1), "last": dt.date(2023, 11, 14)},
        {"provider": "Azure", "first": dt.date(2023, 9, 1), "last": dt.date(2023, 9, 30)},
    ]
    notes = coverage_notes(coverage, CostRange(dt.date(2023, 10, 16), dt.date(2023, 11, 14)))
    assert notes[0].startswith("The providers' data cover different periods: AWS 2023-11-01")
    assert "Azure has no charges in 2023-10-16 to 2023-11-14." in notes
    assert "AWS covers only 2023-11-01 to 2023-11-14 of this range." in notes
    assert (
        coverage_notes(coverage[:1], CostRange(dt.date(2023, 11, 1), dt.date(2023, 11, 14))) == []
    )


def test_tenant_without_dataset_has_no_costs(warehouse, db):
    """A tenant whose dataset does not exist shows no costs rather than an error."""
    cache.clear()
    costs = tenant_costs(tenant_id=f"missing_{uuid.uuid4().hex[:8]}")
    assert (costs["tables"], costs["rows"], costs["coverage"], costs["range"]) == ([], [], [], None)


def _cost_chart(content: str) -> str:
    return re.search(r'id="tenant-costs".*?(<svg class="chart.*?</svg>)', content, re.S).group(1)


def test_tenant_overview_page_shows_cost_chart_runs_and_links(admin_client, costed_tenant):
    """The tenant overview draws cost per charge day and provider over one range, says which
    provider lies outside it, lists services, runs and links; the dashboard links to it."""
    make_run(costed_tenant)
    change = admin_client.get(
        reverse("admin:tenants_tenant_change", args=[quote(costed_tenant.pk)])
    )
    url = reverse("admin:tenants_tenant_overview", args=[costed_tenant.pk])
    assert url in change.content.decode()
    assert url in admin_client.get(reverse("admin:index")).content.decode()
    response = admin_client.get(url)
    content = response.content.decode()
    assert response.status_code == 200
    chart = _cost_chart(content)
    assert chart.count('class="column"') == 30  # AWS's last 30 days; GCP's data is older
    assert "2024-09-11 to 2024-10-10" in content
    assert "Google Cloud has no charges in 2024-09-11 to 2024-10-10." in content
    assert "The providers&#x27; data cover different periods" in content
    assert "<td>EC2</td>" in content and "example/demo/hello" in content
    assert f"tenant__id__exact={costed_tenant.pk}" in content

    month = admin_client.get(url, {"range": "month", "month": "2024-09"}).content.decode()
    assert _cost_chart(month).count('class="column"') == 30 + 3  # AWS every day, GCP on 3
    assert "total 85.50" in month and "<td>BigQuery</td>" in month
    custom = admin_client.get(
        url, {"range": "custom", "start": "2024-09-02", "end": "2024-09-03"}
    ).content.decode()
    assert _cost_chart(custom).count('class="column"') == 2 + 2
    refused = admin_client.get(
        url, {"range": "custom", "start": "2024-09-03", "end": "2024-09-01"}
    ).content.decode()
    assert "The end date is before the start date." in refused
    assert "2024-09-11 to 2024-10-10" in refused  # back to the default range


@pytest.mark.django_db
def test_tenant_overview_404_for_unknown_tenant(admin_client):
    """An unknown tenant id is a 404."""
    url = reverse("admin:tenants_tenant_overview", args=["no_such_tenant"])
    assert admin_client.get(url).status_code == 404
