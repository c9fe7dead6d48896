"""Fetch and apply the Stripe events missed while the webhook endpoint was down."""

from datetime import UTC, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.services.reconcile import stripe_events_reconcile
from billing.stripe_client import StripeError


class Command(BaseCommand):
    help = (
        "List Stripe events since the last one processed (or --since / --days) and apply "
        "the ones missed. Needs STRIPE_SECRET_KEY."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--since", help="ISO date-time, e.g. 2025-06-01T00:00:00Z.")
        group.add_argument("--days", type=int, help="Look back this many days (Stripe keeps 30).")

    def handle(self, *args, since=None, days=None, **options):
        start = None
        if since:
            start = parse_datetime(since)
            if start is None:
                raise CommandError(f"--since: not an ISO date-time: {since!r}")
            if timezone.is_naive(start):
                start = timezone.make_aware(start, UTC)
        elif days is not None:
            start = timezone.now() - timedelta(days=days)
        try:
            result = stripe_events_reconcile(since=start)
        except StripeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Since {result.since.isoformat()}: {result.listed} events listed, "
            f"{result.stored} new, {result.processed} applied, {result.failed} failed."
        )
        if result.failed:
            raise CommandError(f"{result.failed} events failed; see the admin.")
