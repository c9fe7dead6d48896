"""Writes of the mappings app: a tenant's mappings (validated before they are stored), and the
dry run that shows what a mapping makes of the first rows of a sample file."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError, transaction

from focus.conformance import conformance_results, conformance_sql
from focus.model import NOT_NULL_COLUMNS
from mappings.format import (
    MappingInvalid,
    MappingIssue,
    MappingSpec,
    mapping_name_check,
    mapping_parse,
)
from mappings.models import FocusMapping
from mappings.sql import MappingSourceError, mapping_sql, mapping_table_columns
from tenants.models import Tenant
from tenants.services.audit import Actor, audit_record
from warehouse.files import csv_header_columns, tenant_files_root
from warehouse.tenant import tenant_warehouse

# The FOCUS columns required on every row (the others FOCUS requires may be null); a mapping
# must name every required column, so these are the ones it can still leave empty.
FILLED = NOT_NULL_COLUMNS
PREVIEW_ROWS_DEFAULT = 20
PREVIEW_ROWS_MAX = 200
PREVIEW_DIR = ".preview"


class MappingError(ValueError):
    """A mapping request was refused; ``issues`` lists each problem when it is the mapping's."""

    def __init__(self, message: str, *, issues: list[MappingIssue] | None = None) -> None:
        super().__init__(message)
        self.issues = issues or []


class MappingConflict(MappingError):
    """The tenant already has a mapping of that name."""


def _validated(*, name: str, definition: str, owner: str) -> MappingSpec:
    try:
        mapping_name_check(name)
    except ValueError as exc:
        raise MappingError(f"name: {exc}") from None
    try:
        return mapping_parse(definition, file=f"mapping {name!r} ({owner})", name=name)
    except MappingInvalid as exc:
        raise MappingError(str(exc), issues=exc.issues) from None


def mapping_create(*, tenant: Tenant, name: str, definition: str, actor: Actor) -> FocusMapping:
    """Store a tenant's mapping once it validates; MappingError naming every problem if not."""
    spec = _validated(name=name, definition=definition, owner=f"tenant {tenant.id}")
    try:
        with transaction.atomic():
            row = FocusMapping.objects.create(
                tenant=tenant, name=name, definition=definition, description=spec.description
            )
            audit_record(actor=actor, action="mapping.create", tenant_id=tenant.id, target=str(row))
    except IntegrityError:
        raise MappingConflict(f"This tenant already has a mapping named {name!r}.") from None
    return row


def mapping_update(*, row: FocusMapping, definition: str, actor: Actor) -> FocusMapping:
    """Replace a mapping's definition once the new one validates (same name)."""
    spec = _validated(name=row.name, definition=definition, owner=f"tenant {row.tenant_id}")
    with transaction.atomic():
        row.definition = definition
        row.description = spec.description
        row.save(update_fields=["definition", "description", "updated_at"])
        audit_record(
            actor=actor, action="mapping.update", tenant_id=row.tenant_id or "", target=str(row)
        )
    return row


def mapping_delete(*, row: FocusMapping, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor, action="mapping.delete", tenant_id=row.tenant_id or "", target=str(row)
        )
        row.delete()


# -- the dry run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    mapping: str
    rows_read: int
    source_columns: list[str]
    focus_rows: list[dict]
    empty_required: dict[str, int]
    broken_rules: list[dict]

    def as_dict(self) -> dict:
        return {
            "mapping": self.mapping,
            "rows_read": self.rows_read,
            "source_columns": self.source_columns,
            "focus_rows": self.focus_rows,
            "empty_required_columns": [
                {"column": column, "empty_rows": n} for column, n in self.empty_required.items()
            ],
            "broken_rules": self.broken_rules,
        }


def sample_head(text: str, *, rows: int) -> str:
    """The header and the first ``rows`` records of CSV text (records may span lines)."""
    try:
        return _csv_head(io.StringIO(text.lstrip("\ufeff")), rows=rows)
    except csv.Error as exc:
        raise MappingError(f"The sample is not readable CSV: {exc}") from None


def _csv_head(lines: Iterable[str], *, rows: int) -> str:
    """The header and ``rows`` records, read from ``lines`` no further than needed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for index, record in enumerate(csv.reader(lines)):
        if index > rows:
            break
        writer.writerow(record)
    if not out.getvalue().strip():
        raise MappingError("The sample has no header line.")
    return out.getvalue()


def sample_file_head(path: Path, *, rows: int, max_bytes: int = 8 * 1024 * 1024) -> str:
    """The first records of a local CSV (gzip allowed), read no further than needed."""
    import gzip

    if not path.name.endswith((".csv", ".csv.gz")):
        raise MappingError(f"{path.name}: a preview reads CSV samples (.csv, .csv.gz)")
    opener = gzip.open if path.name.endswith(".gz") else open

    def bounded(handle) -> Iterator[str]:
        size = 0
        for line in handle:
            yield line
            size += len(line)
            if size > max_bytes:
                return

    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            return _csv_head(bounded(handle), rows=rows)
    except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
        raise MappingError(f"{path.name}: not a readable UTF-8 CSV ({exc})") from None


def _json_value(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def mapping_preview(*, tenant_id: str, spec: MappingSpec, sample: str, rows: int) -> Preview:
    """Load the sample's first ``rows`` rows as a run would, map them, and report: the FOCUS
    rows, the required FOCUS columns left empty (and on how many rows), and the FOCUS MUST
    rules the rows break. Scratch tables live in the tenant's own dataset, through the same
    guarded warehouse a run gets, and are dropped afterwards."""

    wh = tenant_warehouse(tenant_id=tenant_id)
    tag = uuid.uuid4().hex[:12]
    raw_id, focus_id = f"x_preview_{tag}_raw", f"x_preview_{tag}_focus"
    folder = tenant_files_root(tenant_id) / PREVIEW_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{tag}.csv"
    path.write_text(sample, encoding="utf-8")
    try:
        columns = csv_header_columns(path)
        result = wh.load_file(
            str(path),
            wh.dataset_id,
            raw_id,
            source_format="CSV",
            columns=columns,
            write_mode="overwrite",
        )
        names = [c.name for c in columns]
        raw, focus = wh.table_ref(wh.dataset_id, raw_id), wh.table_ref(wh.dataset_id, focus_id)
        try:
            sql, params = mapping_sql(spec, source=raw, destination=focus, source_columns=names)
        except MappingSourceError as exc:
            raise MappingError(str(exc)) from None
        except MappingInvalid as exc:
            raise MappingError(str(exc), issues=exc.issues) from None
        wh.table_create(wh.dataset_id, focus_id, mapping_table_columns(spec), replace=True)
        wh.query(sql, params)
        focus_rows = [
            {k: _json_value(v) for k, v in row.items()}
            for row in wh.query(f"SELECT * FROM `{focus}` LIMIT {int(rows)}").rows
        ]
        # Positional aliases: the emulator lower-cases column aliases.
        empties = ", ".join(f"COUNTIF({c} IS NULL) AS e{i}" for i, c in enumerate(FILLED))
        counts = wh.query(f"SELECT {empties} FROM `{focus}`").rows[0] if focus_rows else {}
        empty = {c: int(counts[f"e{i}"]) for i, c in enumerate(FILLED) if counts.get(f"e{i}")}
        broken = [
            {"rule": rule.rule_id, "text": rule.text, "rows": n}
            for rule, n in conformance_results(wh.query(conformance_sql(focus)).rows[0])
            if n
        ]
        return Preview(
            mapping=spec.name,
            rows_read=result.rows_loaded,
            source_columns=names,
            focus_rows=focus_rows,
            empty_required=empty,
            broken_rules=broken,
        )
    finally:
        path.unlink(missing_ok=True)
        for table in (raw_id, focus_id):
            wh.table_delete(wh.dataset_id, table)
