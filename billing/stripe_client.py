"""The one adapter to Stripe: webhook signatures, and the few API calls billing makes."""

import json
import time
from collections.abc import Iterator

import stripe
from django.conf import settings

# Stripe's own default: a signature older than this is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


class StripeError(Exception):
    """Base of this adapter's errors; messages never carry a secret."""


class SignatureInvalid(StripeError):
    """The delivery is not a fresh, authentic Stripe event."""


class StripeNotConfigured(StripeError):
    """A setting the call needs (secret key, webhook secret) is empty."""


class StripeUnavailable(StripeError):
    """The Stripe API failed or answered with an error."""


def webhook_event_verify(
    *,
    payload: bytes,
    signature_header: str | None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict:
    """The event in a raw webhook body, after checking its signature and timestamp.

    Raises SignatureInvalid for a missing, malformed, wrong, stale or future-dated signature.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise StripeNotConfigured("STRIPE_WEBHOOK_SECRET is not set.")
    if not signature_header:
        raise SignatureInvalid("Missing Stripe-Signature header.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise SignatureInvalid(_reason(str(exc))) from exc
    except UnicodeDecodeError as exc:
        raise SignatureInvalid("Body is not UTF-8.") from exc
    timestamp, _ = stripe.WebhookSignature._get_timestamp_and_signatures(
        signature_header, stripe.WebhookSignature.EXPECTED_SCHEME
    )
    # The SDK only refuses old timestamps; a future one is as suspect as an old one.
    if timestamp > (now if now is not None else time.time()) + tolerance:
        raise SignatureInvalid("Timestamp too far in the future.")
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise SignatureInvalid("Body is not JSON.") from exc
    if not isinstance(event, dict) or event.get("object") != "event" or not event.get("id"):
        raise SignatureInvalid("Body is not a Stripe event.")
    return event


def _reason(message: str) -> str:
    """A short reason from the SDK's message, without the header or payload."""
    if "tolerance" in message:
        return "Timestamp outside the tolerance zone."
    if "Unable to extract" in message:
        return "Malformed Stripe-Signature header."
    if "expected scheme" in message:
        return "No v1 signature in the header."
    if "matching the expected signature" in message:
        return "Signature does not match the body."
    return "Signature verification failed."


def webhook_signature_header(*, payload: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, computed exactly as Stripe computes it."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise StripeNotConfigured("STRIPE_WEBHOOK_SECRET is not set.")
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise StripeNotConfigured("STRIPE_SECRET_KEY is not set.")
    base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses=base_addresses, max_network_retries=2
    )


def api_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def events_list(
    *, created_gte: int | None = None, types: list[str] | None = None
) -> Iterator[dict]:
    """Every event (up to Stripe's 30 days) created at or after ``created_gte``, newest first."""
    params: dict = {"limit": 100}
    if created_gte is not None:
        params["created"] = {"gte": created_gte}
    if types:
        params["types"] = types
    try:
        for event in _client().v1.events.list(params=params).auto_paging_iter():
            yield event.to_dict()
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"Listing Stripe events failed: {type(exc).__name__}.") from exc


def checkout_session_price_ids(*, session_id: str) -> list[str]:
    """The price ids of a Checkout Session's line items."""
    try:
        items = _client().v1.checkout.sessions.line_items.list(session_id, params={"limit": 100})
        return [item.price.id for item in items.auto_paging_iter() if item.price]
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"Reading line items failed: {type(exc).__name__}.") from exc
