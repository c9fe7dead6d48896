"""Quota windows: a UTC day, and a month anchored on the subscription's period start."""

from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from tenants.models import Tenant, UsageWindow


def day_window_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def month_window_bounds(anchor: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The monthly window containing ``now``, counted in whole months from ``anchor``."""
    months = (now.year - anchor.year) * 12 + (now.month - anchor.month)
    if anchor + relativedelta(months=months) > now:
        months -= 1
    return anchor + relativedelta(months=months), anchor + relativedelta(months=months + 1)


def usage_windows_ensure(*, tenant: Tenant, now: datetime | None = None) -> dict[str, UsageWindow]:
    """The tenant's current day and month windows, created when missing."""
    now = now or timezone.now()
    anchor = tenant.subscription.current_period_start
    bounds = {
        UsageWindow.Kind.DAY: day_window_bounds(now),
        UsageWindow.Kind.MONTH: month_window_bounds(anchor, now),
    }
    windows = {}
    for kind, (start, end) in bounds.items():
        windows[kind], _ = UsageWindow.objects.get_or_create(
            tenant=tenant, kind=kind, starts_at=start, defaults={"ends_at": end}
        )
    return windows
