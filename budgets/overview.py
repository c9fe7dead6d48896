"""The tenant cost page's budgets and anomalies section (a template of its own)."""

from __future__ import annotations

import logging

from budgets.charts import burndown_chart
from budgets.selectors import anomalies_for_tenant, budget_status, budgets_for_tenant
from pipelines.warehouse import WarehouseError

logger = logging.getLogger(__name__)
ANOMALY_ROWS = 20


def budgets_overview_context(*, tenant) -> dict:
    """Each budget with its burn-down chart, and the latest anomalies; warehouse errors shown."""
    budgets, anomalies, error = [], [], ""
    try:
        for budget in budgets_for_tenant(tenant_id=tenant.pk):
            status = budget_status(budget=budget)
            budgets.append(
                {
                    "budget": budget,
                    "status": status,
                    "chart": burndown_chart(
                        name=budget.name, status=status, thresholds=budget.thresholds
                    ),
                }
            )
        anomalies = anomalies_for_tenant(tenant_id=tenant.pk, limit=ANOMALY_ROWS)
    except WarehouseError as exc:
        logger.warning("budgets overview for %s: %s", tenant.pk, exc)
        error = "the warehouse could not be queried"
    for row in anomalies:
        top = row.get("top_contributors") or []
        row["top"] = top[0] if isinstance(top, list) and top else None
    return {"budgets": budgets, "anomalies": anomalies, "budgets_error": error}
