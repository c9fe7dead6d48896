"""The run API: start a run (202), read runs, cancel a run."""

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import BoundedLimitOffsetPagination, PageQuerySerializer, paginated
from core.serializers import FieldsBuiltOnce, QuerySerializer, StrictDateTimeField
from pipelines.configs import PipelineConfigNotFound
from pipelines.errors import QuotaExceeded, RunRefused
from pipelines.models import PipelineRun, RunStatus, StepRun
from pipelines.progress import run_billing_periods
from pipelines.selectors import run_get_for_user, runs_list
from pipelines.services.runs import pipeline_run_cancel, pipeline_run_start
from tenants.authentication import KeyPrincipal, request_actor
from tenants.permissions import IsTenantOrStaff
from tenants.selectors import tenant_id_for_user


def refused_response(exc: RunRefused) -> Response:
    body = {"detail": exc.message}
    if isinstance(exc, QuotaExceeded):
        body.update(
            window=exc.window,
            used=exc.used,
            limit=exc.limit,
            resets_at=exc.resets_at.isoformat() if exc.resets_at else None,
        )
    return Response(body, status=exc.status_code)


class CheckOutputSerializer(serializers.Serializer):
    """One data-quality or FOCUS conformance check a step ran (``x_meta_dq_results``)."""

    name = serializers.CharField()
    passed = serializers.BooleanField()
    observed = serializers.CharField(allow_null=True)
    expected = serializers.CharField(allow_null=True, required=False)
    message = serializers.CharField(allow_blank=True, required=False)


class StepOutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    duration_ms = serializers.IntegerField(allow_null=True)
    checks = serializers.SerializerMethodField()

    class Meta:
        model = StepRun
        fields = [
            "index",
            "step_id",
            "ps_type",
            "status",
            "started_at",
            "ended_at",
            "duration_ms",
            "rows_processed",
            "bytes_processed",
            "error_message",
            "checks",
        ]

    @extend_schema_field(CheckOutputSerializer(many=True))
    def get_checks(self, step: StepRun) -> list[dict]:
        checks = (step.details or {}).get("checks") or {}
        return [{"name": name, **outcome} for name, outcome in checks.items()]


class RunOutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    run_id = serializers.UUIDField(source="id", help_text="The run id.")
    pipeline_logging_id = serializers.UUIDField(
        source="id", help_text="The run id again, under its older name (kept as an alias)."
    )
    duration_ms = serializers.IntegerField(allow_null=True)
    rows_processed = serializers.IntegerField(
        help_text="Rows the run wrote to its final table (its last completed table-writing step)."
    )

    class Meta:
        model = PipelineRun
        fields = [
            "run_id",
            "pipeline_logging_id",
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
            "duration_ms",
            "rows_processed",
            "bytes_processed",
            "error_message",
        ]


class BillingPeriodOutputSerializer(serializers.Serializer):
    """A billing period a run replaced in a FOCUS table, with the table's rows of it before and
    after (docs/focus.md, "Billing periods")."""

    table = serializers.CharField()
    billing_period_start = serializers.DateTimeField()
    rows_before = serializers.IntegerField()
    rows_after = serializers.IntegerField()
    source_name = serializers.CharField(
        allow_null=True, help_text="The file (or source table) the period's rows came from."
    )
    source_bytes = serializers.IntegerField(allow_null=True)
    source_sha256 = serializers.CharField(allow_null=True)


class RunDetailOutputSerializer(RunOutputSerializer):
    steps = StepOutputSerializer(many=True)
    billing_periods = serializers.SerializerMethodField()

    class Meta(RunOutputSerializer.Meta):
        fields = [*RunOutputSerializer.Meta.fields, "billing_periods", "steps"]

    @extend_schema_field(BillingPeriodOutputSerializer(many=True))
    def get_billing_periods(self, run: PipelineRun) -> list[dict]:
        steps = sorted(run.steps.all(), key=lambda s: s.index)
        return run_billing_periods(s.details for s in steps)


class PipelineRunStartApi(APIView):
    permission_classes = [IsTenantOrStaff]

    @extend_schema(
        request={"application/json": {"type": "object", "additionalProperties": True}},
        responses={202: RunOutputSerializer},
        description='Body: run parameters, e.g. {"date": "2024-09-01"}.',
    )
    def post(self, request, tenant_id: str, provider: str, domain: str, pipeline: str):

        tenant_id = tenant_id_for_user(user=request.user, tenant_id=tenant_id)
        if not isinstance(request.data, dict):
            raise ValidationError("Body must be a JSON object of run parameters.")
        user = request.user
        user_id = user.user_id if isinstance(user, KeyPrincipal) else user.get_username()
        try:
            run = pipeline_run_start(
                tenant_id=tenant_id,
                provider=provider,
                domain=domain,
                pipeline=pipeline,
                parameters=request.data,
                user_id=user_id,
                actor=request_actor(request),
            )
        except PipelineConfigNotFound as exc:
            raise Http404(str(exc)) from exc
        except RunRefused as exc:
            return refused_response(exc)
        return Response(RunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class PipelineRunDetailApi(APIView):
    permission_classes = [IsTenantOrStaff]

    @extend_schema(responses=RunDetailOutputSerializer)
    def get(self, request, run_id):
        run = run_get_for_user(user=request.user, run_id=run_id)
        return Response(RunDetailOutputSerializer(run).data)


class PipelineRunCancelApi(APIView):
    permission_classes = [IsTenantOrStaff]

    @extend_schema(request=None, responses={202: RunOutputSerializer})
    def post(self, request, run_id):
        run = run_get_for_user(user=request.user, run_id=run_id)
        try:
            run = pipeline_run_cancel(run=run, actor=request_actor(request))
        except RunRefused as exc:
            return refused_response(exc)
        run.refresh_from_db()
        return Response(RunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


RunPageOutputSerializer = paginated(RunOutputSerializer, "RunPage")


class TenantRunsApi(APIView):
    permission_classes = [IsTenantOrStaff]

    class FilterSerializer(QuerySerializer):
        extra_params = ("limit", "offset")

        status = serializers.ChoiceField(choices=RunStatus.choices, required=False)
        trigger = serializers.ChoiceField(choices=PipelineRun.Trigger.choices, required=False)
        provider = serializers.CharField(max_length=32, required=False)
        pipeline = serializers.CharField(max_length=64, required=False)
        created_after = StrictDateTimeField(required=False)
        created_before = StrictDateTimeField(required=False)

    @extend_schema(
        parameters=[
            FilterSerializer,
            PageQuerySerializer,
        ],
        responses=RunPageOutputSerializer,
    )
    def get(self, request, tenant_id: str):
        tenant_id = tenant_id_for_user(user=request.user, tenant_id=tenant_id)
        filters = self.FilterSerializer.validated(request.query_params)
        paginator = BoundedLimitOffsetPagination()
        runs = runs_list(user=request.user, tenant_id=tenant_id, **filters)
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(RunOutputSerializer(page, many=True).data)
