"""Tenants and what belongs to them: plans, subscriptions, usage, keys, credentials, audit."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.parsers import StoredJSONEncoder

TENANT_ID_PATTERN = r"\A[a-z0-9_]{3,50}\Z"
tenant_id_validator = RegexValidator(
    TENANT_ID_PATTERN, "Tenant id must be 3-50 characters of a-z, 0-9 and _."
)


class Provider(models.TextChoices):
    """The built-in providers; any FOCUS mapping's name is a provider too (open list)."""

    GCP = "gcp", "Google Cloud"
    AWS = "aws", "Amazon Web Services"
    AZURE = "azure", "Microsoft Azure"


PROVIDER_PATTERN = r"\A[a-z][a-z0-9_]{1,31}\Z"
provider_validator = RegexValidator(
    PROVIDER_PATTERN, "A provider is 2-32 characters of a-z, 0-9 and _, starting with a letter."
)


class Plan(models.Model):
    """A price plan; its limits are data that staff edit in the admin."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    runs_per_day = models.PositiveIntegerField()
    runs_per_month = models.PositiveIntegerField()
    concurrent_runs = models.PositiveIntegerField()
    team_members = models.PositiveIntegerField()
    providers = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["runs_per_day"]

    def __str__(self) -> str:
        return self.code


class TenantStatus(models.TextChoices):
    TRIAL = "TRIAL"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    SUSPENDED = "SUSPENDED"
    CANCELLED = "CANCELLED"


class Tenant(models.Model):
    Status = TenantStatus
    RUNNABLE_STATUSES = frozenset({Status.TRIAL, Status.ACTIVE})

    id = models.CharField(primary_key=True, max_length=50, validators=[tenant_id_validator])
    company_name = models.CharField(max_length=200)
    admin_email = models.EmailField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIAL)
    status_reason = models.CharField(max_length=200, blank=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True)
    dataset_id = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TenantStatus.values), name="tenant_status_valid"
            ),
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                condition=~Q(stripe_customer_id=""),
                name="tenant_stripe_customer_unique",
            ),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.id

    @property
    def can_run(self) -> bool:
        return self.status in self.RUNNABLE_STATUSES


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELED = "canceled"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIALING)
    stripe_subscription_id = models.CharField(max_length=64, blank=True)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    # The Stripe event time behind the current state, so older events never overwrite it.
    state_as_of = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.plan.code} ({self.status})"


class UsageWindow(models.Model):
    """Runs admitted in one quota window (a UTC day or a subscription month) of a tenant."""

    class Kind(models.TextChoices):
        DAY = "day"
        MONTH = "month"

    # Indexed by the unique (tenant, kind, starts_at) constraint.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="usage_windows", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    runs_used = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "starts_at"], name="usage_window_unique"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="usage_window_span"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} {self.starts_at:%Y-%m-%d}: {self.runs_used}"


class KeyBase(models.Model):
    """A bearer key stored only as its SHA-256 hash; the key itself is shown once."""

    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=80, help_text="The key's first characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # False for keys issued before keys carried a checksum; they work until rotated.
    checksummed = models.BooleanField(default=True, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ApiKey(KeyBase):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")

    class Meta(KeyBase.Meta):
        ordering = ["-created_at"]
        verbose_name = "API key"


class AdminKey(KeyBase):
    """A staff machine key (``X-Admin-Key``), for external crons and scripts."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta(KeyBase.Meta):
        ordering = ["-created_at"]
        verbose_name = "admin key"


class CloudCredential(models.Model):
    """A tenant's cloud credential, envelope-encrypted; the plaintext is never stored."""

    class Kind(models.TextChoices):
        GCP_SERVICE_ACCOUNT = "gcp_service_account", "GCP service account JSON"
        AWS_ACCESS_KEY = "aws_access_key", "AWS access key"
        AWS_ROLE = "aws_role", "AWS role"
        AZURE_SERVICE_PRINCIPAL = "azure_service_principal", "Azure service principal"
        # A container SAS URL (read and list), for an export container without a principal.
        AZURE_SAS = "azure_sas", "Azure container SAS URL"
        # Any other provider (a FOCUS mapping's source): named string fields.
        GENERIC = "generic", "Other provider's secret"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="credentials")
    provider = models.CharField(max_length=32, validators=[provider_validator])
    kind = models.CharField(max_length=32, choices=Kind.choices)
    name = models.CharField(max_length=100)
    ciphertext = models.BinaryField(editable=False)
    nonce = models.BinaryField(editable=False)
    wrapped_key = models.BinaryField(editable=False)
    key_ref = models.CharField(max_length=300, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "provider", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "name"], name="credential_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.provider}/{self.name}"


class ProviderConfig(models.Model):
    """Where a tenant's billing data lives at one provider, and whom to notify."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="provider_configs")
    provider = models.CharField(max_length=32, validators=[provider_validator])
    settings = models.JSONField(encoder=StoredJSONEncoder, default=dict, blank=True)
    notification_emails = models.JSONField(encoder=StoredJSONEncoder, default=list, blank=True)
    credential = models.ForeignKey(
        CloudCredential, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "provider"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider"], name="provider_config_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.provider}"


class AuditEvent(models.Model):
    """Who did what to which tenant, and when. Kept when the tenant is deleted."""

    tenant_id = models.CharField(max_length=50, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="Key prefix or system.")
    user_id = models.CharField(max_length=150, blank=True, help_text="X-User-ID, for audit only.")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(encoder=StoredJSONEncoder, default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.tenant_id}"
