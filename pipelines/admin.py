"""Admin for runs and their steps; actions go through the same services as the API."""

from django.contrib import admin, messages

from pipelines.errors import RunRefused
from pipelines.models import PipelineRun, StepRun
from pipelines.services.runs import pipeline_run_cancel
from tenants.services.audit import Actor


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    fields = [
        "index",
        "step_id",
        "ps_type",
        "status",
        "started_at",
        "ended_at",
        "rows_processed",
        "bytes_processed",
        "error_message",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PipelineRun)
class PipelineRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "tenant",
        "config_path",
        "status",
        "trigger",
        "created_at",
        "started_at",
        "ended_at",
        "rows_processed",
    ]
    list_filter = ["status", "trigger", "provider", "created_at"]
    search_fields = ["id", "tenant__id", "pipeline_id", "user_id"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    inlines = [StepRunInline]
    actions = ["cancel_runs"]
    readonly_fields = [f.name for f in PipelineRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="pipeline")
    def config_path(self, run: PipelineRun) -> str:
        return run.config_path

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
