"""Run admission: tenant status and the daily, monthly and concurrent limits, decided atomically.

The counters are the tenant's day and month ``UsageWindow`` rows and its ``SlotCounter``
(runs holding a concurrency slot). Every writer of them locks the SlotCounter row first, so
admissions of one tenant are decided one after another on current counts. One way in,
``runs_admit_batch``: runs of any number of tenants, the API's run as a batch of one and the
dispatcher's burst of thousands alike.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, F

from core.bulk import array_literal, rows_create, rows_update, values_in
from pipelines.errors import QuotaExceeded, RunRefused, TenantCannotRun
from pipelines.models import PipelineRun, SlotCounter
from tenants.models import Subscription, Tenant, UsageWindow
from tenants.services.usage import day_window_bounds, month_windows_current


def _tables() -> dict[str, str]:
    """The table names the set-based admission statement is written with."""
    return {
        "counter": SlotCounter._meta.db_table,
        "tenant": Tenant._meta.db_table,
        "subscription": Subscription._meta.db_table,
        "plan": Subscription.plan.field.related_model._meta.db_table,
        "window": UsageWindow._meta.db_table,
    }


def slot_counters_ensure(*, tenant_ids: list[str]) -> None:
    """Create the missing slot counters, each starting at the runs that hold a slot now."""
    have = set(
        SlotCounter.objects.filter(tenant_id__in=tenant_ids).values_list("tenant_id", flat=True)
    )
    missing = [t for t in tenant_ids if t not in have]
    if not missing:
        return
    held = dict(
        PipelineRun.objects.filter(tenant_id__in=missing, holds_slot=True)
        .values("tenant_id")
        .annotate(n=Count("pk"))
        .values_list("tenant_id", "n")
    )
    existing = set(Tenant.objects.filter(pk__in=missing).values_list("pk", flat=True))
    rows_create(
        SlotCounter,
        rows=[{"tenant_id": t, "held": held.get(t, 0)} for t in missing if t in existing],
        ignore_conflicts=True,
    )


@dataclass(frozen=True)
class TenantAdmission:
    """One tenant's share of a batch: the first ``admitted`` runs, and why the rest were not."""

    admitted: int
    refusal: RunRefused | None


RUNNABLE = frozenset(Tenant.RUNNABLE_STATUSES)


@dataclass(frozen=True)
class _Quota:
    status: str
    status_reason: str
    period_start: datetime
    runs_per_day: int
    runs_per_month: int
    concurrent_runs: int


def runs_admit_batch(
    *, wanted: Mapping[str, int], now: datetime, set_based: bool = True
) -> dict[str, TenantAdmission]:
    """Count runs of many tenants against their quotas at once. Call inside a transaction.

    ``wanted`` maps a tenant to how many runs it asks for, in the order they would be
    admitted one by one. Each tenant gets the answer one-by-one admission would give: its
    first runs up to the first limit reached are admitted; after that, a full daily or
    monthly window (checked first) refuses the rest, a full concurrent limit refuses them
    too (the caller may queue them), and a tenant that may not run is refused outright. A
    tenant that does not exist gets no answer.

    The tenants' slot counters are locked first (``_counters_lock``), and only then is
    anything else read, in statements of their own, so what is read includes everything
    the previous lock holders committed (a statement that locks and reads at once reads
    the other tables as they were when it began, before it waited).

    On PostgreSQL (and ``set_based``, the default) one statement then counts every tenant
    whose runs all fit (``_ADMIT_FITTING_SQL``): the dispatcher's burst of 10,000 tenants
    needs it (``docs/benchmarks.md``). The others (a limit reached, a row missing, a tenant
    that may not run), and every tenant elsewhere or with ``set_based=False``, are decided
    tenant by tenant (``_runs_admit_each``), with the same outcome (a test runs both).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("runs_admit_batch must run inside transaction.atomic()")
    tenant_ids = sorted(t for t, n in wanted.items() if n > 0)
    if not tenant_ids:
        return {}
    held = _counters_lock(tenant_ids)
    result: dict[str, TenantAdmission] = {}
    rest = tenant_ids
    if set_based and connection.vendor == "postgresql":
        not_fitting = _admit_fitting(tenant_ids, wanted=wanted, now=now)
        # One answer per distinct count (a burst is mostly tenants of one run each), shared.
        admitted = {n: TenantAdmission(admitted=n, refusal=None) for n in set(wanted.values())}
        result = {t: admitted[wanted[t]] for t in tenant_ids if t not in not_fitting}
        rest = sorted(not_fitting)
    if rest:
        result.update(_runs_admit_each(rest, held=held, wanted=wanted, now=now))
    return result


def _counters_lock(tenant_ids: list[str]) -> dict[str, int]:
    """Lock the tenants' slot counters, in id order so two batches never deadlock; the
    missing ones are created first. Returns the slots each holds (the locked rows' latest
    versions: a statement that waited for a row lock reads that row as its holder left it)."""

    def lock() -> dict[str, int]:
        return dict(
            SlotCounter.objects.select_for_update()
            .filter(tenant_id__in=values_in(tenant_ids, db_type="text"))
            .order_by("tenant_id")
            .values_list("tenant_id", "held")
        )

    held = lock()
    if len(held) < len(tenant_ids):
        slot_counters_ensure(tenant_ids=[t for t in tenant_ids if t not in held])
        held = lock()
    return held


def _runs_admit_each(
    tenant_ids: list[str], *, held: Mapping[str, int], wanted: Mapping[str, int], now: datetime
) -> dict[str, TenantAdmission]:
    """``runs_admit_batch`` tenant by tenant in Python: the general path, and the reasons.
    ``held`` is what ``_counters_lock`` read under the lock."""
    quotas = {
        row[0]: _Quota(*row[1:])
        for row in Tenant.objects.filter(
            pk__in=values_in([t for t in tenant_ids if t in held], db_type="text")
        ).values_list(
            "pk",
            "status",
            "status_reason",
            "subscription__current_period_start",
            "subscription__plan__runs_per_day",
            "subscription__plan__runs_per_month",
            "subscription__plan__concurrent_runs",
        )
    }
    windows = _windows_current(
        anchors={t: q.period_start for t, q in quotas.items() if q.status in RUNNABLE},
        now=now,
    )
    result: dict[str, TenantAdmission] = {}
    add: dict[int, tuple[int]] = {}  # window pk -> (runs to add,)
    slots: dict[str, tuple[int]] = {}  # tenant -> (slots to add,)
    for tenant_id in tenant_ids:
        quota = quotas.get(tenant_id)
        if quota is None:
            continue
        if quota.status not in RUNNABLE:
            reason = f" ({quota.status_reason})" if quota.status_reason else ""
            refusal = TenantCannotRun(
                f"Tenant {tenant_id} is {quota.status}{reason}; runs are refused."
            )
            result[tenant_id] = TenantAdmission(admitted=0, refusal=refusal)
            continue
        day, month = windows[tenant_id]
        running = held[tenant_id]
        room = {
            "daily": quota.runs_per_day - day.used,
            "monthly": quota.runs_per_month - month.used,
            "concurrent": quota.concurrent_runs - running,
        }
        admitted = max(0, min(wanted[tenant_id], *room.values()))
        refusal = None
        if admitted < wanted[tenant_id]:
            # The limit one-by-one admission would meet first: daily, monthly, concurrent.
            window = next(w for w in ("daily", "monthly", "concurrent") if room[w] <= admitted)
            used, limit, resets_at = {
                "daily": (day.used + admitted, quota.runs_per_day, day.ends_at),
                "monthly": (month.used + admitted, quota.runs_per_month, month.ends_at),
                "concurrent": (running + admitted, quota.concurrent_runs, None),
            }[window]
            refusal = QuotaExceeded(window=window, used=used, limit=limit, resets_at=resets_at)
        result[tenant_id] = TenantAdmission(admitted=admitted, refusal=refusal)
        if admitted:
            add[day.pk] = add[month.pk] = (admitted,)
            slots[tenant_id] = (admitted,)
    rows_update(UsageWindow, key="id", fields=["runs_used"], rows=add, add=True)
    rows_update(SlotCounter, key="tenant", fields=["held"], rows=slots, add=True)
    return result


# Under the tenants' locks (``_counters_lock``): each tenant whose wanted runs all fit (it
# may run, its counter and both windows exist, and no limit is reached) has them counted
# in its day and month windows and its slot counter; the others are returned, to be
# decided one by one. The month window is the latest that holds now, as
# ``month_windows_current`` picks it.
_ADMIT_FITTING_SQL = """
WITH want AS (
    SELECT * FROM unnest(%s::text[], %s::int[]) AS w(tenant_id, n)
), state AS MATERIALIZED (
    SELECT w.tenant_id, w.n, d.id AS day_id, m.id AS month_id,
           (t.status = ANY(%s) AND c.held + w.n <= p.concurrent_runs
            AND d.runs_used + w.n <= p.runs_per_day
            AND m.runs_used + w.n <= p.runs_per_month) AS fits
    FROM want AS w
    LEFT JOIN {counter} AS c ON c.tenant_id = w.tenant_id
    LEFT JOIN {tenant} AS t ON t.id = w.tenant_id
    LEFT JOIN {subscription} AS s ON s.tenant_id = w.tenant_id
    LEFT JOIN {plan} AS p ON p.id = s.plan_id
    LEFT JOIN {window} AS d ON d.tenant_id = w.tenant_id AND d.kind = 'day' AND d.starts_at = %s
    LEFT JOIN LATERAL (
        SELECT id, runs_used FROM {window}
        WHERE tenant_id = w.tenant_id AND kind = 'month' AND starts_at <= %s AND ends_at > %s
        ORDER BY starts_at DESC LIMIT 1
    ) AS m ON true
), windows AS (
    UPDATE {window} AS u SET runs_used = u.runs_used + s.n
    FROM state AS s CROSS JOIN LATERAL (VALUES (s.day_id), (s.month_id)) AS v(id)
    WHERE s.fits AND u.id = v.id
), counters AS (
    UPDATE {counter} AS u SET held = u.held + s.n
    FROM state AS s
    WHERE s.fits AND u.tenant_id = s.tenant_id
)
SELECT tenant_id FROM state WHERE fits IS NOT TRUE
"""


def _admit_fitting(tenant_ids: list[str], *, wanted: Mapping[str, int], now: datetime) -> set[str]:
    """Count the tenants whose runs all fit (``_ADMIT_FITTING_SQL``); the others' ids."""
    day_start, _ = day_window_bounds(now)
    params = [
        array_literal(tenant_ids),
        array_literal([wanted[t] for t in tenant_ids]),
        sorted(RUNNABLE),
        day_start,
        now,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_ADMIT_FITTING_SQL.format(**_tables()), params)
        return {row[0] for row in cursor.fetchall()}


@dataclass(frozen=True)
class _Window:
    pk: int
    used: int
    ends_at: datetime


def _windows_current(
    *, anchors: Mapping[str, datetime], now: datetime
) -> dict[str, tuple[_Window, _Window]]:
    """Each tenant's current (day, month) windows; the missing ones are created.

    ``anchors`` maps a tenant to its subscription's period start, where its months begin.
    """
    day = day_window_bounds(now)
    # A month window once opened keeps its bounds through plan and period changes.
    months = month_windows_current(anchors=dict(anchors), now=now)
    wanted = {
        (tenant_id, kind): bounds
        for tenant_id in anchors
        for kind, bounds in (
            (UsageWindow.Kind.DAY, day),
            (UsageWindow.Kind.MONTH, months[tenant_id]),
        )
    }
    starts = {start for start, _ in wanted.values()}

    def read() -> dict[tuple[str, str], _Window]:
        rows = UsageWindow.objects.filter(
            tenant_id__in=list(anchors), starts_at__in=starts
        ).values_list("tenant_id", "kind", "starts_at", "pk", "runs_used", "ends_at")
        return {
            (t, kind): _Window(pk, used, ends_at)
            for t, kind, start, pk, used, ends_at in rows
            if (t, kind) in wanted and wanted[(t, kind)][0] == start
        }

    found = read()
    if len(found) < len(wanted):
        rows_create(
            UsageWindow,
            rows=[
                {"tenant_id": t, "kind": kind, "starts_at": start, "ends_at": end}
                for (t, kind), (start, end) in wanted.items()
                if (t, kind) not in found
            ],
            ignore_conflicts=True,
        )
        found = read()
    return {
        t: (found[(t, UsageWindow.Kind.DAY)], found[(t, UsageWindow.Kind.MONTH)]) for t in anchors
    }


def run_slot_release(*, run_id) -> bool:
    """Give the run's concurrency slot back; True only for the one call that did."""
    released = PipelineRun.objects.filter(pk=run_id, holds_slot=True).update(holds_slot=False)
    if released:
        tenant_id = PipelineRun.objects.filter(pk=run_id).values_list("tenant_id", flat=True)
        SlotCounter.objects.filter(tenant_id__in=tenant_id, held__gt=0).update(held=F("held") - 1)
    return bool(released)
