"""The warehouse adapter against a real BigQuery emulator, through the real client."""

import datetime as dt
import decimal
import gzip

import pytest

from warehouse.bigquery import (
    Column,
    WarehouseBadRequest,
    WarehouseNotFound,
)

COST_COLUMNS = [
    Column("id", "STRING", "REQUIRED"),
    Column("day", "DATE"),
    Column("cost", "NUMERIC"),
    Column("labels", "JSON"),
]


def test_dataset_lifecycle(warehouse):
    """A dataset can be created, found, and dropped with its contents."""
    warehouse.dataset_create("lifecycle_ds")
    warehouse.table_create("lifecycle_ds", "t", COST_COLUMNS)
    assert warehouse.dataset_exists("lifecycle_ds")
    warehouse.dataset_delete("lifecycle_ds")
    assert not warehouse.dataset_exists("lifecycle_ds")


def test_table_with_schema(warehouse, scratch_dataset):
    """A table keeps the schema it was created with."""
    warehouse.table_create(scratch_dataset, "costs", COST_COLUMNS)
    columns = warehouse.table_columns(scratch_dataset, "costs")
    assert [(c.name, c.type, c.mode) for c in columns] == [
        ("id", "STRING", "REQUIRED"),
        ("day", "DATE", "NULLABLE"),
        ("cost", "NUMERIC", "NULLABLE"),
        ("labels", "JSON", "NULLABLE"),
    ]
    assert warehouse.tables_list(scratch_dataset) == ["costs"]


def test_streamed_rows_and_parameterized_query(warehouse, scratch_dataset):
    """Streamed rows are readable with typed named parameters, never spliced SQL."""
    warehouse.table_create(scratch_dataset, "costs", COST_COLUMNS)
    inserted = warehouse.insert_rows(
        scratch_dataset,
        "costs",
        [
            {"id": "a", "day": dt.date(2024, 1, 1), "cost": decimal.Decimal("1.25"), "labels": {}},
            {"id": "b", "day": dt.date(2024, 1, 2), "cost": decimal.Decimal("2.50")},
            {"id": "c'; DROP TABLE x; --", "day": dt.date(2024, 1, 2), "cost": 1},
        ],
    )
    assert inserted == 3
    result = warehouse.query(
        f"SELECT id, cost FROM {warehouse.quoted(scratch_dataset, 'costs')} "
        "WHERE day = @day AND id IN UNNEST(@ids) ORDER BY id",
        {"day": dt.date(2024, 1, 2), "ids": ["b", "c'; DROP TABLE x; --"]},
    )
    assert [r["id"] for r in result.rows] == ["b", "c'; DROP TABLE x; --"]
    assert result.rows[0]["cost"] == decimal.Decimal("2.5")


def test_ctas_and_merge(warehouse, scratch_dataset):
    """CREATE TABLE AS SELECT and MERGE write tables and report affected rows."""
    warehouse.table_create(scratch_dataset, "costs", COST_COLUMNS)
    warehouse.insert_rows(
        scratch_dataset, "costs", [{"id": "a", "cost": 1}, {"id": "b", "cost": 2}]
    )
    target = warehouse.quoted(scratch_dataset, "totals")
    warehouse.query(
        f"CREATE OR REPLACE TABLE {target} AS "
        f"SELECT id, cost * 10 AS total FROM {warehouse.quoted(scratch_dataset, 'costs')}"
    )
    merged = warehouse.query(
        f"MERGE {target} T USING (SELECT 'a' AS id, 5 AS total UNION ALL SELECT 'z', 7) S "
        "ON T.id = S.id WHEN MATCHED THEN UPDATE SET total = S.total "
        "WHEN NOT MATCHED THEN INSERT (id, total) VALUES (S.id, S.total)"
    )
    assert merged.rows_affected == 2
    rows = warehouse.query(f"SELECT id, total FROM {target} ORDER BY id").rows
    assert [(r["id"], int(r["total"])) for r in rows] == [("a", 5), ("b", 20), ("z", 7)]


def test_view(warehouse, scratch_dataset):
    """A view reads through to its table and can be replaced."""
    warehouse.table_create(scratch_dataset, "costs", COST_COLUMNS)
    warehouse.insert_rows(scratch_dataset, "costs", [{"id": "a", "cost": 3}])
    source = warehouse.quoted(scratch_dataset, "costs")
    warehouse.view_create(scratch_dataset, "v", f"SELECT id FROM {source}")
    warehouse.view_create(scratch_dataset, "v", f"SELECT id, cost FROM {source}")
    rows = warehouse.query(f"SELECT * FROM {warehouse.quoted(scratch_dataset, 'v')}").rows
    assert rows == [{"id": "a", "cost": decimal.Decimal("3")}]


def test_file_load_gzip_csv(warehouse, scratch_dataset, tmp_path):
    """A gzip CSV file loads with an explicit schema; overwrite replaces, append adds."""
    path = tmp_path / "costs.csv.gz"
    path.write_bytes(gzip.compress(b"id,day,cost\nx,2024-02-01,1.5\ny,2024-02-02,2.5\n"))
    columns = [Column("id", "STRING"), Column("day", "DATE"), Column("cost", "NUMERIC")]
    loaded = warehouse.load_file(path, scratch_dataset, "loaded", columns=columns)
    assert loaded.rows_loaded == 2
    warehouse.load_file(path, scratch_dataset, "loaded", columns=columns, write_mode="append")
    warehouse.load_file(path, scratch_dataset, "loaded", columns=columns, write_mode="overwrite")
    table = warehouse.quoted(scratch_dataset, "loaded")
    rows = warehouse.query(f"SELECT COUNT(*) AS n, SUM(cost) AS total FROM {table}").rows
    assert rows == [{"n": 2, "total": decimal.Decimal("4")}]


def test_file_load_parquet(warehouse, scratch_dataset, tmp_path):
    """A Parquet file loads as Parquet: its own column types, 9-decimal NUMERIC kept."""
    import duckdb

    path = tmp_path / "costs.parquet"
    conn = duckdb.connect()
    conn.execute(
        "COPY (SELECT * FROM (VALUES ('x', DATE '2024-02-01', 1.000000001::DECIMAL(38, 9)),"
        " ('y', DATE '2024-02-02', 2.5::DECIMAL(38, 9))) AS t(id, day, cost))"
        f" TO '{path}' (FORMAT PARQUET)"
    )
    conn.close()
    loaded = warehouse.load_file(path, scratch_dataset, "parquet", source_format="PARQUET")
    assert loaded.rows_loaded == 2
    assert warehouse.table_columns(scratch_dataset, "parquet") == [
        Column("id", "STRING"),
        Column("day", "DATE"),
        Column("cost", "NUMERIC"),
    ]
    table = warehouse.quoted(scratch_dataset, "parquet")
    rows = warehouse.query(f"SELECT id, day, cost FROM {table} ORDER BY id").rows
    assert rows == [
        {"id": "x", "day": dt.date(2024, 2, 1), "cost": decimal.Decimal("1.000000001")},
        {"id": "y", "day": dt.date(2024, 2, 2), "cost": decimal.Decimal("2.5")},
    ]


def test_file_load_parquet_map_as_repeated_key_value_record(warehouse, scratch_dataset, tmp_path):
    """A Parquet MAP column (CUR 2.0's resource_tags) loads as a repeated record of key and
    value (the load asks mapTargetType ARRAY_OF_STRUCT), readable with UNNEST."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "tags.parquet"
    tags = pa.array([[("team", "web"), ("env", "prod")], []], pa.map_(pa.string(), pa.string()))
    pq.write_table(pa.table({"id": ["x", "y"], "resource_tags": tags}), path)
    warehouse.load_file(path, scratch_dataset, "tags", source_format="PARQUET")
    assert warehouse.table_columns(scratch_dataset, "tags") == [
        Column("id", "STRING"),
        Column("resource_tags", "RECORD", "REPEATED"),
    ]
    table = warehouse.quoted(scratch_dataset, "tags")
    rows = warehouse.query(
        f"SELECT id, (SELECT STRING_AGG(CONCAT(t.key, '=', t.value), ',' ORDER BY t.key) "
        f"FROM UNNEST(resource_tags) AS t) AS tags FROM {table} ORDER BY id"
    ).rows
    assert rows == [{"id": "x", "tags": "env=prod,team=web"}, {"id": "y", "tags": None}]
    with pytest.raises(ValueError, match="no fields"):
        Column("resource_tags", "RECORD", "REPEATED").to_bigquery()


def test_file_load_streams_a_file_in_chunks(warehouse, scratch_dataset, tmp_path, monkeypatch):
    """A file larger than one upload chunk arrives whole, chunk by chunk (gzip and plain)."""
    from google.cloud.bigquery import client as bigquery_client

    # 256 KiB chunks (the client's minimum granularity) instead of 100 MiB, so a file of a
    # few MB crosses many chunk boundaries.
    monkeypatch.setattr(bigquery_client, "_DEFAULT_CHUNKSIZE", 256 * 1024)
    lines = b"".join(b"row-%07d,%d.000000001\n" % (i, i % 7) for i in range(300_000))
    plain = tmp_path / "big.csv"
    plain.write_bytes(b"id,cost\n" + lines)
    packed = tmp_path / "big.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    columns = [Column("id", "STRING"), Column("cost", "NUMERIC")]
    for path in (plain, packed):
        assert plain.stat().st_size > 20 * 256 * 1024
        loaded = warehouse.load_file(
            path, scratch_dataset, path.name.replace(".", "_"), columns=columns
        )
        assert loaded.rows_loaded == 300_000
        table = warehouse.quoted(scratch_dataset, path.name.replace(".", "_"))
        rows = warehouse.query(
            f"SELECT COUNT(DISTINCT id) AS n, SUM(cost) AS total FROM {table}"
        ).rows
        expected = sum(i % 7 for i in range(300_000)) + decimal.Decimal("0.000300000")
        assert rows == [{"n": 300_000, "total": expected}]


def test_not_found_is_mapped(warehouse, scratch_dataset):
    """A missing table surfaces as the project's WarehouseNotFound, naming it."""
    with pytest.raises(WarehouseNotFound, match="nope"):
        warehouse.table_columns(scratch_dataset, "nope")
    assert not warehouse.table_exists(scratch_dataset, "nope")


def test_bad_sql_is_mapped(warehouse):
    """Invalid SQL surfaces as WarehouseBadRequest with the warehouse's message."""
    with pytest.raises(WarehouseBadRequest, match=r"(?i)syntax"):
        warehouse.query("SELEC 1")


def test_malformed_row_refused_before_the_call(warehouse, scratch_dataset):
    """Rows with unknown or missing required columns are refused at once, not retried."""
    warehouse.table_create(scratch_dataset, "costs", COST_COLUMNS)
    with pytest.raises(WarehouseBadRequest, match="unknown columns bogus"):
        warehouse.insert_rows(scratch_dataset, "costs", [{"id": "a", "bogus": 1}])
    with pytest.raises(WarehouseBadRequest, match="lacks required columns id"):
        warehouse.insert_rows(scratch_dataset, "costs", [{"cost": 1}])
    assert warehouse.query(
        f"SELECT COUNT(*) AS n FROM {warehouse.quoted(scratch_dataset, 'costs')}"
    ).rows == [{"n": 0}]


def test_missing_file_is_not_found(warehouse, scratch_dataset, tmp_path):
    """Loading a file that is not there names the file."""
    with pytest.raises(WarehouseNotFound, match=r"missing\.csv"):
        warehouse.load_file(tmp_path / "missing.csv", scratch_dataset, "x")


def test_overwrite_load_takes_the_new_files_columns(warehouse, scratch_dataset, tmp_path):
    """An export that gained a column overwrites the table with the new schema (a CUR adds
    columns over time)."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("a,b\n1,2\n")
    second.write_text("a,b,c\n1,2,3\n4,5,6\n")
    for path, names in ((first, "ab"), (second, "abc")):
        result = warehouse.load_file(
            path,
            scratch_dataset,
            "raw",
            columns=[Column(n, "STRING") for n in names],
            write_mode="overwrite",
        )
    assert result.rows_loaded == 2
    assert [c.name for c in warehouse.table_columns(scratch_dataset, "raw")] == ["a", "b", "c"]
