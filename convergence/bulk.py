"""Set-based writes the ORM sends as one statement per row or as one giant CASE."""

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import F, Model


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
        array_literal([values[i] for values in rows.values()], json_field=_is_json(f))
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
    fields = [f for f in opts.concrete_fields if not (f.primary_key and f.db_returning)]
    for f in fields:
        if {f.name, f.attname} & {*varying, *constants}:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            constants[f.name] = now
        else:
            constants[f.name] = f.get_default()
    by_name = {f.name: f for f in fields} | {f.attname: f for f in fields}
    qn = connection.ops.quote_name

    def prep(f, value):
        return json.dumps(value, cls=f.encoder) if _is_json(f) else value

    arrays = [
        array_literal([row[name] for row in rows], json_field=_is_json(by_name[name]))
        for name in varying
    ]
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
    # The constants' placeholders come first in the text (SELECT list), then the arrays'.
    params = [*(prep(by_name[n], v) for n, v in constants.items()), *arrays]
    return sql, params


def rows_create(
    model: type[Model], *, rows: Sequence[Mapping[str, Any]], ignore_conflicts: bool = False
) -> None:
    """Insert ``rows`` (field name -> value): ``rows_insert`` on PostgreSQL, else bulk_create."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(
            [model(**row) for row in rows], ignore_conflicts=ignore_conflicts, batch_size=500
        )
        return
    sql, params = rows_insert(model, rows=rows, ignore_conflicts=ignore_conflicts)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _is_json(field) -> bool:
    return field.get_internal_type() == "JSONField"


def array_literal(values: Sequence[Any], *, json_field: bool = False) -> str:
    """A PostgreSQL array literal (``{...}``) of ``values``, to pass as one text parameter.

    The database driver quotes list parameters element by element in Python, which costs
    more than the statement itself at thousands of rows; one string costs one quote.
    Takes None, str, bool, int, UUID, date/datetime (aware), and JSON-able values for JSON
    columns.
    """
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
            continue
        if json_field:
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = "t" if value else "f"
        elif isinstance(value, date):
            value = value.isoformat()
        else:
            value = str(value)
        parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"
