"""Budgets, the alerts they raise, and the signed webhooks alerts are delivered to."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from core.parsers import StoredJSONEncoder
from tenants.models import Tenant, provider_validator


class Budget(models.Model):
    """A spending limit for one period (month or quarter), over all costs or a filter."""

    class Period(models.TextChoices):
        MONTHLY = "monthly"
        QUARTERLY = "quarterly"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="budgets")
    name = models.CharField(max_length=100)
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTHLY)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    # A built-in provider or a FOCUS mapping's name (any FOCUS table of the tenant); blank: all.
    provider = models.CharField(max_length=32, validators=[provider_validator], blank=True)
    service = models.CharField(max_length=200, blank=True)
    sub_account = models.CharField(max_length=200, blank=True)
    tag_key = models.CharField(max_length=128, blank=True)
    tag_value = models.CharField(max_length=256, blank=True)
    # [{"kind": "actual" | "forecast", "percent": 80}, ...]
    thresholds = models.JSONField(encoder=StoredJSONEncoder, default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="budget_unique_name"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="budget_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.name}"

    def clean(self) -> None:
        if bool(self.tag_key) != bool(self.tag_value):
            raise ValidationError("tag_key and tag_value go together")

    @property
    def scope(self) -> str:
        """The filter in words, for alerts and pages."""
        parts = [
            f"{label} {value}"
            for label, value in (
                ("provider", self.provider),
                ("service", self.service),
                ("sub-account", self.sub_account),
            )
            if value
        ]
        if self.tag_key:
            parts.append(f"tag {self.tag_key}={self.tag_value}")
        return ", ".join(parts) or "all costs"


class BudgetAlert(models.Model):
    """One threshold crossed in one period; the unique key makes it alert once."""

    class Kind(models.TextChoices):
        ACTUAL = "actual"
        FORECAST = "forecast"

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    percent = models.PositiveIntegerField()
    as_of = models.DateField()
    actual = models.DecimalField(max_digits=14, decimal_places=2)
    forecast = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "kind", "percent"], name="budget_alert_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.budget} {self.kind} {self.percent}% ({self.period_start})"


class WebhookEndpoint(models.Model):
    """Where a tenant's alerts are POSTed, signed with a per-tenant secret (KMS-encrypted)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=500)
    ciphertext = models.BinaryField()
    nonce = models.BinaryField()
    wrapped_key = models.BinaryField()
    key_ref = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.tenant_id} → {self.url}"


class WebhookDelivery(models.Model):
    """One alert POSTed to a webhook: every attempt's outcome, for the admin's delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    alert = models.ForeignKey(BudgetAlert, null=True, on_delete=models.SET_NULL)
    event = models.CharField(max_length=50)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint.url} ({self.status})"
