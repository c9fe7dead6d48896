"""``focus.anomalies``: flag daily cost spikes per series of a FOCUS table, in the warehouse."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from focus.anomalies import (
    ANOMALIES,
    ANOMALY_COLUMNS,
    COST_COLUMNS,
    Method,
    detection_params,
    detection_sql,
    last_day_sql,
)
from focus.model import CHARGE_CATEGORIES
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_choice,
    check_table_template,
    require_str,
)
from tenants.selectors import provider_anomaly_settings

# Ranges for the numeric options: (type, minimum, maximum).
NUMBERS: dict[str, tuple[type, float, float]] = {
    "history_weeks": (int, 2, 52),
    "min_baseline_days": (int, 2, 52),
    "detect_days": (int, 1, 366),
    "z_threshold": (float, 0.5, 100),
    "min_absolute": (float, 0, 1e12),
    "min_relative": (float, 0, 1000),
    "scale_floor": (float, 0, 10),
    "top_contributors": (int, 1, 20),
}
# A tag key travels as a query parameter; this only keeps it a plausible tag key.
TAG_KEY = re.compile(r"\A[\w .:/=+\-@]{1,128}\Z")
# What a tenant may set for itself, per provider, in its provider config's settings:
# "anomaly_<option>": "<value>" (strings, as every setting; a list is comma-separated).
TENANT_OPTIONS = (*NUMBERS, "cost_column", "tag_key", "charge_categories")
TENANT_PREFIX = "anomaly_"


def tenant_options(settings: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The anomaly options among a provider config's settings, typed, and the problems with
    them, each naming its setting (``settings.anomaly_z_threshold: ...``)."""
    options: dict[str, Any] = {}
    errors: list[str] = []
    for key, raw in sorted(settings.items()):
        if not key.startswith(TENANT_PREFIX):
            continue
        name = key.removeprefix(TENANT_PREFIX)
        if name not in TENANT_OPTIONS:
            known = ", ".join(TENANT_PREFIX + o for o in TENANT_OPTIONS)
            errors.append(f"settings.{key}: not an anomaly option (one of {known})")
        elif name in NUMBERS:
            kind = NUMBERS[name][0]
            try:
                options[name] = kind(str(raw).strip())
            except ValueError:
                what = "a number" if kind is float else "an integer"
                errors.append(f"settings.{key}: must be {what}")
        elif name == "charge_categories":
            options[name] = [c.strip() for c in str(raw).split(",") if c.strip()]
        else:
            options[name] = str(raw).strip()
    if not errors:
        checked = FocusAnomalies.validate({"table": "focus", **options})
        errors = [f"settings.{TENANT_PREFIX}{problem}" for problem in checked]
    return options, errors


class FocusAnomalies(Processor):
    ps_type: ClassVar[str] = "focus.anomalies"
    fields: ClassVar[frozenset[str]] = frozenset(
        {"table", "cost_column", "tag_key", "charge_categories", *NUMBERS}
    )

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        check_table_template(require_str(step, "table", errors), "table", errors, bare=True)
        check_choice(step.get("cost_column", "BilledCost"), "cost_column", COST_COLUMNS, errors)
        for name, (kind, low, high) in NUMBERS.items():
            value = step.get(name)
            if value is None:
                continue
            allowed = int | float if kind is float else int
            if isinstance(value, bool) or not isinstance(value, allowed):
                errors.append(f"{name}: must be {'a number' if kind is float else 'an integer'}")
            elif not low <= value <= high:
                errors.append(f"{name}: must be between {low:g} and {high:g}")
        tag_key = step.get("tag_key")
        if tag_key is not None and not (isinstance(tag_key, str) and TAG_KEY.match(tag_key)):
            errors.append("tag_key: must be a tag key (letters, digits, _ .:/=+-@ and spaces)")
        categories = step.get("charge_categories")
        if categories is not None:
            if not isinstance(categories, list | tuple) or not categories:
                errors.append("charge_categories: must be a non-empty list")
            else:
                for category in categories:
                    check_choice(
                        category, "charge_categories", tuple(sorted(CHARGE_CATEGORIES)), errors
                    )
        weeks, least = step.get("history_weeks", 8), step.get("min_baseline_days", 4)
        if isinstance(weeks, int) and isinstance(least, int) and least > weeks:
            errors.append("min_baseline_days: cannot exceed history_weeks")
        return errors

    def method(self, overrides: Mapping[str, Any] | None = None) -> Method:
        """The step's options, with the tenant's ``overrides`` over the config's."""
        spec = {**self.step.options, **(overrides or {})}
        values = {name: spec[name] for name in NUMBERS if spec.get(name) is not None}
        if spec.get("cost_column"):
            values["cost_column"] = spec["cost_column"]
        if spec.get("tag_key"):
            values["tag_key"] = spec["tag_key"]
        if spec.get("charge_categories"):
            values["charge_categories"] = tuple(spec["charge_categories"])
        return dataclasses.replace(Method(), **values)

    def tenant_overrides(self, context: StepContext) -> dict[str, Any]:
        """The options the tenant set in this pipeline's provider config (none without one)."""
        if not context.provider:
            return {}

        settings = provider_anomaly_settings(tenant_id=context.tenant_id, provider=context.provider)
        overrides, errors = tenant_options(settings)
        # Checked when stored; checked again against this config's own options.
        errors = errors or [
            f"settings.{TENANT_PREFIX}{problem}"
            for problem in self.validate({**self.step.options, **overrides})
        ]
        if errors:
            raise StepFailed(
                f"The {context.provider} provider config's anomaly settings are invalid: "
                + "; ".join(errors)
            )
        return overrides

    def run(self, context: StepContext) -> StepResult:
        overrides = self.tenant_overrides(context)
        method = self.method(overrides)
        table_id = context.table_in_dataset(self.step.options["table"])
        source = context.table(table_id)
        target = context.table(ANOMALIES)
        wh = context.warehouse
        if table_id not in wh.tables_list(context.dataset_id):
            return StepResult(details={"table": table_id, "skipped": "no FOCUS table yet"})
        last_day = wh.query(last_day_sql(source)).rows[0]["last_day"]
        if last_day is None:
            return StepResult(details={"table": table_id, "skipped": "no charges"})
        wh.table_create(context.dataset_id, ANOMALIES, ANOMALY_COLUMNS)
        result = wh.query(
            detection_sql(method, source=source, target=target),
            detection_params(method, last_day, context.run_id),
        )
        window_start = last_day - dt.timedelta(days=method.detect_days - 1)
        found = wh.query(
            f"SELECT COUNT(*) AS n FROM `{target}` "
            "WHERE pipeline_logging_id = @run_id AND day BETWEEN @start AND @end",
            {"run_id": context.run_id, "start": window_start, "end": last_day},
        ).rows[0]["n"]
        return StepResult(
            rows_processed=result.rows_affected or 0,
            bytes_processed=result.bytes_processed,
            details={
                "table": table_id,
                "last_day": last_day.isoformat(),
                "anomalies_in_window": found,
                **({"tenant_options": overrides} if overrides else {}),
            },
        )
