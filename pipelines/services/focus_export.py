"""Export a tenant's FOCUS table from the warehouse to a Parquet file, names as stored."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.bigquery import Column, Warehouse, tenant_dataset_id

# NUMERIC goes out as DOUBLE: the FOCUS validator's Decimal type check accepts DOUBLE and
# FLOAT only (DuckDB reports a Parquet decimal as "DECIMAL(38,9)", which it does not list).
# JSON goes out as its text, the FOCUS KeyValueFormat.
ARROW_TYPES = {
    "STRING": pa.string(),
    "JSON": pa.string(),
    "NUMERIC": pa.float64(),
    "BIGNUMERIC": pa.float64(),
    "FLOAT64": pa.float64(),
    "INT64": pa.int64(),
    "BOOL": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    "DATETIME": pa.timestamp("us"),
}


def _value(column: Column, value):
    if value is None:
        return None
    if column.type == "JSON":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if column.type in ("NUMERIC", "BIGNUMERIC"):
        return float(value)
    return value


def focus_table_export(
    *, warehouse: Warehouse, tenant_id: str, table: str, path: Path, dataset_id: str | None = None
) -> tuple[int, list[str]]:
    """Write ``table`` of the tenant's dataset (or of ``dataset_id``, a scratch dataset) to
    ``path`` as Parquet; rows and column names."""
    dataset_id = dataset_id or tenant_dataset_id(tenant_id)
    columns, rows = warehouse.table_rows(dataset_id, table)
    schema = pa.schema([pa.field(c.name, ARROW_TYPES.get(c.type, pa.string())) for c in columns])
    arrays = {c.name: [_value(c, row.get(c.name)) for row in rows] for c in columns}
    pq.write_table(pa.table(arrays, schema=schema), path)
    return len(rows), [c.name for c in columns]
