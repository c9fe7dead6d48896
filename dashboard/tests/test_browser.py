"""The staff admin driven in headless Chromium: dashboard charts, onboarding, a run to COMPLETED.

Uses Debian's ``chromium`` (``/usr/bin/chromium``) through Playwright's Python package; nothing is
downloaded. Screenshots of every step go to ``test-artifacts/browser/``.
"""

import contextlib
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import StripeEvent
from pipelines.models import PipelineRun, RunStatus
from tenants.models import AuditEvent, Tenant, UsageWindow
from tenants.services.usage import day_window_bounds
from tenants.tests.factories import TenantFactory, seeded_plan
from warehouse.bigquery import tenant_dataset_id

CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root, headless, and quiet on a machine without internet access.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
PASSWORD = "browser-test-password-9d2f"
HELLO = "example/demo/hello"
RUN_TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@contextlib.contextmanager
def chromium_page():
    """A fresh headless Chromium page; the ORM must not be used while it is open (Playwright's
    sync API keeps an event loop running in this thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def seed_history() -> None:
    """A month of finished runs, tenants in several states, quota use and a Stripe backlog."""
    now = timezone.now()
    tenants = [
        TenantFactory(id=f"demo_{name}", status=status)
        for name, status in (
            ("acme", Tenant.Status.ACTIVE),
            ("globex", Tenant.Status.ACTIVE),
            ("initech", Tenant.Status.TRIAL),
            ("umbrella", Tenant.Status.PAST_DUE),
            ("hooli", Tenant.Status.SUSPENDED),
        )
    ]
    for tenant, plan in zip(
        tenants, ("SCALE", "PROFESSIONAL", "STARTER", "PROFESSIONAL", "STARTER"), strict=True
    ):
        tenant.subscription.plan = seeded_plan(plan)
        tenant.subscription.save()
    pipelines = (
        ("gcp", "cost", "billing", 95),
        ("aws", "cost", "focus", 140),
        ("azure", "cost", "focus", 60),
        ("example", "demo", "hello", 4),
    )
    runs = []
    for day in range(30):
        for n in range(3 + day % 4):
            provider, domain, pipeline, seconds = pipelines[(day + n) % len(pipelines)]
            failed = (day * 7 + n) % 9 == 0 or (provider == "azure" and n % 3 == 0)
            ended = now - timedelta(days=day, hours=n)
            runs.append(
                PipelineRun(
                    tenant=tenants[(day + n) % len(tenants)],
                    provider=provider,
                    domain=domain,
                    pipeline=pipeline,
                    pipeline_id=f"seed_{provider}_{pipeline}",
                    status=RunStatus.FAILED if failed else RunStatus.COMPLETED,
                    holds_slot=False,
                    logged_to_warehouse=True,
                    started_at=ended - timedelta(seconds=seconds + n * 7),
                    ended_at=ended,
                )
            )
    PipelineRun.objects.bulk_create(runs)
    start, end = day_window_bounds(now)
    for tenant, used in zip(tenants, (61, 19, 5, 3, 0), strict=True):
        UsageWindow.objects.create(
            tenant=tenant, kind="day", starts_at=start, ends_at=end, runs_used=used
        )
    StripeEvent.objects.create(
        event_id=f"evt_{uuid.uuid4().hex}",
        type="invoice.payment_failed",
        created=now,
        payload={},
        status=StripeEvent.Status.FAILED,
        error="No tenant for this customer yet.",
    )


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")


def test_staff_onboard_a_tenant_and_watch_a_run_complete(
    chromium, live_server, celery_worker, warehouse
):
    """Log in, see the dashboard's charts drawn, onboard a tenant, run hello, see COMPLETED."""
    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    seed_history()
    tenant_id = f"browser_{uuid.uuid4().hex[:8]}"
    base = live_server.url
    drawn: dict[str, int] = {}
    run_url = ""
    try:
        with chromium_page() as page:
            page.goto(f"{base}/admin/login/?next=/admin/")
            shot(page, "01-login")
            page.fill("#id_username", "staff")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#dashboard")
            for chart in (
                "runs-per-day",
                "tenants-by-status",
                "tenants-by-plan",
                "slowest-pipelines",
                "most-failing-pipelines",
                "quota-use",
            ):
                svg = page.locator(f"#chart-{chart} svg.chart")
                assert svg.count() == 1, chart
                # Drawn means laid out with a size, and holding shapes.
                box = svg.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 20, chart
                drawn[chart] = svg.locator("rect, path").count()
            shot(page, "02-dashboard")
            page.locator("#dashboard").screenshot(path=str(ARTIFACTS / "02-dashboard-charts.png"))

            page.goto(f"{base}/admin/tenants/tenant/onboard/")
            page.fill("#id_tenant_id", tenant_id)
            page.fill("#id_company_name", "Browser Test Ltd")
            page.fill("#id_admin_email", f"ops+{tenant_id}@example.com")
            page.select_option("#id_plan", "STARTER")
            page.click("input[name=_dry_run]")
            page.wait_for_selector("#dry-run-report")
            assert "ready for onboarding" in page.inner_text("#dry-run-report h2")
            shot(page, "03-dry-run")
            page.click("input[name=_onboard]")
            page.wait_for_url(f"**/admin/tenants/tenant/{quote(tenant_id)}/change/")
            assert "onboarded with dataset" in page.inner_text(".messagelist")
            shot(page, "04-onboarded")

            page.goto(f"{base}/admin/pipelines/pipelinerun/")
            page.click("#run-now-link")
            page.fill("#id_tenant", tenant_id)
            page.select_option("#id_pipeline", HELLO)
            page.fill("#id_parameters", json.dumps({"date": "2024-09-01"}))
            shot(page, "05-run-now")
            page.click("input[name=_run]")
            page.wait_for_selector("#run-progress")
            run_url = page.url
            assert page.inner_text("#run-progress-text").endswith("of 2 steps done")
            shot(page, "06-run-started")
            # The page polls its progress JSON and updates itself; no reload from here.
            page.wait_for_function(
                "document.getElementById('run-status').textContent.trim() === 'COMPLETED'",
                timeout=RUN_TIMEOUT_MS,
            )
            # Then it reloads once, to show the run's final fields.
            # (The element is briefly absent while the page reloads.)
            page.wait_for_function(
                "(document.querySelector('.field-ended_at .readonly')?.textContent ?? '-')"
                ".trim() !== '-'"
            )
            assert page.inner_text("#run-status") == "COMPLETED"
            assert page.inner_text("#run-progress-text") == "2 of 2 steps done"
            assert page.get_attribute("#run-progress-bar", "aria-valuenow") == "100"
            shot(page, "07-run-completed")

            page.goto(f"{base}/admin/")
            page.wait_for_selector("#dashboard")
            shot(page, "08-dashboard-after-run")
    finally:
        warehouse.dataset_delete(tenant_dataset_id(tenant_id))

    assert drawn["runs-per-day"] > 30
    assert all(drawn[name] > 0 for name in drawn), drawn
    run = PipelineRun.objects.get(tenant_id=tenant_id)
    assert run_url.rstrip("/").endswith(f"{run.pk}/change")
    assert (run.status, run.trigger, run.user_id) == (RunStatus.COMPLETED, "manual", "staff")
    assert AuditEvent.objects.filter(action="run.start", target=str(run.pk)).exists()
    assert AuditEvent.objects.filter(tenant_id=tenant_id, action="tenant.onboard").exists()
    for name in ("02-dashboard", "04-onboarded", "07-run-completed"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000


def test_cost_page_and_dashboard_draw_anomalies_and_budget_burndowns(
    chromium, live_server, onboard, warehouse
):
    """A detected spike is marked on the cost chart, above its day's column, on the tenant's
    cost page and on the staff dashboard; the budget's burn-down chart draws the actual line
    (a point per elapsed day), the forecast to period end and the threshold lines, on both."""
    from budgets.tests.conftest import JULY_SPIKE, SPIKE_RESOURCE, spiked_and_budgeted

    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    onboarded = onboard()
    tenant_id = onboarded.tenant.pk
    spike_day = JULY_SPIKE
    _, raised = spiked_and_budgeted(
        warehouse,
        onboarded,
        thresholds=[{"kind": "actual", "percent": 50}, {"kind": "forecast", "percent": 100}],
    )
    assert sorted(a.kind for a in raised) == ["actual", "forecast"]
    base = live_server.url
    seen: dict[str, dict] = {}

    def charts(page, costs: str, burndown: str) -> dict:
        marker = page.locator(f"{costs} svg.chart path.anomaly-marker")
        assert marker.count() == 1
        marker_box = marker.bounding_box()
        column = page.locator(f"{costs} svg.chart rect.column", has_text=spike_day.isoformat())
        column_box = column.bounding_box()
        chart = page.locator(f"{burndown} svg.budget-burndown")
        assert chart.count() == 1
        actual = chart.locator("polyline.actual")
        return {
            "day": marker.get_attribute("data-day"),
            "actual": marker.get_attribute("data-actual"),
            "title": marker.locator("title").text_content(),
            # Drawn above its own column: centred on it, its tip at or above the column's top.
            "above": abs(
                (marker_box["x"] + marker_box["width"] / 2)
                - (column_box["x"] + column_box["width"] / 2)
            )
            < 2
            and marker_box["y"] + marker_box["height"] <= column_box["y"] + 1,
            "points": len((actual.get_attribute("points") or "").split()),
            "actual_width": actual.bounding_box()["width"],
            "forecast": chart.locator("line.forecast").count(),
            "thresholds": chart.locator("line.threshold").count(),
            "label": chart.get_attribute("aria-label"),
        }

    with chromium_page() as page:
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", "staff")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#dashboard")
        seen["dashboard"] = charts(page, "#dashboard-anomalies", "#dashboard-budgets")
        shot(page, "09-dashboard-budgets-anomalies")
        page.locator("#dashboard-budgets").screenshot(path=str(ARTIFACTS / "09-budgets.png"))
        page.locator("#dashboard-anomalies").screenshot(path=str(ARTIFACTS / "09-anomalies.png"))

        page.goto(f"{base}/admin/tenants/tenant/{tenant_id}/overview/")
        page.wait_for_selector("#tenant-costs svg.chart")
        seen["cost page"] = charts(page, "#tenant-costs", "#tenant-budgets")
        seen["cost page"]["note"] = page.inner_text("#cost-chart-anomalies")
        shot(page, "10-cost-page-anomalies-budgets")
        page.locator("#tenant-costs").screenshot(path=str(ARTIFACTS / "10-cost-chart.png"))
        page.locator("#tenant-budgets").screenshot(path=str(ARTIFACTS / "10-burndown.png"))

    for where, found in seen.items():
        assert found["day"] == "2024-07-09", where
        assert found["actual"] == "220.00", where
        assert SPIKE_RESOURCE in found["title"], where
        assert found["above"], where
        assert found["points"] == 10, where  # July 1 to 10
        assert found["actual_width"] > 50, where
        assert (found["forecast"], found["thresholds"]) == (1, 2), where
        assert "actual 400.00, forecast" in found["label"], where
    assert seen["cost page"]["note"].startswith("1 cost anomaly in this range")
    assert (ARTIFACTS / "10-cost-page-anomalies-budgets.png").stat().st_size > 10_000
