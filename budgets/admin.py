"""Admin for budgets, their alerts, webhooks and the webhook delivery log."""

from django import forms
from django.contrib import admin

from budgets.models import Budget, BudgetAlert, WebhookDelivery, WebhookEndpoint
from budgets.webhooks import WebhookUrlRefused, destination_check


class WebhookEndpointForm(forms.ModelForm):
    """Staff edits pass the same URL check as the API (public hosts only, https in production)."""

    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("url",)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            destination_check(url)
        except WebhookUrlRefused as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "period", "amount", "provider", "service", "created_at")
    list_filter = ("period", "provider")
    search_fields = ("name", "tenant__id")
    raw_id_fields = ("tenant",)


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    list_display = ("budget", "period_start", "kind", "percent", "actual", "forecast", "as_of")
    list_filter = ("kind",)
    readonly_fields = [f.name for f in BudgetAlert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    # The signing secret is encrypted and never shown; a tenant gets it once from the API.
    form = WebhookEndpointForm
    list_display = ("tenant", "url", "created_at")
    fields = ("tenant", "url", "created_at")
    readonly_fields = ("tenant", "created_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every alert POSTed, its attempts and last answer."""

    list_display = ("event", "endpoint", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
