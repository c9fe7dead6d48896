"""Quota windows: a UTC day, and a month anchored on the subscription's period start."""

from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db.models import Max
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


def month_window_current(*, tenant: Tenant, now: datetime) -> tuple[datetime, datetime]:
    """The bounds of the tenant's monthly window at ``now``.

    A window once opened keeps its bounds: a plan or period change from billing changes the
    limits, never the runs counted so far nor the reset time. Only the next window follows
    the new period anchor, starting no earlier than the last one ended.
    """
    current = (
        UsageWindow.objects.filter(
            tenant=tenant, kind=UsageWindow.Kind.MONTH, starts_at__lte=now, ends_at__gt=now
        )
        .order_by("-starts_at")
        .values_list("starts_at", "ends_at")
        .first()
    )
    if current is not None:
        return current
    start, end = month_window_bounds(tenant.subscription.current_period_start, now)
    last_end = (
        UsageWindow.objects.filter(
            tenant=tenant, kind=UsageWindow.Kind.MONTH, ends_at__gt=start, ends_at__lte=now
        )
        .order_by("-ends_at")
        .values_list("ends_at", flat=True)
        .first()
    )
    return (last_end or start), end


def month_windows_current(
    *, anchors: dict[str, datetime], now: datetime
) -> dict[str, tuple[datetime, datetime]]:
    """``month_window_current`` for many tenants at once (``anchors``: their period starts),
    in two queries at most."""
    bounds: dict[str, tuple[datetime, datetime]] = {}
    for tenant_id, start, end in (
        UsageWindow.objects.filter(
            tenant_id__in=list(anchors),
            kind=UsageWindow.Kind.MONTH,
            starts_at__lte=now,
            ends_at__gt=now,
        )
        .order_by("starts_at")
        .values_list("tenant_id", "starts_at", "ends_at")
    ):
        bounds[tenant_id] = (start, end)  # the latest start wins
    missing = {t: month_window_bounds(a, now) for t, a in anchors.items() if t not in bounds}
    if missing:
        last_ends = dict(
            UsageWindow.objects.filter(
                tenant_id__in=list(missing), kind=UsageWindow.Kind.MONTH, ends_at__lte=now
            )
            .values("tenant_id")
            .annotate(last=Max("ends_at"))
            .values_list("tenant_id", "last")
        )
        for tenant_id, (start, end) in missing.items():
            last = last_ends.get(tenant_id)
            bounds[tenant_id] = (max(start, last) if last else start, end)
    return bounds


def usage_windows_ensure(*, tenant: Tenant, now: datetime | None = None) -> dict[str, UsageWindow]:
    """The tenant's current day and month windows, created when missing."""
    now = now or timezone.now()
    bounds = {
        UsageWindow.Kind.DAY: day_window_bounds(now),
        UsageWindow.Kind.MONTH: month_window_current(tenant=tenant, now=now),
    }
    windows = {}
    for kind, (start, end) in bounds.items():
        windows[kind], _ = UsageWindow.objects.get_or_create(
            tenant=tenant, kind=kind, starts_at=start, defaults={"ends_at": end}
        )
    return windows
