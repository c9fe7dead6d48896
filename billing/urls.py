"""Billing URLs, mounted under /api/v1/."""

from django.urls import path

from billing.apis import StripeWebhookApi

app_name = "billing"

urlpatterns = [
    path("billing/stripe/webhook", StripeWebhookApi.as_view(), name="stripe-webhook"),
]
