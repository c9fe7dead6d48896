"""Reads for billing: what became of a Stripe event."""

from dataclasses import dataclass

from billing.models import StripeEvent, WelcomeEmail


@dataclass(frozen=True)
class EventOutcome:
    status: str  # a StripeEvent.Status, or "" while the event is not stored
    text: str  # the note of what was done, or the error
    welcome_status: str = ""  # a WelcomeEmail.Status, for an event that onboarded a tenant
    welcome_error: str = ""
    welcome_recipient: str = ""


def stripe_event_outcome(*, event_id: str) -> EventOutcome:
    """The event's status with its note or error, and its welcome email if it onboarded."""
    event = StripeEvent.objects.filter(event_id=event_id).first()
    if event is None:
        return EventOutcome(status="", text="")
    text = event.error if event.status == StripeEvent.Status.FAILED else event.note
    welcome = WelcomeEmail.objects.filter(event=event).first()
    if welcome is None:
        return EventOutcome(status=event.status, text=text)
    return EventOutcome(
        status=event.status,
        text=text,
        welcome_status=welcome.status,
        welcome_error=welcome.error,
        welcome_recipient=welcome.recipient,
    )
