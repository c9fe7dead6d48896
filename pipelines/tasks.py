"""Celery tasks of the pipelines app: thin, by id, one service call each."""

from celery import shared_task

from pipelines.services.runs import pipeline_run_execute


@shared_task(name="pipelines.run", acks_late=True, ignore_result=True)
def pipeline_run_task(run_id: str) -> None:
    """Execute one admitted run; a run that is gone or already taken is left alone."""
    pipeline_run_execute(run_id=run_id, worker=pipeline_run_task.request.hostname or "")
