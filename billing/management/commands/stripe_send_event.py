"""Build a realistic, correctly signed Stripe event and POST it to a running server."""

import os
import time
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from billing.demo_events import (
    checkout_completed_event,
    demo_customer_id,
    demo_subscription_id,
    event_body,
    invoice_event,
    subscription_event,
)
from billing.models import PlanPrice, StripeEvent, WelcomeEmail
from billing.selectors import EventOutcome, stripe_event_outcome
from billing.stripe_client import StripeNotConfigured, webhook_signature_header
from tenants.models import Subscription, Tenant

KINDS = ("checkout", "plan-change", "payment-failed", "paid", "cancel")
# Exit codes: 0 processed (or ignored as already applied), 1 refused or not delivered,
# 2 deferred (waiting for its tenant), 3 no outcome within --wait seconds.
EXIT_REFUSED, EXIT_DEFERRED, EXIT_PENDING = 1, 2, 3
POLL_SECONDS = 0.5


def default_url() -> str:
    port = os.environ.get("PORT", "8000")
    return f"http://127.0.0.1:{port}/api/v1/billing/stripe/webhook"


def _price_for_plan(plan_code: str) -> str:
    price = PlanPrice.objects.filter(plan__code=plan_code.upper()).first()
    if price is None:
        raise CommandError(
            f"No Stripe price is mapped to plan {plan_code!r}; add one in the admin."
        )
    return price.stripe_price_id


class Command(BaseCommand):
    help = (
        "Sign a Stripe event (checkout, plan-change, payment-failed, paid, cancel) with "
        "STRIPE_WEBHOOK_SECRET and POST it to the webhook, as Stripe does."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--tenant-id", required=True)
        parser.add_argument("--company", help="Company name (checkout); default from tenant id.")
        parser.add_argument("--email", help="Customer email (checkout).")
        parser.add_argument("--plan", default="STARTER", help="Plan code, mapped to its price.")
        parser.add_argument("--price", help="Stripe price id; overrides --plan.")
        parser.add_argument("--url", default=default_url())
        parser.add_argument("--event-id", help="Event id; send one twice to see deduplication.")
        parser.add_argument(
            "--wait",
            type=float,
            default=30.0,
            help="Seconds to wait for the worker's outcome (0: do not wait). Default 30.",
        )
        parser.add_argument(
            "--print", action="store_true", dest="print_only", help="Print, do not send."
        )

    def handle(self, *args, kind, tenant_id, url, **options):
        event = self._build(kind, tenant_id, options)
        body = event_body(event)
        try:
            header = webhook_signature_header(payload=body)
        except StripeNotConfigured as exc:
            raise CommandError(str(exc)) from exc
        if options["print_only"]:
            self.stdout.write(f"Stripe-Signature: {header}\n\n{body}")
            return
        if not url.startswith(("http://", "https://")):
            raise CommandError("--url must be http:// or https://")
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, answer = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read().decode()
        except urllib.error.URLError as exc:
            raise CommandError(f"Cannot reach {url}: {exc.reason}") from exc
        self.stdout.write(f"{event['type']} {event['id']} → HTTP {status} {answer}")
        if status >= 300:
            raise CommandError(f"The webhook answered HTTP {status}.")
        if options["wait"] > 0:
            self._report(event["id"], wait=options["wait"])

    def _report(self, event_id: str, *, wait: float) -> None:
        """Wait for the worker to apply the event, print what happened, exit to match it."""
        deadline = time.monotonic() + wait
        outcome = stripe_event_outcome(event_id=event_id)
        while not _settled(outcome) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            outcome = stripe_event_outcome(event_id=event_id)
        status = outcome.status
        if status == StripeEvent.Status.PROCESSED:
            self.stdout.write(f"processed: {outcome.text}")
            self._report_welcome(outcome)
            return
        if status == StripeEvent.Status.IGNORED:
            self.stdout.write(f"ignored: {outcome.text}")
            return
        if status == StripeEvent.Status.FAILED:
            raise CommandError(f"refused: {outcome.text}", returncode=EXIT_REFUSED)
        if status == StripeEvent.Status.DEFERRED:
            raise CommandError(f"deferred: {outcome.text}", returncode=EXIT_DEFERRED)
        where = "not in this database" if not status else f"still {status}"
        raise CommandError(
            f"no outcome after {wait:g} s ({where}): is the worker running? "
            "See make run's console or var/log/worker.log.",
            returncode=EXIT_PENDING,
        )

    def _report_welcome(self, outcome: EventOutcome) -> None:
        if outcome.welcome_status == WelcomeEmail.Status.SENT:
            self.stdout.write(
                f"welcome email with the API key sent to {outcome.welcome_recipient}{_kept_where()}"
            )
        elif outcome.welcome_status == WelcomeEmail.Status.FAILED:
            raise CommandError(
                f"the welcome email could not be sent: {outcome.welcome_error}",
                returncode=EXIT_REFUSED,
            )
        elif outcome.welcome_status:
            self.stdout.write("the welcome email is not sent yet; see make run's console.")

    def _build(self, kind: str, tenant_id: str, options: dict) -> dict:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        customer_id = (tenant and tenant.stripe_customer_id) or demo_customer_id(tenant_id)
        subscription = Subscription.objects.filter(tenant_id=tenant_id).first()
        subscription_id = (
            subscription and subscription.stripe_subscription_id
        ) or demo_subscription_id(tenant_id)
        price_id = options["price"] or _price_for_plan(options["plan"])
        ids = {"customer_id": customer_id, "subscription_id": subscription_id}
        event_id = options["event_id"]
        if kind == "checkout":
            company = options["company"] or tenant_id.replace("_", " ").title()
            email = options["email"] or f"billing@{tenant_id.replace('_', '-')}.example.com"
            return checkout_completed_event(
                tenant_id=tenant_id,
                company_name=company,
                email=email,
                price_id=price_id,
                event_id=event_id,
                **ids,
            )
        if kind in ("plan-change", "cancel"):
            event_type = (
                "customer.subscription.deleted"
                if kind == "cancel"
                else "customer.subscription.updated"
            )
            return subscription_event(
                event_type=event_type,
                price_id=price_id,
                status="canceled" if kind == "cancel" else "active",
                event_id=event_id,
                previous_attributes=None if kind == "cancel" else {"items": {}},
                **ids,
            )
        event_type = "invoice.paid" if kind == "paid" else "invoice.payment_failed"
        return invoice_event(event_type=event_type, event_id=event_id, **ids)


def _settled(outcome: EventOutcome) -> bool:
    """Applied, refused or deferred, and any welcome email sent (or failed)."""
    if outcome.status in ("", StripeEvent.Status.RECEIVED):
        return False
    return outcome.welcome_status != WelcomeEmail.Status.PENDING


def _kept_where() -> str:
    from django.conf import settings

    if settings.EMAIL_BACKEND == "core.mail.KeptEmailBackend":
        return " (kept in var/mail/; `manage.py emails` lists it)"
    return ""
