"""Admin for schedules (cron in words, the next five runs, backfill) and their slots."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.utils import timezone
from django.utils.html import format_html_join

from scheduling.models import Schedule, ScheduledRun
from scheduling.services.cron import (
    InvalidCron,
    InvalidTimezone,
    cron_describe,
    cron_validate,
    timezone_validate,
)
from scheduling.services.schedules import (
    ScheduleInvalid,
    schedule_backfill,
    schedule_next_run,
    schedule_upcoming,
)
from tenants.services.audit import Actor


class BackfillActionForm(ActionForm):
    start_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class BackfillRangeForm(forms.Form):
    start_date = forms.DateField()
    end_date = forms.DateField()


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = [
            "tenant",
            "provider",
            "domain",
            "pipeline",
            "cron",
            "timezone",
            "active",
            "parameters",
            "priority",
            "max_retries",
            "retry_backoff_seconds",
            "catch_up",
        ]

    def clean(self):

        data = super().clean()
        try:
            data["cron"] = cron_validate(data.get("cron", ""))
        except InvalidCron as exc:
            self.add_error("cron", str(exc))
        try:
            timezone_validate(data.get("timezone", ""))
        except InvalidTimezone as exc:
            self.add_error("timezone", str(exc))
        return data


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    action_form = BackfillActionForm
    actions = ["backfill"]
    list_display = [
        "tenant",
        "config_path",
        "cron",
        "cron_in_words",
        "timezone",
        "active",
        "priority",
        "next_run_at",
    ]
    list_filter = ["active", "provider", "catch_up", "timezone"]
    search_fields = ["tenant__id", "pipeline", "domain"]
    readonly_fields = ["cron_in_words", "next_five_runs", "next_run_at", "last_slot_at"]
    raw_id_fields = ["tenant"]

    @admin.display(description="cron in words")
    def cron_in_words(self, obj: Schedule) -> str:
        return cron_describe(obj.cron) if obj.cron else ""

    @admin.display(description="next five runs")
    def next_five_runs(self, obj: Schedule) -> str:
        if not obj.pk or not obj.active:
            return "—"
        times = schedule_upcoming(schedule=obj, count=5)
        local = [
            (
                f"{t.astimezone(timezone.get_current_timezone()):%Y-%m-%d %H:%M %Z}",
                f"{timezone.localtime(t, _zone(obj.timezone)):%Y-%m-%d %H:%M %Z}",
            )
            for t in times
        ]
        return format_html_join("", "<div>{} ({} local)</div>", local)

    def save_model(self, request, obj, form, change):

        if not change or {"cron", "timezone", "active"} & set(form.changed_data):
            obj.next_run_at = schedule_next_run(schedule=obj, after=timezone.now())
        super().save_model(request, obj, form, change)

    @admin.action(description="Backfill the selected schedules (start and end dates above)")
    def backfill(self, request, queryset):
        form = BackfillRangeForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Give a start and an end date.", messages.ERROR)
            return
        actor = Actor(user=request.user, label=request.user.get_username())
        for schedule in queryset:
            try:
                slots = schedule_backfill(
                    schedule=schedule,
                    start=form.cleaned_data["start_date"],
                    end=form.cleaned_data["end_date"],
                    actor=actor,
                )
            except ScheduleInvalid as exc:
                self.message_user(request, f"{schedule}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{schedule}: {len(slots)} slots queued.")


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@admin.register(ScheduledRun)
class ScheduledRunAdmin(admin.ModelAdmin):
    list_display = ["schedule", "slot_at", "kind", "state", "attempt", "next_attempt_at", "run"]
    list_filter = ["state", "kind"]
    search_fields = ["tenant__id", "schedule__pipeline"]
    raw_id_fields = ["schedule", "tenant", "run"]
    date_hierarchy = "slot_at"
    readonly_fields = ["previous_run_ids", "created_at", "updated_at"]
