"""The dashboard's figures, each one aggregate query whatever the number of rows."""

from datetime import UTC, date, datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.models import StripeEvent
from pipelines.models import PipelineRun, RunStatus
from scheduling.selectors import scheduler_status
from tenants.models import Subscription, Tenant, TenantStatus, UsageWindow

RUN_DAYS = 30
TOP_PIPELINES = 5
TOP_QUOTA_TENANTS = 12


def tenants_by_status() -> list[tuple[str, int]]:
    """Every tenant status in lifecycle order, with its count (zero included)."""
    counts = dict(Tenant.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return [(status, counts.get(status, 0)) for status in TenantStatus.values]


def tenants_by_plan() -> list[tuple[str, int]]:
    """Tenants per subscribed plan, smallest plan first."""
    rows = (
        Subscription.objects.order_by()
        .values("plan__code", "plan__runs_per_day")
        .annotate(n=Count("pk"))
        .order_by("plan__runs_per_day", "plan__code")
    )
    return [(r["plan__code"], r["n"]) for r in rows]


def runs_per_day(*, now: datetime, days: int = RUN_DAYS) -> list[tuple[date, int, int]]:
    """(day, completed, failed) for each of the last ``days`` UTC days, by the day runs ended."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    rows = (
        PipelineRun.objects.filter(
            ended_at__gte=since, status__in=(RunStatus.COMPLETED, RunStatus.FAILED)
        )
        .annotate(day=TruncDate("ended_at", tzinfo=UTC))
        .order_by()
        .values("day")
        .annotate(
            completed=Count("pk", filter=Q(status=RunStatus.COMPLETED)),
            failed=Count("pk", filter=Q(status=RunStatus.FAILED)),
        )
    )
    by_day = {r["day"]: (r["completed"], r["failed"]) for r in rows}
    return [
        (day, *by_day.get(day, (0, 0))) for day in (first + timedelta(days=n) for n in range(days))
    ]


def pipeline_stats(*, now: datetime, days: int = RUN_DAYS) -> list[dict]:
    """Per pipeline over the last ``days``: runs, failures and completed-run durations."""
    duration = ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
    completed = Q(status=RunStatus.COMPLETED, started_at__isnull=False)
    rows = (
        PipelineRun.objects.filter(created_at__gte=now - timedelta(days=days))
        .order_by()
        .values("provider", "domain", "pipeline")
        .annotate(
            runs=Count("pk"),
            failed=Count("pk", filter=Q(status=RunStatus.FAILED)),
            avg_duration=Avg(duration, filter=completed),
            max_duration=Max(duration, filter=completed),
        )
    )
    return [
        {
            "config_path": f"{r['provider']}/{r['domain']}/{r['pipeline']}",
            "runs": r["runs"],
            "failed": r["failed"],
            "failure_rate": r["failed"] / r["runs"] if r["runs"] else 0.0,
            "avg_seconds": _seconds(r["avg_duration"]),
            "max_seconds": _seconds(r["max_duration"]),
        }
        for r in rows
    ]


def slowest_pipelines(stats: list[dict], limit: int = TOP_PIPELINES) -> list[dict]:
    timed = [s for s in stats if s["avg_seconds"] is not None]
    return sorted(timed, key=lambda s: (-s["avg_seconds"], s["config_path"]))[:limit]


def most_failing_pipelines(stats: list[dict], limit: int = TOP_PIPELINES) -> list[dict]:
    failing = [s for s in stats if s["failed"]]
    return sorted(failing, key=lambda s: (-s["failed"], -s["failure_rate"], s["config_path"]))[
        :limit
    ]


def quota_use(*, now: datetime, limit: int = TOP_QUOTA_TENANTS) -> list[dict]:
    """The tenants using most of today's run quota, with their plan's daily limit."""
    rows = (
        UsageWindow.objects.filter(
            kind=UsageWindow.Kind.DAY, starts_at__lte=now, ends_at__gt=now, runs_used__gt=0
        )
        .values("tenant_id", "runs_used", "tenant__subscription__plan__runs_per_day")
        .order_by("-runs_used", "tenant_id")[:limit]
    )
    return [
        {
            "tenant_id": r["tenant_id"],
            "used": r["runs_used"],
            "limit": r["tenant__subscription__plan__runs_per_day"] or 0,
        }
        for r in rows
    ]


def stripe_backlog() -> dict:
    """Stripe events not yet processed (received, deferred or failed), by status."""
    rows = (
        StripeEvent.objects.exclude(status__in=StripeEvent.DONE)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"), oldest=Min("received_at"))
    )
    by_status = {r["status"]: r["n"] for r in rows}
    oldest = min((r["oldest"] for r in rows), default=None)
    return {"awaiting": sum(by_status.values()), "by_status": by_status, "oldest": oldest}


def dashboard_figures(*, now: datetime | None = None) -> dict:
    """Everything the dashboard shows, in a fixed number of queries."""
    now = now or timezone.now()
    stats = pipeline_stats(now=now)
    return {
        "now": now,
        "tenants_by_status": tenants_by_status(),
        "tenants_by_plan": tenants_by_plan(),
        "runs_per_day": runs_per_day(now=now),
        "slowest_pipelines": slowest_pipelines(stats),
        "most_failing_pipelines": most_failing_pipelines(stats),
        "quota_use": quota_use(now=now),
        "scheduler": scheduler_status(now=now),
        "stripe": stripe_backlog(),
    }


def _seconds(value: timedelta | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    # Some backends hand an average of durations back as microseconds.
    return float(value) / 1_000_000
