"""Billing periods of a FOCUS table: the SQL that replaces exactly a run's periods, keeps the rest.

A run writes its FOCUS rows into a table of its own (staged), then one ``MERGE`` puts them in
the tenant's FOCUS table: the rows of the staged table's billing periods are deleted and the
staged rows inserted in the same statement, so a reader sees the old month or the new one,
never half of each, and a failed statement changes nothing. The delete is bounded by the
partitioning column (``ChargePeriodStart``, one partition a day) as well as by
``BillingPeriodStart``, so BigQuery prunes it to the days the replaced periods cover (a
``WHEN NOT MATCHED BY SOURCE`` search condition on the partitioning column prunes the target,
as BigQuery's "Pruning partitions when using a MERGE statement" documents); the days each
period's rows cover are kept in ``x_meta_focus_periods`` (``warehouse.tables``).

Every value (periods, day bounds, run and file) travels as a query parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

from warehouse.sql_identifiers import name_check, sql_render

PERIOD_COLUMN = "BillingPeriodStart"
CHARGE_COLUMN = "ChargePeriodStart"


def _in_periods(alias: str, count: int) -> str:
    """``alias.BillingPeriodStart IN (@period_0, …)`` for ``count`` periods."""
    values = ", ".join(f"@period_{i}" for i in range(count))
    return f"{alias}{PERIOD_COLUMN} IN ({values})"


def _in_days(alias: str) -> str:
    """The partition bound: the replaced periods' rows lie within ``[@day_from, @day_to)``."""
    return f"{alias}{CHARGE_COLUMN} >= @day_from AND {alias}{CHARGE_COLUMN} < @day_to"


def period_params(periods: Sequence, day_from, day_to) -> dict:
    """The query parameters of ``periods_replace_sql`` and ``periods_count_sql``."""
    params = {f"period_{i}": period for i, period in enumerate(periods)}
    params.update(day_from=day_from, day_to=day_to)
    return params


def staged_periods_sql(staged: str) -> str:
    """Each billing period of a staged FOCUS table with its rows and the days they cover
    (``day_from`` inclusive, ``day_to`` exclusive); a NULL period is reported, never hidden."""
    return sql_render(
        f"SELECT {PERIOD_COLUMN} AS period, COUNT(*) AS row_count, "
        f"TIMESTAMP_TRUNC(MIN({CHARGE_COLUMN}), DAY) AS day_from, "
        f"TIMESTAMP_ADD(TIMESTAMP_TRUNC(MAX({CHARGE_COLUMN}), DAY), INTERVAL 1 DAY) AS day_to "
        "FROM `{staged}` GROUP BY period ORDER BY period",
        {"staged": staged},
    )


def periods_count_sql(table: str, count: int) -> str:
    """Rows per replaced period in ``table``, reading only the bounded days' partitions."""
    return sql_render(
        f"SELECT {PERIOD_COLUMN} AS period, COUNT(*) AS row_count FROM `{{table}}` "
        f"WHERE {_in_periods('', count)} AND {_in_days('')} GROUP BY period",
        {"table": table},
    )


def periods_replace_sql(
    table: str, staged: str, columns: Sequence[str], count: int, *, only_periods: bool = False
) -> str:
    """One ``MERGE``: delete ``table``'s rows of the ``count`` periods (``@period_<i>``)
    within ``[@day_from, @day_to)``, insert every row of ``staged`` (``only_periods``: only
    its rows of those periods, where a source's files also hold other periods' rows). Atomic
    in BigQuery."""
    names = [name_check("column", c) for c in columns]
    listed = ", ".join(f"`{c}`" for c in names)
    values = ", ".join(f"s.`{c}`" for c in names)
    where = f" WHERE {_in_periods('', count)}" if only_periods else ""
    return sql_render(
        f"MERGE `{{table}}` AS t\nUSING (SELECT {listed} FROM `{{staged}}`{where}) AS s\n"
        "ON FALSE\n"
        f"WHEN NOT MATCHED BY SOURCE AND {_in_periods('t.', count)} AND {_in_days('t.')} "
        "THEN DELETE\n"
        f"WHEN NOT MATCHED THEN INSERT ({listed}) VALUES ({values})",
        {"table": table, "staged": staged},
    )


def ledger_bounds_sql(ledger: str) -> str:
    """The ledger's rows for one FOCUS table: each period's day bounds as last recorded."""
    return sql_render(
        "SELECT billing_period_start AS period, day_from, day_to FROM `{ledger}` "
        "WHERE table_name = @table_name",
        {"ledger": ledger},
    )


def ledger_widen_sql(ledger: str, count: int) -> str:
    """Before a replacement: each period's recorded day bounds widened to cover
    ``[@day_from, @day_to)`` too (a new period gets a row without a writer yet). The ledger
    then bounds every row the table may hold, whether or not the replacement that follows
    commits, so the next one never misses a row outside the days it prunes to."""
    rows = " UNION ALL ".join(f"SELECT @period_{i} AS period" for i in range(count))
    return sql_render(
        "MERGE `{ledger}` AS l\n"
        f"USING ({rows}) AS p\n"
        "ON l.table_name = @table_name AND l.billing_period_start = p.period\n"
        "WHEN MATCHED THEN UPDATE SET day_from = LEAST(l.day_from, @day_from), "
        "day_to = GREATEST(l.day_to, @day_to)\n"
        "WHEN NOT MATCHED THEN INSERT (table_name, billing_period_start, day_from, day_to) "
        "VALUES (@table_name, p.period, @day_from, @day_to)",
        {"ledger": ledger},
    )


def ledger_record_sql(ledger: str) -> str:
    """After a replacement: one period's writer (run, source file) and rows. Its days are only
    ever widened: a run replacing the same period at the same moment may have written rows
    on other days, and the bound must cover whichever rows won."""
    return sql_render(
        "MERGE `{ledger}` AS l\n"
        "USING (SELECT @table_name AS table_name, @period AS period) AS p\n"
        "ON l.table_name = p.table_name AND l.billing_period_start = p.period\n"
        "WHEN MATCHED THEN UPDATE SET day_from = LEAST(l.day_from, @day_from), "
        "day_to = GREATEST(l.day_to, @day_to), "
        "row_count = @row_count, pipeline_logging_id = @run_id, source_name = @source_name, "
        "source_bytes = CAST(@source_bytes AS INT64), source_sha256 = @source_sha256, "
        "written_at = @written_at\n"
        "WHEN NOT MATCHED THEN INSERT (table_name, billing_period_start, day_from, day_to, "
        "row_count, pipeline_logging_id, source_name, source_bytes, source_sha256, written_at) "
        "VALUES (@table_name, @period, @day_from, @day_to, @row_count, @run_id, @source_name, "
        "CAST(@source_bytes AS INT64), @source_sha256, @written_at)",
        {"ledger": ledger},
    )
