"""``dq.check``: row counts, not-null columns, allowed values, cost totals and FOCUS
conformance, each recorded in the tenant's ``x_meta_dq_results``."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from focus.conformance import allowed_values_counts, conformance_counts, conformance_results
from focus.model import PROVIDERS
from focus.normalize import source_amortized_total_expr, source_total_expr
from focus.sql import source_totals_sql
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_choice,
    check_table_template,
    get_path,
    require_str,
)
from warehouse.sql_identifiers import name_check, sql_render
from warehouse.tables import DQ_RESULTS, META_TABLES

CHECKS = frozenset(
    {
        "min_rows",
        "not_null",
        "focus_allowed_values",
        "cost_total",
        "amortized_total",
        "focus_conformance",
    }
)
DEFAULT_TOLERANCE = decimal.Decimal("0.01")


class DqCheck(Processor):
    ps_type: ClassVar[str] = "dq.check"
    fields: ClassVar[frozenset[str]] = frozenset({"table", "checks"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        check_table_template(require_str(step, "table", errors), "table", errors, bare=False)
        checks = step.get("checks")
        if not isinstance(checks, Mapping) or not checks:
            return [*errors, "checks: required, a mapping of at least one check"]
        errors.extend(f"checks.{name}: unknown check" for name in sorted(set(checks) - CHECKS))
        if "min_rows" in checks and (
            not isinstance(checks["min_rows"], int) or checks["min_rows"] < 0
        ):
            errors.append("checks.min_rows: must be a non-negative integer")
        not_null = checks.get("not_null")
        if not_null is not None:
            if not isinstance(not_null, list | tuple) or not not_null:
                errors.append("checks.not_null: must be a list of column names")
            else:
                for index, column in enumerate(not_null):
                    check_table_template(column, f"checks.not_null[{index}]", errors, bare=True)
        if "focus_allowed_values" in checks and not isinstance(
            checks["focus_allowed_values"], bool
        ):
            errors.append("checks.focus_allowed_values: must be true or false")
        if "cost_total" in checks:
            errors.extend(_cost_total_errors(checks["cost_total"]))
        if "amortized_total" in checks:
            spec = checks["amortized_total"]
            found = _cost_total_errors(spec)
            if isinstance(spec, Mapping) and spec.get("source_provider") is None:
                found.append("checks.cost_total: source_provider is required")
            errors.extend(e.replace("checks.cost_total", "checks.amortized_total") for e in found)
        if "focus_conformance" in checks and checks["focus_conformance"] not in (
            True,
            False,
            "strict",
        ):
            errors.append("checks.focus_conformance: must be true, false or strict")
        return errors

    def run(self, context: StepContext) -> StepResult:
        checks = self.step.options["checks"]
        # Every identifier is rendered and checked before the first warehouse call.
        table = context.table(self.step.options["table"])
        not_null = [name_check("column", context.render(c)) for c in checks.get("not_null", ())]
        source_columns: dict[str, list[str]] = {}
        totals = [
            _cost_total_plan(context, checks[name], name=name, columns=source_columns)
            for name in ("cost_total", "amortized_total")
            if name in checks
        ]
        conformance = checks.get("focus_conformance")
        allowed = allowed_values_counts() if checks.get("focus_allowed_values") else {}
        sql = table_checks_sql(
            table,
            not_null=not_null,
            allowed_values=bool(allowed),
            totals={t.name: t.column for t in totals},
            conformance=bool(conformance),
        )
        wh = context.warehouse
        row = wh.query(sql)
        # Column names are case-insensitive (the emulator answers them lower-cased).
        found = {name.lower(): value for name, value in row.rows[0].items()}
        # The source side: every total taken from one raw table in one scan of it.
        expected: dict[str, decimal.Decimal] = {}
        for source in dict.fromkeys(t.source for t in totals):
            exprs = {t.name: t.source_expr for t in totals if t.source == source}
            row = wh.query(source_totals_sql(source, exprs)).rows[0]
            expected.update((name, decimal.Decimal(str(row[name] or 0))) for name in exprs)

        outcomes: list[tuple[str, bool, str, str, str]] = []
        count = found["row_count"]
        if "min_rows" in checks:
            minimum = checks["min_rows"]
            outcomes.append(
                ("min_rows", count >= minimum, str(count), f">= {minimum}", "row count")
            )
        for i, column in enumerate(not_null):
            nulls = found[f"null_{i}"]
            outcomes.append(
                (f"not_null:{column}", nulls == 0, str(nulls), "0", f"NULLs in {column}")
            )
        for column in sorted(allowed):
            n = found[f"allowed_{column}".lower()]
            outcomes.append(
                (f"allowed_values:{column}", n == 0, str(n), "0", "values outside FOCUS set")
            )
        for t in totals:
            observed = decimal.Decimal(str(found[f"observed_{t.name}".lower()] or 0))
            passed = abs(observed - expected[t.name]) <= t.tolerance
            outcomes.append(
                (
                    t.name,
                    passed,
                    str(observed),
                    f"{expected[t.name]} ± {t.tolerance}",
                    f"SUM({t.column})",
                )
            )
        # FOCUS rules are recorded per run; they fail the step only when ``strict``: a
        # provider's own data may break one, and the tenant should still get its table.
        advisory: set[str] = set()
        if conformance:
            counts = {n: found[f"focus_{n}"] for n in conformance_counts()}
            for rule, violations in conformance_results(counts):
                name = f"focus:{rule.rule_id}"
                outcomes.append((name, violations == 0, str(violations), "0", rule.text))
                if conformance != "strict":
                    advisory.add(name)
        self._record(context, table, outcomes)
        failed = [name for name, passed, *_ in outcomes if not passed and name not in advisory]
        details = {
            "table": table.rsplit(".", 1)[-1],
            "checks": {
                name: {"passed": ok, "observed": obs, "expected": exp, "message": msg}
                for name, ok, obs, exp, msg in outcomes
            },
        }
        if failed:
            # The table by its own name: the warehouse project and dataset are not the tenant's
            # to see (the step's details keep every figure).
            name = table.rsplit(".", 1)[-1]
            raise StepFailed(f"data-quality checks failed on {name}: {', '.join(failed)}")
        return StepResult(rows_processed=count, details=details)

    def _record(self, context: StepContext, table: str, outcomes: list) -> None:
        """One row per check in the tenant's ``x_meta_dq_results``."""
        if not context.run_id:
            return
        context.warehouse.table_create(context.dataset_id, DQ_RESULTS, META_TABLES[DQ_RESULTS])
        now = dt.datetime.now(dt.UTC)
        context.warehouse.insert_rows(
            context.dataset_id,
            DQ_RESULTS,
            [
                {
                    "dq_result_id": uuid.uuid4().hex,
                    "pipeline_logging_id": context.run_id,
                    "tenant_id": context.tenant_id,
                    "step_id": self.step.step_id,
                    "check_name": name,
                    "table_name": table,
                    "status": "PASS" if passed else "FAIL",
                    "observed": observed,
                    "expected": expected,
                    "message": message,
                    "checked_at": now,
                }
                for name, passed, observed, expected, message in outcomes
            ],
        )


def table_checks_sql(
    table: str,
    *,
    not_null=(),
    allowed_values: bool = False,
    totals: Mapping[str, str] | None = None,
    conformance: bool = False,
) -> str:
    """Every check on the table as an aggregate of one query, so one scan of it (the FOCUS
    rules that group by a column read it once more each): ``row_count``, ``null_<i>`` per
    ``not_null`` column, ``allowed_<Column>``, ``observed_<name>`` = SUM of each of
    ``totals`` (name -> column), and the FOCUS rules' ``focus_r<i>``."""
    aggregates = {"row_count": "COUNT(*)"}
    aggregates.update(
        (f"null_{i}", f"COUNTIF({column} IS NULL)") for i, column in enumerate(not_null)
    )
    if allowed_values:
        aggregates.update((f"allowed_{c}", expr) for c, expr in allowed_values_counts().items())
    aggregates.update((f"observed_{name}", f"SUM({c})") for name, c in (totals or {}).items())
    if conformance:
        aggregates.update((f"focus_{n}", expr) for n, expr in conformance_counts().items())
    select = ",\n  ".join(f"{expr} AS {name}" for name, expr in aggregates.items())
    return sql_render(f"SELECT\n  {select}\nFROM `{{table}}`", {"table": table})


def _cost_total_errors(spec: Any) -> list[str]:
    errors: list[str] = []
    if not isinstance(spec, Mapping):
        return ["checks.cost_total: must be a mapping"]
    unknown = set(spec) - {"column", "source_table", "source_provider", "source_column"}
    errors.extend(f"checks.cost_total.{n}: unknown field" for n in sorted(unknown - {"tolerance"}))
    check_table_template(require_str(spec, "column", errors), "column", errors, bare=True)
    source = require_str(spec, "source_table", errors)
    check_table_template(source, "checks.cost_total.source_table", errors, bare=False)
    provider, column = get_path(spec, "source_provider"), get_path(spec, "source_column")
    if (provider is None) == (column is None):
        errors.append("checks.cost_total: give exactly one of source_provider, source_column")
    if provider is not None:
        check_choice(provider, "checks.cost_total.source_provider", PROVIDERS, errors)
    if column is not None:
        check_table_template(column, "checks.cost_total.source_column", errors, bare=True)
    tolerance = spec.get("tolerance", "0.01")
    try:
        if decimal.Decimal(str(tolerance)) < 0:
            raise decimal.InvalidOperation
    except decimal.InvalidOperation:
        errors.append("checks.cost_total.tolerance: must be a non-negative number")
    return [e if e.startswith("checks.") else f"checks.cost_total.{e}" for e in errors]


@dataclass(frozen=True)
class _TotalPlan:
    """A cost total check: ``SUM(column)`` of the table against ``source_expr`` summed over
    the raw ``source`` table, within ``tolerance``."""

    name: str
    column: str
    source: str
    source_expr: str
    tolerance: decimal.Decimal


def _cost_total_plan(
    context: StepContext, spec: Mapping[str, Any], *, name: str, columns: dict
) -> _TotalPlan:
    """The check's column and source expression, every identifier checked, and its tolerance;
    for ``amortized_total`` the source's total is its amortized cost (for EffectiveCost).
    ``columns`` caches each raw table's column names across the step's checks."""
    column = name_check("column", context.render(spec["column"]))
    source = context.table(spec["source_table"])
    if spec.get("source_provider"):
        source_columns = None
        project, dataset, table_id = source.split(".")
        if spec["source_provider"] in ("aws", "azure") and project == context.project:
            # A CUR 1.0 or 2.0 export: the cost column's name depends on which; optional
            # commitment columns may be absent.
            if source not in columns:
                found = context.warehouse.table_columns(dataset, table_id)
                columns[source] = [c.name for c in found]
            source_columns = columns[source]
        total_expr = source_amortized_total_expr if name == "amortized_total" else source_total_expr
        source_expr = total_expr(spec["source_provider"], source_columns=source_columns)
    else:
        source_column = name_check("column", context.render(spec["source_column"]))
        # Loads keep every column as STRING; cast in SQL so any column sums (a number too).
        source_expr = f"SAFE_CAST(TRIM(CAST(`{source_column}` AS STRING)) AS NUMERIC)"
    tolerance = decimal.Decimal(str(spec.get("tolerance", DEFAULT_TOLERANCE)))
    return _TotalPlan(name, column, source, source_expr, tolerance)
