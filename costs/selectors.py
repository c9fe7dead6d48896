"""Reads of the costs app: a tenant's costs over every FOCUS table it has, cached per question
until a run writes its FOCUS tables again."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from django.core.cache import cache

from costs.models import CostsVersion
from costs.query import MAX_GROUPS, CostQuery, TooManyGroups, costs_statement, coverage_statement
from pipelines.selectors import focus_tables_for_tenant
from warehouse.bigquery import WarehouseNotFound
from warehouse.tenant import tenant_warehouse

# Answers are retired by the tenant's version (a run that wrote FOCUS rows), not by time; the
# timeout only lets unread answers leave the cache.
CACHE_SECONDS = 24 * 3600


def focus_sources_present(*, tenant_id: str, warehouse=None) -> list[tuple[str, str]]:
    """(provider, table) of each of the tenant's FOCUS tables that exists, by provider: the
    one list of ``pipelines.selectors.focus_tables_for_tenant``, less the tables no run has
    written yet."""
    warehouse = warehouse or tenant_warehouse(tenant_id=tenant_id)
    try:
        present = set(warehouse.tables_list(warehouse.dataset_id))
    except WarehouseNotFound:
        return []
    return sorted(
        (provider, table)
        for provider, table in focus_tables_for_tenant(tenant_id=tenant_id).items()
        if table in present
    )


def costs_version(*, tenant_id: str) -> int:
    found = CostsVersion.objects.filter(tenant_id=tenant_id).values_list("version", flat=True)
    return next(iter(found), 0)


def _text(value) -> str | None:
    """A sum as a decimal string: NUMERIC sums exactly, FLOAT64 ones as Python prints them."""
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return format(value, "f")


def _day(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def tenant_costs_query(*, tenant_id: str, query: CostQuery) -> dict:
    """The answer to ``query`` from the warehouse (no cache): per currency its totals and one
    series per group, the period each provider's data covers in the range, and the bytes the
    warehouse jobs report having processed."""
    warehouse = tenant_warehouse(tenant_id=tenant_id)
    sources = focus_sources_present(tenant_id=tenant_id, warehouse=warehouse)
    tables = [(source, warehouse.quoted(warehouse.dataset_id, t)) for source, t in sources]
    rows: list[dict] = []
    coverage: list[dict] = []
    processed = 0
    if tables:
        statement = costs_statement(query, tables)
        result = warehouse.query(statement.sql, statement.params)
        if len(result.rows) > MAX_GROUPS:
            raise TooManyGroups(
                f"The answer would have more than {MAX_GROUPS} groups (periods x currencies x "
                "group values); narrow the range, use a coarser granularity, group by fewer "
                "dimensions or filter.",
                field="group_by",
            )
        rows = result.rows
        processed += result.bytes_processed
        statement = coverage_statement(query, tables)
        result = warehouse.query(statement.sql, statement.params)
        processed += result.bytes_processed
        coverage = sorted(
            (
                {
                    "provider": r["source"],
                    "first_day": _day(r["first_day"]),
                    "last_day": _day(r["last_day"]),
                }
                for r in result.rows
            ),
            key=lambda c: c["provider"],
        )
    covered = {c["provider"] for c in coverage}
    coverage += [
        {"provider": source, "first_day": None, "last_day": None}
        for source, _ in sources
        if source not in covered
    ]
    return {
        "currencies": _series(query, rows),
        "coverage": coverage,
        "groups": len(rows),
        "bytes_processed": processed,
    }


def _add(total, value):
    if value is None:
        return total
    return value if total is None else total + value


def _series(query: CostQuery, rows: list[dict]) -> list[dict]:
    """Rows (period, currency, g0.., m0..) as, per currency, totals and one series per group
    with its totals and points in period order; never a sum across currencies."""
    currencies: dict[str | None, dict] = {}
    for row in rows:
        group = tuple(row[f"g{i}"] for i in range(len(query.group_by)))
        values = [row[f"m{i}"] for i in range(len(query.metrics))]
        currency = currencies.setdefault(row["currency"], {"totals": None, "series": {}})
        series = currency["series"].setdefault(group, {"totals": None, "points": []})
        currency["totals"] = [
            _add(t, v)
            for t, v in zip(currency["totals"] or [None] * len(values), values, strict=True)
        ]
        series["totals"] = [
            _add(t, v)
            for t, v in zip(series["totals"] or [None] * len(values), values, strict=True)
        ]
        series["points"].append((_day(row.get("period")), values))

    def metrics(values) -> dict:
        return {m: _text(v) for m, v in zip(query.metrics, values, strict=True)}

    answer = []
    for code in sorted(currencies, key=lambda c: (c is None, c or "")):
        currency = currencies[code]
        series = []
        for group, found in sorted(
            currency["series"].items(), key=lambda kv: tuple((v is None, v or "") for v in kv[0])
        ):
            series.append(
                {
                    "group": dict(zip(query.group_by, group, strict=True)),
                    "totals": metrics(found["totals"]),
                    "points": [
                        {"period": period, **metrics(values)}
                        for period, values in sorted(found["points"], key=lambda p: p[0] or "")
                    ],
                }
            )
        answer.append({"currency": code, "totals": metrics(currency["totals"]), "series": series})
    return answer


def tenant_costs(*, tenant_id: str, query: CostQuery) -> dict:
    """``tenant_costs_query``'s answer, cached per tenant and question until a run writes the
    tenant's FOCUS tables (``costs_version_bump``); ``cached`` says whether it came from the
    cache."""
    version = costs_version(tenant_id=tenant_id)
    digest = hashlib.sha256(query.key().encode()).hexdigest()
    key = f"costs:{tenant_id}:{version}:{digest}"
    found = cache.get(key)
    if found is not None:
        return {**found, "cached": True}
    answer = tenant_costs_query(tenant_id=tenant_id, query=query)
    cache.set(key, answer, CACHE_SECONDS)
    return {**answer, "cached": False}
