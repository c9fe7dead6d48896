"""Benchmark: DuckDB alone running the statements the emulator runs for ``focus.normalize``
and ``dq.check`` on a scaled-up AWS CUR, translated with every emulator fix in place.

Usage, from the project root:

    .venv/bin/python benchmarks/focus_steps_duckdb.py [--rows 1000000]

``benchmarks/focus_normalize.py`` times the whole pipeline beside DuckDB running the
normalize statement; this script times DuckDB alone on the statements of both
``focus.normalize`` and ``dq.check``, translated as the emulator translates them
(``PARSE_NUMERIC`` and text-to-``NUMERIC`` casts parsed as ``DECIMAL(18, 9)`` first; IN
lists compared in place): the same input (the sample repeated to ``--rows``, as there),
read into an in-memory DuckDB with no memory cap, then, each timed:

- normalize: ``focus_sql("aws", ...)`` into the FOCUS table created from its schema;
- dq.check, table: the step's one aggregate query over the FOCUS table (``aws/cost/focus``'s
  checks: min_rows, not_null, allowed values, both totals, FOCUS conformance);
- dq.check, source: its one query summing the billed and amortized totals of the raw table.

Each statement is the emulator's own chain (``SQLTranslator`` after ``devtools.emulator_fixes``
patched it, then ``rewrite_table_refs``). The FOCUS table must hold ``--rows`` rows whose
BilledCost and EffectiveCost sums equal the source totals to the cent.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROJECT = "convergence-bench"
CENT = Decimal("0.01")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be positive")

    import structlog
    from bqemulator.sql.table_rewriter import rewrite_table_refs
    from bqemulator.sql.translator import SQLTranslator

    from benchmarks.focus_normalize import (
        cur_scale,
        duckdb_focus_ddl,
        duckdb_load_cur,
        duckdb_session,
    )
    from devtools.emulator_fixes import (
        numeric_keeps_nine_decimals,
        numeric_parses_fast_where_it_fits,
    )
    from focus.normalize import focus_sql, source_amortized_total_expr, source_total_expr
    from focus.sql import source_totals_sql
    from pipelines.processors.dq_check import table_checks_sql
    from warehouse.files import csv_header_columns

    # The translator logs every call at debug level; the emulator itself runs at warning.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    numeric_keeps_nine_decimals()
    numeric_parses_fast_where_it_fits()

    with tempfile.TemporaryDirectory(prefix="focus-steps-") as workdir:
        source = Path(workdir) / "aws_cur_scaled.csv.gz"
        expected = cur_scale(source, args.rows)
        columns = [c.name for c in csv_header_columns(source)]
        conn = duckdb_session()

        def run(bq_sql: str) -> tuple[float, list]:
            sql = rewrite_table_refs(SQLTranslator().translate(bq_sql).unwrap(), PROJECT)
            started = time.perf_counter()
            rows = conn.execute(sql).fetchall()
            return time.perf_counter() - started, rows

        load = duckdb_load_cur(conn, "aws_cur_raw", source, columns)
        conn.execute(f'CREATE TABLE "{PROJECT}__bench".aws_cost_focus ({duckdb_focus_ddl("aws")})')
        raw, focus = f"{PROJECT}.bench.aws_cur_raw", f"{PROJECT}.bench.aws_cost_focus"

        normalize, _ = run(focus_sql("aws", source=raw, destination=focus, source_columns=columns))
        checks, _ = run(
            table_checks_sql(
                focus,
                not_null=[
                    "BilledCost",
                    "BillingAccountId",
                    "ChargeCategory",
                    "ChargePeriodStart",
                    "ServiceCategory",
                ],
                allowed_values=True,
                totals={"cost_total": "BilledCost", "amortized_total": "EffectiveCost"},
                conformance=True,
            )
        )
        totals, ((billed, amortized),) = run(
            source_totals_sql(
                raw,
                {
                    "cost_total": source_total_expr("aws", source_columns=columns),
                    "amortized_total": source_amortized_total_expr("aws", source_columns=columns),
                },
            )
        )
        count, focus_billed, focus_effective = conn.execute(
            "SELECT COUNT(*), SUM(BilledCost), SUM(EffectiveCost) "
            f'FROM "{PROJECT}__bench".aws_cost_focus'
        ).fetchone()

    print(
        f"FOCUS rows {count:,} (expected {args.rows:,}); SUM(BilledCost) "
        f"{focus_billed.quantize(CENT)}, source {billed.quantize(CENT)}, file "
        f"{expected.quantize(CENT)}; SUM(EffectiveCost) {focus_effective.quantize(CENT)}, "
        f"source amortized {amortized.quantize(CENT)}"
    )
    print()
    print(f"| DuckDB, emulator's translation ({args.rows:,} rows) | seconds |")
    print("|---|---:|")
    for label, seconds in (
        ("load CSV.gz (all VARCHAR)", load),
        ("focus.normalize statement", normalize),
        ("dq.check: FOCUS table query", checks),
        ("dq.check: source totals query", totals),
        ("dq.check: both", checks + totals),
    ):
        print(f"| {label} | {seconds:.2f} |")
    same = {focus_billed.quantize(CENT), billed.quantize(CENT), expected.quantize(CENT)}
    if (
        count != args.rows
        or len(same) != 1
        or focus_effective.quantize(CENT) != amortized.quantize(CENT)
    ):
        sys.exit("FAILED: rows or totals differ")


if __name__ == "__main__":
    main()
