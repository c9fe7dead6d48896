"""Benchmark: cost anomaly detection over 365 days x 2,000 series, windowed vs full history.

Usage, from the project root:

    .venv/bin/python benchmarks/anomalies_detect.py [--series 2000] [--days 365]

A fresh ephemeral bqemulator on a free port; one tenant dataset; a FOCUS-shaped table of
``--series`` x ``--days`` daily rows generated in the warehouse (one statement: each series has
its own level, a weekly cycle and +-8 % noise; 20 series get one spike on a recent day). Then,
in the same run, the ``focus.anomalies`` step as shipped (``detect_days: 7``: reads the 7 days
plus their 8 baseline weeks) and the alternative that re-scores the whole history
(``detect_days`` = all days with a full baseline, reading every row), each timed.

The table is created as ``focus.normalize`` creates FOCUS tables: partitioned by the day of
``ChargePeriodStart``, clustered by ``ProviderName, ServiceName``.

Bytes: the emulator reports no BigQuery billing figure, so the script computes what BigQuery
would scan from its documented logical sizes (STRING 2 + UTF-8 bytes, TIMESTAMP 8, NUMERIC 16,
JSON its text) over the columns the statements read: the detection statement reads only the
window's partitions; the step's first query (the latest charge day, ``MAX(ChargePeriodStart)``)
reads that one column of every row. "unpart." is the same for an unpartitioned table.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROJECT = "convergence-bench"
DATASET = "bench_local"
TABLE = "aws_cost_focus"


def generate_sql(table: str) -> str:
    return f"""INSERT INTO `{table}`
SELECT
  TIMESTAMP(d) AS ChargePeriodStart, 'Usage' AS ChargeCategory, 'AWS' AS ProviderName,
  CONCAT('service-', CAST(MOD(s, 40) AS STRING)) AS ServiceName,
  CONCAT('account-', CAST(DIV(s, 40) AS STRING)) AS SubAccountId,
  CONCAT('region-', CAST(MOD(s, 5) AS STRING)) AS RegionId,
  CONCAT('resource-', CAST(s AS STRING)) AS ResourceId,
  CONCAT('sku-', CAST(MOD(s, 11) AS STRING)) AS SkuId,
  PARSE_JSON('{{}}') AS Tags,
  CAST(ROUND(
    (20 + MOD(s * 37, 400))
    * IF(EXTRACT(DAYOFWEEK FROM d) IN (1, 7), 0.6, 1)
    * (1 + 0.08 * (MOD(UNIX_DATE(d) * 7 + s * 13, 17) - 8) / 8)
    * IF(MOD(s, 100) = 0 AND d = DATE_SUB(@end, INTERVAL 2 DAY), 5, 1), 4) AS NUMERIC) AS BilledCost
FROM UNNEST(GENERATE_ARRAY(0, @series - 1)) AS s
CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(DATE_SUB(@end, INTERVAL @days - 1 DAY), @end)) AS d"""


def scanned_bytes_sql(table: str) -> str:
    """BigQuery's logical bytes of the columns detection reads, for rows from @start."""
    return f"""SELECT
  SUM(8 + 16 + (2 + BYTE_LENGTH(ChargeCategory)) + (2 + BYTE_LENGTH(ProviderName))
    + (2 + BYTE_LENGTH(ServiceName)) + (2 + BYTE_LENGTH(SubAccountId))
    + (2 + BYTE_LENGTH(RegionId)) + (2 + BYTE_LENGTH(ResourceId)) + (2 + BYTE_LENGTH(SkuId)))
    AS bytes
FROM `{table}` WHERE ChargePeriodStart >= TIMESTAMP(@start)"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    from devtools.emulator import emulator_start, emulator_wait, free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-anomalies-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = emulator_start(project=PROJECT, rest_port=port, log_path=workdir / "emulator.log")
    try:
        emulator_wait(endpoint, process=process)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")
        os.environ["WAREHOUSE_ENDPOINT"] = endpoint
        os.environ["WAREHOUSE_PROJECT"] = PROJECT
        os.environ["WAREHOUSE_TIMEOUT_SECONDS"] = "3600"
        os.environ["PIPELINE_LOCAL_FILES_DIR"] = str(workdir)
        import django

        django.setup()
        from django.conf import settings

        settings.WAREHOUSE_ENDPOINT, settings.WAREHOUSE_PROJECT = endpoint, PROJECT
        settings.WAREHOUSE_TIMEOUT_SECONDS = 3600
        run(args.series, args.days)
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(series: int, days: int) -> None:
    from focus.anomalies import ANOMALIES, Method
    from pipelines.configs import pipeline_config_get
    from pipelines.processors import StepContext, processor_for
    from warehouse.bigquery import get_warehouse

    wh = get_warehouse()
    from focus.model import FOCUS_CLUSTER_BY, FOCUS_PARTITION_DAY
    from warehouse.bigquery import Column

    wh.dataset_create(DATASET)
    table = wh.table_ref(DATASET, TABLE)
    wh.table_create(
        DATASET,
        TABLE,
        [
            Column("ChargePeriodStart", "TIMESTAMP"),
            *(
                Column(name, "STRING")
                for name in (
                    "ChargeCategory",
                    "ProviderName",
                    "ServiceName",
                    "SubAccountId",
                    "RegionId",
                    "ResourceId",
                    "SkuId",
                )
            ),
            Column("Tags", "JSON"),
            Column("BilledCost", "NUMERIC"),
        ],
        replace=True,
        partition_day=FOCUS_PARTITION_DAY,
        cluster_by=FOCUS_CLUSTER_BY,
    )
    partition, clustering = wh.table_layout(DATASET, TABLE)
    print(f"FOCUS table partitioned by day of {partition}, clustered by {', '.join(clustering)}")
    end = dt.date(2025, 12, 31)
    started = time.perf_counter()
    wh.query(generate_sql(table), {"series": series, "days": days, "end": end})
    generate_s = time.perf_counter() - started
    rows = wh.query(f"SELECT COUNT(*) AS n FROM `{table}`").rows[0]["n"]
    print(f"generated {rows:,} daily rows ({series:,} series x {days} days) in {generate_s:.1f} s")

    config = pipeline_config_get("aws", "cost", "focus")
    step = next(s for s in config.steps if s.ps_type == "focus.anomalies")
    history = Method().history_days
    variants = [
        ("shipped: last 7 days", 7),
        (f"alternative: all {days - history} days", days - history),
    ]
    print(f"{'variant':34} | {'seconds':>8} | {'anomalies':>9} | {'BigQuery bytes':>22}")
    for label, detect_days in variants:
        wh.table_delete(DATASET, ANOMALIES)
        changed = dataclasses.replace(step, options={**step.options, "detect_days": detect_days})
        context = StepContext(
            warehouse=wh,
            tenant_id="bench",
            dataset_id=DATASET,
            variables=dict(config.variables),
            run_id="bench",
        )
        started = time.perf_counter()
        result = processor_for(changed).run(context.for_step(changed))
        seconds = time.perf_counter() - started
        read_start = end - dt.timedelta(days=detect_days - 1 + history)
        partitioned = wh.query(scanned_bytes_sql(table), {"start": read_start}).rows[0]["bytes"]
        everything = wh.query(scanned_bytes_sql(table), {"start": dt.date(1970, 1, 1)}).rows[0][
            "bytes"
        ]
        latest_day = 8 * rows  # MAX(ChargePeriodStart): one TIMESTAMP column, every row
        found = result.details["anomalies_in_window"]
        print(
            f"{label:34} | {seconds:8.1f} | {found:9} | "
            f"{(partitioned + latest_day) / 1e6:7.1f} MB (unpart. "
            f"{(everything + latest_day) / 1e6:5.1f})"
        )
    spikes = len([s for s in range(series) if s % 100 == 0])
    print(f"injected spikes: {spikes} (one day each, 2 days before the last)")


if __name__ == "__main__":
    main()
