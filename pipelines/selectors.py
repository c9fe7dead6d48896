"""Reads of the pipelines app."""

from pipelines.models import PipelineRun


def runs_active_count(*, tenant_id: str) -> int:
    """Runs holding one of the tenant's concurrency slots."""
    return PipelineRun.objects.filter(tenant_id=tenant_id, holds_slot=True).count()
