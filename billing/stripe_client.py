"""The one adapter to Stripe: webhook signatures, and the few API calls billing makes."""

import time
from collections.abc import Iterator

import stripe
from django.conf import settings

from convergence.parsers import JsonTooDeep, json_loads_bounded

# Stripe's own default: a signature older than this is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


class StripeError(Exception):
    """Base of this adapter's errors; messages never carry a secret."""


class DeliveryInvalid(StripeError):
    """A webhook delivery that is refused (and counted), never stored."""


class SignatureInvalid(DeliveryInvalid):
    """The delivery is not a fresh, authentic Stripe event."""


class EventMalformed(DeliveryInvalid):
    """A correctly signed body whose event fields cannot be stored (bad id, created, type)."""


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
        event = json_loads_bounded(payload)
    except JsonTooDeep as exc:
        raise EventMalformed(str(exc)) from exc
    except ValueError as exc:
        raise SignatureInvalid("Body is not JSON.") from exc
    if not isinstance(event, dict) or event.get("object") != "event" or not event.get("id"):
        raise SignatureInvalid("Body is not a Stripe event.")
    _event_fields_check(event)
    return event


# Stripe's ids are short ("evt_" + 24 characters); the columns hold 255.
MAX_ID_LENGTH = 255
# Event times the store can hold: from the Unix epoch to before the year 2100.
CREATED_MIN, CREATED_MAX = 0, 4_102_444_800


def _event_fields_check(event: dict) -> None:
    """Refuse an event whose fields would not fit the event store (they used to be 500s)."""
    event_id, created, kind = event.get("id"), event.get("created"), event.get("type", "")
    if not isinstance(event_id, str) or len(event_id) > MAX_ID_LENGTH:
        raise EventMalformed(f"id must be a string of at most {MAX_ID_LENGTH} characters.")
    if (
        not isinstance(created, int)
        or isinstance(created, bool)
        or not CREATED_MIN <= created < CREATED_MAX
    ):
        raise EventMalformed("created must be a Unix timestamp (an integer) before 2100.")
    if not isinstance(kind, str) or len(kind) > 100:
        raise EventMalformed("type must be a string of at most 100 characters.")
    data = event.get("data")
    data = {} if data is None else data
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(obj or {}, dict):
        raise EventMalformed("data.object must be an object.")
    obj = obj or {}
    customer = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if customer is not None and (not isinstance(customer, str) or len(customer) > MAX_ID_LENGTH):
        raise EventMalformed(
            f"the customer id must be a string of at most {MAX_ID_LENGTH} characters."
        )


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
