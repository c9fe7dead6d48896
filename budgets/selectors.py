"""Reads for budgets: the scope's daily cost from the tenant's FOCUS tables, and the forecast.

Forecast (stated in docs/budgets.md): the period's cost so far plus, for each remaining day, the
weekday-adjusted daily run rate. The weekday profile is each weekday's mean daily cost over the
last 28 days relative to their overall mean (1 for every weekday when fewer than 28 days of data
exist); the run rate is the period-to-date cost divided by the profile weights of its elapsed
days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from budgets.models import Budget, BudgetAlert
from focus.anomalies import ANOMALIES
from pipelines.selectors import focus_tables_for_tenant
from warehouse.tenant import tenant_warehouse

# The FOCUS columns read here, in one place (the FOCUS column model may still change).
DAY, COST = "ChargePeriodStart", "BilledCost"
SERVICE, SUB_ACCOUNT, TAGS = "ServiceName", "SubAccountId", "Tags"
PROFILE_DAYS = 28
CENT = Decimal("0.01")


@dataclass(frozen=True)
class BudgetStatus:
    budget_id: int
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date | None
    amount: Decimal
    actual: Decimal
    forecast: Decimal
    daily: list[tuple[dt.date, Decimal]] = field(default_factory=list)
    profile: tuple[float, ...] = (1.0,) * 7

    @property
    def actual_percent(self) -> float:
        return float(self.actual / self.amount * 100)

    @property
    def forecast_percent(self) -> float:
        return float(self.forecast / self.amount * 100)


def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the month or quarter holding ``day``."""
    first_month = day.month if period == Budget.Period.MONTHLY else 3 * ((day.month - 1) // 3) + 1
    start = day.replace(month=first_month, day=1)
    months = 1 if period == Budget.Period.MONTHLY else 3
    year, month = divmod(start.month - 1 + months, 12)
    end = dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)
    return start, end


def _scope_sql(wh, tables: list[str], budget: Budget) -> tuple[str, str, dict]:
    columns = f"{DAY}, {COST}, {SERVICE}, {SUB_ACCOUNT}, {TAGS}"
    union = " UNION ALL ".join(
        f"SELECT {columns} FROM `{wh.table_ref(wh.dataset_id, t)}`" for t in tables
    )
    where = ["TRUE"]
    params: dict = {}
    if budget.service:
        where.append(f"{SERVICE} = @service")
        params["service"] = budget.service
    if budget.sub_account:
        where.append(f"{SUB_ACCOUNT} = @sub_account")
        params["sub_account"] = budget.sub_account
    if budget.tag_key:
        where.append(f"JSON_VALUE({TAGS}[@tag_key]) = @tag_value")
        params |= {"tag_key": budget.tag_key, "tag_value": budget.tag_value}
    return f"({union})", " AND ".join(where), params


def budget_status(*, budget: Budget, as_of: dt.date | None = None) -> BudgetStatus:
    """Actual and forecast cost of the budget's current period, up to the latest charge day.

    ``as_of`` defaults to the latest day with charges in the tenant's FOCUS tables.
    """
    wh = tenant_warehouse(tenant_id=budget.tenant_id)
    present = set(wh.tables_list(wh.dataset_id))
    # A provider filter reads that provider's FOCUS table only.
    tables = sorted(
        table
        for provider, table in focus_tables_for_tenant(tenant_id=budget.tenant_id).items()
        if table in present and budget.provider in ("", provider)
    )
    if not tables:
        start, end = period_bounds(budget.period, as_of or dt.date.today())
        return BudgetStatus(budget.pk, start, end, None, budget.amount, Decimal(0), Decimal(0))
    source, where, params = _scope_sql(wh, tables, budget)
    if as_of is None:
        as_of = wh.query(f"SELECT MAX(DATE({DAY})) AS d FROM {source} AS f").rows[0]["d"]
        if as_of is None:
            as_of = dt.date.today()
    start, end = period_bounds(budget.period, as_of)
    read_from = min(start, as_of - dt.timedelta(days=PROFILE_DAYS - 1))
    rows = wh.query(
        f"SELECT DATE({DAY}) AS day, SUM(CAST({COST} AS FLOAT64)) AS cost FROM {source} AS f "
        f"WHERE {where} AND {DAY} >= TIMESTAMP(@read_from) "
        f"AND {DAY} < TIMESTAMP(DATE_ADD(@as_of, INTERVAL 1 DAY)) GROUP BY day",
        {**params, "read_from": read_from, "as_of": as_of},
    ).rows
    costs = {r["day"]: Decimal(str(r["cost"] or 0)) for r in rows}
    first_data = wh.query(
        f"SELECT MIN(DATE({DAY})) AS d FROM {source} AS f WHERE {where}", params
    ).rows[0]["d"]
    profile = _weekday_profile(costs, as_of, first_data)
    elapsed = [start + dt.timedelta(days=i) for i in range((as_of - start).days + 1)]
    remaining = [as_of + dt.timedelta(days=i) for i in range(1, (end - as_of).days + 1)]
    actual = sum((costs.get(d, Decimal(0)) for d in elapsed), Decimal(0))
    weight = sum(profile[d.weekday()] for d in elapsed)
    rate = actual / Decimal(str(weight)) if weight else Decimal(0)
    forecast = actual + rate * Decimal(str(sum(profile[d.weekday()] for d in remaining)))
    return BudgetStatus(
        budget_id=budget.pk,
        period_start=start,
        period_end=end,
        as_of=as_of,
        amount=budget.amount,
        actual=actual.quantize(CENT),
        forecast=forecast.quantize(CENT),
        daily=[(d, costs.get(d, Decimal(0))) for d in elapsed],
        profile=profile,
    )


def _weekday_profile(costs: dict, as_of: dt.date, first_data: dt.date | None) -> tuple:
    """Each weekday's mean cost over the last 28 days over their mean; flat if data is short."""
    window = [as_of - dt.timedelta(days=i) for i in range(PROFILE_DAYS)]
    if first_data is None or first_data > window[-1]:
        return (1.0,) * 7
    values = [float(costs.get(d, 0)) for d in window]
    mean = sum(values) / len(values)
    if mean <= 0:
        return (1.0,) * 7
    by_weekday: list[list[float]] = [[] for _ in range(7)]
    for day, value in zip(window, values, strict=True):
        by_weekday[day.weekday()].append(value)
    return tuple(sum(v) / len(v) / mean for v in by_weekday)


def budgets_for_tenant(*, tenant_id: str):
    return Budget.objects.filter(tenant_id=tenant_id).order_by("name")


def anomalies_for_tenant(
    *,
    tenant_id: str,
    limit: int = 500,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[dict]:
    """The tenant's recorded cost anomalies, newest day first (none before the first run);
    only those from ``start`` to ``end`` (both included) when given."""

    wh = tenant_warehouse(tenant_id=tenant_id)
    if ANOMALIES not in wh.tables_list(wh.dataset_id):
        return []
    return wh.query(
        "SELECT day, provider, service, sub_account, region, tag_key, tag_value, actual, "
        "expected, score, top_contributors, detected_at "
        f"FROM `{wh.table_ref(wh.dataset_id, ANOMALIES)}` "
        "WHERE day BETWEEN @start AND @end ORDER BY day DESC, score DESC LIMIT @limit",
        {"limit": limit, "start": start or dt.date(1, 1, 1), "end": end or dt.date(9999, 12, 31)},
    ).rows


def budgets_recently_alerted(*, since: dt.datetime, limit: int) -> list[Budget]:
    """Budgets with an alert raised since ``since``, the most recently alerted first."""
    seen: dict[int, Budget] = {}
    alerts = (
        BudgetAlert.objects.filter(created_at__gte=since)
        .select_related("budget__tenant")
        .order_by("-created_at")
    )
    for alert in alerts.iterator():
        seen.setdefault(alert.budget_id, alert.budget)
        if len(seen) == limit:
            break
    return list(seen.values())
