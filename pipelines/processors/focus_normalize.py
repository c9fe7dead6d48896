"""``focus.normalize``: turn a raw provider export table into a FOCUS table, in the warehouse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from focus.model import (
    FOCUS_CLUSTER_BY,
    FOCUS_PARTITION_DAY,
    PROVIDERS,
    FocusSourceError,
    focus_table_columns,
)
from focus.normalize import focus_sql
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_choice,
    check_destination,
    check_table_template,
    require_str,
)
from tenants.selectors import provider_account_names
from warehouse.bigquery import RECORD


class FocusNormalize(Processor):
    ps_type: ClassVar[str] = "focus.normalize"
    fields: ClassVar[frozenset[str]] = frozenset({"provider", "source", "destination"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        check_choice(step.get("provider"), "provider", PROVIDERS, errors)
        table = require_str(step, "source.table", errors)
        check_table_template(table, "source.table", errors, bare=False)
        check_destination(step, errors, modes=("overwrite",))
        return errors

    def run(self, context: StepContext) -> StepResult:

        spec = self.step.options
        provider = spec["provider"]
        source = context.table(spec["source"]["table"])
        table_id = context.table_in_dataset(spec["destination"]["table"])
        destination = context.table(table_id)
        project, source_dataset, source_table = source.split(".")
        # The raw table's columns tell its variant (focus/variants.py): a CSV's optional
        # columns, a CUR 2.0 Parquet file's maps, GCP's standard or detailed export (its
        # schema, nested columns by their top-level name). A table of no variant is refused
        # here, before any SQL runs, naming what it lacked.
        found = context.warehouse.table_columns(source_dataset, source_table, project=project)
        columns = [c.name for c in found]
        # A Parquet map loads as a repeated key/value record (warehouse.load_file).
        map_columns = frozenset(c.name for c in found if c.type == RECORD and c.mode == "REPEATED")
        names = provider_account_names(tenant_id=context.tenant_id, provider=provider)
        try:
            sql = focus_sql(
                provider,
                source=source,
                destination=destination,
                source_columns=columns,
                account_names=bool(names),
                map_columns=map_columns,
            )
        except FocusSourceError as exc:
            raise StepFailed(str(exc)) from exc
        params = {"account_ids": list(names), "account_names": list(names.values())}
        # Created with its schema first: FOCUS names and types exactly (a CTAS would leave
        # them to the engine, and the emulator lower-cases names and types JSON as STRING).
        context.warehouse.table_create(
            context.dataset_id,
            table_id,
            focus_table_columns(provider),
            replace=True,
            partition_day=FOCUS_PARTITION_DAY,
            cluster_by=FOCUS_CLUSTER_BY,
        )
        result = context.warehouse.query(sql, params if names else None)
        quoted = context.warehouse.quoted(context.dataset_id, table_id)
        count = context.warehouse.query(f"SELECT COUNT(*) AS n FROM {quoted}").rows[0]["n"]
        return StepResult(
            rows_processed=count,
            bytes_processed=result.bytes_processed,
            details={"table": table_id, "provider": provider},
        )
