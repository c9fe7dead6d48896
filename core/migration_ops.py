"""Migration operations shared by the apps."""

import json
import logging
from collections.abc import Sequence

from django.db import migrations
from django.db.models import TextField
from django.db.models.functions import Cast

from core.parsers import json_check

logger = logging.getLogger("convergence.migrations")


def fillfactor(table: str, *, value: int, previous: int) -> migrations.RunPython:
    """Set a PostgreSQL table's fillfactor (``previous`` when unapplied); nothing elsewhere.

    Room left on each page lets an update write the row's new version on the same page (a
    HOT update, no index writes). A storage setting with no effect on behaviour; pages
    written before it keep their packing until the table is rewritten.
    """

    def setting(percent: int):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                name = schema_editor.quote_name(table)
                schema_editor.execute(f"ALTER TABLE {name} SET (fillfactor = {int(percent)})")

        return apply

    return migrations.RunPython(setting(value), setting(previous))


def json_rows_unstorable(model, fields: Sequence[str], *, using: str = "default") -> list[tuple]:
    """``(pk, field, problem)`` for each value of ``fields`` (JSON columns of ``model``) that
    could not be rendered again: a lone surrogate, a NUL, a non-finite number, or JSON that
    does not read at all. The stored text is read as it is, one row at a time, and never
    changed."""
    found = []
    for field in fields:
        rows = (
            model._base_manager.using(using)
            .annotate(stored_text=Cast(field, TextField()))
            .values_list("pk", "stored_text")
            .order_by("pk")
        )
        for pk, text in rows.iterator(chunk_size=2000):
            if text is None:
                continue
            try:
                json_check(json.loads(text), limit=None)
            except ValueError as exc:  # JsonRefused, or JSON that does not read
                found.append((pk, field, str(exc)))
    return found


def json_rows_report(model: str, fields: Sequence[str]) -> migrations.RunPython:
    """Report, and leave as they are, the rows of ``model`` ("app_label.Model") whose JSON in
    ``fields`` no answer could carry. From this migration on such a value cannot be written
    (``StoredJSONEncoder``); a row written before answers 500 wherever it is read, so each is
    named (model, primary key, field, problem) for staff to correct or delete. Altering them
    here would silently change what a tenant stored."""

    def report(apps, schema_editor):
        alias = schema_editor.connection.alias
        found = json_rows_unstorable(apps.get_model(model), fields, using=alias)
        for pk, field, problem in found:
            logger.warning("%s pk=%s field %s cannot be answered: %s", model, pk, field, problem)
        if found:
            logger.warning(
                "%s: %d stored JSON value(s) cannot be answered (listed above); correct or "
                "delete those rows: until then every read of them answers 500.",
                model,
                len(found),
            )

    return migrations.RunPython(report, migrations.RunPython.noop, elidable=True)
