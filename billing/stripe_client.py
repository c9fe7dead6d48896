"""The one adapter to Stripe: webhook signatures, and the few API calls billing makes."""

import time
from collections.abc import Iterator

import stripe
from django.conf import settings

from core.parsers import JsonRefused, json_loads_bounded

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
        # Too deep, or holding what no row could store or no answer carry (a lone surrogate,
        # NUL, 1e999): refused before anything is stored (these used to be 500s).
        event = json_loads_bounded(payload)
    except JsonRefused as exc:
        raise EventMalformed(str(exc)) from exc
    except ValueError as exc:
        raise SignatureInvalid("Body is not JSON.") from exc
    if not isinstance(event, dict) or event.get("object") != "event":
        raise SignatureInvalid("Body is not a Stripe event.")
    _event_fields_check(event)
    return event


# Stripe's ids are short ("evt_" + 24 characters); the columns hold 255.
MAX_ID_LENGTH = 255
MAX_TYPE_LENGTH = 100
# Event times the store can hold: from the Unix epoch to before the year 2100.
CREATED_MIN, CREATED_MAX = 0, 4_102_444_800

# What the webhook takes of an event, as the OpenAPI schema documents it and
# ``_event_fields_check`` enforces it (Stripe sends more fields; they are kept, not checked).
_ID = {"type": "string", "maxLength": MAX_ID_LENGTH, "pattern": r"^[^\x00]*$"}
EVENT_SCHEMA = {
    "type": "object",
    "required": ["id", "object", "created", "type"],
    "properties": {
        "id": {**_ID, "minLength": 1},
        "object": {"type": "string", "enum": ["event"]},
        "created": {"type": "integer", "minimum": CREATED_MIN, "maximum": CREATED_MAX - 1},
        "type": {**_ID, "minLength": 1, "maxLength": MAX_TYPE_LENGTH},
        "data": {
            "type": "object",
            "properties": {
                "object": {
                    "type": "object",
                    "properties": {
                        "id": {**_ID, "nullable": True},
                        "customer": {
                            "nullable": True,
                            "anyOf": [
                                {**_ID, "nullable": True},
                                {"type": "object", "properties": {"id": {**_ID, "nullable": True}}},
                            ],
                        },
                    },
                }
            },
        },
    },
    "description": "A Stripe event. Only these fields are checked; the rest is stored as sent. "
    "No string or key anywhere in it may hold a NUL character or a lone surrogate, and every "
    "number must be finite (1e999 is not).",
}


def _id_problem(value: object, name: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or (required and not value):
        return f"{name} must be a string of 1 to {MAX_ID_LENGTH} characters."
    return None


def _event_fields_check(event: dict) -> None:
    """Refuse an event whose fields would not fit the event store (they used to be 500s)."""
    created, kind, data = event.get("created"), event.get("type"), event.get("data", {})
    problem = _id_problem(event.get("id"), "id", required=True)
    if problem:
        raise EventMalformed(problem)
    if (
        not isinstance(created, int)
        or isinstance(created, bool)
        or not CREATED_MIN <= created < CREATED_MAX
    ):
        raise EventMalformed("created must be a Unix timestamp (an integer) before 2100.")
    if not isinstance(kind, str) or not 1 <= len(kind) <= MAX_TYPE_LENGTH:
        raise EventMalformed(f"type must be a string of 1 to {MAX_TYPE_LENGTH} characters.")
    obj = data.get("object", {}) if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise EventMalformed("data.object must be an object.")
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    problem = _id_problem(obj.get("id"), "data.object.id") or _id_problem(
        customer, "the customer id"
    )
    if problem:
        raise EventMalformed(problem)


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
