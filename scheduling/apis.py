"""The scheduler API: a tenant's schedules, backfill, and the staff endpoints for external crons."""

from datetime import timedelta
from zoneinfo import available_timezones

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Conflict
from core.serializers import BoundedDateField, StrictInputSerializer
from scheduling.models import CatchUp, Schedule
from scheduling.selectors import schedule_get, scheduler_status, schedules_list
from scheduling.services.cron import cron_describe
from scheduling.services.dispatcher import scheduler_tick
from scheduling.services.maintenance import (
    runs_orphaned_recover,
    runs_pending_requeue,
    usage_windows_roll,
)
from scheduling.services.queue import scheduled_runs_process_queue
from scheduling.services.schedules import (
    ScheduleExists,
    ScheduleInvalid,
    schedule_backfill,
    schedule_create,
    schedule_delete,
    schedule_upcoming,
    schedule_update,
)
from tenants.authentication import request_actor
from tenants.permissions import IsStaff, IsTenantOrStaff
from tenants.selectors import tenant_get_for_user

MAX_STALE_AFTER_MINUTES = 366 * 24 * 60
# The IANA names this server can load, so the schema lists exactly what is accepted.
TIMEZONES = sorted(available_timezones())


def raise_for_schedule_error(exc: ScheduleInvalid):
    if isinstance(exc, ScheduleExists):
        raise Conflict(str(exc)) from exc
    raise ValidationError({exc.field: [exc.message]}) from exc


class ScheduleOutputSerializer(serializers.ModelSerializer):
    config_id = serializers.IntegerField(source="pk")
    tenant_id = serializers.CharField()
    cron_description = serializers.SerializerMethodField()
    upcoming_runs = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = [
            "config_id",
            "tenant_id",
            "provider",
            "domain",
            "pipeline",
            "cron",
            "cron_description",
            "timezone",
            "active",
            "parameters",
            "priority",
            "max_retries",
            "retry_backoff_seconds",
            "catch_up",
            "next_run_at",
            "upcoming_runs",
            "last_slot_at",
            "created_at",
            "updated_at",
        ]

    def get_cron_description(self, schedule: Schedule) -> str:
        return cron_describe(schedule.cron)

    def get_upcoming_runs(self, schedule: Schedule) -> list[str]:
        if not schedule.active:
            return []
        return [at.isoformat() for at in schedule_upcoming(schedule=schedule, count=5)]


class ScheduleFieldsSerializer(StrictInputSerializer):
    cron = serializers.CharField(max_length=100)
    timezone = serializers.ChoiceField(choices=TIMEZONES)
    active = serializers.BooleanField()
    parameters = serializers.DictField()
    priority = serializers.IntegerField(min_value=-100, max_value=100)
    max_retries = serializers.IntegerField(min_value=0, max_value=10)
    retry_backoff_seconds = serializers.IntegerField(min_value=1, max_value=86_400)
    catch_up = serializers.ChoiceField(choices=CatchUp.choices)


class TenantSchedulesApi(APIView):
    """List a tenant's schedules (GET) or schedule a pipeline for it (POST)."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(ScheduleFieldsSerializer):
        provider = serializers.CharField(max_length=32)
        domain = serializers.CharField(max_length=64)
        pipeline = serializers.CharField(max_length=64)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name in ScheduleFieldsSerializer._declared_fields:
                self.fields[name].required = False

    @extend_schema(responses=ScheduleOutputSerializer(many=True))
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(ScheduleOutputSerializer(schedules_list(tenant=tenant), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ScheduleOutputSerializer})
    def post(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "timezone" in values:
            values["tz_name"] = values.pop("timezone")
        try:
            schedule = schedule_create(tenant=tenant, actor=request_actor(request), **values)
        except ScheduleInvalid as exc:
            raise_for_schedule_error(exc)
        return Response(ScheduleOutputSerializer(schedule).data, status=status.HTTP_201_CREATED)


class TenantScheduleDetailApi(APIView):
    """Read (GET), change (PATCH) or remove (DELETE) one of a tenant's schedules."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(ScheduleFieldsSerializer):
        def __init__(self, *args, **kwargs):
            kwargs["partial"] = True
            super().__init__(*args, **kwargs)

    @extend_schema(responses=ScheduleOutputSerializer)
    def get(self, request, tenant_id: str, config_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(
            ScheduleOutputSerializer(schedule_get(tenant=tenant, config_id=config_id)).data
        )

    @extend_schema(request=InputSerializer, responses=ScheduleOutputSerializer)
    def patch(self, request, tenant_id: str, config_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        schedule = schedule_get(tenant=tenant, config_id=config_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            schedule = schedule_update(
                schedule=schedule, actor=request_actor(request), **data.validated_data
            )
        except ScheduleInvalid as exc:
            raise_for_schedule_error(exc)
        return Response(ScheduleOutputSerializer(schedule).data)

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id: str, config_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        schedule = schedule_get(tenant=tenant, config_id=config_id)
        schedule_delete(schedule=schedule, actor=request_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduleBackfillApi(APIView):
    """Queue a run for every slot of a schedule in a date range (staff)."""

    permission_classes = [IsStaff]

    class InputSerializer(StrictInputSerializer):
        start_date = BoundedDateField()
        end_date = BoundedDateField()

    class OutputSerializer(serializers.Serializer):
        config_id = serializers.IntegerField()
        slots_queued = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    def post(self, request, tenant_id: str, config_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        schedule = schedule_get(tenant=tenant, config_id=config_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            slots = schedule_backfill(
                schedule=schedule,
                start=data.validated_data["start_date"],
                end=data.validated_data["end_date"],
                actor=request_actor(request),
            )
        except ScheduleInvalid as exc:
            raise_for_schedule_error(exc)
        body = {"config_id": schedule.pk, "slots_queued": len(slots)}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class DispatchOutputSerializer(serializers.Serializer):
    schedules = serializers.IntegerField()
    slots = serializers.IntegerField()
    started = serializers.IntegerField()
    queued = serializers.IntegerField()
    skipped = serializers.IntegerField()
    retried = serializers.IntegerField()
    finished = serializers.IntegerField()


class SchedulerTriggerApi(APIView):
    """Run one dispatcher tick now, for an external cron (staff)."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=DispatchOutputSerializer)
    def post(self, request):
        result = scheduler_tick()
        return Response(DispatchOutputSerializer(result.as_dict()).data)


class SchedulerProcessQueueApi(APIView):
    """Start queued slots that can start now, and schedule retries of failed ones (staff)."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=DispatchOutputSerializer)
    def post(self, request):
        result = scheduled_runs_process_queue()
        return Response(DispatchOutputSerializer(result.as_dict()).data)


class SchedulerResetDailyQuotasApi(APIView):
    """Open the current quota windows of every runnable tenant (staff)."""

    permission_classes = [IsStaff]

    class OutputSerializer(serializers.Serializer):
        tenants = serializers.IntegerField()
        dropped = serializers.IntegerField()

    @extend_schema(request=None, responses=OutputSerializer)
    def post(self, request):
        return Response(self.OutputSerializer(usage_windows_roll()).data)


class SchedulerCleanupOrphansApi(APIView):
    """Fail runs whose worker stopped heart-beating; re-send runs stuck PENDING (staff)."""

    permission_classes = [IsStaff]

    class InputSerializer(StrictInputSerializer):
        # At most a year: a larger timedelta overflowed datetime arithmetic (a 500).
        stale_after_minutes = serializers.IntegerField(
            min_value=1, max_value=MAX_STALE_AFTER_MINUTES, default=10
        )

    class OutputSerializer(serializers.Serializer):
        recovered = serializers.ListField(child=serializers.CharField())
        requeued = serializers.ListField(child=serializers.CharField())

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stale_after = timedelta(minutes=data.validated_data["stale_after_minutes"])
        now = timezone.now()
        body = {
            "recovered": runs_orphaned_recover(now=now, stale_after=stale_after),
            "requeued": runs_pending_requeue(now=now, stale_after=stale_after),
        }
        return Response(self.OutputSerializer(body).data)


class SchedulerStatusApi(APIView):
    """Due schedules, queued slots, pending and running runs, oldest lag (staff)."""

    permission_classes = [IsStaff]

    class OutputSerializer(serializers.Serializer):
        now = serializers.DateTimeField()
        schedules_active = serializers.IntegerField()
        due = serializers.IntegerField()
        queued = serializers.IntegerField()
        queued_waiting_retry = serializers.IntegerField()
        pending = serializers.IntegerField()
        running = serializers.IntegerField()
        oldest_lag_seconds = serializers.FloatField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(scheduler_status()).data)
