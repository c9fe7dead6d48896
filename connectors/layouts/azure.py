"""Azure Cost Management exports: each run of an export writes its data as partitioned CSV
(optionally gzip) or Parquet blobs plus a ``manifest.json`` that lists them, under
``<root folder>/<export name>/<YYYYMMDD-YYYYMMDD>/[<timestamp>/]<run id>/``. A billing month's
current delivery, per export, is its newest run's manifest."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from connectors.layouts import ExportLayoutError, PeriodDelivery
from warehouse.exports import ExportObject, ExportStore

MANIFEST_NAME = "manifest.json"
#: The folder of a run's date range, e.g. ``20240901-20240930/``.
DATE_RANGE = re.compile(r"(?:^|/)(\d{8})-(\d{8})/")
#: Export types (``exportConfig.type``) that hold cost and usage details, as PeriodDelivery
#: kinds. "Usage" is the management-group scope's (actual cost without purchases).
COST_KINDS = {
    "actualcost": "ActualCost",
    "amortizedcost": "AmortizedCost",
    "focuscost": "FocusCost",
    "usage": "ActualCost",
}
FORMATS = {"csv": "CSV", "parquet": "PARQUET"}


@dataclass(frozen=True)
class _Run:
    """One run's manifest, as read."""

    export: str
    kind: str
    period: date
    run_id: str
    submitted: str
    manifest: ExportObject
    delivery: PeriodDelivery


class AzureExportsLayout:
    """Cost Management exports (actual, amortized and FOCUS cost details) in a container.

    Every export under the prefix counts: an ActualCost and an AmortizedCost export of the same
    scope give two deliveries of each month, told apart by ``PeriodDelivery.kind``. Exports of
    other datasets (price sheets, reservation details) are not cost details and are passed over.
    """

    name = "azure_exports"

    def deliveries(
        self,
        store: ExportStore,
        prefix: str,
        *,
        known_periods: Mapping[tuple[str, str], date] | None = None,
    ) -> list[PeriodDelivery]:
        """The current delivery of each (export, billing month) under ``prefix``, by month
        then kind then export name. Reads the listing and, per month folder of each export,
        the newest manifest only: a month's older runs are never read."""
        objects = {o.key: o for o in store.list(prefix)}
        months: dict[str, list[ExportObject]] = {}
        for obj in objects.values():
            if obj.key.rsplit("/", 1)[-1] == MANIFEST_NAME:
                months.setdefault(_month_folder(obj.key), []).append(obj)
        runs: dict[tuple[str, str, date], _Run] = {}
        for manifests in months.values():
            # The newest manifest by time written; several written in the same second (the
            # listing's resolution) are all read and told apart by their submitted time.
            latest = max(m.last_modified for m in manifests)
            candidates = [
                run
                for m in manifests
                if m.last_modified == latest
                and (run := _run(store, m, prefix, objects)) is not None
            ]
            for run in candidates:
                key = (run.export, run.kind, run.period)
                # One export's month in two month folders (a re-exported custom range): the
                # later submitted run is current.
                if key not in runs or (run.submitted, run.manifest.key) > (
                    runs[key].submitted,
                    runs[key].manifest.key,
                ):
                    runs[key] = run
        ordered = sorted(runs.values(), key=lambda r: (r.period, r.kind, r.export))
        return [r.delivery for r in ordered]


def _month_folder(key: str) -> str:
    """The folder a manifest's export writes one month into (through the date-range folder),
    or, for a path without one, the manifest's own folder."""
    match = _last_date_range(key)
    if match is not None:
        return key[: match.end()]
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


def _last_date_range(key: str) -> re.Match | None:
    matches = list(DATE_RANGE.finditer(key))
    return matches[-1] if matches else None


def _run(
    store: ExportStore, manifest: ExportObject, prefix: str, objects: dict[str, ExportObject]
) -> _Run | None:
    """The run a manifest describes, or None when it is not a cost-details export or exported
    no rows."""
    where = f"{store.location}/{manifest.key}"
    try:
        document = json.loads(store.read(manifest.key))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ExportLayoutError(f"{where}: the manifest is not valid JSON") from None
    if not isinstance(document, dict):
        raise ExportLayoutError(f"{where}: the manifest is not a JSON object")
    config = _section(document, "exportConfig", where)
    run_info = _section(document, "runInfo", where)
    delivery_config = document.get("deliveryConfig") or {}
    kind = COST_KINDS.get(str(config.get("type") or "").lower())
    if kind is None:
        return None
    blobs = document.get("blobs")
    if not isinstance(blobs, list):
        raise ExportLayoutError(f"{where}: the manifest has no 'blobs' list")
    if not blobs:
        return None
    parts = []
    for entry in blobs:
        name = entry.get("blobName") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise ExportLayoutError(f"{where}: a 'blobs' entry has no blobName")
        name = name.lstrip("/")
        if not name.startswith(prefix) or ".." in name.split("/"):
            raise ExportLayoutError(
                f"{where}: names the blob {name}, outside the registered prefix {prefix!r}"
            )
        if name not in objects:
            raise ExportLayoutError(
                f"{where}: names the blob {name}, which is not in the container"
            )
        parts.append(objects[name])
    period = _period(run_info, manifest.key, where)
    run_id = str(run_info.get("runId") or manifest.key.rsplit("/", 2)[-2])
    return _Run(
        export=str(config.get("exportName") or ""),
        kind=kind,
        period=period,
        run_id=run_id,
        submitted=str(run_info.get("submittedTime") or ""),
        manifest=manifest,
        delivery=PeriodDelivery(
            period=period,
            delivery_id=run_id,
            manifest_key=manifest.key,
            parts=tuple(parts),
            columns=None,
            format=_format(delivery_config, parts, where),
            kind=kind,
        ),
    )


def _section(document: dict, name: str, where: str) -> dict:
    section = document.get(name)
    if not isinstance(section, dict):
        raise ExportLayoutError(f"{where}: the manifest has no {name!r} object")
    return section


def _period(run_info: dict, key: str, where: str) -> date:
    """The billing month a run covers: from runInfo's startDate (and endDate, which must fall
    in the same month), else from the date-range folder."""
    start = _date(run_info.get("startDate"))
    end = _date(run_info.get("endDate"))
    if start is None:
        match = _last_date_range(key)
        if match is None:
            raise ExportLayoutError(
                f"{where}: the manifest gives no runInfo.startDate and its path no date range"
            )
        start = _date(match.group(1))
        end = _date(match.group(2))
        if start is None:
            raise ExportLayoutError(f"{where}: its date-range folder is not a date range")
    period = start.replace(day=1)
    if end is not None and end.replace(day=1) != period and end != _next_month(period):
        raise ExportLayoutError(
            f"{where}: the run covers {start.isoformat()} to {end.isoformat()}, more than one "
            "billing month; export one month per run (monthly or month-to-date)"
        )
    return period


def _date(value) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{8}", text):
            return datetime.strptime(text, "%Y%m%d").date()
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _next_month(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def _format(delivery_config: dict, parts: list[ExportObject], where: str) -> str:
    declared = str(delivery_config.get("fileFormat") or "").lower()
    if declared in FORMATS:
        return FORMATS[declared]
    suffixes = {"PARQUET" if ".parquet" in p.key.lower() else "CSV" for p in parts}
    if len(suffixes) != 1:
        raise ExportLayoutError(f"{where}: the manifest lists both CSV and Parquet parts")
    return suffixes.pop()
