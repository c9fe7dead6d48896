"""The tenant cost page shows each budget's burn-down chart and the latest cost anomalies."""

import datetime as dt
import re
from decimal import Decimal

from django.urls import reverse

from budgets.services.budgets import budget_create
from budgets.tests.conftest import focus_days_write, spiked_and_budgeted
from focus.anomalies import ANOMALIES, ANOMALY_COLUMNS
from tenants.services.audit import Actor


def test_cost_page_draws_burndown_and_lists_anomalies(admin_client, onboard, warehouse):
    """Actual line, forecast line, budget and both threshold lines; the anomaly with its
    top contributor."""
    onboarded = onboard()
    tenant = onboarded.tenant
    focus_days_write(
        warehouse,
        onboarded.dataset_id,
        start=dt.date(2024, 7, 1),
        end=dt.date(2024, 7, 10),
        daily=20,
    )
    budget_create(
        tenant=tenant,
        name="july <all>",
        amount=Decimal("500"),
        thresholds=[{"kind": "actual", "percent": 80}, {"kind": "forecast", "percent": 100}],
        actor=Actor.system("test"),
    )
    warehouse.table_create(onboarded.dataset_id, ANOMALIES, ANOMALY_COLUMNS)
    warehouse.insert_rows(
        onboarded.dataset_id,
        ANOMALIES,
        [
            {
                "series_key": '["AWS"]',
                "day": "2024-07-08",
                "provider": "AWS",
                "service": "Amazon Elastic Compute Cloud",
                "sub_account": "111122223333",
                "region": "eu-west-1",
                "actual": 220.0,
                "expected": 20.0,
                "score": 41.5,
                "top_contributors": [
                    {"resource_id": "i-0abc", "sku_id": "SKU1", "increase": 200.0}
                ],
                "detected_at": "2024-07-09T04:00:00Z",
            }
        ],
    )

    url = reverse("admin:tenants_tenant_overview", args=[tenant.pk])
    content = admin_client.get(url).content.decode()

    section = re.search(
        r'id="tenant-budgets".*?(<svg class="chart budget-burndown.*?</svg>)', content, re.S
    )
    chart = section.group(1)
    assert chart.count('class="actual"') == 1
    assert chart.count('class="forecast"') == 1
    assert chart.count('class="threshold"') == 2
    assert "july &lt;all&gt;" in chart  # escaped
    assert "Actual 200.00 (40.0%)" in content
    assert "forecast 620.00 (124.0%)" in content
    anomalies = re.search(r'id="tenant-anomalies".*?</table>', content, re.S).group(0)
    assert "2024-07-08" in anomalies
    assert "i-0abc (+200.00)" in anomalies
    # The anomaly is marked on the cost chart, above its day's column.
    cost_chart = re.search(r'id="tenant-costs".*?(<svg .*?</svg>)', content, re.S).group(1)
    markers = re.findall(r'<path class="anomaly-marker"[^>]*>.*?</path>', cost_chart, re.S)
    assert len(markers) == 1
    assert 'data-day="2024-07-08"' in markers[0]
    assert 'data-actual="220.00"' in markers[0]
    assert 'data-expected="20.00"' in markers[0]
    assert "top contributor i-0abc (+200.00)" in markers[0]
    assert "1 cost anomaly in this range" in content


def test_staff_dashboard_draws_alerted_budgets_and_anomalies_on_cost_charts(
    admin_client, onboard, warehouse
):
    """A budget that alerted gets its burn-down chart on the dashboard; a tenant whose run
    found an anomaly gets its cost chart with the anomaly marked on the spiked day."""
    onboarded = onboard()
    tenant = onboarded.tenant
    quiet = onboard()  # no alert, no anomaly: not shown
    budget, raised = spiked_and_budgeted(
        warehouse,
        onboarded,
        thresholds=[{"kind": "actual", "percent": 80}, {"kind": "forecast", "percent": 100}],
    )
    assert [(a.kind, a.percent) for a in raised] == [("forecast", 100)]

    content = admin_client.get(reverse("admin:index")).content.decode()

    budgets = re.search(r'id="dashboard-budgets".*?</div>\s*</div>', content, re.S).group(0)
    assert f'data-budget="{budget.pk}"' in budgets
    assert budgets.count('<svg class="chart budget-burndown') == 1
    chart = re.search(r"<svg class=\"chart budget-burndown.*?</svg>", budgets, re.S).group(0)
    actual = re.search(r'class="actual" points="([^"]+)"', chart).group(1)
    assert len(actual.split()) == 10  # July 1 to 10
    assert chart.count('class="forecast"') == 1
    assert chart.count('class="threshold"') == 2
    assert quiet.tenant.pk not in budgets

    section = re.search(r'id="dashboard-anomalies".*?</div>\s*</div>', content, re.S).group(0)
    assert f'data-tenant="{tenant.pk}"' in section
    assert quiet.tenant.pk not in section
    markers = re.findall(r'<path class="anomaly-marker"[^>]*>', section)
    assert len(markers) == 1
    assert 'data-day="2024-07-09"' in markers[0]
    assert 'data-actual="220.00"' in markers[0]

    # Kept for five minutes, as the cost page's costs are: a second visit draws the same
    # charts without reading the warehouse (the tables are gone meanwhile).
    warehouse.table_delete(onboarded.dataset_id, ANOMALIES)
    warehouse.table_delete(onboarded.dataset_id, "aws_cost_focus")
    again = admin_client.get(reverse("admin:index")).content.decode()
    assert again.count('<path class="anomaly-marker"') == 1
    assert again.count('<svg class="chart budget-burndown') == 1
    assert len(re.search(r'class="actual" points="([^"]+)"', again).group(1).split()) == 10
