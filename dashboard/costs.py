"""A tenant's cost per charge day, provider and service, summed in the warehouse from its FOCUS
tables, over one date range for every provider; and which period each provider's data covers."""

import decimal
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.cache import cache

from pipelines.selectors import focus_tables_for_tenant
from warehouse.bigquery import WarehouseError, WarehouseNotFound
from warehouse.tenant import tenant_warehouse

COST_DAYS = 30
MAX_RANGE_DAYS = 366
CACHE_SECONDS = 300


@dataclass(frozen=True)
class CostRange:
    """Charge days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}"


def last_days(latest: date, days: int = COST_DAYS) -> CostRange:
    return CostRange(latest - timedelta(days=days - 1), latest)


def month_range(year: int, month: int) -> CostRange:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return CostRange(first, following - timedelta(days=1))


def _coverage_sql(table: str) -> str:
    return (
        "SELECT STRING_AGG(DISTINCT ProviderName, '|') AS providers, "
        "MIN(DATE(ChargePeriodStart)) AS first_day, "
        f"MAX(DATE(ChargePeriodStart)) AS last_day FROM {table}"
    )


def _source_name(source: str, providers: str | None) -> str:
    """A table's provider as the page names it: its one ProviderName, or, for a table of
    several (native FOCUS files), the source with the names it holds."""
    names = sorted(set((providers or "").split("|")) - {""})
    if len(names) == 1:
        return names[0]
    return f"{source} ({', '.join(names)})" if names else source


def _cost_sql(table: str) -> str:
    # Grouped by the charge period's day, the same range for every provider.
    return (
        "SELECT DATE(ChargePeriodStart) AS day, ProviderName AS provider, "
        "ServiceName AS service, SUM(BilledCost) AS cost "
        f"FROM {table} "
        "WHERE DATE(ChargePeriodStart) BETWEEN @start AND @end "
        "GROUP BY day, provider, service"
    )


def _present_tables(warehouse, tenant_id: str) -> list[str]:
    """The tenant's FOCUS tables (every provider and mapping) that exist in its dataset."""
    try:
        present = set(warehouse.tables_list(warehouse.dataset_id))
    except WarehouseNotFound:
        present = set()
    return sorted(t for t in focus_tables_for_tenant(tenant_id=tenant_id).values() if t in present)


def tenant_cost_coverage_query(*, tenant_id: str) -> dict:
    """Per FOCUS table present: its provider and its first and last charge day."""
    warehouse = tenant_warehouse(tenant_id=tenant_id)
    sources = {t: p for p, t in focus_tables_for_tenant(tenant_id=tenant_id).items()}
    coverage = []
    for table in _present_tables(warehouse, tenant_id):
        try:
            quoted = warehouse.quoted(warehouse.dataset_id, table)
            row = warehouse.query(_coverage_sql(quoted)).rows[0]
        except WarehouseNotFound:
            continue
        if row["first_day"] is None:
            continue  # an empty table covers nothing
        coverage.append(
            {
                "table": table,
                "provider": _source_name(sources.get(table, table), row["providers"]),
                "first": _day(row["first_day"]),
                "last": _day(row["last_day"]),
            }
        )
    return {"tables": [c["table"] for c in coverage], "coverage": coverage}


def tenant_costs_query(*, tenant_id: str, cost_range: CostRange) -> dict:
    """Query each of the tenant's FOCUS tables that exists over the range; a missing one is
    skipped."""
    warehouse = tenant_warehouse(tenant_id=tenant_id)
    tables = _present_tables(warehouse, tenant_id)
    rows: list[dict] = []
    for table in tables:
        try:
            result = warehouse.query(
                _cost_sql(warehouse.quoted(warehouse.dataset_id, table)),
                {"start": cost_range.start, "end": cost_range.end},
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


def _cached(key: str, compute) -> dict:
    found = cache.get(key)
    if found is not None:
        return found
    try:
        found = compute()
    except WarehouseError as exc:
        return {"error": str(exc)}
    cache.set(key, found, CACHE_SECONDS)
    return found


def tenant_costs(*, tenant_id: str, cost_range: CostRange | None = None) -> dict:
    """Costs over ``cost_range`` (default: the 30 days up to the latest charge of any provider)
    with each provider's coverage, cached for a few minutes; a warehouse error is reported,
    not cached."""
    coverage = _cached(
        f"tenant-cost-coverage:{tenant_id}",
        lambda: tenant_cost_coverage_query(tenant_id=tenant_id),
    )
    if "error" in coverage:
        return {"tables": [], "rows": [], "coverage": [], "range": cost_range, **coverage}
    if cost_range is None:
        latest = max((c["last"] for c in coverage["coverage"]), default=None)
        if latest is None:
            return {"tables": [], "rows": [], "coverage": [], "range": None}
        cost_range = last_days(latest)
    costs = _cached(
        f"tenant-costs:{tenant_id}:{cost_range.start}:{cost_range.end}",
        lambda: tenant_costs_query(tenant_id=tenant_id, cost_range=cost_range),
    )
    return {
        "tables": [],
        "rows": [],
        **costs,
        "coverage": coverage["coverage"],
        "range": cost_range,
    }


def coverage_notes(coverage: list[dict], cost_range: CostRange | None) -> list[str]:
    """Sentences for the page when the providers' data cover different periods."""
    if not coverage or cost_range is None:
        return []
    notes = []
    periods = {(c["first"], c["last"]) for c in coverage}
    if len(periods) > 1:
        notes.append(
            "The providers' data cover different periods: "
            + "; ".join(
                f"{c['provider']} {c['first']:%Y-%m-%d} to {c['last']:%Y-%m-%d}" for c in coverage
            )
            + "."
        )
    for c in coverage:
        if c["last"] < cost_range.start or c["first"] > cost_range.end:
            notes.append(f"{c['provider']} has no charges in {cost_range}.")
        elif c["first"] > cost_range.start or c["last"] < cost_range.end:
            notes.append(
                f"{c['provider']} covers only {max(c['first'], cost_range.start):%Y-%m-%d} to "
                f"{min(c['last'], cost_range.end):%Y-%m-%d} of this range."
            )
    return notes


def costs_by_day_and_provider(
    rows: list[dict], days: list[date] | None = None
) -> tuple[list[date], dict[str, list[float]]]:
    """Days in order (every day of ``days`` when given), and per provider one total per day
    (zero where it had none)."""
    days = days if days is not None else sorted({r["day"] for r in rows})
    index = {d: i for i, d in enumerate(days)}
    providers: dict[str, list[float]] = {}
    for r in rows:
        if r["day"] in index:
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
