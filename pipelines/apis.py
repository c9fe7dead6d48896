"""The run API: start a run (202), read runs, cancel a run."""

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import BoundedLimitOffsetPagination, PageQuerySerializer, paginated
from core.responses import json_text_response
from core.serializers import QuerySerializer
from pipelines.configs import PipelineConfigNotFound
from pipelines.errors import QuotaExceeded, RunRefused
from pipelines.models import PipelineRun, RunStatus, StepRun
from pipelines.progress import run_billing_periods
from pipelines.selectors import (
    RUN_COLUMNS,
    run_answers_in_sql,
    run_detail_json_for_user,
    run_get_for_user,
    run_values_get_for_user,
    runs_list,
    runs_page_json,
)
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


class StepOutputSerializer(serializers.ModelSerializer):
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


class RunOutputSerializer(serializers.ModelSerializer):
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


_DATETIME = serializers.DateTimeField()


def _when(value):
    return None if value is None else _DATETIME.to_representation(value)


def _duration_ms(row: dict) -> int | None:
    started, ended = row["started_at"], row["ended_at"]
    if started and ended:
        return int((ended - started).total_seconds() * 1000)
    return None


def run_output(run: dict) -> dict:
    """``RunOutputSerializer``'s output from a run's values (``RUN_COLUMNS``), built directly:
    DRF builds a ModelSerializer's fields anew for every request and walks them per row,
    which cost more than the queries. A test holds the two equal."""
    run_id = str(run["id"])
    return {
        "run_id": run_id,
        "pipeline_logging_id": run_id,
        "tenant_id": run["tenant_id"],
        "pipeline_id": run["pipeline_id"],
        "provider": run["provider"],
        "domain": run["domain"],
        "pipeline": run["pipeline"],
        "status": run["status"],
        "trigger": run["trigger"],
        "parameters": run["parameters"],
        "user_id": run["user_id"],
        "cancel_requested": run["cancel_requested"],
        "created_at": _when(run["created_at"]),
        "started_at": _when(run["started_at"]),
        "ended_at": _when(run["ended_at"]),
        "duration_ms": _duration_ms(run),
        "rows_processed": run["rows_processed"],
        "bytes_processed": run["bytes_processed"],
        "error_message": run["error_message"],
    }


def run_detail_output(run: dict) -> dict:
    """``RunDetailOutputSerializer``'s output from ``run_values_get_for_user``."""
    return {
        **run_output(run),
        "billing_periods": run_billing_periods(step["details"] for step in run["steps"]),
        "steps": [_step_output(step) for step in run["steps"]],
    }


def _step_output(step: dict) -> dict:
    checks = (step["details"] or {}).get("checks") or {}
    return {
        "index": step["index"],
        "step_id": step["step_id"],
        "ps_type": step["ps_type"],
        "status": step["status"],
        "started_at": _when(step["started_at"]),
        "ended_at": _when(step["ended_at"]),
        "duration_ms": _duration_ms(step),
        "rows_processed": step["rows_processed"],
        "bytes_processed": step["bytes_processed"],
        "error_message": step["error_message"],
        "checks": [{"name": name, **outcome} for name, outcome in checks.items()],
    }


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
        row = {column: getattr(run, column) for column in RUN_COLUMNS}
        return Response(run_output(row), status=status.HTTP_202_ACCEPTED)


class PipelineRunDetailApi(APIView):
    permission_classes = [IsTenantOrStaff]

    @extend_schema(responses=RunDetailOutputSerializer)
    def get(self, request, run_id):
        if run_answers_in_sql():
            return json_text_response(run_detail_json_for_user(user=request.user, run_id=run_id))
        run = run_values_get_for_user(user=request.user, run_id=run_id)
        return Response(run_detail_output(run))


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
        created_after = serializers.DateTimeField(required=False)
        created_before = serializers.DateTimeField(required=False)

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
        if run_answers_in_sql():
            return paginator.json_page_response(
                request,
                lambda limit, offset: runs_page_json(
                    tenant_id=tenant_id, limit=limit, offset=offset, **filters
                ),
            )
        runs = runs_list(tenant_id=tenant_id, **filters).values(*RUN_COLUMNS)
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response([run_output(run) for run in page])
