"""Reconciliation asks Stripe (through the real SDK) for missed events and applies them."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from billing.models import StripeEvent
from billing.services.events import stripe_event_process
from billing.services.reconcile import stripe_events_reconcile
from billing.services.webhooks import stripe_event_store
from billing.tests.conftest import checkout_event, invoice_event, new_tenant_id
from tenants.models import Tenant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "drop_datasets")]

SECRET_KEY = "sk_test_reconcile_not_real"


class StripeStandIn:
    """A local stand-in for Stripe's ``GET /v1/events``, serving pages of a fixed list."""

    def __init__(self, events: list[dict], page_size: int = 2, status: int = 200):
        self.events = events  # newest first, as Stripe lists them
        self.page_size = page_size
        self.status = status
        self.requests: list[tuple[str, dict, dict]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                stand_in.requests.append((url.path, query, dict(self.headers)))
                body = stand_in.answer(url.path, query)
                self.send_response(stand_in.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, query: dict) -> dict:
        if self.status != 200:
            return {"error": {"type": "api_error", "message": "Stripe is having a bad day"}}
        events = self.events
        after = query.get("starting_after", [None])[0]
        if after:
            index = next(i for i, e in enumerate(events) if e["id"] == after)
            events = events[index + 1 :]
        page = events[: self.page_size]
        return {
            "object": "list",
            "url": "/v1/events",
            "has_more": len(events) > self.page_size,
            "data": page,
        }

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stripe_api(settings):
    def _stripe_api(events, **kwargs) -> StripeStandIn:
        stand_in = StripeStandIn(events, **kwargs)
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        settings.STRIPE_API_BASE = stand_in.url
        return stand_in

    return _stripe_api


def _signed_up(django_capture_on_commit_callbacks, created: int) -> tuple[Tenant, dict]:
    tenant_id = new_tenant_id()
    event = checkout_event(tenant_id, created=created)
    with django_capture_on_commit_callbacks(execute=True):
        stripe_event_process(event_pk=stripe_event_store(data=event, enqueue=False).event.pk)
    return Tenant.objects.get(pk=tenant_id), event


def test_reconcile_applies_events_missed_during_an_outage(
    stripe_api, django_capture_on_commit_callbacks
):
    """Events Stripe gave up delivering are fetched since the last one processed and applied;
    ones already stored are not applied twice."""
    now = int(timezone.now().timestamp())
    tenant, checkout = _signed_up(django_capture_on_commit_callbacks, created=now - 3000)
    failed = invoice_event(tenant.id, "invoice.payment_failed", created=now - 2000)
    paid = invoice_event(tenant.id, "invoice.paid", created=now - 1000)
    failed_again = invoice_event(tenant.id, "invoice.payment_failed", created=now - 500)
    listed = [failed_again, paid, failed, checkout]  # newest first, as Stripe lists them

    with stripe_api(listed) as stand_in, django_capture_on_commit_callbacks(execute=True):
        result = stripe_events_reconcile()

    assert (result.listed, result.stored, result.processed, result.failed) == (4, 3, 3, 0)
    assert StripeEvent.objects.filter(status=StripeEvent.Status.PROCESSED).count() == 4
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.PAST_DUE  # the newest event wins
    assert Tenant.objects.count() == 1

    # The real SDK's requests: the events endpoint, since the last processed event, paginated,
    # authenticated with the secret key.
    assert [path for path, _, _ in stand_in.requests] == ["/v1/events"] * 2
    first, second = stand_in.requests[0][1], stand_in.requests[1][1]
    assert first["created[gte]"] == [str(now - 3000)]
    assert "starting_after" not in first
    assert second["starting_after"] == [paid["id"]]
    assert "invoice.paid" in [v for k, vs in first.items() if k.startswith("types") for v in vs]
    assert stand_in.requests[0][2]["Authorization"] == f"Bearer {SECRET_KEY}"


def test_reconcile_command_reports_and_takes_since(stripe_api, capsys):
    """The command lists from --since and reports what it did."""
    with stripe_api([]) as stand_in:
        call_command("stripe_reconcile", "--since", "2025-06-01T00:00:00Z")
    assert stand_in.requests[0][1]["created[gte]"] == ["1748736000"]
    assert "0 events listed, 0 new, 0 applied, 0 failed" in capsys.readouterr().out


def test_reconcile_reports_stripe_errors_without_the_key(stripe_api):
    """A Stripe API error ends the command with a message that does not carry the key."""
    with stripe_api([], status=500), pytest.raises(CommandError) as error:
        call_command("stripe_reconcile", "--days", "3")
    assert "Listing Stripe events failed" in str(error.value)
    assert SECRET_KEY not in str(error.value)


def test_reconcile_needs_the_secret_key():
    """Without STRIPE_SECRET_KEY the command says so instead of calling Stripe."""
    with pytest.raises(CommandError, match="STRIPE_SECRET_KEY"):
        call_command("stripe_reconcile")
