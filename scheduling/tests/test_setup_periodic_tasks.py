"""The system jobs are django-celery-beat rows that the command writes idempotently."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

pytestmark = pytest.mark.django_db

TASKS = {
    "scheduling.dispatch",
    "scheduling.cleanup_orphans",
    "scheduling.purge_run_logs",
    "scheduling.roll_quota_windows",
}


def test_setup_periodic_tasks_is_idempotent_and_repairs_rows():
    """Run twice: four rows, dispatch every second; a disabled job is re-enabled."""
    call_command("setup_periodic_tasks", verbosity=0)
    PeriodicTask.objects.filter(task="scheduling.dispatch").update(enabled=False)
    call_command("setup_periodic_tasks", verbosity=0)

    tasks = PeriodicTask.objects.filter(task__startswith="scheduling.")
    assert set(tasks.values_list("task", flat=True)) == TASKS
    assert tasks.count() == len(TASKS)
    dispatch = tasks.get(task="scheduling.dispatch")
    assert dispatch.enabled
    assert (dispatch.interval.every, dispatch.interval.period) == (1, IntervalSchedule.SECONDS)
    assert IntervalSchedule.objects.filter(every=1, period=IntervalSchedule.SECONDS).count() == 1


def test_every_system_job_names_a_registered_task():
    """Each row's task name is a Celery task the worker knows."""
    import scheduling.tasks  # noqa: F401 - registers the tasks
    from convergence.celery import app

    call_command("setup_periodic_tasks", verbosity=0)
    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert names <= set(app.tasks)
