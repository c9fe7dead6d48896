"""A run against an unreachable warehouse fails within the retry budget, saying why."""

import time

import pytest

from devtools.emulator import free_port
from pipelines.models import RunStatus
from pipelines.services.runs import pipeline_run_execute, pipeline_run_start


@pytest.mark.django_db
def test_run_gives_up_within_the_retry_budget(onboard, settings):
    """With the warehouse down, the run fails after about WAREHOUSE_RETRY_SECONDS with a reason
    naming the warehouse (it used to stay RUNNING for minutes on the client's own retries)."""
    tenant = onboard()
    run = pipeline_run_start(
        tenant_id=tenant.tenant.id,
        provider="example",
        domain="demo",
        pipeline="hello",
        parameters={"date": "2024-09-01"},
        enqueue=False,
    )
    settings.WAREHOUSE_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    settings.WAREHOUSE_RETRY_SECONDS = 3
    started = time.monotonic()
    finished = pipeline_run_execute(run_id=run.pk)
    elapsed = time.monotonic() - started
    assert finished.status == RunStatus.FAILED
    assert "The warehouse is unavailable; gave up after retrying for 3 s" in finished.error_message
    # The budget, one last backoff and quick connection refusals (it used to take 272 s).
    assert elapsed < 30
