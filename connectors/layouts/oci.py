"""OCI cost reports: ``reports/cost-csv/<number>.csv.gz`` in the Oracle-owned bucket named by
the tenancy OCID (namespace ``bling``), read through Object Storage's S3 compatibility API.

OCI writes a new file about every six hours and never rewrites one; there is no manifest. A
file's billing periods are learnt from its rows (``lineItem/intervalUsageStart``), so a file
the ledger has not seen is read once, streamed; a file it has seen (same key and ETag) is not
read again. A file may hold rows of two months (late usage and corrections arrive in the next
month's files): it then belongs to both periods' deliveries, marked ``mixed_periods``.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from connectors.layouts import ExportLayoutError, PeriodDelivery
from connectors.layouts.aws import listing, prefix_normalize
from warehouse.exports import ExportObject, ExportStore

PERIOD_COLUMN = "lineItem/intervalUsageStart"
#: Cost report files, wherever the registered prefix starts: never ``usage-csv`` (usage
#: reports carry no cost) nor the FOCUS reports folder.
COST_REPORT = re.compile(r"(?:\A|/)cost-csv/[^/]+\.csv\.gz\Z")
_MONTH = re.compile(r"\A(\d{4})-(\d{2})-\d{2}")


@dataclass(frozen=True)
class OciCostReportsLayout:
    """OCI cost reports: one delivery per billing period, every file with rows of it
    (delivery id "": OCI has none)."""

    name: str = "oci_reports"

    def deliveries(
        self,
        store: ExportStore,
        prefix: str,
        *,
        known_periods: Mapping[tuple[str, str], date | Collection[date]],
    ) -> list[PeriodDelivery]:
        prefix = prefix_normalize(prefix)
        files = [item for key, item in listing(store, prefix).items() if COST_REPORT.search(key)]
        if not files:
            raise ExportLayoutError(
                f"no OCI cost report under {store.location}/{prefix} (no "
                "reports/cost-csv/<number>.csv.gz)"
            )
        by_period: dict[date, list[ExportObject]] = {}
        mixed: set[date] = set()
        for item in files:
            known = known_periods.get((item.key, item.etag))
            periods = _as_periods(known) if known is not None else file_periods(store, item)
            for period in periods:
                by_period.setdefault(period, []).append(item)
                if len(periods) > 1:
                    mixed.add(period)
        return [
            PeriodDelivery(
                period=period,
                delivery_id="",
                manifest_key=None,
                parts=tuple(sorted(by_period[period], key=lambda item: item.key)),
                columns=None,
                format="CSV",
                mixed_periods=period in mixed,
            )
            for period in sorted(by_period)
        ]


def _as_periods(known: date | Collection[date]) -> frozenset[date]:
    return frozenset([known]) if isinstance(known, date) else frozenset(known)


def file_periods(store: ExportStore, item: ExportObject) -> frozenset[date]:
    """The billing months a cost report file has rows of, read streamed (one column kept).

    Every row is read, not the first few: a file's late rows can belong to the month before,
    and a period delivered without them would lose them on replacement."""
    where = f"{store.location}/{item.key}"
    periods: set[date] = set()
    try:
        with (
            store.open(item.key) as raw,
            gzip.GzipFile(fileobj=raw) as unzipped,
            io.TextIOWrapper(unzipped, encoding="utf-8-sig", newline="") as text,
        ):
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                raise ExportLayoutError(f"{where}: empty, not an OCI cost report")
            try:
                column = header.index(PERIOD_COLUMN)
            except ValueError:
                raise ExportLayoutError(
                    f"{where}: not an OCI cost report (no {PERIOD_COLUMN} column)"
                ) from None
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                match = _MONTH.match(row[column] if column < len(row) else "")
                if not match or not 1 <= int(match[2]) <= 12:
                    raise ExportLayoutError(f"{where}: line {line}: {PERIOD_COLUMN} is not a date")
                periods.add(date(int(match[1]), int(match[2]), 1))
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise ExportLayoutError(f"{where}: not a valid gzip file ({_gzip_cause(exc)})") from None
    except EOFError:
        raise ExportLayoutError(f"{where}: the gzip stream is cut short") from None
    except UnicodeDecodeError:
        raise ExportLayoutError(f"{where}: not UTF-8 text") from None
    except csv.Error as exc:
        raise ExportLayoutError(f"{where}: not a valid CSV file ({exc})") from None
    return frozenset(periods)


def _gzip_cause(exc: Exception) -> str:
    text = str(exc)
    return text if re.fullmatch(r"[\w .,:;'()-]{1,120}", text) else type(exc).__name__
