"""Template context for the admin dashboard and the per-tenant overview; the charts are SVG."""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib.admin import ModelAdmin
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from budgets.selectors import budgets_recently_alerted
from dashboard.budgets import (
    WAREHOUSE_DOWN,
    anomalies_in_range,
    anomaly_markers,
    budget_burndowns_cached,
    budgets_overview_context,
)
from dashboard.charts import (
    COMPLETED,
    FAILED,
    NEUTRAL,
    PALETTE,
    WARNING,
    Bar,
    Series,
    bar_chart,
    column_chart,
    money,
)
from dashboard.costs import (
    MAX_RANGE_DAYS,
    CostRange,
    costs_by_day_and_provider,
    costs_by_service,
    coverage_notes,
    month_range,
    tenant_costs,
)
from dashboard.figures import dashboard_figures
from pipelines.models import PipelineRun
from pipelines.selectors import tenants_with_recent_anomalies
from scheduling.models import Schedule
from tenants.models import Tenant
from warehouse.bigquery import WarehouseError

STATUS_COLORS = {
    "TRIAL": NEUTRAL,
    "ACTIVE": COMPLETED,
    "PAST_DUE": WARNING,
    "SUSPENDED": FAILED,
    "CANCELLED": "#757575",
}
RECENT_RUNS = 15
# The staff dashboard's cost intelligence: what alerted or was flagged in the last 35 days.
INTELLIGENCE_DAYS = 35
DASHBOARD_BUDGETS = 4
DASHBOARD_ANOMALY_TENANTS = 3
COST_PAGE_LINKS = 25


def _changelist(model: str, **filters) -> str:
    url = reverse(f"admin:{model}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def dashboard_context(*, now: datetime | None = None) -> dict:
    """The figures and their charts, ready for ``admin/dashboard/index.html``."""
    figures = dashboard_figures(now=now)
    days = figures["runs_per_day"]
    charts = {
        "tenants_by_status": bar_chart(
            [
                Bar(
                    status,
                    n,
                    color=STATUS_COLORS.get(status, NEUTRAL),
                    href=_changelist("tenants_tenant", status__exact=status),
                )
                for status, n in figures["tenants_by_status"]
            ],
            title="Tenants by status",
            empty="No tenants yet.",
        ),
        "tenants_by_plan": bar_chart(
            [Bar(plan, n) for plan, n in figures["tenants_by_plan"]],
            title="Tenants by plan",
            empty="No subscriptions yet.",
        ),
        "runs_per_day": column_chart(
            [f"{day:%m-%d}" for day, _, _ in days],
            [
                Series("completed", COMPLETED, [c for _, c, _ in days]),
                Series("failed", FAILED, [f for _, _, f in days]),
            ],
            title=f"Runs per day, last {len(days)} days",
            empty="No finished runs in the last 30 days.",
        ),
        "slowest_pipelines": bar_chart(
            [
                Bar(s["config_path"], s["avg_seconds"], text=_duration(s["avg_seconds"]))
                for s in figures["slowest_pipelines"]
            ],
            title="Slowest pipelines (average completed run)",
            empty="No completed runs in the last 30 days.",
        ),
        "most_failing_pipelines": bar_chart(
            [
                Bar(
                    s["config_path"],
                    s["failed"],
                    text=f"{s['failed']} of {s['runs']} ({s['failure_rate']:.0%})",
                    color=FAILED,
                )
                for s in figures["most_failing_pipelines"]
            ],
            title="Most failing pipelines",
            empty="No failed runs in the last 30 days.",
        ),
        "quota_use": bar_chart(
            [
                Bar(
                    q["tenant_id"],
                    q["used"],
                    text=f"{q['used']} / {q['limit']} today",
                    color=FAILED if q["limit"] and q["used"] >= q["limit"] else NEUTRAL,
                    href=reverse("admin:tenants_tenant_change", args=[quote(q["tenant_id"])]),
                )
                for q in figures["quota_use"]
            ],
            title="Daily run quota use per tenant",
            max_value=max((q["limit"] for q in figures["quota_use"]), default=0),
            empty="No runs admitted today.",
        ),
    }
    return {
        "dashboard": figures,
        "charts": charts,
        "intelligence": cost_intelligence_context(now=now),
        "cost_pages": _cost_page_links(),
        "links": {
            "stripe_awaiting": _changelist(
                "billing_stripeevent", status__in="RECEIVED,FAILED,DEFERRED"
            ),
            "runs_failed": _changelist("pipelines_pipelinerun", status__exact="FAILED"),
            "runs_active": _changelist("pipelines_pipelinerun", status__in="PENDING,RUNNING"),
            "schedules": _changelist("scheduling_schedule"),
        },
    }


class CostRangeForm(forms.Form):
    """The cost page's date range: the last 30 days of data, a month, or custom dates."""

    RANGES = (
        ("last30", "Last 30 days (up to the latest charge)"),
        ("month", "A month"),
        ("custom", "Custom range"),
    )
    range = forms.ChoiceField(choices=RANGES, required=False)
    month = forms.CharField(
        required=False, widget=forms.DateInput(attrs={"type": "month"}), help_text="YYYY-MM"
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        choice = data.get("range") or "last30"
        data["cost_range"] = None
        if choice == "month":
            try:
                year, month = (int(part) for part in (data.get("month") or "").split("-"))
                data["cost_range"] = month_range(year, month)
            except ValueError:
                self.add_error("month", "Give a month as YYYY-MM.")
        elif choice == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom range needs a start and an end date.")
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days >= MAX_RANGE_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_RANGE_DAYS} days.")
            data["cost_range"] = CostRange(start, end)
        return data


def _cost_page_links() -> list[dict]:
    """Links to tenants' cost pages, active tenants first (one query)."""

    tenants = Tenant.objects.order_by("status", "id").values_list("id", "company_name", "status")
    return [
        {
            "id": tenant_id,
            "company": company,
            "status": status,
            "url": reverse("admin:tenants_tenant_overview", args=[tenant_id]),
        }
        for tenant_id, company, status in tenants[:COST_PAGE_LINKS]
    ]


def tenant_cost_chart(*, tenant, cost_range: CostRange | None) -> dict:
    """The tenant's billed cost per charge day and provider over the range (default: the last
    30 days of data), its cost anomalies marked on their days' columns."""

    costs = tenant_costs(tenant_id=tenant.pk, cost_range=cost_range)
    shown: CostRange | None = costs["range"]
    days, providers = costs_by_day_and_provider(
        costs["rows"], shown.days if shown is not None else None
    )
    anomalies, error = [], ""
    if shown is not None and costs["rows"]:
        anomalies, error = anomalies_in_range(tenant_id=tenant.pk, start=shown.start, end=shown.end)
    chart = column_chart(
        [f"{d:%Y-%m-%d}" for d in days],
        [
            Series(name, PALETTE[i % len(PALETTE)], values)
            for i, (name, values) in enumerate(providers.items())
        ],
        title="Billed cost per charge day and provider",
        value_format=money,
        empty="No FOCUS cost data in this range."
        if costs["coverage"]
        else "No FOCUS cost data in this tenant's dataset yet.",
        markers=anomaly_markers(anomalies, days),
    )
    return {
        "costs": costs,
        "range": shown,
        "chart": chart,
        "anomalies": anomalies,
        "anomalies_error": error,
    }


def cost_intelligence_context(*, now: datetime | None = None) -> dict:
    """For the staff dashboard: burn-down charts of the budgets that alerted lately, and the
    cost charts (anomalies marked) of the tenants whose latest runs found anomalies."""

    since = (now or timezone.now()) - timedelta(days=INTELLIGENCE_DAYS)
    budgets, error = [], ""
    try:
        budgets = budget_burndowns_cached(
            budgets_recently_alerted(since=since, limit=DASHBOARD_BUDGETS)
        )
    except WarehouseError:
        error = WAREHOUSE_DOWN
    for item in budgets:
        item["url"] = reverse("admin:tenants_tenant_overview", args=[item["budget"].tenant_id])
    tenant_ids = tenants_with_recent_anomalies(since=since, limit=DASHBOARD_ANOMALY_TENANTS)
    tenants = Tenant.objects.in_bulk(tenant_ids)
    charts = []
    for tenant_id in tenant_ids:
        if tenant_id not in tenants:
            continue
        drawn = tenant_cost_chart(tenant=tenants[tenant_id], cost_range=None)
        charts.append(
            {
                "tenant": tenants[tenant_id],
                "url": reverse("admin:tenants_tenant_overview", args=[tenant_id]),
                **drawn,
            }
        )
    return {"budgets": budgets, "budgets_error": error, "anomaly_charts": charts}


def tenant_overview_context(*, tenant, query: dict | None = None) -> dict:
    """Costs from the tenant's FOCUS tables over a chosen range (cached), with each provider's
    coverage, its recent runs and its schedules."""

    form = CostRangeForm(query or {"range": "last30"})
    cost_range = form.cleaned_data["cost_range"] if form.is_valid() else None
    drawn = tenant_cost_chart(tenant=tenant, cost_range=cost_range)
    costs, shown = drawn["costs"], drawn["range"]

    return {
        **budgets_overview_context(tenant=tenant),
        "tenant": tenant,
        "range_form": form,
        "cost_range": shown,
        "coverage_notes": coverage_notes(costs["coverage"], shown),
        "costs": costs,
        "cost_chart": drawn["chart"],
        "chart_anomalies": drawn["anomalies"],
        "chart_anomalies_error": drawn["anomalies_error"],
        "cost_by_service": costs_by_service(costs["rows"]),
        "cost_total": sum(r["cost"] for r in costs["rows"]),
        "recent_runs": list(
            PipelineRun.objects.filter(tenant=tenant).order_by("-created_at")[:RECENT_RUNS]
        ),
        "schedules": list(Schedule.objects.filter(tenant=tenant)),
        "links": {
            "runs": _changelist("pipelines_pipelinerun", tenant__id__exact=tenant.pk),
            "schedules": _changelist("scheduling_schedule", tenant__id__exact=tenant.pk),
            "keys": _changelist("tenants_apikey", tenant__id__exact=tenant.pk),
            "credentials": _changelist("tenants_cloudcredential", tenant__id__exact=tenant.pk),
            "audit": _changelist("tenants_auditevent", tenant_id=tenant.pk),
            "run_now": reverse("admin:pipelines_pipelinerun_run_now")
            + "?"
            + urlencode({"tenant": tenant.pk}),
        },
    }


def tenant_overview_view(model_admin: ModelAdmin, request: HttpRequest, object_id: str):
    """Admin page: one tenant's costs, runs and schedules (staff with view permission)."""
    tenant = model_admin.get_object(request, object_id)
    if tenant is None:
        raise Http404("No such tenant.")
    if not model_admin.has_view_permission(request, tenant):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Tenant {tenant.pk}: costs and activity",
        "opts": model_admin.opts,
        "original": tenant,
        **tenant_overview_context(tenant=tenant, query=request.GET or None),
    }
    return TemplateResponse(request, "admin/dashboard/tenant_overview.html", context)
