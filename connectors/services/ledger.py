"""Writes to the export ledger beyond what a sync records as it loads."""

from __future__ import annotations

from connectors.models import ExportObjectRecord
from pipelines.models import RunStatus


def ledger_after_run(*, run_id, status: str, **_: object) -> int:
    """A run that did not complete takes its ledger rows with it: the periods it loaded are
    new again for the next sync (they would not count anyway; this keeps the admin's view
    to what was really replaced). Returns the rows removed."""
    if status == RunStatus.COMPLETED:
        return 0
    deleted, _ = ExportObjectRecord.objects.filter(run_id=run_id).delete()
    return deleted
