"""Reads of the tenants app."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from tenants import hooks
from tenants.authentication import KeyPrincipal
from tenants.models import CloudCredential, ProviderConfig, Tenant, UsageWindow
from tenants.services.usage import day_window_bounds, month_window_current
from warehouse.iam import managed_identity
from warehouse.isolation import bucket_names


def is_staff(user) -> bool:
    """A logged-in, active staff user, or a staff machine's admin key."""
    return bool(user and user.is_authenticated and user.is_staff and getattr(user, "is_active", 1))


@dataclass(frozen=True)
class TenantScope:
    """The tenants a principal may see: every one (staff), one (a tenant key's), or none."""

    every_tenant: bool
    tenant_id: str | None = None

    @property
    def sees_any(self) -> bool:
        return self.every_tenant or self.tenant_id is not None

    def allows(self, tenant_id: str) -> bool:
        return self.every_tenant or (self.tenant_id is not None and self.tenant_id == tenant_id)

    def filter(self, queryset: QuerySet, *, field: str = "tenant_id") -> QuerySet:
        """``queryset`` narrowed to the rows of the tenants in scope (``field`` names the
        tenant)."""
        if self.every_tenant:
            return queryset
        if self.tenant_id is None:
            return queryset.none()
        return queryset.filter(**{field: self.tenant_id})


def tenant_scope_for_user(*, user) -> TenantScope:
    """Who may see which tenant, the one rule every read of a tenant's data asks: staff see
    every tenant, a tenant key its own tenant, anyone else none. No query."""
    if isinstance(user, KeyPrincipal) and user.tenant_id is not None:
        return TenantScope(every_tenant=False, tenant_id=user.tenant_id)
    return TenantScope(every_tenant=is_staff(user))


def tenant_id_for_user(*, user, tenant_id: str) -> str:
    """``tenant_id`` if this user may see that tenant, else 404; no query for a tenant key."""
    scope = tenant_scope_for_user(user=user)
    if scope.every_tenant:
        return tenant_get_for_user(user=user, tenant_id=tenant_id).id
    if not scope.allows(tenant_id):
        raise Http404("No such tenant.")
    return tenant_id


def tenant_get_for_user(*, user, tenant_id: str) -> Tenant:
    """The tenant if this user may see it; 404 otherwise, so another tenant's id reveals nothing."""
    scope = tenant_scope_for_user(user=user)
    if not scope.allows(tenant_id):
        raise Http404("No such tenant.")
    if not scope.every_tenant:
        return user.tenant
    tenant = Tenant.objects.select_related("subscription__plan").filter(pk=tenant_id).first()
    if tenant is None:
        raise Http404("No such tenant.")
    return tenant


def tenant_usage(*, tenant: Tenant, now: datetime | None = None) -> dict:
    """Runs used and left in the current day and month windows, with their reset times."""
    now = now or timezone.now()
    plan = tenant.subscription.plan
    day_start, day_end = day_window_bounds(now)
    month_start, month_end = month_window_current(tenant=tenant, now=now)
    used = dict(
        UsageWindow.objects.filter(
            tenant=tenant,
            starts_at__in=[day_start, month_start],
        ).values_list("kind", "runs_used")
    )
    running = hooks.active_runs_count(tenant.id)
    return {
        "tenant_id": tenant.id,
        "status": tenant.status,
        "plan": plan.code,
        "daily": _window(used.get(UsageWindow.Kind.DAY, 0), plan.runs_per_day, day_end),
        "monthly": _window(used.get(UsageWindow.Kind.MONTH, 0), plan.runs_per_month, month_end),
        "concurrent": {
            "used": running,
            "limit": plan.concurrent_runs,
            "remaining": max(plan.concurrent_runs - running, 0),
        },
    }


def _window(used: int, limit: int, resets_at: datetime) -> dict:
    return {
        "used": used,
        "limit": limit,
        "remaining": max(limit - used, 0),
        "resets_at": resets_at.isoformat(),
    }


@dataclass(frozen=True)
class RunInputs:
    """What a tenant's run reads from its provider config.

    ``variables`` fill placeholders; ``sources`` are the tables outside the platform the
    tenant registered (its billing export); ``buckets`` the ``gs://`` buckets its files may
    come from; ``credential`` the GCP service-account credential reads outside the platform
    act as; ``recipients`` whom to tell about a failure.
    """

    variables: dict[str, str] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()
    sources: frozenset[str] = frozenset()
    buckets: frozenset[str] = frozenset()
    credential: CloudCredential | None = None

    def service_account(self) -> dict | None:
        """The decrypted service-account key of ``credential``; None without one."""
        if self.credential is None:
            return None
        from tenants.services.credentials import credential_secret  # services use selectors

        return credential_secret(credential=self.credential)


def tenant_reader_account(*, tenant_id: str) -> str | None:
    """The platform-managed service account a tenant grants read on its own sources (its
    billing export, its buckets); None where tenant identities are off (locally)."""
    if not settings.WAREHOUSE_TENANT_IDENTITY:
        return None
    return managed_identity(tenant_id).email


def provider_buckets(*, tenant_id: str, provider: str) -> frozenset[str]:
    """The ``gs://`` buckets a tenant registered for one provider's files."""

    config = ProviderConfig.objects.filter(tenant_id=tenant_id, provider=provider).first()
    return bucket_names(config.settings.get("source_buckets")) if config else frozenset()


def run_inputs_for_tenant(*, tenant_id: str, provider: str) -> RunInputs:
    """The inputs of a run of one provider's pipeline, from that provider config.

    The GCP provider config's ``billing_export_table`` (``project.dataset.table``) becomes
    the ``source_billing_table`` placeholder and a registered source; ``source_buckets``
    lists buckets; recipients are the config's notification emails, else the admin email.
    """

    tenant = Tenant.objects.only("admin_email").get(pk=tenant_id)
    config = (
        ProviderConfig.objects.select_related("credential")
        .filter(tenant_id=tenant_id, provider=provider)
        .first()
    )
    if config is None:
        return RunInputs(recipients=(tenant.admin_email,), credential=_gcp_credential(tenant_id))
    variables: dict[str, str] = {}
    table = config.settings.get("billing_export_table")
    if table:
        variables["source_billing_table"] = table
    credential = config.credential
    if credential is None or credential.kind != CloudCredential.Kind.GCP_SERVICE_ACCOUNT:
        credential = _gcp_credential(tenant_id)
    return RunInputs(
        variables=variables,
        recipients=tuple(config.notification_emails) or (tenant.admin_email,),
        sources=frozenset({table} if isinstance(table, str) and table.count(".") == 2 else ()),
        buckets=bucket_names(config.settings.get("source_buckets")),
        credential=credential,
    )


def _gcp_credential(tenant_id: str) -> CloudCredential | None:
    """The service account a tenant's reads outside the platform act as: its GCP config's."""
    config = (
        ProviderConfig.objects.select_related("credential")
        .filter(tenant_id=tenant_id, provider="gcp", credential__kind="gcp_service_account")
        .first()
    )
    return config.credential if config is not None else None


ACCOUNT_NAME_PREFIX = "account_name:"


def provider_account_names(*, tenant_id: str, provider: str) -> dict[str, str]:
    """Display names a tenant gives its billing and sub-accounts at one provider.

    They live in the provider config's settings as ``"account_name:<account id>": "<name>"``
    (AWS CUR carries account ids but, in most exports, no names).
    """

    config = ProviderConfig.objects.filter(tenant_id=tenant_id, provider=provider).first()
    if config is None:
        return {}
    return {
        key.removeprefix(ACCOUNT_NAME_PREFIX): str(value)
        for key, value in sorted(config.settings.items())
        if key.startswith(ACCOUNT_NAME_PREFIX) and key != ACCOUNT_NAME_PREFIX and value
    }


ANOMALY_PREFIX = "anomaly_"


def provider_anomaly_settings(*, tenant_id: str, provider: str) -> dict[str, str]:
    """The anomaly detection options a tenant set for one provider's FOCUS pipeline, as stored
    in its provider config's settings (``"anomaly_<option>": "<value>"``)."""

    config = ProviderConfig.objects.filter(tenant_id=tenant_id, provider=provider).first()
    if config is None:
        return {}
    return {k: str(v) for k, v in sorted(config.settings.items()) if k.startswith(ANOMALY_PREFIX)}
