"""A Celery worker process freezes what it starts with out of the garbage collector's reach."""

import gc

from celery.signals import worker_process_init

import convergence.celery  # noqa: F401  (connects the worker's signal handlers)


def test_a_worker_process_freezes_its_startup_objects():
    """Celery sends worker_process_init in each pool process it starts; after it, the
    objects that existed are in the permanent generation."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        worker_process_init.send(sender=None)
        # Django, the apps and pytest: all there before the signal.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
