"""A tenant's cost per day, provider and service, summed in the warehouse from its FOCUS tables."""

import decimal
from datetime import date

from django.core.cache import cache

from pipelines.warehouse import WarehouseError, WarehouseNotFound, get_warehouse

FOCUS_TABLES = ("aws_cost_focus", "azure_cost_focus", "gcp_cost_focus")
COST_DAYS = 30
CACHE_SECONDS = 300


def _cost_sql(table: str) -> str:
    # The window ends at the table's latest charge, so a historical import still shows.
    return (
        "SELECT DATE(ChargePeriodStart) AS day, ProviderName AS provider, "
        "ServiceName AS service, SUM(BilledCost) AS cost "
        f"FROM {table} "
        f"WHERE ChargePeriodStart >= TIMESTAMP_SUB((SELECT MAX(ChargePeriodStart) FROM {table}), "
        "INTERVAL @days DAY) "
        "GROUP BY day, provider, service"
    )


def tenant_costs_query(*, dataset_id: str, days: int = COST_DAYS) -> dict:
    """Query each FOCUS table that exists in the dataset; a missing one is skipped."""
    warehouse = get_warehouse()
    try:
        present = set(warehouse.tables_list(dataset_id))
    except WarehouseNotFound:
        present = set()
    tables = [t for t in FOCUS_TABLES if t in present]
    rows: list[dict] = []
    for table in tables:
        try:
            result = warehouse.query(
                _cost_sql(warehouse.quoted(dataset_id, table)), {"days": days - 1}
            )
        except WarehouseNotFound:
            continue
        rows.extend(
            {
                "day": _day(r["day"]),
                "provider": r["provider"] or "—",
                "service": r["service"] or "—",
                "cost": float(r["cost"] or decimal.Decimal(0)),
            }
            for r in result.rows
        )
    rows.sort(key=lambda r: (r["day"], r["provider"], r["service"]))
    return {"tables": tables, "rows": rows}


def tenant_costs(*, dataset_id: str, days: int = COST_DAYS) -> dict:
    """The query above, cached for a few minutes; a warehouse error is reported, not cached."""
    key = f"tenant-costs:{dataset_id}:{days}"
    found = cache.get(key)
    if found is not None:
        return found
    try:
        found = tenant_costs_query(dataset_id=dataset_id, days=days)
    except WarehouseError as exc:
        return {"tables": [], "rows": [], "error": str(exc)}
    cache.set(key, found, CACHE_SECONDS)
    return found


def costs_by_day_and_provider(rows: list[dict]) -> tuple[list[date], dict[str, list[float]]]:
    """Days in order, and per provider one total per day (zero where it had none)."""
    days = sorted({r["day"] for r in rows})
    index = {d: i for i, d in enumerate(days)}
    providers: dict[str, list[float]] = {}
    for r in rows:
        providers.setdefault(r["provider"], [0.0] * len(days))[index[r["day"]]] += r["cost"]
    return days, dict(sorted(providers.items()))


def costs_by_service(rows: list[dict]) -> list[dict]:
    """Total per provider and service over the window, most expensive first."""
    totals: dict[tuple[str, str], float] = {}
    for r in rows:
        totals[(r["provider"], r["service"])] = (
            totals.get((r["provider"], r["service"]), 0) + r["cost"]
        )
    return [
        {"provider": p, "service": s, "cost": c}
        for (p, s), c in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
