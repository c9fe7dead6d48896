"""Reads of the tenants app."""

from datetime import datetime

from django.http import Http404
from django.utils import timezone

from tenants.authentication import KeyPrincipal
from tenants.models import Tenant, UsageWindow
from tenants.permissions import is_staff
from tenants.services.usage import day_window_bounds, month_window_bounds


def tenant_get_for_user(*, user, tenant_id: str) -> Tenant:
    """The tenant if this user may see it; 404 otherwise, so another tenant's id reveals nothing."""
    if isinstance(user, KeyPrincipal) and user.tenant is not None:
        if user.tenant.id != tenant_id:
            raise Http404("No such tenant.")
        return user.tenant
    if is_staff(user):
        tenant = Tenant.objects.select_related("subscription__plan").filter(pk=tenant_id).first()
        if tenant is not None:
            return tenant
    raise Http404("No such tenant.")


def tenant_usage(*, tenant: Tenant, now: datetime | None = None) -> dict:
    """Runs used and left in the current day and month windows, with their reset times."""
    now = now or timezone.now()
    plan = tenant.subscription.plan
    day_start, day_end = day_window_bounds(now)
    month_start, month_end = month_window_bounds(tenant.subscription.current_period_start, now)
    used = dict(
        UsageWindow.objects.filter(
            tenant=tenant,
            starts_at__in=[day_start, month_start],
        ).values_list("kind", "runs_used")
    )
    from pipelines.selectors import runs_active_count

    running = runs_active_count(tenant_id=tenant.id)
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


def run_inputs_for_tenant(
    *, tenant_id: str, provider: str
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Identifiers a tenant's pipelines read from its provider config, and whom to notify.

    The GCP provider config's ``billing_export_table`` (``project.dataset.table``) becomes
    the ``source_billing_table`` placeholder; recipients are the config's notification
    emails, else the tenant's admin email.
    """
    from tenants.models import ProviderConfig

    tenant = Tenant.objects.only("admin_email").get(pk=tenant_id)
    config = ProviderConfig.objects.filter(tenant_id=tenant_id, provider=provider).first()
    variables: dict[str, str] = {}
    recipients: tuple[str, ...] = (tenant.admin_email,)
    if config is not None:
        table = config.settings.get("billing_export_table")
        if table:
            variables["source_billing_table"] = table
        if config.notification_emails:
            recipients = tuple(config.notification_emails)
    return variables, recipients


ACCOUNT_NAME_PREFIX = "account_name:"


def provider_account_names(*, tenant_id: str, provider: str) -> dict[str, str]:
    """Display names a tenant gives its billing and sub-accounts at one provider.

    They live in the provider config's settings as ``"account_name:<account id>": "<name>"``
    (AWS CUR carries account ids but, in most exports, no names).
    """
    from tenants.models import ProviderConfig

    config = ProviderConfig.objects.filter(tenant_id=tenant_id, provider=provider).first()
    if config is None:
        return {}
    return {
        key.removeprefix(ACCOUNT_NAME_PREFIX): str(value)
        for key, value in sorted(config.settings.items())
        if key.startswith(ACCOUNT_NAME_PREFIX) and key != ACCOUNT_NAME_PREFIX and value
    }
