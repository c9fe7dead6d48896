"""Writes to the export ledger beyond what a sync records as it loads."""

from __future__ import annotations

from connectors.models import ExportObjectRecord
from pipelines.models import RunStatus


def ledger_after_run(*, run_id, status: str, **_: object) -> int:
    """A run that completed has its ledger rows marked so (they then count even once the
    run's own row is purged); one that did not takes its rows with it, so the periods it
    loaded are new again for the next sync. Returns the rows marked or removed."""
    rows = ExportObjectRecord.objects.filter(run_id=run_id)
    if status == RunStatus.COMPLETED:
        return rows.update(completed=True)
    deleted, _ = rows.delete()
    return deleted
