"""Re-wrap every stored credential's data key with the current KMS key (after a rotation)."""

from django.core.management.base import BaseCommand, CommandError

from tenants.kms import KmsError
from tenants.services.credentials import credentials_rewrap


class Command(BaseCommand):
    help = "Re-wrap all cloud credentials with the current KMS key version; prints the count."

    def handle(self, *args, **options):
        try:
            count = credentials_rewrap()
        except KmsError as exc:
            raise CommandError(f"Re-wrapping stopped: {exc}") from exc
        self.stdout.write(f"Re-wrapped {count} credential(s).")
