"""The FOCUS rows of a range from every FOCUS table of a tenant, as one CSV or Parquet file
written while the rows are read (an export is never whole in memory)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from costs.query import range_check
from costs.selectors import focus_sources_present
from focus.model import FOCUS_COLUMNS, FOCUS_PARTITION_DAY
from warehouse.tenant import tenant_warehouse

FORMATS = ("csv", "parquet")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
PAGE_ROWS = 10_000

_ARROW_TYPES = {
    "STRING": pa.string(),
    "JSON": pa.string(),
    "NUMERIC": pa.decimal128(38, 9),
    "FLOAT64": pa.float64(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
}
ARROW_SCHEMA = pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in FOCUS_COLUMNS])
_JSON_COLUMNS = tuple(c.name for c in FOCUS_COLUMNS if c.type == "JSON")


def export_statement(tables: list[str], start: date, end: date) -> tuple[str, dict]:
    """Every FOCUS column of each table's rows charged from ``start`` to ``end``; each branch
    reads only the range's partitions."""
    columns = ", ".join(c.name for c in FOCUS_COLUMNS)
    sql = "\nUNION ALL\n".join(
        f"SELECT {columns} FROM {table} WHERE {FOCUS_PARTITION_DAY} >= TIMESTAMP(@start) "
        f"AND {FOCUS_PARTITION_DAY} < TIMESTAMP(@end_next)"
        for table in tables
    )
    return sql, {"start": start, "end_next": end + timedelta(days=1)}


def _json_text(row: dict) -> dict:
    for name in _JSON_COLUMNS:
        if row.get(name) is not None and not isinstance(row[name], str):
            row[name] = json.dumps(row[name], separators=(",", ":"), sort_keys=True)
    return row


def _csv_value(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _csv(pages: Iterator[list[dict]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in FOCUS_COLUMNS])
    for page in pages:
        for row in page:
            row = _json_text(row)
            writer.writerow([_csv_value(row.get(c.name)) for c in FOCUS_COLUMNS])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


class _Chunks:
    """A write-only file for pyarrow that hands back what was written since last asked."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _parquet(pages: Iterator[list[dict]]) -> Iterator[bytes]:
    sink = _Chunks()
    with pq.ParquetWriter(sink, ARROW_SCHEMA) as writer:
        for page in pages:
            rows = [_json_text(row) for row in page]
            columns = {c.name: [row.get(c.name) for row in rows] for c in FOCUS_COLUMNS}
            writer.write_table(pa.table(columns, schema=ARROW_SCHEMA))
            yield sink.take()
    yield sink.take()


def tenant_focus_export(*, tenant_id: str, start: date, end: date, file_format: str):
    """The export as chunks of bytes, once the warehouse has run the query (so a refusal is
    raised here, before anything is sent). Same range rule as the cost answers."""
    range_check(start, end)
    warehouse = tenant_warehouse(tenant_id=tenant_id)
    tables = [
        warehouse.quoted(warehouse.dataset_id, table)
        for _, table in focus_sources_present(tenant_id=tenant_id, warehouse=warehouse)
    ]
    pages: Iterator[list[dict]] = iter(())
    if tables:
        sql, params = export_statement(tables, start, end)
        pages = warehouse.query_pages(sql, params, page_size=PAGE_ROWS)
    return (_csv if file_format == "csv" else _parquet)(pages)
