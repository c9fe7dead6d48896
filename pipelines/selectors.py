"""Reads of the pipelines app."""

import functools
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from core.prepared import server_bound_cursor
from pipelines.models import PipelineRun, StepRun, StepStatus
from tenants.authentication import KeyPrincipal
from tenants.permissions import is_staff


def runs_active_count(*, tenant_id: str) -> int:
    """Runs holding one of the tenant's concurrency slots."""
    return PipelineRun.objects.filter(tenant_id=tenant_id, holds_slot=True).count()


def run_get_for_user(*, user, run_id) -> PipelineRun:
    """The run if this user may see it; 404 for another tenant's run."""
    runs = PipelineRun.objects.prefetch_related("steps")
    if isinstance(user, KeyPrincipal) and user.tenant_id is not None:
        runs = runs.filter(tenant_id=user.tenant_id)
    elif not is_staff(user):
        raise Http404("No such run.")
    run = runs.filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return run


# The columns the run API shows; read as values, so a page of runs builds no model instances.
RUN_COLUMNS = (
    "id",
    "tenant_id",
    "pipeline_id",
    "provider",
    "domain",
    "pipeline",
    "status",
    "trigger",
    "parameters",
    "user_id",
    "cancel_requested",
    "created_at",
    "started_at",
    "ended_at",
    "rows_processed",
    "bytes_processed",
    "error_message",
)
STEP_COLUMNS = (
    "index",
    "step_id",
    "ps_type",
    "status",
    "started_at",
    "ended_at",
    "rows_processed",
    "bytes_processed",
    "error_message",
    "details",
)


def run_values_get_for_user(*, user, run_id) -> dict:
    """The run (``RUN_COLUMNS``) with its steps (``STEP_COLUMNS``, in order) if this user may
    see it; 404 for another tenant's run. Two queries."""
    runs = PipelineRun.objects.all()
    if isinstance(user, KeyPrincipal) and user.tenant_id is not None:
        runs = runs.filter(tenant_id=user.tenant_id)
    elif not is_staff(user):
        raise Http404("No such run.")
    run = runs.filter(pk=run_id).values(*RUN_COLUMNS).first()
    if run is None:
        raise Http404("No such run.")
    run["steps"] = list(
        StepRun.objects.filter(run_id=run["id"]).order_by("index").values(*STEP_COLUMNS)
    )
    return run


# The run API's answers written by PostgreSQL itself (``json_build_object``), one statement
# each, so a request builds no rows in Python and encodes no JSON: the same JSON values as
# ``RunOutputSerializer`` and ``RunDetailOutputSerializer`` give (a test holds them equal),
# though not the same bytes (PostgreSQL writes `"key" : value, ...`, with spaces). Elsewhere
# (SQLite, the local default) the answers are built in Python from ``values()``.


def run_answers_in_sql() -> bool:
    return connection.vendor == "postgresql"


def _sql_when(column: str) -> str:
    """A timestamp as DRF's DateTimeField writes it: UTC, ``Z``, microseconds unless zero."""
    return (
        f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "'.000000Z', 'Z')"
    )


def _sql_duration_ms(alias: str) -> str:
    """``int((ended - started).total_seconds() * 1000)`` in the same double arithmetic (an
    exact millisecond count would differ from Python's by one for a few durations)."""
    return (
        f"trunc(extract(epoch FROM {alias}.ended_at - {alias}.started_at)::float8 * 1000)::bigint"
    )


def _sql_run_object(alias: str, *extra: str) -> str:
    """``json_build_object`` of a run (alias ``alias``) in ``RunOutputSerializer``'s fields,
    then ``extra`` (more ``'name', value`` pairs)."""
    a = alias
    plain = ("tenant_id", "pipeline_id", "provider", "domain", "pipeline", "status", "trigger")
    plain += ("parameters", "user_id", "cancel_requested")
    fields = [
        ("run_id", f"{a}.id"),
        ("pipeline_logging_id", f"{a}.id"),
        *((name, f"{a}.{name}") for name in plain),
        *((name, _sql_when(f"{a}.{name}")) for name in ("created_at", "started_at", "ended_at")),
        ("duration_ms", _sql_duration_ms(a)),
        *((name, f"{a}.{name}") for name in ("rows_processed", "bytes_processed", "error_message")),
    ]
    pairs = [f"'{name}', {value}" for name, value in fields] + list(extra)
    return f"json_build_object({', '.join(pairs)})"


def _sql_steps_array(run_alias: str) -> str:
    """The run's steps in order, each as ``StepOutputSerializer`` gives it; ``checks`` from
    ``details.checks`` (name -> outcome) as a list of ``{"name": name, **outcome}``."""
    step = StepRun._meta.db_table
    checks = (
        "(SELECT coalesce(json_agg(jsonb_build_object('name', c.key) || c.value "
        "ORDER BY c.n), '[]') FROM jsonb_each(CASE WHEN jsonb_typeof(s.details -> 'checks') "
        "= 'object' THEN s.details -> 'checks' END) WITH ORDINALITY AS c(key, value, n))"
    )
    fields = [
        *((name, f"s.{name}") for name in ("index", "step_id", "ps_type", "status")),
        ("started_at", _sql_when("s.started_at")),
        ("ended_at", _sql_when("s.ended_at")),
        ("duration_ms", _sql_duration_ms("s")),
        *((name, f"s.{name}") for name in ("rows_processed", "bytes_processed")),
        ("error_message", "s.error_message"),
        ("checks", checks),
    ]
    pairs = ", ".join(f"'{name}', {value}" for name, value in fields)
    return (
        f"(SELECT coalesce(json_agg(json_build_object({pairs}) ORDER BY s.index), '[]') "
        f"FROM {step} AS s WHERE s.run_id = {run_alias}.id)"
    )


@functools.cache
def _run_detail_sql(*, of_tenant: bool) -> str:
    # billing_periods: RunDetailOutputSerializer's, until these SQL answers give way to it.
    periods = (
        "(SELECT coalesce(json_agg(p.value ORDER BY s.index, p.n), '[]') "
        f"FROM {StepRun._meta.db_table} AS s CROSS JOIN LATERAL jsonb_array_elements(CASE "
        "WHEN jsonb_typeof(s.details -> 'billing_periods') = 'array' THEN "
        "s.details -> 'billing_periods' END) WITH ORDINALITY AS p(value, n) "
        "WHERE s.run_id = r.id)"
    )
    run = _sql_run_object("r", f"'billing_periods', {periods}", f"'steps', {_sql_steps_array('r')}")
    where = "r.id = %s AND r.tenant_id = %s" if of_tenant else "r.id = %s"
    return f"SELECT {run}::text FROM {PipelineRun._meta.db_table} AS r WHERE {where}"


def run_detail_json_for_user(*, user, run_id) -> str:
    """The run's ``RunDetailOutputSerializer`` answer as JSON text, written by PostgreSQL in
    one statement, if this user may see the run; 404 for another tenant's run."""
    if isinstance(user, KeyPrincipal) and user.tenant_id is not None:
        sql, params = _run_detail_sql(of_tenant=True), [run_id, user.tenant_id]
    elif is_staff(user):
        sql, params = _run_detail_sql(of_tenant=False), [run_id]
    else:
        raise Http404("No such run.")
    with server_bound_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such run.")
    return row[0]


# ``runs_list``'s filters as SQL conditions on the runs table (alias r).
_RUN_FILTERS = {
    "status": "r.status = %s",
    "trigger": "r.trigger = %s",
    "provider": "r.provider = %s",
    "pipeline": "r.pipeline = %s",
    "created_after": "r.created_at >= %s",
    "created_before": "r.created_at < %s",
}


@functools.cache
def _runs_page_sql(filters: tuple[str, ...]) -> str:
    where = " AND ".join(["r.tenant_id = %s", *(_RUN_FILTERS[name] for name in filters)])
    runs = PipelineRun._meta.db_table
    order = "r.created_at DESC, r.id DESC"
    return (
        f"SELECT (SELECT count(*) FROM {runs} AS r WHERE {where}), "
        f"(SELECT coalesce(json_agg({_sql_run_object('r')} ORDER BY {order}), '[]')::text "
        f"FROM (SELECT * FROM {runs} AS r WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s) "
        "AS r)"
    )


def runs_page_json(*, tenant_id: str, limit: int, offset: int, **filters) -> tuple[int, str]:
    """The tenant's runs as ``runs_list`` filters and orders them: how many in all, and the
    page of ``limit`` from ``offset`` as a JSON array of ``RunOutputSerializer`` answers,
    written by PostgreSQL; one statement (the count by the tenant's index alone)."""
    given = {name: value for name, value in filters.items() if value is not None}
    params = [tenant_id, *given.values()]
    with server_bound_cursor() as cursor:
        cursor.execute(_runs_page_sql(tuple(given)), [*params, *params, limit, offset])
        count, page = cursor.fetchone()
    return count, page


def runs_list(
    *,
    tenant_id: str,
    status: str | None = None,
    trigger: str | None = None,
    provider: str | None = None,
    pipeline: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[PipelineRun]:
    # Newest first; the id breaks ties, so pages never repeat or skip a run.
    runs = PipelineRun.objects.filter(tenant_id=tenant_id).order_by("-created_at", "-id")
    filters = {
        "status": status,
        "trigger": trigger,
        "provider": provider,
        "pipeline": pipeline,
        "created_at__gte": created_after,
        "created_at__lt": created_before,
    }
    return runs.filter(**{k: v for k, v in filters.items() if v is not None})


def tenants_with_recent_anomalies(*, since: datetime, limit: int) -> list[str]:
    """Tenants whose anomaly step found anomalies in a run ended since ``since``, most recent
    first (read from the steps' recorded details; no warehouse query)."""

    latest: list[str] = []
    steps = (
        StepRun.objects.filter(
            ps_type="focus.anomalies",
            status=StepStatus.COMPLETED,
            ended_at__gte=since,
            details__anomalies_in_window__gt=0,
        )
        .order_by("-ended_at")
        .values_list("run__tenant_id", flat=True)
    )
    for tenant_id in steps.iterator():
        if tenant_id not in latest:
            latest.append(tenant_id)
            if len(latest) == limit:
                break
    return latest
