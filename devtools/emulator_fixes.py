"""Where the local emulator (bqemulator) differs from BigQuery, fixed before it starts.

Run as ``python -m devtools.emulator_fixes start ...`` (what ``emulator_start`` does): each
fix below is applied to the emulator's own modules, then its command line runs as usual.
The production SQL and client code stay as BigQuery wants them; only the stand-in bends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import contextmanager

FIXES: list[Callable[[], None]] = []


def fix(function: Callable[[], None]) -> Callable[[], None]:
    """Register a fix to apply at start-up."""
    FIXES.append(function)
    return function


_FIRST_KEYWORD = re.compile(r"(?:\s+|--[^\n]*|#[^\n]*|/\*.*?\*/)*(\w+)", re.DOTALL)


def first_keyword(sql: str) -> str | None:
    """A statement's first word after comments, upper-cased (None if it starts otherwise)."""
    found = _FIRST_KEYWORD.match(sql)
    return found.group(1).upper() if found else None


@fix
def table_resource_names_its_view_query() -> None:
    """BigQuery's table resource carries ``view.query`` (and ``materializedView.query``);
    the emulator's ``tables.get`` leaves them out, so a client cannot tell what a view reads.
    """
    from bqemulator.api.routes import tables

    original = tables._table_to_rest

    def table_to_rest(t):
        body = original(t)
        if t.view_query:
            key = "materializedView" if t.table_type == "MATERIALIZED_VIEW" else "view"
            body[key] = {"query": t.view_query, "useLegacySql": False}
        return body

    tables._table_to_rest = table_to_rest


@fix
def numeric_keeps_nine_decimals() -> None:
    """BigQuery's ``NUMERIC`` (and its alias ``DECIMAL``) without parameters is
    ``NUMERIC(38, 9)``. sqlglot parses it into a bare ``DECIMAL`` and writes that to DuckDB,
    whose bare ``DECIMAL`` is ``DECIMAL(18, 3)``: ``CAST('0.123456789' AS NUMERIC)`` kept
    0.123 and a ``NUMERIC`` column 3 decimals. The DuckDB generator gets BigQuery's default
    for a parameterless decimal (sqlglot's own per-type defaults, as it has for
    ``BIGNUMERIC``); explicit precisions are written as given.
    """
    from sqlglot import exp
    from sqlglot.dialects.duckdb import DuckDB

    generator = DuckDB.Generator
    generator.TYPE_PARAM_SETTINGS = {
        **generator.TYPE_PARAM_SETTINGS,
        exp.DType.DECIMAL: ((38, 9), (38, 38)),
    }


def _text_typed(node) -> bool:
    """Whether a DuckDB expression is text by its shape alone (no schema at hand): a string
    literal, a cast to text, a trim, or a NULLIF/COALESCE over one of those."""
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _text_typed(node.this)
    if isinstance(node, exp.Literal):
        return node.is_string
    if isinstance(node, exp.Cast):  # TryCast too
        return node.to.is_type(exp.DType.TEXT, exp.DType.VARCHAR)
    if isinstance(node, exp.Trim):
        return True
    if isinstance(node, exp.Nullif | exp.Coalesce):
        return _text_typed(node.this)
    return False


@fix
def numeric_parses_fast_where_it_fits() -> None:
    """DuckDB parses text into a 128-bit ``DECIMAL(38, 9)`` (what ``NUMERIC`` is, see
    ``numeric_keeps_nine_decimals``) some 50 to 80 times more slowly than into a 64-bit
    ``DECIMAL(18, 9)``: that parse was most of a 1 M-row FOCUS normalization. A
    ``PARSE_NUMERIC(s)``, or a ``CAST``/``SAFE_CAST`` of text to ``NUMERIC``, becomes
    ``COALESCE(TRY_CAST(s AS DECIMAL(18, 9)), CAST(s AS DECIMAL(38, 9)))``: the same parser
    at the same scale, so the same value and rounding wherever the narrow type holds it
    (|value| < 10^9); anything else (wider values, bad strings, NULL) takes the 128-bit cast
    as before, errors and all. The result is ``DECIMAL(38, 9)`` either way.

    The rule is tried before the emulator's own (whose ``PARSE_NUMERIC`` rule it replaces)
    and added to the translators already built at import (the job executor's).
    """
    from bqemulator.jobs import executor
    from bqemulator.sql import rules
    from bqemulator.sql.rules import TranslationRule
    from sqlglot import exp

    wide = "DECIMAL(38, 9)"
    narrow = exp.DataType.build("DECIMAL(18, 9)")

    def numeric(node) -> bool:
        return isinstance(node, exp.Cast) and node.to.sql(dialect="duckdb") == wide

    class NumericParsesFast(TranslationRule):
        name = "NUMERIC_PARSES_FAST"

        def applies_to(self, node) -> bool:
            if type(node).__name__ == "ParseNumeric":
                return node.this is not None
            if not numeric(node) or not _text_typed(node.this):
                return False
            # The fallback of an already rewritten parse: left as it is.
            parent = node.parent
            return not (isinstance(parent, exp.Coalesce) and node is not parent.this)

        def rewrite(self, node):
            text = node.this
            fallback = (
                exp.Cast(this=text.copy(), to=exp.DataType.build(wide))
                if type(node).__name__ == "ParseNumeric"
                else node.copy()
            )
            return exp.Coalesce(
                this=exp.TryCast(this=text.copy(), to=narrow.copy()), expressions=[fallback]
            )

    if any(rule.name == NumericParsesFast.name for rule in executor._translator._rules):
        return  # applied already (a test process may apply it twice)
    rules._REGISTRY.insert(0, NumericParsesFast)
    executor._translator._rules.insert(0, NumericParsesFast())


GZIP_MAGIC = b"\x1f\x8b"


def gzip_file(path: str) -> bool:
    """Whether a file starts with gzip's magic bytes (uploads are staged without a suffix)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


@fix
def gzip_uploads_load_as_gzip() -> None:
    """BigQuery reads a gzip CSV or JSON file sent to a load job; the emulator stages an
    upload under a name with no ``.gz`` and hands it to DuckDB, which picks compression by
    suffix and so read gzip bytes as text. Its CSV/JSON loaders now name the compression
    when the staged file is gzip; DuckDB decompresses while it reads (nothing whole in
    memory).
    """
    from bqemulator.jobs import executor

    csv_plain, json_plain = executor._load_csv, executor._load_json

    def load_csv(path, target_ref, ctx):
        if not gzip_file(path):
            return csv_plain(path, target_ref, ctx)
        ctx.engine.execute(
            f"COPY {target_ref} FROM ? (FORMAT CSV, HEADER, COMPRESSION 'gzip')", [path]
        )
        return None

    def load_json(path, target_ref, ctx):
        if not gzip_file(path):
            return json_plain(path, target_ref, ctx)
        ctx.engine.execute(f"COPY {target_ref} FROM ? (FORMAT JSON, COMPRESSION 'gzip')", [path])
        return None

    executor._load_csv = load_csv
    executor._load_json = load_json
    handlers = executor._LOAD_FORMAT_HANDLERS
    for name, handler in list(handlers.items()):
        if handler.__name__ == "_load_csv":
            handlers[name] = load_csv
        elif handler.__name__ == "_load_json":
            handlers[name] = load_json


def parquet_select(engine, path: str) -> str:
    """The select list a Parquet load reads: every column, each MAP as the list of its
    key/value structs (``map_entries``), which is how BigQuery loads a map when the load asks
    ``parquetOptions.mapTargetType = ARRAY_OF_STRUCT`` (the adapter's Parquet loads do): a
    REPEATED RECORD of ``key`` and ``value``."""
    described = engine.execute("SELECT * FROM read_parquet(?) LIMIT 0", [path]).description
    maps = [name for name, kind, *_ in described if str(kind).upper().startswith("MAP(")]
    if not maps:
        return "*"
    quoted = ", ".join(f'map_entries("{name}") AS "{name}"' for name in maps)
    return f"* REPLACE ({quoted})"


@fix
def parquet_loads_create_their_table() -> None:
    """BigQuery creates a load job's missing destination from a Parquet file's own schema;
    the emulator creates it only from an explicit schema or CSV/JSON autodetection, so a
    Parquet load into a new table failed with "table does not exist". The file's columns are
    read (no rows) and passed on as the explicit schema the emulator already handles.

    A Parquet MAP column (a CUR 2.0 export's ``resource_tags``, ``product``) had no BigQuery
    type in the emulator ("Unmappable DuckDB type"); it now loads as BigQuery loads it with
    ``mapTargetType = ARRAY_OF_STRUCT``: a REPEATED RECORD of ``key`` and ``value``.
    """
    from bqemulator.jobs import executor
    from bqemulator.storage.type_map import duckdb_type_to_bq_field

    original = executor._maybe_create_load_destination

    def create_destination(*, load_config, ctx, **kwargs):
        fields = (load_config.get("schema") or {}).get("fields")
        sources = load_config.get("sourceUris") or []
        if load_config.get("sourceFormat", "").upper() == "PARQUET" and not fields and sources:
            path = executor._resolve_uri(sources[0], ctx)
            executor._validate_local_path(path)
            select = parquet_select(ctx.engine, path)
            result = ctx.engine.execute(f"SELECT {select} FROM read_parquet(?) LIMIT 0", [path])
            fields = [
                duckdb_type_to_bq_field(name, str(kind)) for name, kind, *_ in result.description
            ]
            load_config = {**load_config, "schema": {"fields": fields}}
        return original(load_config=load_config, ctx=ctx, **kwargs)

    def load_parquet(path, target_ref, ctx):
        select = parquet_select(ctx.engine, path)
        ctx.engine.execute(f"INSERT INTO {target_ref} SELECT {select} FROM read_parquet(?)", [path])

    executor._maybe_create_load_destination = create_destination
    executor._load_parquet = load_parquet
    executor._LOAD_FORMAT_HANDLERS["PARQUET"] = load_parquet


@fix
def multipart_uploads_of_any_media_type() -> None:
    """google-cloud-bigquery sends a file of under 5 MB with a known size as one multipart
    upload whose media part is ``*/*``; BigQuery takes it, the emulator's whitelist of media
    types refused it.
    """
    from bqemulator.api.routes import upload

    original = upload._is_permitted_media_type

    def permitted(media_ct: str) -> bool:
        return media_ct == "*/*" or original(media_ct)

    upload._is_permitted_media_type = permitted


#: BigQuery's own limit for one load job's files (the emulator's default is 1 GiB).
BIGQUERY_LOAD_BYTES = 5 * 1024**4


@fix
def uploads_as_large_as_bigquery_takes() -> None:
    """The emulator refuses an upload over ``BQEMU_UPLOAD_MAX_BYTES`` (1 GiB by default, at
    most 10 GiB), so a local CUR file of more than about 1.3 M uncompressed rows failed. The
    upload is staged on disk chunk by chunk, never whole in memory, so the cap only guards
    disk space; it becomes BigQuery's own 5 TiB.
    """
    from bqemulator.jobs import upload_session_manager

    manager = upload_session_manager.UploadSessionManager
    original = manager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._max_bytes = max(self._max_bytes, BIGQUERY_LOAD_BYTES)

    manager.__init__ = init


@fix
def ephemeral_tables_kept_on_disk_on_request() -> None:
    """``EMULATOR_EPHEMERAL_STORE=file``: the ephemeral emulator keeps its tables in a DuckDB
    file in a temporary directory (removed when it stops), compressed as they are written,
    instead of DuckDB's in-memory database. Off by default: measured side by side on the
    1 M-row CUR run, the file cost more than the in-memory database under the same memory
    cap (load 6.3 s against 3.3-3.7, focus.normalize 7.8 s against 4.9-5.1, peak RSS
    1,015 MB against 955-966 MB; docs/benchmarks.md), where DuckDB evicts what does not fit
    to its spill directory. Persistent mode is file-backed either way.
    """
    import atexit
    import os
    import shutil
    import tempfile
    from pathlib import Path

    if os.environ.get("EMULATOR_EPHEMERAL_STORE", "").strip().lower() != "file":
        return
    from bqemulator.config import PersistenceMode
    from bqemulator.storage import engine

    original = engine.DuckDBEngine._resolve_path

    def resolve_path(self):
        if self._settings.persistence_mode is not PersistenceMode.EPHEMERAL:
            return original(self)
        directory = tempfile.mkdtemp(prefix="bqemulator-ephemeral-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        return str(Path(directory) / "ephemeral.duckdb")

    engine.DuckDBEngine._resolve_path = resolve_path


@fix
def ddl_detectors_read_only_the_first_keyword() -> None:
    """After each query the emulator asks five detectors whether it was a ``CREATE`` or a
    ``DROP`` (of a table, view, schema or routine), and each parsed the whole statement
    with sqlglot to find out: about 40 ms apiece for a FOCUS ``INSERT`` of 30,000
    characters, so a fifth of a second per statement spent learning that an ``INSERT`` is
    no ``CREATE``. A detector now parses only a statement whose first keyword (after
    comments) is the one it looks for; any other gets the detector's own "not this kind"
    answer at once, as the parse would have given it.
    """
    from bqemulator.catalog import ddl_sync
    from bqemulator.jobs import executor, routine_ddl

    def only_for(keyword: str, detect, *, otherwise=None):
        def detector(bq_sql, *args, **kwargs):
            found = first_keyword(bq_sql)
            if found is not None and found != keyword:
                return otherwise
            return detect(bq_sql, *args, **kwargs)

        return detector

    ddl_sync._detect_catalog_drop = only_for("DROP", ddl_sync._detect_catalog_drop)
    ddl_sync._detect_create_schema = only_for("CREATE", ddl_sync._detect_create_schema)
    ddl_sync._detect_plain_create_table = only_for("CREATE", ddl_sync._detect_plain_create_table)
    ddl_sync._detect_plain_create_view = only_for(
        "CREATE", ddl_sync._detect_plain_create_view, otherwise=(None, None)
    )
    routine_ddl.detect_drop_routine = executor.detect_drop_routine = only_for(
        "DROP", routine_ddl.detect_drop_routine
    )


@fix
def writes_keep_no_row_order() -> None:
    """A BigQuery table has no row order: a load job or an ``INSERT ... SELECT`` promises
    none, and only ``ORDER BY`` orders a result. DuckDB by default keeps the order rows
    were read in when it stores them, which costs a reordering pass, and under the memory
    cap buffering too (the 1 M-row FOCUS ``INSERT`` took about twice as long with it; the
    CSV load likewise: docs/benchmarks.md). Load jobs, and statements whose first keyword
    is ``INSERT``, ``MERGE`` or ``CREATE`` (a ``CREATE TABLE ... AS SELECT``), run with
    ``preserve_insertion_order`` off; every other query keeps the setting as it was.
    """
    from bqemulator.jobs import executor
    from bqemulator.storage import engine

    @contextmanager
    def unordered(duckdb_engine):
        duckdb_engine.execute("SET preserve_insertion_order = false")
        try:
            yield
        finally:
            duckdb_engine.execute("RESET preserve_insertion_order")

    original_load = executor._load_path_into_target

    def load_path_into_target(path, job, ctx):
        with unordered(ctx.engine):
            original_load(path, job, ctx)

    executor._load_path_into_target = load_path_into_target
    original_fetch = engine.DuckDBEngine.fetch_arrow

    def fetch_arrow(self, sql, parameters=None):
        if first_keyword(sql) not in ("INSERT", "MERGE", "CREATE"):
            return original_fetch(self, sql, parameters)
        with unordered(self):
            return original_fetch(self, sql, parameters)

    engine.DuckDBEngine.fetch_arrow = fetch_arrow


@fix
def writes_make_no_time_travel_copies() -> None:
    """After every write (a load, a CTAS, a MERGE, streamed rows) the emulator copied the
    whole table into a time-travel snapshot: a second copy of a 1 M-row CUR load, in time
    and in memory, that BigQuery does not pay at write time. Nothing here reads the past
    (no ``FOR SYSTEM_TIME AS OF``), so writes only announce the change; a time-travel query
    then reads the table as it is (the emulator's rule for a table without snapshots).
    ``EMULATOR_TIME_TRAVEL=copies`` keeps the emulator's copies.
    """
    import os

    if os.environ.get("EMULATOR_TIME_TRAVEL", "").strip().lower() == "copies":
        return
    from bqemulator.domain.events import TableDataChanged
    from bqemulator.versioning import snapshots

    def record_change(self, project_id, dataset_id, table_id):
        self._events.publish(TableDataChanged(project_id, dataset_id, table_id))

    snapshots.SnapshotManager.record_change = record_change


#: DuckDB's memory cap in the emulator unless ``EMULATOR_MEMORY_LIMIT`` says otherwise
#: (a DuckDB size such as ``2GB``; ``none`` keeps DuckDB's default, 80 % of the RAM).
EMULATOR_MEMORY_LIMIT = "384MB"


@fix
def duckdb_memory_bounded() -> None:
    """The emulator's DuckDB takes up to 80 % of the machine's RAM and keeps every table in
    it (an ephemeral emulator held ~3.5 GB for a 1 M-row CUR load). BigQuery's memory is
    not the machine's, so locally DuckDB gets a cap and a spill directory of its own: tables
    and intermediate results beyond it go to temporary files, removed when it stops.
    """
    import atexit
    import os
    import shutil
    import tempfile

    from bqemulator.storage import engine

    limit = os.environ.get("EMULATOR_MEMORY_LIMIT", EMULATOR_MEMORY_LIMIT).strip()
    if not limit or limit.lower() == "none":
        return
    original = engine.DuckDBEngine._apply_session_pragmas

    def apply_session_pragmas(self):
        original(self)
        spill = tempfile.mkdtemp(prefix="bqemulator-spill-")
        atexit.register(shutil.rmtree, spill, ignore_errors=True)
        self._connection.execute("SET memory_limit = ?", [limit])
        self._connection.execute("SET temp_directory = ?", [spill])

    engine.DuckDBEngine._apply_session_pragmas = apply_session_pragmas


@fix
def in_lists_compared_in_place() -> None:
    """DuckDB's optimizer turns each ``x IN (<six or more constants>)`` into a hash join
    against a table of the constants. A FOCUS statement holds some thirty such lists (its
    CASE chains over line types and services), so it ran thirty joins, each with its own
    hash table: about 60 MB more under the emulator's memory cap (with the per-row UNNEST
    the AWS statement had, a 200,000-row normalization ran out of memory) and about a third
    more CPU than comparing in place.
    BigQuery plans its own way; locally the lists are compared in place (same results).
    """
    from bqemulator.storage import engine

    original = engine.DuckDBEngine._apply_session_pragmas

    def apply_session_pragmas(self):
        original(self)
        self._connection.execute("SET disabled_optimizers = 'in_clause'")

    engine.DuckDBEngine._apply_session_pragmas = apply_session_pragmas


def replace_merge_parts(sql: str):
    """``(target, alias, condition, columns, values, source)`` of a DuckDB ``MERGE`` of the form
    ``MERGE INTO target AS t USING (query) AS s ON FALSE WHEN NOT MATCHED BY SOURCE AND
    condition THEN DELETE WHEN NOT MATCHED THEN INSERT (columns) VALUES (values)``, the
    shape that replaces a set of rows (``focus/periods.py``); None for any other statement."""
    from sqlglot import exp, parse_one
    from sqlglot.errors import SqlglotError

    try:
        tree = parse_one(sql, read="duckdb")
    except SqlglotError:
        return None
    whens = tree.args.get("whens") if isinstance(tree, exp.Merge) else None
    if whens is None or not isinstance(tree.args.get("on"), exp.Boolean) or tree.args["on"].this:
        return None
    clauses = list(whens.expressions)
    if len(clauses) != 2:
        return None
    delete, insert = clauses
    if not (
        delete.args.get("matched") is False
        and delete.args.get("source") is True
        and isinstance(delete.args.get("then"), exp.Var)
        and delete.args["then"].name.upper() == "DELETE"
        and delete.args.get("condition") is not None
        and insert.args.get("matched") is False
        and not insert.args.get("source")
        and insert.args.get("condition") is None
        and isinstance(insert.args.get("then"), exp.Insert)
    ):
        return None
    target, source = tree.this, tree.args["using"]
    if not isinstance(target, exp.Table) or not isinstance(source, exp.Subquery):
        return None
    then = insert.args["then"]
    columns, values = then.this, then.expression
    if not isinstance(columns, exp.Tuple) or not isinstance(values, exp.Tuple):
        return None
    return target, target.alias, delete.args["condition"], columns, values, source


@fix
def replace_merges_run_as_delete_and_insert() -> None:
    """A ``MERGE … ON FALSE`` that deletes some target rows (``WHEN NOT MATCHED BY SOURCE AND
    …``) and inserts every source row is how a run replaces its billing periods in one
    atomic statement (``focus/periods.py``). DuckDB plans that ``MERGE`` as a full outer join
    on ``FALSE``, a nested loop over target x source rows: a month of 100,000 rows into a
    12-month table ran for minutes. The same statement runs here as what it means, a
    ``DELETE`` of the matching target rows and an ``INSERT … SELECT`` of the source, in one
    DuckDB transaction (so still all or nothing); any other ``MERGE`` runs as it is.
    """
    import pyarrow as pa
    from bqemulator.storage import engine
    from sqlglot import exp

    original = engine.DuckDBEngine.fetch_arrow

    def fetch_arrow(self, sql, parameters=None):
        parts = replace_merge_parts(sql) if first_keyword(sql) == "MERGE" else None
        if parts is None:
            return original(self, sql, parameters)
        target, alias, condition, columns, values, source = parts
        table = target.copy()
        table.set("alias", None)
        where = condition.copy()
        for column in where.find_all(exp.Column):
            if alias and column.table == alias:
                column.set("table", None)
        delete = f"DELETE FROM {table.sql('duckdb')} WHERE {where.sql('duckdb')}"
        select = ", ".join(v.sql("duckdb") for v in values.expressions)
        names = ", ".join(c.sql("duckdb") for c in columns.expressions)
        source_alias = source.alias or "s"
        inner = source.this.sql("duckdb")
        insert = (
            f"INSERT INTO {table.sql('duckdb')} ({names}) "
            f"SELECT {select} FROM ({inner}) AS {source_alias}"
        )
        # Without row order, as every write here (writes_keep_no_row_order).
        self.execute("SET preserve_insertion_order = false")
        try:
            self.execute("BEGIN TRANSACTION")
            try:
                deleted = self.execute(delete, _used(delete, parameters)).fetchall()[0][0]
                inserted = self.execute(insert, _used(insert, parameters)).fetchall()[0][0]
                self.execute("COMMIT")
            except BaseException:
                self.execute("ROLLBACK")
                raise
        finally:
            self.execute("RESET preserve_insertion_order")
        return pa.table({"Count": pa.array([deleted + inserted], pa.int64())})

    engine.DuckDBEngine.fetch_arrow = fetch_arrow


def _used(sql: str, parameters):
    """The parameters a statement takes: none if it has no placeholder; of a mapping, the
    names it uses (``$name``); a list as it is (the ``DELETE`` keeps the ``MERGE``'s
    condition, so every ``$n`` with it)."""
    names = set(re.findall(r"\$([A-Za-z0-9_]+)", sql))
    if not names and "?" not in sql:
        return None
    if isinstance(parameters, dict):
        return {k: v for k, v in parameters.items() if k in names}
    return parameters


@fix
def safe_parse_date_never_raises() -> None:
    """``SAFE.PARSE_DATE(fmt, s)`` became ``TRY(CAST(STRPTIME(s, fmt) AS DATE))``, and in a
    large statement DuckDB raised the parse error all the same ("Could not parse string
    "2020-09-01" according to format specifier "%m/%d/%Y"") where BigQuery gives NULL, so a
    ``COALESCE`` over date formats failed on the second format's dates. It becomes
    ``CAST(TRY_STRPTIME(s, fmt) AS DATE)``, which returns NULL without raising."""
    import sqlglot
    from bqemulator.sql import translator
    from sqlglot import exp

    original = translator.rewrite_safe_helpers
    if getattr(original, "parse_date_fixed", False):
        return  # applied already (a test process may apply it twice)

    def rewrite(bq_sql: str) -> str:
        if "SAFE.PARSE_DATE" in bq_sql.upper():
            try:
                tree = sqlglot.parse_one(bq_sql, read="bigquery")
            except sqlglot.errors.ParseError:
                return original(bq_sql)
            for node in list(tree.find_all(exp.SafeFunc)):
                inner = node.this
                if isinstance(inner, exp.StrToDate) and inner.args.get("format") is not None:
                    parse = exp.Anonymous(
                        this="TRY_STRPTIME",
                        expressions=[inner.this.copy(), inner.args["format"].copy()],
                    )
                    node.replace(exp.Cast(this=parse, to=exp.DataType.build("DATE")))
            bq_sql = tree.sql(dialect="bigquery")
        return original(bq_sql)

    rewrite.parse_date_fixed = True
    translator.rewrite_safe_helpers = rewrite


def main() -> None:
    for apply in FIXES:
        apply()
    from bqemulator.cli import main as emulator_main

    emulator_main()


if __name__ == "__main__":
    main()
