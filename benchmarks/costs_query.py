"""Benchmark: the costs API's query over one month against twelve months of one tenant's history.

Usage, from the project root:

    .venv/bin/python benchmarks/costs_query.py [--rows-per-month 100000] [--months 12]

A fresh ephemeral bqemulator on a free port and a migrated SQLite control plane in a temporary
directory; one tenant whose ``aws_cost_focus`` table is created as ``focus.normalize`` creates
FOCUS tables (every FOCUS column, partitioned by the day of ``ChargePeriodStart``, clustered by
``ProviderName, ServiceName``) and filled by one generated statement a month with
``--rows-per-month`` rows in each of ``--months`` months (40 services, 25 accounts, 5 regions,
a ``team`` tag). Then the costs API's own query (``costs.selectors.tenant_costs_query``: the
tenant's FOCUS tables from ``focus_tables_for_tenant``, through ``tenant_warehouse``, the costs
statement and the coverage statement) over the last
month and over all twelve, each timed (best of ``--repeat``, nothing cached): per day by
``ProviderName`` and per month by ``ServiceName`` (per day by service would be 14,600 groups
over a year, over the API's limit of 10,000).

Bytes: ``reported`` is what the warehouse jobs say (``total_bytes_processed``, summed over the
two statements). The emulator reports 0 for every job, so the script also computes what
BigQuery reads for the same two statements from its documented logical sizes (STRING 2 + UTF-8
bytes, TIMESTAMP 8, NUMERIC 16) over the columns they read (ChargePeriodStart,
BillingCurrency, BilledCost, the grouped column; ChargePeriodStart again for coverage)
in the partitions the range selects: the statements' only condition on the table is a constant
range on the partitioning column, which BigQuery prunes to those days. ``unpart.`` is the same
columns over every row (what an unpartitioned table would cost).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROJECT = "convergence-bench"
TENANT = "bench_co"
TABLE = "aws_cost_focus"
FIRST = dt.date(2025, 1, 1)


def generate_sql(table: str) -> str:
    """``@rows`` rows spread evenly over the days from @first to @last."""
    return f"""INSERT INTO {table}
  (ChargePeriodStart, ChargePeriodEnd, BillingCurrency, ProviderName, ServiceName,
   SubAccountId, RegionId, ResourceId, ChargeCategory, Tags, BilledCost, EffectiveCost)
SELECT
  TIMESTAMP(d), TIMESTAMP(DATE_ADD(d, INTERVAL 1 DAY)), 'USD', 'AWS',
  CONCAT('service-', CAST(MOD(n, 40) AS STRING)),
  CONCAT('account-', CAST(MOD(n, 25) AS STRING)),
  CONCAT('region-', CAST(MOD(n, 5) AS STRING)),
  CONCAT('resource-', CAST(MOD(n, 5000) AS STRING)), 'Usage',
  PARSE_JSON(CONCAT('{{"team": "team-', CAST(MOD(n, 7) AS STRING), '"}}')),
  CAST(MOD(n * 37, 1000) / 100 AS NUMERIC), CAST(MOD(n * 37, 1000) / 100 AS NUMERIC)
FROM (
  SELECT n, DATE_ADD(@first, INTERVAL DIV(n * @days, @rows) DAY) AS d
  FROM UNNEST(GENERATE_ARRAY(0, @rows - 1)) AS n
)"""


SIZES = {"ChargePeriodStart": "8", "BilledCost": "16"}


def logical_bytes_sql(table: str, columns: tuple[str, ...]) -> str:
    """BigQuery's logical bytes of ``columns`` (each once per statement that reads it) in the
    rows from @start up to (not including) @end_next."""
    sizes = " + ".join(SIZES.get(c, f"(2 + BYTE_LENGTH({c}))") for c in columns)
    return f"""SELECT SUM({sizes}) AS bytes, COUNT(*) AS n
FROM {table}
WHERE ChargePeriodStart >= TIMESTAMP(@start) AND ChargePeriodStart < TIMESTAMP(@end_next)"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-month", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from devtools.emulator import emulator_start, emulator_wait, free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-costs-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = emulator_start(project=PROJECT, rest_port=port, log_path=workdir / "emulator.log")
    try:
        emulator_wait(endpoint, process=process)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'control.sqlite3'}"
        os.environ["WAREHOUSE_ENDPOINT"] = endpoint
        os.environ["WAREHOUSE_PROJECT"] = PROJECT
        os.environ["WAREHOUSE_TIMEOUT_SECONDS"] = "3600"
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        settings.WAREHOUSE_ENDPOINT, settings.WAREHOUSE_PROJECT = endpoint, PROJECT
        settings.WAREHOUSE_TIMEOUT_SECONDS = 3600
        call_command("migrate", verbosity=0)
        run(args.rows_per_month, args.months, args.repeat)
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(rows_per_month: int, months: int, repeat: int) -> None:
    from dateutil.relativedelta import relativedelta

    from costs.query import CostQuery
    from costs.selectors import tenant_costs_query
    from focus.model import FOCUS_CLUSTER_BY, FOCUS_PARTITION_DAY, focus_table_columns
    from warehouse.bigquery import get_warehouse, tenant_dataset_id

    wh = get_warehouse()
    dataset = tenant_dataset_id(TENANT)
    wh.dataset_create(dataset)
    wh.table_create(
        dataset,
        TABLE,
        list(focus_table_columns("aws")),
        replace=True,
        partition_day=FOCUS_PARTITION_DAY,
        cluster_by=FOCUS_CLUSTER_BY,
    )
    partition, clustering = wh.table_layout(dataset, TABLE)
    print(f"FOCUS table partitioned by day of {partition}, clustered by {', '.join(clustering)}")
    table = wh.quoted(dataset, TABLE)
    last = FIRST + relativedelta(months=months) - dt.timedelta(days=1)
    days = (last - FIRST).days + 1
    total = rows_per_month * months
    started = time.perf_counter()
    for month in range(months):
        # One statement per month keeps each under the emulator's memory cap.
        first = FIRST + relativedelta(months=month)
        following = FIRST + relativedelta(months=month + 1)
        wh.query(
            generate_sql(table),
            {"rows": rows_per_month, "first": first, "days": (following - first).days},
        )
    generated = time.perf_counter() - started
    count = wh.query(f"SELECT COUNT(*) AS n FROM {table}").rows[0]["n"]
    assert count == total, (count, total)
    print(
        f"generated {count:,} rows ({months} months x {rows_per_month:,}, {days} days) "
        f"in {generated:.1f} s"
    )

    one_month = (last.replace(day=1), last)
    print(
        f"{'question':30} | {'range':10} | {'rows in range':>13} | {'best s':>7} | "
        f"{'groups':>6} | {'reported':>8} | {'BigQuery bytes (computed)':>28}"
    )
    for granularity, group_by in (("day", ("ProviderName",)), ("month", ("ServiceName",))):
        # The costs statement reads these columns; the coverage statement ChargePeriodStart.
        columns = (
            "ChargePeriodStart",
            "BillingCurrency",
            "BilledCost",
            *group_by,
            "ChargePeriodStart",
        )
        everything = wh.query(
            logical_bytes_sql(table, columns),
            {"start": FIRST, "end_next": last + dt.timedelta(days=1)},
        ).rows[0]["bytes"]
        figures = {}
        for label, start, end in (("one month", *one_month), (f"{months} months", FIRST, last)):
            query = CostQuery(start=start, end=end, granularity=granularity, group_by=group_by)
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                answer = tenant_costs_query(tenant_id=TENANT, query=query)
                times.append(time.perf_counter() - began)
            sized = wh.query(
                logical_bytes_sql(table, columns),
                {"start": start, "end_next": end + dt.timedelta(days=1)},
            ).rows[0]
            figures[label] = sized["bytes"]
            question = f"per {granularity} by {', '.join(group_by)}"
            print(
                f"{question:30} | {label:10} | {sized['n']:13,} | {min(times):7.2f} | "
                f"{answer['groups']:6,} | {answer['bytes_processed']:8,} | "
                f"{sized['bytes'] / 1e6:9.1f} MB (unpart. {everything / 1e6:7.1f})"
            )
        ratio = figures["one month"] / figures[f"{months} months"]
        print(
            f"  one month reads {ratio:.3f} of the {months}-month query's bytes "
            f"({'within' if ratio <= 0.1 else 'OVER'} the 1/10 bound)"
        )


if __name__ == "__main__":
    main()
