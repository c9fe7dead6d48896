"""Celery tasks of the scheduling app: thin, one service call each, run by django-celery-beat."""

from datetime import timedelta

from celery import shared_task

from scheduling.services.dispatcher import scheduler_tick
from scheduling.services.maintenance import (
    run_logs_purge,
    runs_orphaned_recover,
    runs_pending_requeue,
    runs_unlogged_retry,
    usage_windows_roll,
)
from scheduling.services.queue import scheduled_runs_process_queue


@shared_task(name="scheduling.dispatch", ignore_result=True, acks_late=False)
def scheduler_dispatch_task() -> dict:
    """Start every due schedule's slot and work the queue. Not retried: the next tick is."""
    return scheduler_tick(time_budget=20.0).as_dict()


@shared_task(name="scheduling.process_queue", ignore_result=True, acks_late=False)
def scheduler_process_queue_task() -> dict:
    return scheduled_runs_process_queue().as_dict()


@shared_task(name="scheduling.cleanup_orphans", ignore_result=True)
def scheduler_cleanup_orphans_task(stale_after_minutes: int = 10) -> dict:
    stale_after = timedelta(minutes=stale_after_minutes)
    return {
        "recovered": len(runs_orphaned_recover(stale_after=stale_after)),
        "requeued": len(runs_pending_requeue(stale_after=stale_after)),
        "relogged": runs_unlogged_retry(),
    }


@shared_task(
    name="scheduling.purge_run_logs",
    ignore_result=True,
    autoretry_for=(Exception,),
    max_retries=3,
    retry_backoff=True,
)
def scheduler_purge_run_logs_task(days: int | None = None) -> dict:
    return run_logs_purge(days=days)


@shared_task(
    name="scheduling.roll_quota_windows",
    ignore_result=True,
    autoretry_for=(Exception,),
    max_retries=3,
    retry_backoff=True,
)
def scheduler_roll_quota_windows_task() -> dict:
    return usage_windows_roll()
