"""Budgets and anomalies for the tenant cost page and the staff dashboard."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from django.core.cache import cache

from budgets.models import Budget
from budgets.selectors import anomalies_for_tenant, budget_status, budgets_for_tenant
from dashboard.burndown import burndown_chart
from dashboard.charts import Marker
from dashboard.costs import CACHE_SECONDS
from warehouse.bigquery import WarehouseError

logger = logging.getLogger(__name__)
ANOMALY_ROWS = 20
WAREHOUSE_DOWN = "the warehouse could not be queried"


def budget_burndowns(budgets: Iterable[Budget]) -> list[dict]:
    """Each budget with its current status and burn-down chart."""
    items = []
    for budget in budgets:
        status = budget_status(budget=budget)
        items.append(
            {
                "budget": budget,
                "status": status,
                "chart": burndown_chart(
                    name=budget.name, status=status, thresholds=budget.thresholds
                ),
            }
        )
    return items


def budgets_overview_context(*, tenant) -> dict:
    """Each budget with its burn-down chart, and the latest anomalies; warehouse errors shown."""
    budgets, anomalies, error = [], [], ""
    try:
        budgets = budget_burndowns(budgets_for_tenant(tenant_id=tenant.pk))
        anomalies = anomalies_for_tenant(tenant_id=tenant.pk, limit=ANOMALY_ROWS)
    except WarehouseError as exc:
        logger.warning("budgets overview for %s: %s", tenant.pk, exc)
        error = WAREHOUSE_DOWN
    for row in anomalies:
        row["top"] = top_contributor(row)
    return {"budgets": budgets, "anomalies": anomalies, "budgets_error": error}


def top_contributor(row: dict) -> dict | None:
    top = row.get("top_contributors") or []
    return top[0] if isinstance(top, list) and top and isinstance(top[0], dict) else None


def anomalies_in_range(*, tenant_id: str, start: dt.date, end: dt.date) -> tuple[list, str]:
    """The anomalies of the days a cost chart shows, cached as long as the chart's costs, and
    an error sentence if unreadable (not cached)."""
    key = f"tenant-anomalies:{tenant_id}:{start}:{end}"
    found = cache.get(key)
    if found is not None:
        return found, ""
    try:
        found = anomalies_for_tenant(tenant_id=tenant_id, start=start, end=end)
    except WarehouseError as exc:
        logger.warning("anomalies of %s: %s", tenant_id, exc)
        return [], WAREHOUSE_DOWN
    cache.set(key, found, CACHE_SECONDS)
    return found, ""


def budget_burndowns_cached(budgets: Iterable[Budget]) -> list[dict]:
    """``budget_burndowns``, each budget's kept for a few minutes (the staff dashboard draws
    several tenants' budgets on every visit)."""
    items = []
    for budget in budgets:
        key = f"budget-burndown:{budget.tenant_id}:{budget.pk}"
        item = cache.get(key)
        if item is None:
            item = budget_burndowns([budget])[0]
            cache.set(key, item, CACHE_SECONDS)
        items.append(item)
    return items


def anomaly_markers(rows: Sequence[dict], days: Sequence[dt.date]) -> list[Marker]:
    """One marker per anomaly on its day's column: what, how much against what was expected,
    and the top contributor."""
    index = {day: i for i, day in enumerate(days)}
    markers = []
    for row in sorted(rows, key=lambda r: (r["day"], -float(r["score"] or 0))):
        if row["day"] not in index:
            continue
        series = " / ".join(
            v for v in (row["provider"], row["service"], row["sub_account"], row["region"]) if v
        )
        if row.get("tag_key"):
            series += f" / {row['tag_key']}={row.get('tag_value') or ''}"
        title = (
            f"Anomaly {row['day']:%Y-%m-%d} {series}: {float(row['actual']):,.2f} against "
            f"{float(row['expected']):,.2f} expected (score {float(row['score']):.1f})"
        )
        top = top_contributor(row)
        if top:
            title += (
                f"; top contributor {top.get('resource_id') or top.get('sku_id')} "
                f"(+{float(top.get('increase') or 0):,.2f})"
            )
        markers.append(
            Marker(
                index[row["day"]],
                title,
                (
                    ("provider", row["provider"] or ""),
                    ("service", row["service"] or ""),
                    ("actual", f"{float(row['actual']):.2f}"),
                    ("expected", f"{float(row['expected']):.2f}"),
                ),
            )
        )
    return markers
