"""Stripe webhooks, the event store, plan mapping and the sign-up flows."""
