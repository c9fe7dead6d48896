"""Run admission: tenant status and the daily, monthly and concurrent limits, decided atomically."""

from datetime import datetime

from django.db import transaction
from django.db.models import F

from pipelines.errors import QuotaExceeded, TenantCannotRun
from pipelines.models import PipelineRun
from pipelines.selectors import runs_active_count
from tenants.models import Subscription, Tenant, UsageWindow
from tenants.services.usage import usage_windows_ensure


def run_admit(*, tenant_id: str, now: datetime) -> Tenant:
    """Count one run against the tenant's quotas, or raise. Call inside a transaction.

    The tenant row is locked first, so concurrent admissions of one tenant are decided one
    after another, and the usage counters and slot count they read are current.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("run_admit must run inside transaction.atomic()")
    tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
    if not tenant.can_run:
        reason = f" ({tenant.status_reason})" if tenant.status_reason else ""
        raise TenantCannotRun(f"Tenant {tenant.id} is {tenant.status}{reason}; runs are refused.")
    plan = Subscription.objects.select_related("plan").get(tenant=tenant).plan
    windows = usage_windows_ensure(tenant=tenant, now=now)
    day, month = windows[UsageWindow.Kind.DAY], windows[UsageWindow.Kind.MONTH]
    if day.runs_used >= plan.runs_per_day:
        raise QuotaExceeded(
            window="daily", used=day.runs_used, limit=plan.runs_per_day, resets_at=day.ends_at
        )
    if month.runs_used >= plan.runs_per_month:
        raise QuotaExceeded(
            window="monthly",
            used=month.runs_used,
            limit=plan.runs_per_month,
            resets_at=month.ends_at,
        )
    running = runs_active_count(tenant_id=tenant.id)
    if running >= plan.concurrent_runs:
        raise QuotaExceeded(
            window="concurrent", used=running, limit=plan.concurrent_runs, resets_at=None
        )
    UsageWindow.objects.filter(pk__in=[day.pk, month.pk]).update(runs_used=F("runs_used") + 1)
    return tenant


def run_slot_release(*, run_id) -> bool:
    """Give the run's concurrency slot back; True only for the one call that did."""
    return bool(PipelineRun.objects.filter(pk=run_id, holds_slot=True).update(holds_slot=False))
