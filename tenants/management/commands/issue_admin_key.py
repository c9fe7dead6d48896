"""Mint an X-Admin-Key for a machine (an external cron, a script) and print it once."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenants.services.audit import Actor
from tenants.services.keys import admin_key_issue


class Command(BaseCommand):
    help = "Issue an admin key (X-Admin-Key) and print it; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the key is for.")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Days until it expires (default: never)."
        )

    def handle(self, *args, name: str, expires_days: int | None, **options):
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        issued = admin_key_issue(actor=Actor.system("manage.py"), name=name, expires_at=expires_at)
        # Only the key on stdout, so a script can capture it; the notes go to stderr.
        self.stdout.write(issued.plaintext)
        until = f"until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "without expiry"
        self.stderr.write(
            f"Admin key {issued.record.prefix}… ({name}) issued {until}. "
            "It is shown only this once; store it now."
        )
