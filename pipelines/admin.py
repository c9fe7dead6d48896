"""Admin for runs and their steps; actions go through the same services as the API."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.parsers import JsonRefused, json_loads_bounded
from pipelines.configs import CONFIG_SOURCES, PipelineConfigError, pipeline_configs_all
from pipelines.errors import RunRefused
from pipelines.models import ACTIVE_STATUSES, PipelineRun
from pipelines.progress import run_progress
from pipelines.services.runs import pipeline_run_cancel, pipeline_run_retry, pipeline_run_start
from tenants.models import Tenant
from tenants.services.audit import Actor


def _actor(request: HttpRequest) -> Actor:
    return Actor(user=request.user, label=request.user.get_username())


class RunNowForm(forms.Form):
    tenant = forms.CharField(max_length=50, help_text="The tenant id.")
    pipeline = forms.ChoiceField()
    parameters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text='A JSON object, e.g. {"date": "2024-09-01"}.',
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [
            (c.key, f"{c.key} — {c.description}" if c.description else c.key)
            for c in pipeline_configs_all()
            if c.provider not in ("system", "mapping")
        ] + [
            (f"{n}/cost/focus", f"{n}/cost/focus — FOCUS mapping {n}")
            for source in CONFIG_SOURCES
            for n in source.names_staff()
        ]

    def clean_tenant(self) -> str:
        tenant_id = self.cleaned_data["tenant"].strip()
        if not Tenant.objects.filter(pk=tenant_id).exists():
            raise forms.ValidationError(f"No tenant {tenant_id!r}.")
        return tenant_id

    def clean_parameters(self) -> dict:
        try:
            value = json_loads_bounded(self.cleaned_data["parameters"])
        except JsonRefused as exc:
            raise forms.ValidationError(str(exc)) from exc
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object of run parameters.")
        return value


@admin.register(PipelineRun)
class PipelineRunAdmin(admin.ModelAdmin):
    change_form_template = "admin/pipelines/pipelinerun/change_form.html"
    change_list_template = "admin/pipelines/pipelinerun/change_list.html"
    run_now_template = "admin/pipelines/pipelinerun/run_now.html"
    list_display = [
        "id",
        "tenant",
        "config_path",
        "status",
        "trigger",
        "created_at",
        "started_at",
        "ended_at",
        "duration",
        "rows_processed",
    ]
    list_filter = ["status", "trigger", "provider", "created_at"]
    search_fields = ["id", "tenant__id", "pipeline_id", "user_id"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    actions = ["cancel_runs", "retry_runs"]
    readonly_fields = [f.name for f in PipelineRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_run_permission(self, request) -> bool:
        return request.user.has_perm("pipelines.change_pipelinerun")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("run-now/", wrap(self.run_now_view), name="pipelines_pipelinerun_run_now"),
            path(
                "<path:object_id>/progress/",
                wrap(self.progress_view),
                name="pipelines_pipelinerun_progress",
            ),
            path(
                "<path:object_id>/retry/",
                wrap(require_POST(self.retry_view)),
                name="pipelines_pipelinerun_retry",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="pipeline")
    def config_path(self, run: PipelineRun) -> str:
        return run.config_path

    @admin.display(description="duration")
    def duration(self, run: PipelineRun) -> str:
        ms = run.duration_ms
        return "—" if ms is None else f"{ms / 1000:.1f} s"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if run is not None:
            extra_context.update(
                progress=run_progress(run=run),
                progress_url=reverse("admin:pipelines_pipelinerun_progress", args=[run.pk]),
                retry_url=reverse("admin:pipelines_pipelinerun_retry", args=[run.pk]),
                can_retry=self.has_run_permission(request) and run.status not in ACTIVE_STATUSES,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _run_or_404(self, request, object_id) -> PipelineRun:
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404("No such run.")
        return run

    def progress_view(self, request, object_id):
        """JSON for the run page's self-refreshing progress: steps done of total, each step."""
        run = self._run_or_404(request, object_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return JsonResponse(run_progress(run=run))

    def retry_view(self, request, object_id):
        run = self._run_or_404(request, object_id)
        if not self.has_run_permission(request):
            raise PermissionDenied
        try:
            new = pipeline_run_retry(run=run, actor=_actor(request))
        except (RunRefused, PipelineConfigError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:pipelines_pipelinerun_change", args=[run.pk])
            )
        self.message_user(request, f"Retrying as run {new.pk}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:pipelines_pipelinerun_change", args=[new.pk]))

    def run_now_view(self, request):
        """Start a manual run from a form, through the same service as the API, audited."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        initial = {
            "tenant": request.GET.get("tenant", ""),
            "pipeline": request.GET.get("pipeline", ""),
            "parameters": json.dumps({"date": f"{timezone.now():%Y-%m-%d}"}),
        }
        form = RunNowForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                provider, domain, pipeline = data["pipeline"].split("/")
                actor = _actor(request)
                run = pipeline_run_start(
                    tenant_id=data["tenant"],
                    provider=provider,
                    domain=domain,
                    pipeline=pipeline,
                    parameters=data["parameters"],
                    user_id=actor.label,
                    actor=actor,
                )
            except (RunRefused, PipelineConfigError) as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Run {run.pk} started.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:pipelines_pipelinerun_change", args=[run.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Run a pipeline now",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, self.run_now_template, context)

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request, queryset):
        cancelled = 0
        for run in queryset:
            try:
                pipeline_run_cancel(
                    run=run, actor=Actor(user=request.user, label=request.user.username)
                )
                cancelled += 1
            except RunRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"Cancelled or asked to stop {cancelled} run(s).")

    @admin.action(description="Retry selected runs (a new run each)", permissions=["run"])
    def retry_runs(self, request, queryset):
        actor = _actor(request)
        started = 0
        for run in queryset:
            try:
                pipeline_run_retry(run=run, actor=actor)
                started += 1
            except (RunRefused, PipelineConfigError) as exc:
                self.message_user(request, f"{run.pk}: {exc}", messages.WARNING)
        self.message_user(request, f"Started {started} retry run(s).")
