"""``file.load``: load a CSV or Parquet export (gzip allowed) from a local path or gs://."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from focus.model import FocusSourceError
from focus.normalize import source_variant
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_choice,
    check_destination,
    require_str,
)
from warehouse.bigquery import WarehouseBadRequest
from warehouse.files import (
    AUTO,
    FORMATS,
    FileSourceError,
    csv_header_columns,
    file_format,
    file_source_check,
    parquet_column_names,
)

logger = logging.getLogger(__name__)
#: ``source.variants_of``: the pipeline whose export variants a CSV's header must match.
VARIANTS_OF = re.compile(r"\A[a-z0-9_]{2,32}/cost/(focus|native)\Z")


class FileLoad(Processor):
    ps_type: ClassVar[str] = "file.load"
    fields: ClassVar[frozenset[str]] = frozenset({"source", "destination"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        require_str(step, "source.uri_param", errors)
        source = step.get("source")
        if isinstance(source, Mapping):
            unknown = sorted(set(source) - {"uri_param", "format", "variants_of"})
            errors.extend(f"source.{name}: unknown field" for name in unknown)
            choices = (*FORMATS, AUTO)
            check_choice(source.get("format", "csv"), "source.format", choices, errors)
            variants_of = source.get("variants_of")
            if variants_of is not None and not (
                isinstance(variants_of, str) and VARIANTS_OF.match(variants_of)
            ):
                errors.append(
                    "source.variants_of: must name a pipeline, <provider>/cost/focus or "
                    "focus/cost/native"
                )
        check_destination(step, errors, modes=("append", "overwrite"))
        return errors

    def run(self, context: StepContext) -> StepResult:
        spec = self.step.options
        table_id = context.table_in_dataset(spec["destination"]["table"])
        param = spec["source"]["uri_param"]
        if param not in context.params:
            raise StepFailed(f"parameter {param!r} (the file to load) has no value")
        # Run parameters keep local files relative to the tenant's folder (so no server path
        # shows in the API); they are resolved and checked again here, and the warehouse's
        # guard checks the file (or bucket) once more before it loads anything.
        try:
            uri = file_source_check(context.params[param], tenant_id=context.tenant_id)
        except FileSourceError as exc:
            raise StepFailed(str(exc)) from exc
        source_format = file_format(uri, spec["source"].get("format", "csv"))
        columns = None
        variants_of = spec["source"].get("variants_of")
        try:
            if source_format == "CSV":
                columns = csv_header_columns(uri, read_head=context.warehouse.file_head)
                self._variant_check(variants_of, [c.name for c in columns])
            elif not uri.startswith("gs://"):
                # A Parquet file's names come from its footer (no row is read); a gs:// one's
                # from the loaded table, below, before any other step reads it.
                self._variant_check(variants_of, parquet_column_names(uri))
        except FileSourceError as exc:
            raise StepFailed(str(exc)) from exc
        try:
            result = context.warehouse.load_file(
                uri,
                context.dataset_id,
                table_id,
                source_format=source_format,
                columns=columns,
                write_mode=spec["destination"].get("write_mode", "append"),
            )
        except WarehouseBadRequest as exc:
            # The engine's text names a temporary upload file and its own parser: neither
            # is the tenant's to see (the step log keeps it for staff).
            logger.warning("load of %s refused: %s", Path(uri).name, exc)
            expected = (
                "UTF-8 text, comma-separated, with one header line and rows of the same "
                "columns (a field with a comma, quote or line break in double quotes)"
                if source_format == "CSV"
                else "a Parquet file as the export wrote it"
            )
            raise StepFailed(
                f"{Path(uri).name} could not be read as {source_format}: check that it is "
                f"the export itself, {expected}."
            ) from None
        if source_format == "PARQUET" and uri.startswith("gs://"):
            loaded = context.warehouse.table_columns(context.dataset_id, table_id)
            try:
                self._variant_check(variants_of, [c.name for c in loaded])
            except StepFailed:
                # Overwritten, the table holds this file only (the configs' run staging).
                if spec["destination"].get("write_mode", "append") == "overwrite":
                    context.warehouse.table_delete(context.dataset_id, table_id)
                raise
        return StepResult(
            rows_processed=result.rows_loaded,
            details={
                "table": table_id,
                "source": Path(uri).name,
                "format": source_format,
                "job_id": result.job_id,
            },
        )

    @staticmethod
    def _variant_check(pipeline: str | None, names: list[str]) -> None:
        """The file must be a variant ``pipeline`` reads (focus/variants.py): an unknown or
        legacy header is refused before anything else reads it, saying what to export."""
        if pipeline is None:
            return
        try:
            source_variant(pipeline, names)
        except FocusSourceError as exc:
            raise StepFailed(str(exc)) from exc
