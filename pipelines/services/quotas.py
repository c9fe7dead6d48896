"""Run admission: tenant status and the daily, monthly and concurrent limits, decided atomically.

The counters are the tenant's day and month ``UsageWindow`` rows and its ``SlotCounter``
(runs holding a concurrency slot). Every writer of them locks the SlotCounter row first, so
admissions of one tenant are decided one after another on current counts. Three ways in:

- ``run_admit_statement``: one run, one conditional ``UPDATE ... RETURNING`` (PostgreSQL);
  the API's short path. It only says yes or no; on no the caller rolls back and asks
  ``run_admit``;
- ``run_admit``: one run, under the lock, raising the exact reason; also where a missing
  counter or window row is created;
- ``runs_admit_batch``: many runs of many tenants at once, for the dispatcher.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, F

from core.bulk import array_literal, rows_create, rows_update
from core.prepared import server_bound_cursor
from pipelines.errors import QuotaExceeded, RunRefused, TenantCannotRun
from pipelines.models import PipelineRun, SlotCounter
from tenants.models import Subscription, Tenant, UsageWindow
from tenants.services.usage import day_window_bounds, month_windows_current

# One admission in one statement. The slot counter's UPDATE takes the lock; each window
# row's UPDATE re-checks its own limit on the row's latest version (PostgreSQL re-evaluates
# an UPDATE's WHERE on a row another transaction changed meanwhile), so a yes is exact.
# Two window rows and one counter row updated means admitted; anything less means the
# caller must roll back (a window was full, or a row is missing: ``run_admit`` decides).
_ADMIT_SQL = """
gate AS (
    UPDATE {counter} AS c SET held = c.held + 1
    FROM {tenant} AS t, {subscription} AS s, {plan} AS p
    WHERE c.tenant_id = %s AND t.id = c.tenant_id AND s.tenant_id = t.id AND p.id = s.plan_id
      AND t.status = ANY(%s) AND c.held < p.concurrent_runs
    RETURNING p.runs_per_day, p.runs_per_month
), counted AS (
    UPDATE {window} AS w SET runs_used = w.runs_used + 1
    FROM gate
    WHERE w.id IN (
        (SELECT id FROM {window} WHERE tenant_id = %s AND kind = 'day' AND starts_at = %s),
        (SELECT id FROM {window} WHERE tenant_id = %s AND kind = 'month'
           AND starts_at <= %s AND ends_at > %s ORDER BY starts_at DESC LIMIT 1)
    )
    AND w.runs_used < CASE w.kind WHEN 'day' THEN gate.runs_per_day ELSE gate.runs_per_month END
    RETURNING w.kind
)
SELECT (SELECT count(*) FROM gate), (SELECT count(*) FROM counted)
"""


def _tables() -> dict[str, str]:
    """The table names the admission statements are written with."""
    return {
        "counter": SlotCounter._meta.db_table,
        "tenant": Tenant._meta.db_table,
        "subscription": Subscription._meta.db_table,
        "plan": Subscription.plan.field.related_model._meta.db_table,
        "window": UsageWindow._meta.db_table,
    }


def run_admit_statement_supported() -> bool:
    return connection.vendor == "postgresql"


def run_admit_statement(
    *, tenant_id: str, now: datetime, writes: Sequence[tuple[str, list]] = ()
) -> bool:
    """Count one run against the tenant's quotas in one statement; True if admitted.

    ``writes`` (statements with their parameters: the run's inserts) go into the same
    statement, as data-modifying ``WITH`` queries, so recording and admitting a run is one
    round trip. False leaves counters half-counted and the writes done: the caller must
    roll back its transaction and call ``run_admit`` for the reason (or for the admission,
    if a row was only missing). Run it as the transaction's last statement, so the lock is
    held only until commit.
    """
    day_start, _ = day_window_bounds(now)
    ctes = [f"write_{i} AS ({sql})" for i, (sql, _) in enumerate(writes)]
    sql = "WITH " + "".join(f"{cte}, " for cte in ctes) + _ADMIT_SQL.format(**_tables())
    runnable = sorted(Tenant.RUNNABLE_STATUSES)
    params = [p for _, write_params in writes for p in write_params]
    params += [tenant_id, runnable, tenant_id, day_start, tenant_id, now, now]
    with server_bound_cursor() as cursor:
        cursor.execute(sql, params)
        gates, windows = cursor.fetchone()
    return gates == 1 and windows == 2


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


def _lock_counters(tenant_ids: list[str]) -> dict[str, int]:
    """Lock the tenants' slot counters, in id order so two batches never deadlock."""
    slot_counters_ensure(tenant_ids=tenant_ids)
    return dict(
        SlotCounter.objects.select_for_update()
        .filter(tenant_id__in=tenant_ids)
        .order_by("tenant_id")
        .values_list("tenant_id", "held")
    )


def run_admit(*, tenant_id: str, now: datetime) -> None:
    """Count one run against the tenant's quotas, or raise. Call inside a transaction.

    The tenant's slot counter is locked first, so concurrent admissions of one tenant are
    decided one after another, and the counters they read are current.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("run_admit must run inside transaction.atomic()")
    admission = runs_admit_batch(wanted={tenant_id: 1}, now=now).get(tenant_id)
    if admission is None:
        raise Tenant.DoesNotExist(f"No tenant {tenant_id}.")
    if admission.refusal is not None:
        raise admission.refusal


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


def runs_admit_batch(*, wanted: Mapping[str, int], now: datetime) -> dict[str, TenantAdmission]:
    """Count runs of many tenants against their quotas at once. Call inside a transaction.

    ``wanted`` maps a tenant to how many runs it asks for, in the order they would be
    admitted one by one. Each tenant gets the answer one-by-one admission would give: its
    first runs up to the first limit reached are admitted; after that, a full daily or
    monthly window (checked first) refuses the rest, a full concurrent limit refuses them
    too (the caller may queue them), and a tenant that may not run is refused outright.

    On PostgreSQL two statements whatever the batch's size: the tenants' slot counters are
    locked first (``_counters_lock``), and only then read, in a statement of its own, so
    what it reads includes everything the previous lock holders committed (a statement
    that locks and reads at once reads the other tables as they were when it began, before
    it waited); that statement also counts every tenant whose runs all fit
    (``_ADMIT_FITTING_SQL``). The others (a limit reached, a row missing, a tenant that
    may not run) are decided one by one in Python (``_runs_admit_each``).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("runs_admit_batch must run inside transaction.atomic()")
    tenant_ids = sorted(t for t, n in wanted.items() if n > 0)
    if connection.vendor != "postgresql" or not tenant_ids:
        return _runs_admit_each(tenant_ids, wanted=wanted, now=now)
    _counters_lock(tenant_ids)
    rest = _admit_fitting(tenant_ids, wanted=wanted, now=now)
    # One answer per distinct count (a burst is mostly tenants of one run each), shared.
    admitted = {n: TenantAdmission(admitted=n, refusal=None) for n in set(wanted.values())}
    result = {t: admitted[wanted[t]] for t in tenant_ids if t not in rest}
    if rest:
        result.update(_runs_admit_each(sorted(rest), wanted=wanted, now=now))
    return result


def _runs_admit_each(
    tenant_ids: list[str], *, wanted: Mapping[str, int], now: datetime
) -> dict[str, TenantAdmission]:
    """``runs_admit_batch`` tenant by tenant in Python: the general path, and the reasons."""
    held, quotas, windows = _admission_state(tenant_ids, now=now)
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
    _counters_add(windows=add, slots=slots)
    return result


def _counters_lock(tenant_ids: list[str]) -> None:
    """Lock the tenants' slot counters (PostgreSQL), in id order so two batches never
    deadlock; missing counters are created first."""
    sql = (
        "SELECT count(*) FROM (SELECT 1 FROM {counter} WHERE tenant_id = ANY(%s::text[]) "
        "ORDER BY tenant_id FOR UPDATE) AS locked"
    ).format(**_tables())
    ids = array_literal(tenant_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids])
        if cursor.fetchone()[0] < len(tenant_ids):
            slot_counters_ensure(tenant_ids=tenant_ids)
            cursor.execute(sql, [ids])


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


def _counters_add(*, windows: dict[int, tuple[int]], slots: dict[str, tuple[int]]) -> None:
    """Add admitted runs to their windows and slot counters (one statement on PostgreSQL)."""
    if connection.vendor == "postgresql" and windows and slots:
        sql = (
            f"WITH w AS (UPDATE {UsageWindow._meta.db_table} AS t "
            "SET runs_used = t.runs_used + v.n FROM unnest(%s::bigint[], %s::int[]) AS v(id, n) "
            "WHERE t.id = v.id RETURNING 1) "
            f"UPDATE {SlotCounter._meta.db_table} AS c "
            "SET held = c.held + v.n FROM unnest(%s::text[], %s::int[]) AS v(tenant_id, n) "
            "WHERE c.tenant_id = v.tenant_id"
        )
        params = [
            array_literal(list(windows)),
            array_literal([n for (n,) in windows.values()]),
            array_literal(list(slots)),
            array_literal([n for (n,) in slots.values()]),
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    rows_update(UsageWindow, key="id", fields=["runs_used"], rows=windows, add=True)
    rows_update(SlotCounter, key="tenant", fields=["held"], rows=slots, add=True)


def _admission_state(
    tenant_ids: list[str], *, now: datetime
) -> tuple[dict[str, int], dict[str, _Quota], dict[str, tuple["_Window", "_Window"]]]:
    """Lock the tenants' slot counters (in id order) and read what admission needs: slots
    held, status and limits, and the current day and month windows (created if missing).

    On PostgreSQL one statement does it all when every row exists (the usual case); the
    missing counters and windows are created, as elsewhere, by the general path.
    """
    if connection.vendor == "postgresql" and tenant_ids:
        rows = _admission_read(tenant_ids, now=now)
        if len(rows) < len(tenant_ids):
            slot_counters_ensure(tenant_ids=[t for t in tenant_ids if t not in rows])
            rows = _admission_read(tenant_ids, now=now)
        held = {t: row[0] for t, row in rows.items()}
        quotas = {t: _Quota(*row[1:7]) for t, row in rows.items()}
        windows = {
            t: (_Window(*row[7:10]), _Window(*row[10:13]))
            for t, row in rows.items()
            if row[7] is not None and row[10] is not None
        }
        missing = {
            t: q.period_start
            for t, q in quotas.items()
            if q.status in RUNNABLE and t not in windows
        }
        if missing:
            windows.update(_windows_current(anchors=missing, now=now))
        return held, quotas, windows
    held = _lock_counters(tenant_ids)
    quotas = {
        row[0]: _Quota(*row[1:])
        for row in Tenant.objects.filter(pk__in=list(held)).values_list(
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
    return held, quotas, windows


# The slot counters locked in tenant order (the lock comes above the sort), with each
# tenant's status, limits, and current day and month windows (the month: the latest that
# holds now, as ``month_windows_current`` picks it).
_ADMISSION_READ_SQL = """
SELECT c.tenant_id, c.held, t.status, t.status_reason, s.current_period_start,
       p.runs_per_day, p.runs_per_month, p.concurrent_runs,
       d.id, d.runs_used, d.ends_at, m.id, m.runs_used, m.ends_at
FROM {counter} AS c
JOIN {tenant} AS t ON t.id = c.tenant_id
LEFT JOIN {subscription} AS s ON s.tenant_id = t.id
LEFT JOIN {plan} AS p ON p.id = s.plan_id
LEFT JOIN {window} AS d ON d.tenant_id = c.tenant_id AND d.kind = 'day' AND d.starts_at = %s
LEFT JOIN LATERAL (
    SELECT id, runs_used, ends_at FROM {window}
    WHERE tenant_id = c.tenant_id AND kind = 'month' AND starts_at <= %s AND ends_at > %s
    ORDER BY starts_at DESC LIMIT 1
) AS m ON true
WHERE c.tenant_id = ANY(%s::text[])
ORDER BY c.tenant_id
FOR UPDATE OF c
"""


def _admission_read(tenant_ids: list[str], *, now: datetime) -> dict[str, tuple]:
    sql = _ADMISSION_READ_SQL.format(**_tables())
    day_start, _ = day_window_bounds(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [day_start, now, now, array_literal(tenant_ids)])
        return {row[0]: row[1:] for row in cursor.fetchall()}


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
