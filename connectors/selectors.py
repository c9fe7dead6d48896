"""Reads of the export ledger: what the last successful sync of each billing period took."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from connectors.models import ExportObjectRecord
from pipelines.models import RunStatus
from tenants.models import ProviderConfig


@dataclass(frozen=True)
class LedgerPeriod:
    """A billing period as its last successful sync loaded it."""

    period: dt.date
    delivery_id: str
    parts: frozenset[tuple[str, str]]
    run_id: str


def ledger_periods(*, provider_config: ProviderConfig) -> dict[dt.date, LedgerPeriod]:
    """Per billing period, the delivery (id and (key, etag) of its parts) that the latest
    COMPLETED run of this config loaded. Rows of runs that failed or were cancelled do not
    count, so their periods are loaded again by the next sync."""
    rows = (
        _completed(provider_config)
        .order_by("billing_period", "-created_at")
        .values_list("billing_period", "run_id", "delivery_id", "key", "etag")
    )
    latest: dict[dt.date, str] = {}
    found: dict[dt.date, tuple[str, set]] = {}
    for period, run_id, delivery_id, key, etag in rows:
        if latest.setdefault(period, str(run_id)) != str(run_id):
            continue
        found.setdefault(period, (delivery_id, set()))[1].add((key, etag))
    return {
        period: LedgerPeriod(period, delivery_id, frozenset(parts), latest[period])
        for period, (delivery_id, parts) in found.items()
    }


def ledger_known_objects(
    *, provider_config: ProviderConfig
) -> dict[tuple[str, str], frozenset[dt.date]]:
    """(key, etag) of every object a completed sync of this config loaded, to the periods it
    held rows of: what a layout that must otherwise read a part to learn its months (OCI)
    is told."""
    rows = _completed(provider_config).values_list("key", "etag", "billing_period")
    found: dict[tuple[str, str], set[dt.date]] = {}
    for key, etag, period in rows:
        found.setdefault((key, etag), set()).add(period)
    return {item: frozenset(periods) for item, periods in found.items()}


def _completed(provider_config: ProviderConfig):
    """Rows of completed syncs: marked so when the run ended, or of a run that COMPLETED and
    whose end was not yet handled."""
    return ExportObjectRecord.objects.filter(provider_config=provider_config).filter(
        Q(completed=True) | Q(run__status=RunStatus.COMPLETED)
    )


def ledger_records_of_run(*, run_id) -> list[ExportObjectRecord]:
    return list(ExportObjectRecord.objects.filter(run_id=run_id).order_by("billing_period", "key"))
