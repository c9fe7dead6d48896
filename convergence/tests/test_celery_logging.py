"""The worker's console keeps the dispatcher's frequent INFO lines out, and everything else in."""

import logging

from convergence.celery import QuietSystemTasks


def _record(level: int, msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("celery.app.trace", level, __file__, 1, msg, args, None)


def test_dispatcher_info_lines_are_dropped_others_kept():
    """INFO about scheduling.dispatch is dropped; a run's lines and any error are kept."""
    quiet = QuietSystemTasks()
    assert not quiet.filter(
        _record(logging.INFO, "Task %s[%s] received", "scheduling.dispatch", "1")
    )
    assert quiet.filter(_record(logging.INFO, "Task %s[%s] received", "pipelines.run", "2"))
    assert quiet.filter(_record(logging.ERROR, "Task %s[%s] raised", "scheduling.dispatch", "3"))
