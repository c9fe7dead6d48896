"""Create the scheduler's system jobs as django-celery-beat rows; safe to run on every deploy."""

from django.core.management.base import BaseCommand

from scheduling.services.system_jobs import periodic_tasks_setup


class Command(BaseCommand):
    help = "Create or update the system periodic tasks (dispatch, orphans, retention, quotas)."

    def handle(self, *args, **options):
        for name, created in periodic_tasks_setup():
            self.stdout.write(f"{'created' if created else 'up to date'}: {name}")
