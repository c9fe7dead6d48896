"""Billing in the admin: every Stripe event with a reprocess action, invalid deliveries, the
plan-price mapping and welcome emails."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from billing.models import InvalidDelivery, PlanPrice, StripeEvent, WelcomeEmail
from billing.services.events import stripe_event_reprocess


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "type", "status", "created", "stripe_customer_id", "short_error")
    list_filter = ("status", "type", "livemode")
    search_fields = ("event_id", "stripe_customer_id", "type")
    date_hierarchy = "created"
    actions = ["reprocess"]
    readonly_fields = [
        "event_id",
        "type",
        "created",
        "livemode",
        "stripe_customer_id",
        "status",
        "error",
        "note",
        "attempts",
        "received_at",
        "processed_at",
        "payload_pretty",
    ]
    exclude = ("payload",)

    @admin.display(description="error")
    def short_error(self, obj: StripeEvent) -> str:
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error

    @admin.display(description="payload")
    def payload_pretty(self, obj: StripeEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Reprocess the selected events")
    def reprocess(self, request, queryset):
        results: dict[str, int] = {}
        for event in queryset.order_by("created", "id"):
            done = stripe_event_reprocess(event=event)
            status = done.status if done else "gone"
            results[status] = results.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(results.items()))
        level = messages.WARNING if results.get(StripeEvent.Status.FAILED) else messages.SUCCESS
        self.message_user(request, f"Reprocessed: {summary}.", level)


@admin.register(InvalidDelivery)
class InvalidDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "last_received_at",
        "count",
        "reason",
        "had_signature",
        "remote_addr",
    )
    list_filter = ("reason", "had_signature")
    readonly_fields = [f.name for f in InvalidDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PlanPrice)
class PlanPriceAdmin(admin.ModelAdmin):
    list_display = ("stripe_price_id", "plan", "description")
    list_filter = ("plan",)
    search_fields = ("stripe_price_id", "description")


@admin.register(WelcomeEmail)
class WelcomeEmailAdmin(admin.ModelAdmin):
    list_display = ("tenant", "recipient", "status", "sent_at", "error")
    list_filter = ("status",)
    search_fields = ("tenant__id", "recipient")
    readonly_fields = ["tenant", "event", "recipient", "status", "error", "created_at", "sent_at"]

    def has_add_permission(self, request) -> bool:
        return False
