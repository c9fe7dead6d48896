"""The system jobs as django-celery-beat rows, written idempotently."""

import json

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

# Cron slots fall on whole minutes, and a slot waits for the first tick after it: one tick a
# second keeps that wait under a second. An idle tick is three index lookups; a tick that
# runs long is joined by the next one on another worker (claims skip locked rows), which is
# how a burst is split across workers.
DISPATCH_EVERY_SECONDS = 1


def _jobs() -> list[dict]:
    every_tick, _ = IntervalSchedule.objects.get_or_create(
        every=DISPATCH_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    every_minute, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.MINUTES
    )
    daily_0310, _ = CrontabSchedule.objects.get_or_create(
        minute="10",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    midnight, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="0",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    return [
        # A tick older than its interval is dropped: the next one does the same work.
        {
            "name": "scheduler: dispatch due schedules",
            "task": "scheduling.dispatch",
            "interval": every_tick,
            "expire_seconds": max(DISPATCH_EVERY_SECONDS * 2, 2),
        },
        {
            "name": "scheduler: recover orphaned runs",
            "task": "scheduling.cleanup_orphans",
            "interval": every_minute,
            "expire_seconds": 60,
        },
        {
            "name": "scheduler: purge run logs (retention)",
            "task": "scheduling.purge_run_logs",
            "crontab": daily_0310,
        },
        {
            "name": "scheduler: roll quota windows",
            "task": "scheduling.roll_quota_windows",
            "crontab": midnight,
        },
    ]


def periodic_tasks_setup() -> list[tuple[str, bool]]:
    """Create or correct each system job's row; returns (name, created) pairs."""
    out = []
    with transaction.atomic():
        for job in _jobs():
            defaults = {
                "task": job["task"],
                "interval": job.get("interval"),
                "crontab": job.get("crontab"),
                "expire_seconds": job.get("expire_seconds"),
                "enabled": True,
                "args": json.dumps([]),
                "kwargs": json.dumps({}),
            }
            _, created = PeriodicTask.objects.update_or_create(name=job["name"], defaults=defaults)
            out.append((job["name"], created))
    return out
