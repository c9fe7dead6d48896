"""List the emails kept locally under var/mail/ (newest first), or print a tenant's API key."""

from django.core.management.base import BaseCommand, CommandError

from core.mail import kept_emails_list, mail_dir
from tenants.services.keys import API_KEY_PATTERN, LEGACY_API_KEY_PATTERN


class Command(BaseCommand):
    help = (
        "List recent emails kept under var/mail/ (local settings keep every email sent). "
        "--full prints their text; --api-key TENANT prints the key of that tenant's latest "
        "welcome email."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=10, help="How many (default 10).")
        parser.add_argument("--to", default="", help="Only emails to this address.")
        parser.add_argument("--grep", default="", help="Only emails whose text holds this.")
        parser.add_argument("--full", action="store_true", help="Print each email's text.")
        parser.add_argument(
            "--api-key", metavar="TENANT", default="", help="Print only this tenant's API key."
        )

    def handle(self, *args, limit, to, grep, full, api_key, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        if api_key:
            self._print_key(api_key)
            return
        found = kept_emails_list(limit=limit, to=to, contains=grep)
        if not found:
            self.stdout.write(f"No emails kept in {mail_dir()} yet.")
            return
        for kept in found:
            self.stdout.write(f"{kept.date}  to {kept.to}  {kept.subject}  [{kept.path.name}]")
            if full:
                self.stdout.write(kept.body.rstrip() + "\n" + "-" * 72)

    def _print_key(self, tenant_id: str) -> None:
        for kept in kept_emails_list(limit=1000, contains=f"sk_{tenant_id}_"):
            for word in kept.body.split():
                # Keys issued before checksums keep working, so their emails count too.
                match = API_KEY_PATTERN.fullmatch(word) or LEGACY_API_KEY_PATTERN.fullmatch(word)
                if match and match.group("tenant") == tenant_id:
                    self.stdout.write(word)
                    return
        raise CommandError(
            f"No welcome email with an API key for {tenant_id!r} in {mail_dir()}. "
            "Staff can issue a new key in the admin or with the API."
        )
