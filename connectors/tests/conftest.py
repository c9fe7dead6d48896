"""Fixtures for connectors tests: onboarding from the tenants tests, and a sync run executed
in this process as a worker would (admitted, then its steps, then finished)."""

import pytest
from django.db import connection

from pipelines.models import PipelineRun
from pipelines.services.runs import pipeline_run_execute, pipeline_run_start
from tenants.tests.conftest import api_client, onboard, staff_client  # noqa: F401
from warehouse.tests.test_s3 import iam_server, on_iam_server  # noqa: F401


@pytest.fixture
def sync_run(settings, tmp_path):
    """Run ``<provider>/cost/sync`` for a tenant to its end; the finished run."""
    settings.PIPELINE_LOCAL_FILES_DIR = str(tmp_path / "imports")

    def _run(tenant_id: str, provider: str, pipeline: str = "sync") -> PipelineRun:
        run = pipeline_run_start(
            tenant_id=tenant_id,
            provider=provider,
            domain="cost",
            pipeline=pipeline,
            parameters={},
            enqueue=False,
        )
        done = pipeline_run_execute(run_id=run.pk)
        assert done is not None
        return done

    yield _run
    connection.close()


def load_jobs(warehouse) -> set[str]:
    """Every load job the warehouse (the emulator) has run: what a sync must not add when it
    finds nothing new."""
    return {
        job.job_id
        for job in warehouse._client.list_jobs(all_users=True)
        if getattr(job, "job_type", "") == "load"
    }
