"""Set-based writes the ORM sends as one statement per row or as one giant CASE."""

import functools
import itertools
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import F, Model
from django.db.models.expressions import RawSQL


def values_in(values: Sequence[Any], *, db_type: str) -> Any:
    """The right-hand side of ``field__in=`` for many values.

    On PostgreSQL ``IN (SELECT unnest(<one array parameter>))``: the driver scans a
    statement for placeholders in Python, one per value of a plain list, which at a few
    hundred values costs more than the query. Elsewhere the list itself.
    """
    if connection.vendor != "postgresql":
        return list(values)
    # db_type is the caller's literal type name; the values go in as a parameter.
    return RawSQL(f"SELECT unnest(%s::{db_type}[])", (array_literal(list(values)),))  # noqa: S611


def rows_update(
    model: type[Model],
    *,
    key: str,
    fields: Sequence[str],
    rows: Mapping[Any, Sequence[Any]],
    add: bool = False,
) -> int:
    """Set ``fields`` of each row whose ``key`` is a key of ``rows`` to its values (or add them).

    On PostgreSQL one ``UPDATE ... FROM unnest(...)``, whatever the number of rows: Django's
    ``bulk_update`` builds a CASE with one branch per row and field, which costs seconds
    in Python and in the database at a few thousand rows. Elsewhere (SQLite, the local
    default) one UPDATE per row. Returns the number of rows updated.
    """
    if not rows:
        return 0
    opts = model._meta
    key_field = opts.get_field(key)
    columns = [opts.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        updated = 0
        for k, values in rows.items():
            changes = {
                f.attname: F(f.attname) + v if add else v
                for f, v in zip(columns, values, strict=True)
            }
            updated += model._base_manager.filter(**{key_field.attname: k}).update(**changes)
        return updated
    qn = connection.ops.quote_name
    arrays = [array_literal(list(rows))]
    arrays += [
        array_literal(
            [values[i] for values in rows.values()], json_field=_is_json(f), encoder=_encoder(f)
        )
        for i, f in enumerate(columns)
    ]
    casts = [f.cast_db_type(connection) for f in (key_field, *columns)]
    names = [f"c{i}" for i in range(len(casts))]
    assignments = ", ".join(
        f"{qn(f.column)} = " + (f"t.{qn(f.column)} + v.{n}" if add else f"v.{n}")
        for f, n in zip(columns, names[1:], strict=True)
    )
    unnest = ", ".join(f"%s::{cast}[]" for cast in casts)
    sql = (
        f"UPDATE {qn(opts.db_table)} AS t SET {assignments} "
        f"FROM unnest({unnest}) AS v({', '.join(names)}) "
        f"WHERE t.{qn(key_field.column)} = v.c0"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount


def rows_insert(
    model: type[Model],
    *,
    rows: Sequence[Mapping[str, Any]],
    constants: Mapping[str, Any] | None = None,
    ignore_conflicts: bool = False,
) -> tuple[str, list]:
    """The multi-row INSERT of ``rows`` (field name -> value) as (sql, params), unsent.

    For PostgreSQL: one ``INSERT ... SELECT FROM unnest(...)`` with one array parameter per
    column, however many rows, built without model instances (the dispatcher writes
    thousands of runs per second through it). ``constants`` are the same for every row;
    every other field takes its default, made once (``auto_now_add`` fields: now). Values
    go in as PostgreSQL takes them (str, int, UUID, aware datetimes; JSON fields any
    JSON-able value). A primary key the database makes is left to the database.
    """
    from django.utils import timezone

    opts = model._meta
    constants = dict(constants or {})
    now = timezone.now()
    varying = list(rows[0]) if rows else []
    # A column with one value in every row (a batch's trigger, user, creation time) is sent
    # once rather than as an array; the first column always varies, to give the row count.
    for name in varying[1:] if len(rows) > 1 else ():
        first = rows[0][name]
        if isinstance(first, str | int | datetime) and all(row[name] == first for row in rows):
            constants[name] = first
            varying.remove(name)
    fields = [f for f in opts.concrete_fields if not (f.primary_key and f.db_returning)]
    for f in fields:
        if {f.name, f.attname} & {*varying, *constants}:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            constants[f.name] = now
        else:
            constants[f.name] = f.get_default()
    by_name = {f.name: f for f in fields} | {f.attname: f for f in fields}

    def prep(f, value):
        return json.dumps(value, cls=f.encoder) if _is_json(f) else value

    arrays = [
        array_literal(
            [row[name] for row in rows],
            json_field=_is_json(by_name[name]),
            encoder=_encoder(by_name[name]),
        )
        for name in varying
    ]
    sql = _insert_sql(model, tuple(varying), tuple(constants), ignore_conflicts, connection.vendor)
    # The constants' placeholders come first in the text (SELECT list), then the arrays'.
    params = [*(prep(by_name[n], v) for n, v in constants.items()), *arrays]
    return sql, params


@functools.lru_cache(maxsize=256)  # a batch's constant columns vary: a few shapes
def _insert_sql(
    model: type[Model],
    varying: tuple[str, ...],
    constants: tuple[str, ...],
    ignore_conflicts: bool,
    vendor: str,
) -> str:
    """``rows_insert``'s statement for these columns; its text depends on nothing else, and
    building it (each column's cast type) cost more than a one-row insert's other work."""
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not (f.primary_key and f.db_returning)]
    by_name = {f.name: f for f in fields} | {f.attname: f for f in fields}
    qn = connection.ops.quote_name
    columns = [by_name[name] for name in varying] + [by_name[name] for name in constants]
    unnest = ", ".join(f"%s::{by_name[n].cast_db_type(connection)}[]" for n in varying)
    selects = [f"u.c{i}" for i in range(len(varying))] + [
        f"%s::{by_name[n].cast_db_type(connection)}" for n in constants
    ]
    sql = (
        f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(f.column) for f in columns)}) "
        f"SELECT {', '.join(selects)} FROM unnest({unnest}) "
        f"AS u({', '.join(f'c{i}' for i in range(len(varying)))})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    return sql


def rows_create(
    model: type[Model], *, rows: Sequence[Mapping[str, Any]], ignore_conflicts: bool = False
) -> int | None:
    """Insert ``rows`` (field name -> value): ``rows_insert`` on PostgreSQL, else bulk_create.

    Returns the number of rows inserted on PostgreSQL (fewer than given when conflicts
    were ignored), None elsewhere (bulk_create cannot tell).
    """
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(
            [model(**row) for row in rows], ignore_conflicts=ignore_conflicts, batch_size=500
        )
        return None
    sql, params = rows_insert(model, rows=rows, ignore_conflicts=ignore_conflicts)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _is_json(field) -> bool:
    return field.get_internal_type() == "JSONField"


def _encoder(field) -> type[json.JSONEncoder] | None:
    """A JSON column's encoder (its checks hold for these writes too), else None."""
    return field.encoder if _is_json(field) else None


def array_literal(
    values: Sequence[Any],
    *,
    json_field: bool = False,
    encoder: type[json.JSONEncoder] | None = None,
) -> str:
    """A PostgreSQL array literal (``{...}``) of ``values``, to pass as one text parameter.

    The database driver quotes list parameters element by element in Python, which costs
    more than the statement itself at thousands of rows; one string costs one quote.
    Takes None, str, bool, int, UUID, date/datetime (aware), and JSON-able values for JSON
    columns (written with the column's ``encoder``).
    """
    parts = []
    dumped: dict[int, str] = {}  # rows often share one parameters object: dump it once
    for value in values:
        if value is None:
            parts.append("NULL")
            continue
        if json_field:
            quoted = dumped.get(id(value))
            if quoted is None:
                quoted = dumped[id(value)] = _quoted(json.dumps(value, cls=encoder))
            parts.append(quoted)
            continue
        if isinstance(value, bool):
            parts.append("t" if value else "f")
        elif isinstance(value, int | uuid.UUID):  # nothing in their text needs quoting
            parts.append(str(value))
        elif isinstance(value, date):
            parts.append(_quoted(value.isoformat()))
        else:
            parts.append(_quoted(str(value)))
    return "{" + ",".join(parts) + "}"


def _quoted(text: str) -> str:
    if '"' in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def rows_copy(
    model: type[Model],
    *,
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Insert ``rows`` with ``COPY ... FROM STDIN``; returns the rows sent.

    Each row is a tuple of the values of ``fields``; ``constants`` are the same in every
    row; every other field takes its default, made once (``auto_now``/``auto_now_add``:
    now), and a primary key the database makes is left to it, as in ``rows_insert``.
    For thousands of new rows this costs a fraction of an ``INSERT``: no array literals to
    build and parse, and each value is turned into text once (rows share values: a run id
    names its run, its steps and its slot). ``rows`` must be a list (the values stay
    alive while it runs). A unique violation raises IntegrityError, and the statement is
    seen by ``connection.execute_wrappers`` like any other. Elsewhere (SQLite, the local
    default) ``bulk_create``, where ``auto_now_add`` fields take the time of the insert.
    """
    from django.utils import timezone

    if not rows:
        return 0
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True)), **(constants or {})) for row in rows],
            batch_size=500,
        )
        return len(rows)
    opts = model._meta
    constants = dict(constants or {})
    now = timezone.now()
    by_name = {f.name: f for f in opts.concrete_fields} | {
        f.attname: f for f in opts.concrete_fields
    }
    for f in opts.concrete_fields:
        if {f.name, f.attname} & {*fields, *constants} or (f.primary_key and f.db_returning):
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            constants[f.name] = now
        else:
            constants[f.name] = f.get_default()
    qn = connection.ops.quote_name
    # Column by column: a column of plain strings goes in as it is, and values shared by
    # many rows (a run id, the parameters, a slot time) are turned into text once.
    texts: list[Any] = [
        _copy_column(by_name[name], column)
        for name, column in zip(fields, zip(*rows, strict=True), strict=True)
    ]
    if constants:
        texts.append(
            itertools.repeat(
                "\t".join(
                    _copy_column(by_name[name], (value,))[0] for name, value in constants.items()
                )
            )
        )
    # Not strict: the constants' column repeats without end.
    data = "\n".join(map("\t".join, zip(*texts, strict=False))) + "\n"
    columns = ", ".join(qn(by_name[name].column) for name in (*fields, *constants))
    sql = f"COPY {qn(opts.db_table)} ({columns}) FROM STDIN"

    def copy(sql, params, many, context):
        with context["cursor"].cursor.copy(sql) as writer:
            writer.write(data)

    with connection.cursor() as cursor, connection.wrap_database_errors:
        executor = copy
        for wrapper in reversed(connection.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        executor(sql, None, False, {"connection": connection, "cursor": cursor})
    return len(rows)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _needs_escape(text: str) -> bool:
    return "\\" in text or "\t" in text or "\n" in text or "\r" in text


def _copy_text(text: str) -> str:
    return text.translate(_COPY_ESCAPES) if _needs_escape(text) else text


def _copy_column(field, values: Sequence[Any]) -> Sequence[str]:
    """The values of one column in COPY's text format (``\\N`` for None)."""
    kind = (field.target_field if field.is_relation else field).get_internal_type()
    if kind in ("CharField", "TextField", "SlugField", "EmailField", "URLField"):
        if None not in values and not _needs_escape("".join(values)):
            return values
        return ["\\N" if v is None else _copy_text(v) for v in values]
    if kind == "JSONField":

        def text(value):
            return _copy_text(json.dumps(value, cls=field.encoder))

    elif kind == "BooleanField":

        def text(value):
            return "t" if value else "f"

    elif kind in ("DateTimeField", "DateField"):

        def text(value):
            return value.isoformat()

    else:  # integers, UUIDs, ...: their str() is what PostgreSQL reads

        def text(value):
            return _copy_text(str(value))

    done: dict[int, str] = {}
    out = []
    for value in values:
        found = done.get(id(value))
        if found is None:
            found = done[id(value)] = "\\N" if value is None else text(value)
        out.append(found)
    return out
