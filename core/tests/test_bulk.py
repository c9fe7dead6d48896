"""Set-based writes: COPY stores exactly what the ORM would, on PostgreSQL."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from core.bulk import rows_copy
from pipelines.models import PipelineRun, RunStatus, StepRun
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

AWKWARD = 'tab\there, new\nline, back\\slash, \\N, quote " and \r return, ünïcode'


def test_copy_stores_awkward_text_json_nulls_and_defaults(requires_postgres):
    """Tabs, newlines, backslashes and a literal ``\\N`` come back as written; None is NULL;
    fields not given take their defaults; rows may share values (one run id, one dict)."""
    tenant = TenantFactory()
    shared = {"note": AWKWARD, "nested": {"list": [1, None, "\\"]}}
    ids = [uuid.uuid4(), uuid.uuid4()]
    rows_copy(
        PipelineRun,
        fields=(
            "id",
            "tenant_id",
            "provider",
            "domain",
            "pipeline",
            "pipeline_id",
            "parameters",
            "error_message",
            "heartbeat_at",
        ),
        rows=[
            (run_id, tenant.id, "example", "demo", "hello", AWKWARD, shared, AWKWARD, None)
            for run_id in ids
        ],
    )
    rows_copy(
        StepRun,
        fields=("run_id", "index", "step_id", "ps_type"),
        rows=[
            (run_id, index, f"step\t{index}", "gcp.bq_etl") for run_id in ids for index in (0, 1)
        ],
    )
    for run in PipelineRun.objects.filter(pk__in=ids):
        assert (run.pipeline_id, run.error_message, run.parameters) == (AWKWARD, AWKWARD, shared)
        assert run.heartbeat_at is None and run.status == RunStatus.PENDING
        assert run.holds_slot is True and run.created_at is not None
        assert [s.step_id for s in run.steps.order_by("index")] == ["step\t0", "step\t1"]
        assert all(step.details == {} for step in run.steps.all())


def test_copy_raises_integrity_error_on_a_duplicate(requires_postgres):
    """A row that breaks a unique constraint fails the whole COPY with IntegrityError."""
    tenant = TenantFactory()
    run_id = uuid.uuid4()
    row = (run_id, tenant.id, "example", "demo", "hello", "p")
    fields = ("id", "tenant_id", "provider", "domain", "pipeline", "pipeline_id")
    rows_copy(PipelineRun, fields=fields, rows=[row])
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_copy(PipelineRun, fields=fields, rows=[(uuid.uuid4(), *row[1:]), row])
    assert PipelineRun.objects.count() == 1
