"""``focus.map``: a raw table to a FOCUS table by a declarative FOCUS mapping (mappings app)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from focus.model import FOCUS_CLUSTER_BY, FOCUS_PARTITION_DAY, FocusSourceError
from focus.normalize import source_variant
from mappings.format import MappingInvalid
from mappings.selectors import mapping_spec_for_tenant
from mappings.sql import MappingSourceError, mapping_sql, mapping_table_columns
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_destination,
    check_table_template,
    require_str,
)
from warehouse.sql_identifiers import name_check


class FocusMap(Processor):
    ps_type: ClassVar[str] = "focus.map"
    fields: ClassVar[frozenset[str]] = frozenset({"mapping", "source", "destination"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        check_table_template(require_str(step, "mapping", errors), "mapping", errors, bare=True)
        table = require_str(step, "source.table", errors)
        check_table_template(table, "source.table", errors, bare=False)
        check_destination(step, errors, modes=("overwrite",))
        return errors

    def run(self, context: StepContext) -> StepResult:

        options = self.step.options
        # Every identifier is rendered and checked before the mapping is looked up or the
        # warehouse is asked anything.
        name = name_check("mapping", context.render(options["mapping"]))
        source = context.table(options["source"]["table"])
        table_id = context.table_in_dataset(options["destination"]["table"])
        destination = context.table(table_id)
        try:
            spec = mapping_spec_for_tenant(tenant_id=context.tenant_id, name=name)
        except MappingInvalid as exc:
            raise StepFailed(f"the FOCUS mapping {name!r} is invalid: {exc}") from exc
        if spec is None:
            raise StepFailed(f"no FOCUS mapping named {name!r} for this tenant")
        project, dataset, table = source.split(".")
        columns = None
        if project == context.project:
            columns = [c.name for c in context.warehouse.table_columns(dataset, table)]
            # A mapping that reads a known export (the shipped oci) refuses another variant's
            # file naming it (an OCI FOCUS report: focus/cost/native), before any write.
            try:
                source_variant(f"{name}/cost/focus", columns)
            except FocusSourceError as exc:
                raise StepFailed(str(exc)) from exc
        try:
            sql, params = mapping_sql(
                spec, source=source, destination=destination, source_columns=columns
            )
        except (MappingSourceError, MappingInvalid) as exc:
            raise StepFailed(str(exc)) from exc
        context.warehouse.table_create(
            context.dataset_id,
            table_id,
            mapping_table_columns(spec),
            replace=True,
            partition_day=FOCUS_PARTITION_DAY,
            cluster_by=FOCUS_CLUSTER_BY,
        )
        result = context.warehouse.query(sql, params)
        quoted = context.warehouse.quoted(context.dataset_id, table_id)
        count = context.warehouse.query(f"SELECT COUNT(*) AS n FROM {quoted}").rows[0]["n"]
        return StepResult(
            rows_processed=count,
            bytes_processed=result.bytes_processed,
            details={"table": table_id, "mapping": name},
        )
