"""AWS export layouts: the legacy Cost and Usage Report (CUR 1.0) and AWS Data Exports (CUR 2.0
and FOCUS 1.2 exports). Both deliver a billing period as parts listed by a manifest that AWS
rewrites on every refresh; the layouts read the listing and the manifests only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal

from connectors.layouts import ExportLayoutError, PeriodDelivery
from warehouse.exports import ExportObject, ExportStore

#: ``<prefix>/<report>/<YYYYMMDD>-<YYYYMMDD>/<report>-Manifest.json``: the period's current
#: manifest. The copy AWS also writes into each assembly's folder does not match (its parent
#: folder is the assembly id, not the report's name).
CUR_MANIFEST = re.compile(
    r"(?:\A|/)(?P<report>[^/]+)/(?P<start>\d{8})-(?P<end>\d{8})/(?P=report)-Manifest\.json\Z"
)
#: ``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/[<execution>/]<export>-Manifest.json``.
DATA_EXPORT_MANIFEST = re.compile(
    r"(?:\A|/)(?P<export>[^/]+)/metadata/BILLING_PERIOD=(?P<year>\d{4})-(?P<month>\d{2})/"
    r"(?:[^/]+/)?(?P=export)-Manifest\.json\Z"
)
PARQUET_SUFFIXES = (".parquet",)
CSV_SUFFIXES = (".csv", ".csv.gz")


def prefix_normalize(prefix: str) -> str:
    """A registered prefix as a folder: ``cur`` lists ``cur/…``, never ``curious/…``."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def listing(store: ExportStore, prefix: str) -> dict[str, ExportObject]:
    """Every object under the (folder) prefix, by key."""
    return {item.key: item for item in store.list(prefix)}


def manifest_load(store: ExportStore, key: str) -> dict[str, Any]:
    """A manifest's JSON object; ExportLayoutError naming it when it is not one."""
    data = store.read(key)
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportLayoutError(
            f"{store.location}/{key}: not a valid manifest (not JSON: {_json_cause(exc)})"
        ) from None
    if not isinstance(document, dict):
        raise ExportLayoutError(f"{store.location}/{key}: not a valid manifest (not an object)")
    return document


def _json_cause(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "not UTF-8 text"


def part_check(
    store: ExportStore,
    manifest_key: str,
    key: str,
    *,
    prefix: str,
    objects: Mapping[str, ExportObject],
) -> ExportObject:
    """The listed object a manifest names; ExportLayoutError when it lies outside the
    registered prefix or is not in the bucket."""
    if not isinstance(key, str) or not key:
        raise ExportLayoutError(
            f"{store.location}/{manifest_key}: names a part that is not an object key"
        )
    if not key.startswith(prefix) or "/../" in f"/{key}/":
        raise ExportLayoutError(
            f"{store.location}/{manifest_key}: names {key}, outside the registered prefix "
            f"{prefix or '(the whole bucket)'}"
        )
    found = objects.get(key)
    if found is None:
        raise ExportLayoutError(
            f"{store.location}/{manifest_key}: names {key}, which is not in the bucket"
        )
    return found


def parts_format(
    store: ExportStore, manifest_key: str, parts: Iterable[ExportObject]
) -> Literal["CSV", "PARQUET"]:
    """CSV or Parquet, from the parts' names (all alike, or ExportLayoutError)."""
    kinds = set()
    for part in parts:
        name = part.key.lower()
        if name.endswith(PARQUET_SUFFIXES):
            kinds.add("PARQUET")
        elif name.endswith(CSV_SUFFIXES):
            kinds.add("CSV")
        elif name.endswith(".zip"):
            # A ZIP archive cannot be read as a stream nor loaded by BigQuery.
            raise ExportLayoutError(
                f"{store.location}/{manifest_key}: names {part.key}, a ZIP archive: set the "
                "report's compression to GZIP (or its format to Parquet)"
            )
        else:
            raise ExportLayoutError(
                f"{store.location}/{manifest_key}: names {part.key}, neither CSV nor Parquet"
            )
    if len(kinds) > 1:
        raise ExportLayoutError(
            f"{store.location}/{manifest_key}: names both CSV and Parquet parts"
        )
    return kinds.pop() if kinds else "CSV"


def _names(objects: Iterable[str], pattern: re.Pattern, group: str) -> set[str]:
    """The report (or export) names of every manifest among ``objects``."""
    return {match[group] for key in objects if (match := pattern.search(key))}


def _one_name(store: ExportStore, prefix: str, names: set[str], what: str) -> None:
    if len(names) > 1:
        raise ExportLayoutError(
            f"{store.location}/{prefix} holds more than one {what} ({', '.join(sorted(names))}): "
            f"register the prefix of one of them"
        )


def _bucket_check(store: ExportStore, manifest_key: str, bucket: object) -> None:
    """A manifest naming another bucket is refused: a sync reads only the registered one."""
    if (
        isinstance(bucket, str)
        and bucket
        and store.location.startswith("s3://")
        and store.location != f"s3://{bucket}"
    ):
        raise ExportLayoutError(
            f"{store.location}/{manifest_key}: names bucket {bucket}, not the registered "
            f"{store.location.removeprefix('s3://')}"
        )


def _period_of(text: object) -> date | None:
    """The first day of the month an AWS timestamp (``20240101T000000.000Z`` or
    ``2024-01-01T00:00:00.000Z``) falls in."""
    if not isinstance(text, str):
        return None
    match = re.match(r"(\d{4})-?(\d{2})-?(\d{2})", text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), 1)
    except ValueError:
        return None


class _ManifestLayout:
    """A layout whose every billing period has one current manifest naming its parts."""

    #: What the layout reads, for "no … under" messages, and the manifest path it looks for.
    export_kind: ClassVar[str]
    manifest_path: ClassVar[str]
    #: The pattern of a manifest's key and its group naming the report/export.
    manifest_pattern: ClassVar[re.Pattern]
    name_group: ClassVar[str]

    def manifests(self, objects: Mapping[str, ExportObject]) -> dict[date, ExportObject]:
        raise NotImplementedError

    def _manifest_parts(
        self, store: ExportStore, manifest_key: str, where: str, document: dict[str, Any]
    ) -> tuple[str, list[str]]:
        """The manifest's delivery id and the keys of the parts it names."""
        raise NotImplementedError

    def _columns(self, where: str, document: dict[str, Any], kind: str) -> tuple[str, ...] | None:
        """The column names a part's header must have, where the manifest lists them."""
        raise NotImplementedError

    def _delivery(
        self,
        store: ExportStore,
        prefix: str,
        objects: Mapping[str, ExportObject],
        period: date,
        manifest: ExportObject,
    ) -> PeriodDelivery:
        document = manifest_load(store, manifest.key)
        where = f"{store.location}/{manifest.key}"
        delivery_id, keys = self._manifest_parts(store, manifest.key, where, document)
        declared = _period_of((document.get("billingPeriod") or {}).get("start"))
        if declared is not None and declared != period:
            raise ExportLayoutError(
                f"{where}: its billingPeriod starts {declared:%Y-%m}, its folder says "
                f"{period:%Y-%m}"
            )
        parts = tuple(
            part_check(store, manifest.key, key, prefix=prefix, objects=objects) for key in keys
        )
        kind = parts_format(store, manifest.key, parts)
        return PeriodDelivery(
            period=period,
            delivery_id=delivery_id,
            manifest_key=manifest.key,
            parts=parts,
            columns=self._columns(where, document, kind),
            format=kind,
        )

    def deliveries(
        self,
        store: ExportStore,
        prefix: str,
        *,
        known_periods: Mapping[tuple[str, str], Any] | None = None,
    ) -> list[PeriodDelivery]:
        prefix = prefix_normalize(prefix)
        objects = listing(store, prefix)
        manifests = self.manifests(objects)
        if not manifests:
            raise ExportLayoutError(
                f"no {self.export_kind} under {store.location}/{prefix} (no {self.manifest_path})"
            )
        names = _names(objects, self.manifest_pattern, self.name_group)
        _one_name(store, prefix, names, self.name_group)
        return [
            self._delivery(store, prefix, objects, period, manifests[period])
            for period in sorted(manifests)
        ]


@dataclass(frozen=True)
class CurLayout(_ManifestLayout):
    """The legacy Cost and Usage Report (CUR 1.0), CSV (gzip) or Parquet.

    A billing period is the folder ``<report>/<YYYYMMDD>-<YYYYMMDD>/``; its current delivery
    is the one its ``<report>-Manifest.json`` names: ``assemblyId`` (the delivery id),
    ``reportKeys`` (the parts, keys in the same bucket), ``columns`` ({category, name}; a CSV
    part's header is ``category/name``) and ``billingPeriod`` {start, end}.
    """

    name: str = "aws_cur"
    export_kind: ClassVar[str] = "Cost and Usage Report"
    manifest_path: ClassVar[str] = "<report>/<YYYYMMDD-YYYYMMDD>/<report>-Manifest.json"
    manifest_pattern: ClassVar[re.Pattern] = CUR_MANIFEST
    name_group: ClassVar[str] = "report"

    def manifests(self, objects: Mapping[str, ExportObject]) -> dict[date, ExportObject]:
        """The current manifest of each period, by its period's first day."""
        found: dict[date, ExportObject] = {}
        for key, item in objects.items():
            match = CUR_MANIFEST.search(key)
            if match:
                start = match["start"]
                found[date(int(start[:4]), int(start[4:6]), 1)] = item
        return found

    def _manifest_parts(
        self, store: ExportStore, manifest_key: str, where: str, document: dict[str, Any]
    ) -> tuple[str, list[str]]:
        assembly = document.get("assemblyId")
        keys = document.get("reportKeys")
        if not isinstance(assembly, str) or not assembly:
            raise ExportLayoutError(f"{where}: not a CUR manifest (no assemblyId)")
        if not isinstance(keys, list) or not keys:
            raise ExportLayoutError(f"{where}: names no parts (reportKeys is empty)")
        _bucket_check(store, manifest_key, document.get("bucket"))
        return assembly, keys

    def _columns(self, where: str, document: dict[str, Any], kind: str) -> tuple[str, ...] | None:
        # Parquet CUR renames the columns (line_item_unblended_cost): only a CSV part's
        # header is the manifest's category/name list.
        return _cur_columns(where, document.get("columns")) if kind == "CSV" else None


def _cur_columns(where: str, columns: object) -> tuple[str, ...] | None:
    if columns is None:
        return None
    if not isinstance(columns, list):
        raise ExportLayoutError(f"{where}: columns is not a list")
    names = []
    for column in columns:
        if not isinstance(column, dict) or not column.get("name"):
            raise ExportLayoutError(f"{where}: a column has no name")
        category = column.get("category")
        names.append(f"{category}/{column['name']}" if category else str(column["name"]))
    return tuple(names)


@dataclass(frozen=True)
class DataExportsLayout(_ManifestLayout):
    """AWS Data Exports (CUR 2.0, FOCUS 1.2 with AWS columns), Parquet or gzip CSV.

    A billing period is the partition ``BILLING_PERIOD=YYYY-MM``; its current delivery is the
    one ``<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`` names:
    ``executionId`` (the delivery id), ``dataFiles`` (``s3://`` URIs of the parts under
    ``<export>/data/BILLING_PERIOD=YYYY-MM/``) and ``columns`` ({name, type}; a CSV part's
    header is the names). With "create new report" each execution has its own folder; the
    newest manifest of a period is its current one.
    """

    name: str = "aws_data_exports"
    export_kind: ClassVar[str] = "AWS Data Export"
    manifest_path: ClassVar[str] = "<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json"
    manifest_pattern: ClassVar[re.Pattern] = DATA_EXPORT_MANIFEST
    name_group: ClassVar[str] = "export"

    def manifests(self, objects: Mapping[str, ExportObject]) -> dict[date, ExportObject]:
        found: dict[date, ExportObject] = {}
        for key, item in objects.items():
            match = DATA_EXPORT_MANIFEST.search(key)
            if not match:
                continue
            period = date(int(match["year"]), int(match["month"]), 1)
            current = found.get(period)
            if current is None or (item.last_modified, item.key) > (
                current.last_modified,
                current.key,
            ):
                found[period] = item
        return found

    def _manifest_parts(
        self, store: ExportStore, manifest_key: str, where: str, document: dict[str, Any]
    ) -> tuple[str, list[str]]:
        execution = document.get("executionId")
        files = document.get("dataFiles")
        if not isinstance(execution, str) or not execution:
            raise ExportLayoutError(f"{where}: not a Data Exports manifest (no executionId)")
        if not isinstance(files, list) or not files:
            raise ExportLayoutError(f"{where}: names no parts (dataFiles is empty)")
        keys = []
        for uri in files:
            if not isinstance(uri, str) or not uri.startswith("s3://"):
                raise ExportLayoutError(f"{where}: names a data file that is not an s3:// URI")
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            _bucket_check(store, manifest_key, bucket)
            keys.append(key)
        return execution, keys

    def _columns(self, where: str, document: dict[str, Any], kind: str) -> tuple[str, ...] | None:
        columns = document.get("columns")
        named = isinstance(columns, list) and all(
            isinstance(c, dict) and c.get("name") for c in columns
        )
        if columns is not None and not named:
            raise ExportLayoutError(f"{where}: a column has no name")
        return tuple(str(c["name"]) for c in columns) if columns else None


AWS_LAYOUTS = {layout.name: layout for layout in (CurLayout(), DataExportsLayout())}


def aws_layout_detect(store: ExportStore, prefix: str) -> CurLayout | DataExportsLayout:
    """The AWS layout a prefix holds, told from its manifests' paths (one listing): a CUR
    1.0 period folder or a Data Exports ``metadata/BILLING_PERIOD=`` partition. A provider
    config that names its layout skips this."""
    prefix = prefix_normalize(prefix)
    objects = listing(store, prefix)
    found = [layout for layout in AWS_LAYOUTS.values() if layout.manifests(objects)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ExportLayoutError(
            f"no AWS export under {store.location}/{prefix}: neither a Cost and Usage Report "
            "manifest nor a Data Exports manifest"
        )
    raise ExportLayoutError(
        f"{store.location}/{prefix} holds both a Cost and Usage Report and a Data Export: "
        "register the prefix of one of them"
    )
