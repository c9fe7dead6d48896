"""Stripe events as received, invalid deliveries, the plan-price mapping and welcome emails."""

from django.db import models

from core.parsers import StoredJSONEncoder


class StripeEvent(models.Model):
    """One Stripe event, stored once by its id, whatever the number of deliveries."""

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED"
        PROCESSED = "PROCESSED"
        IGNORED = "IGNORED"
        FAILED = "FAILED"
        DEFERRED = "DEFERRED", "Deferred (waiting for the tenant)"

    DONE = frozenset({Status.PROCESSED, Status.IGNORED})

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    created = models.DateTimeField(help_text="When Stripe created the event.")
    livemode = models.BooleanField(default=False)
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField(encoder=StoredJSONEncoder)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True, help_text="Why the last attempt failed.")
    note = models.CharField(max_length=300, blank=True, help_text="What the last attempt did.")
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "created"])]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.status})"

    @property
    def data_object(self) -> dict:
        return (self.payload.get("data") or {}).get("object") or {}


class InvalidDelivery(models.Model):
    """Refused webhook deliveries, counted: one row per hour, reason, signature presence and
    address (a flood adds to ``count``, not rows). The last body's fingerprint, never a body."""

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reason = models.CharField(max_length=200)
    had_signature = models.BooleanField()
    body_sha256 = models.CharField(max_length=64, help_text="Of the last such delivery.")
    body_length = models.PositiveIntegerField(help_text="Of the last such delivery.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)
    last_received_at = models.DateTimeField(null=True, blank=True)
    # The hour, reason, signature presence and address this row counts, hashed; unique. NULL
    # (distinct under UNIQUE) for rows kept from before deliveries were counted.
    bucket = models.CharField(max_length=64, unique=True, null=True, editable=False)  # noqa: DJ001

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "invalid deliveries"

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.reason}"


class PlanPrice(models.Model):
    """Which plan a Stripe price buys; staff edit it in the admin."""

    stripe_price_id = models.CharField(max_length=255, unique=True)
    plan = models.ForeignKey("tenants.Plan", on_delete=models.PROTECT, related_name="prices")
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["plan__runs_per_day", "stripe_price_id"]
        verbose_name = "plan price"

    def __str__(self) -> str:
        return f"{self.stripe_price_id} → {self.plan.code}"


class WelcomeEmail(models.Model):
    """The one welcome email of a tenant; the row is the decision to send, made with onboarding."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        SENT = "SENT"
        FAILED = "FAILED"

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="welcome_email"
    )
    event = models.ForeignKey(StripeEvent, null=True, blank=True, on_delete=models.SET_NULL)
    recipient = models.EmailField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.status}"
