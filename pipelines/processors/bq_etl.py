"""``gcp.bq_etl``: run a SQL query in the warehouse and write its result to a tenant table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_destination,
    require_str,
)
from warehouse.sql_identifiers import name_check, query_parameters


class BqEtl(Processor):
    ps_type: ClassVar[str] = "gcp.bq_etl"
    fields: ClassVar[frozenset[str]] = frozenset({"source", "destination"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        query = require_str(step, "source.query", errors)
        if query is not None and ";" in query.rstrip().rstrip(";"):
            errors.append("source.query: one statement only")
        check_destination(step, errors)
        return errors

    def run(self, context: StepContext) -> StepResult:
        spec = self.step.options
        sql = context.render(spec["source"]["query"]).rstrip().rstrip(";")
        destination = spec["destination"]
        table_id = context.table_in_dataset(destination["table"])
        target = context.warehouse.quoted(context.dataset_id, table_id)
        params = _query_params(sql, context.params)
        mode = destination.get("write_mode", "append")
        # tables_list: whether the table is there needs no read of its schema (a copied
        # billing export's is deeply nested).
        exists = mode != "overwrite" and table_id in context.warehouse.tables_list(
            context.dataset_id
        )
        if mode == "overwrite" or not exists:
            statement = f"CREATE OR REPLACE TABLE {target} AS\n{sql}"
        elif mode == "append":
            statement = f"INSERT INTO {target}\nSELECT * FROM (\n{sql}\n)"
        else:
            columns = [
                name_check("column", c.name)
                for c in context.warehouse.table_columns(context.dataset_id, table_id)
            ]
            keys = [context.render(k) for k in destination["merge_keys"]]
            statement = _merge_sql(target, sql, columns, [name_check("merge key", k) for k in keys])
        result = context.warehouse.query(statement, params)
        rows = result.rows_affected
        if rows is None:
            count = context.warehouse.query(f"SELECT COUNT(*) AS n FROM {target}").rows
            rows = count[0]["n"] if count else 0
        return StepResult(
            rows_processed=rows,
            bytes_processed=result.bytes_processed,
            details={"table": table_id, "write_mode": mode, "job_id": result.job_id},
        )


def _query_params(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The run parameters the statement references; a reference to a missing one fails."""
    wanted = query_parameters(sql)
    missing = sorted(wanted - set(params))
    if missing:
        raise StepFailed(f"query uses parameters with no value: {', '.join(missing)}")
    return {name: params[name] for name in sorted(wanted)}


def _merge_sql(target: str, sql: str, columns: list[str], keys: list[str]) -> str:
    lowered = {c.lower() for c in columns}
    missing = [k for k in keys if k.lower() not in lowered]
    if missing:
        raise StepFailed(f"merge keys not in the destination table: {', '.join(missing)}")
    key_set = {k.lower() for k in keys}
    on = " AND ".join(f"T.{k} = S.{k}" for k in keys)
    updates = ", ".join(f"{c} = S.{c}" for c in columns if c.lower() not in key_set)
    inserted = ", ".join(columns)
    values = ", ".join(f"S.{c}" for c in columns)
    matched = f"WHEN MATCHED THEN UPDATE SET {updates} " if updates else ""
    return (
        f"MERGE {target} AS T USING (\n{sql}\n) AS S ON {on} "
        f"{matched}WHEN NOT MATCHED THEN INSERT ({inserted}) VALUES ({values})"
    )
