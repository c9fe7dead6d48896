"""Create the local staff login on first run and print it on every run (local use only)."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create a local superuser 'admin' once, keep its password in var/, print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        if not settings.DEBUG:
            raise CommandError("ensure_local_admin is for local development (DEBUG=True) only")
        password_file = Path(settings.VAR_DIR) / "local-admin-password"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                User.objects.create_superuser(username, f"{username}@convergence.local", password)
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            password_file.touch(mode=0o600)
            password_file.write_text(password)
            os.chmod(password_file, 0o600)
        password = password_file.read_text().strip()
        self.stdout.write(f"Staff login: {username} / {password}  (kept in {password_file})")
