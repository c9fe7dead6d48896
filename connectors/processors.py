"""``export.sync``: load the billing periods of a tenant's export that are new since its last
successful sync into the run's raw staging table (the table a ``file.load`` step fills).

The export is the one the pipeline's provider config registers (bucket or container, prefix,
credential): the step takes no location of its own, so a run reads only its tenant's export
(``connectors.services.stores``). Each part streams to a file in the tenant's own imports
folder in chunks and is loaded from there; its header is checked against the delivery's
manifest and the pipeline's variants first. The periods loaded are handed to the later steps
(``sync_sources``): ``focus.replace_periods`` replaces exactly those, and refuses staged rows
of any other period. A sync that finds nothing new ends the run there, having read no part.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from connectors.layouts import ExportLayoutError, PeriodDelivery
from connectors.models import ExportObjectRecord
from connectors.selectors import LedgerPeriod, ledger_periods
from connectors.services.deliveries import export_deliveries
from connectors.services.spool import part_spool
from connectors.services.stores import ConnectorNotSet, provider_config_for_sync
from focus.model import FocusSourceError
from focus.normalize import source_variant
from focus.variants import header_key
from pipelines.processors.base import (
    Processor,
    StepContext,
    StepFailed,
    StepResult,
    check_destination,
    require_mapping,
)
from warehouse.bigquery import WarehouseBadRequest
from warehouse.exports import ExportStoreError
from warehouse.files import (
    FileSourceError,
    csv_header_columns,
    parquet_column_names,
    tenant_files_root,
)
from warehouse.sql_identifiers import sql_render

logger = logging.getLogger(__name__)

#: The parameter a sync gives the later steps: per billing period (``YYYY-MM-01``), the
#: delivery it loaded (``name``: manifest or part, ``bytes``: the parts' size).
SYNC_SOURCES = "sync_sources"
LAYOUT_NAMES = ("aws_cur", "aws_data_exports", "azure_exports", "oci_reports")
VARIANTS_OF = re.compile(r"\A[a-z0-9_]{2,32}/cost/(focus|native)\Z")


class ExportSync(Processor):
    ps_type: ClassVar[str] = "export.sync"
    fields: ClassVar[frozenset[str]] = frozenset({"source", "destination"})

    @classmethod
    def validate(cls, step: Mapping[str, Any]) -> list[str]:
        errors = super().validate(step)
        source = require_mapping(step, "source", errors)
        if source is not None:
            # No bucket, prefix or credential here: those are the provider config's alone.
            unknown = sorted(set(source) - {"layouts", "variants_of"})
            errors.extend(f"source.{name}: unknown field" for name in unknown)
            layouts = source.get("layouts")
            if (
                not isinstance(layouts, list)
                or not layouts
                or not set(layouts) <= set(LAYOUT_NAMES)
            ):
                errors.append(f"source.layouts: a list of export layouts, of {LAYOUT_NAMES}")
            variants_of = source.get("variants_of")
            if variants_of is not None and not (
                isinstance(variants_of, str) and VARIANTS_OF.match(variants_of)
            ):
                errors.append("source.variants_of: must name a pipeline, <provider>/cost/focus")
        check_destination(step, errors, modes=("overwrite",))
        return errors

    def run(self, context: StepContext) -> StepResult:
        spec = self.step.options
        table_id = context.table_in_dataset(spec["destination"]["table"])
        try:
            config = provider_config_for_sync(
                tenant_id=context.tenant_id, provider=context.provider
            )
            export = export_deliveries(config=config, layouts=tuple(spec["source"]["layouts"]))
        except (ConnectorNotSet, ExportStoreError, ExportLayoutError) as exc:
            raise StepFailed(str(exc)) from None
        store, prefix, layout, deliveries = (
            export.store,
            export.prefix,
            export.layout,
            export.deliveries,
        )
        ledger = ledger_periods(provider_config=config)
        new = [d for d in deliveries if _is_new(d, ledger.get(d.period))]
        found = [_summary(d) for d in deliveries]
        if not new:
            message = (
                f"Nothing new: the {len(deliveries)} billing period(s) in {store.location}/"
                f"{prefix} are as the last sync loaded them."
            )
            return StepResult(
                details={"nothing_new": True, "message": message, "export": found},
                ends_run=message,
            )
        # One load schema per run: periods whose columns differ from the first new one's
        # (an export whose columns changed between months) are left to the next sync.
        first = (new[0].format, _header_signature(new[0]))
        batch = [d for d in new if (d.format, _header_signature(d)) == first]
        deferred = [d for d in new if d not in batch]

        folder = tenant_files_root(context.tenant_id) / f".sync-{context.run_tag}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            size, loaded, later = self._load(context, store, batch, table_id, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        deferred += later
        batch = [d for d, _ in loaded]
        # Counted once loaded (a job's own figure is the table's total on the emulator).
        rows = context.warehouse.query(
            sql_render("SELECT COUNT(*) AS n FROM `{staged}`", {"staged": context.table(table_id)})
        ).rows[0]["n"]
        _ledger_record(context, config=config, layout=layout.name, deliveries=batch)
        sources = {
            d.period.isoformat(): {
                "name": _source_name(store.location, d),
                "bytes": part_bytes,
                "mixed": d.mixed_periods,
            }
            for d, part_bytes in loaded
        }
        return StepResult(
            rows_processed=rows,
            bytes_processed=size,
            details={
                "table": table_id,
                "export": found,
                "loaded": [_summary(d) for d in batch],
                "deferred": [
                    {**_summary(d), "why": "its columns differ from the other periods'"}
                    for d in deferred
                ],
            },
            outputs={SYNC_SOURCES: sources},
        )

    def _load(
        self,
        context: StepContext,
        store,
        batch: list[PeriodDelivery],
        table_id: str,
        folder: Path,
    ) -> tuple[int, list[tuple[PeriodDelivery, int]], list[PeriodDelivery]]:
        """Each part of each delivery streamed to ``folder`` and loaded, one at a time (the
        first load replaces the staging table, the others append); the bytes read, per
        delivery loaded its bytes, and the deliveries left for the next sync because their
        header is not the first delivery's (where no manifest lists the columns)."""
        variants_of = self.step.options["source"].get("variants_of")
        size = parts_loaded = 0
        loaded: list[tuple[PeriodDelivery, int]] = []
        later: list[PeriodDelivery] = []
        header = None
        done: set[str] = set()
        for delivery in batch:
            delivery_bytes = sum(p.size for p in delivery.parts if p.key in done)
            own_parts = 0
            for index, part in enumerate(delivery.parts):
                if part.key in done:
                    # A file holding rows of two new periods (OCI) is loaded once.
                    continue
                where = f"{store.location}/{part.key}"
                suffix = "".join(Path(part.key).suffixes[-2:]) or ".csv"
                path = folder / f"part-{len(loaded)}-{index}{suffix}"
                try:
                    written = part_spool(store, part, path)
                except ExportStoreError as exc:
                    raise StepFailed(str(exc)) from None
                columns, names = _part_header(path, delivery.format, where)
                _header_check(names, delivery, where, variants_of)
                keys = [header_key(n) for n in names]
                if header is None:
                    header = keys
                elif keys != header and own_parts == 0:
                    # Another month's columns (the export gained some): the next sync's.
                    path.unlink(missing_ok=True)
                    later.append(delivery)
                    break
                elif keys != header:
                    raise StepFailed(
                        f"{where}: its header differs from the delivery's first part's; every "
                        "part of a delivery has the same columns"
                    )
                done.add(part.key)
                own_parts += 1
                try:
                    context.warehouse.load_file(
                        str(path),
                        context.dataset_id,
                        table_id,
                        source_format=delivery.format,
                        columns=columns,
                        write_mode="append" if parts_loaded else "overwrite",
                    )
                except WarehouseBadRequest as exc:
                    logger.warning("load of %s refused: %s", where, exc)
                    raise StepFailed(
                        f"{where} could not be loaded as {delivery.format}: check that it is "
                        "the export's own file, rows of the header's columns."
                    ) from None
                finally:
                    path.unlink(missing_ok=True)
                parts_loaded += 1
                size += written
                delivery_bytes += written
            else:
                loaded.append((delivery, delivery_bytes))
        return size, loaded, later


def _is_new(delivery: PeriodDelivery, known: LedgerPeriod | None) -> bool:
    """New unless the ledger's last successful load of the period was this very delivery:
    the same delivery id and the same parts with the same entity tags."""
    if known is None:
        return True
    parts = frozenset((p.key, p.etag) for p in delivery.parts)
    return (delivery.delivery_id, parts) != (known.delivery_id, known.parts)


def _header_signature(delivery: PeriodDelivery) -> tuple[str, ...] | None:
    if delivery.columns is None:
        return None
    return tuple(header_key(c) for c in delivery.columns)


def _part_header(path: Path, source_format: str, where: str):
    """The load schema (CSV: all STRING, named from the header) and the header's names."""
    try:
        if source_format == "PARQUET":
            names = parquet_column_names(path)
            return None, names
        columns = csv_header_columns(path)
    except FileSourceError as exc:
        # The message names the local copy: the object is named instead.
        problem = str(exc).removeprefix(path.name).lstrip(":").strip()
        raise StepFailed(
            f"{where} {problem}" if problem.startswith("is ") else f"{where}: {problem}"
        ) from None
    return columns, [c.name for c in columns]


def _header_check(
    names: list[str], delivery: PeriodDelivery, where: str, variants_of: str | None
) -> None:
    """The part's header is the manifest's columns (where it lists them) and a variant the
    pipeline reads; else the run fails naming the part and the first difference."""
    if delivery.columns is not None:
        expected = [header_key(c) for c in delivery.columns]
        got = [header_key(n) for n in names]
        if got != expected:
            missing = [c for c, k in zip(delivery.columns, expected, strict=True) if k not in got]
            extra = [n for n, k in zip(names, got, strict=True) if k not in expected]
            detail = (
                f"lacks {', '.join(missing[:5])}"
                if missing
                else f"has {', '.join(extra[:5])} in addition"
                if extra
                else "has them in another order"
            )
            raise StepFailed(
                f"{where}: its header differs from the manifest {delivery.manifest_key}'s "
                f"columns (it {detail})"
            )
    if variants_of:
        try:
            source_variant(variants_of, names)
        except FocusSourceError as exc:
            raise StepFailed(f"{where}: {exc}") from None


def _summary(delivery: PeriodDelivery) -> dict:
    return {
        "billing_period": delivery.period.isoformat(),
        "kind": delivery.kind,
        "delivery_id": delivery.delivery_id,
        "manifest_key": delivery.manifest_key,
        "parts": len(delivery.parts),
        "bytes": sum(p.size for p in delivery.parts),
    }


def _source_name(location: str, delivery: PeriodDelivery) -> str:
    """What ``x_meta_focus_periods`` keeps as the period's source: the manifest (or the only
    part), its delivery id and its number of parts."""
    key = delivery.manifest_key or (delivery.parts[0].key if delivery.parts else "")
    name = f"{location}/{key}"
    if delivery.delivery_id:
        name += f" (delivery {delivery.delivery_id}"
        name += f", {len(delivery.parts)} part{'s' * (len(delivery.parts) != 1)})"
    else:
        name += f" ({len(delivery.parts)} part{'s' * (len(delivery.parts) != 1)})"
    return name


def _ledger_record(context: StepContext, *, config, layout: str, deliveries) -> None:
    """The parts this run loaded, marked with the run: they count once it COMPLETES
    (``connectors.selectors``), and are removed if it does not (``connectors.services``)."""
    ExportObjectRecord.objects.bulk_create(
        ExportObjectRecord(
            tenant_id=context.tenant_id,
            provider_config=config,
            layout=layout,
            key=part.key,
            etag=part.etag,
            size=part.size,
            last_modified=part.last_modified,
            delivery_id=delivery.delivery_id,
            manifest_key=delivery.manifest_key or "",
            billing_period=delivery.period,
            run_id=context.run_id,
        )
        for delivery in deliveries
        for part in delivery.parts
    )
