"""A stand-in worker process for the orphan test: claims a run, heart-beats, never finishes.

Usage: python -m scheduling.tests.fake_worker RUN_ID DB_NAME. The test SIGKILLs it.
"""

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convergence.settings.test")


def main(run_id: str, db_name: str) -> None:
    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = db_name
    django.setup()
    from django.utils import timezone

    from pipelines.models import PipelineRun, RunStatus

    claimed = PipelineRun.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker=f"fake-worker-{os.getpid()}",
    )
    print("claimed" if claimed else "missed", flush=True)
    while True:
        time.sleep(0.2)
        PipelineRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
