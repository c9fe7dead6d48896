"""The budgets API: budgets and their status, anomalies, and the alert webhook, per tenant."""

from django.core.validators import URLValidator
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from budgets.models import Budget, BudgetAlert, WebhookEndpoint
from budgets.selectors import anomalies_for_tenant, budget_status
from budgets.services.alerts import webhook_set
from budgets.services.budgets import BudgetExists, BudgetInvalid, budget_create, budget_delete
from budgets.webhooks import WebhookUrlRefused
from core.errors import Conflict
from core.serializers import MoneyField, StrictInputSerializer
from tenants.authentication import request_actor
from tenants.models import PROVIDER_PATTERN
from tenants.permissions import IsTenantOrStaff
from tenants.selectors import tenant_get_for_user


class ThresholdSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BudgetAlert.Kind.choices)
    percent = serializers.IntegerField(min_value=1, max_value=1000)


class ThresholdInputSerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=BudgetAlert.Kind.choices)
    percent = serializers.IntegerField(min_value=1, max_value=1000)


class BudgetOutputSerializer(serializers.ModelSerializer):
    thresholds = ThresholdSerializer(many=True)

    class Meta:
        model = Budget
        fields = [
            "id",
            "name",
            "period",
            "amount",
            "provider",
            "service",
            "sub_account",
            "tag_key",
            "tag_value",
            "thresholds",
            "created_at",
        ]


class BudgetStatusSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    as_of = serializers.DateField(allow_null=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    actual = serializers.DecimalField(max_digits=14, decimal_places=2)
    forecast = serializers.DecimalField(max_digits=14, decimal_places=2)
    actual_percent = serializers.FloatField()
    forecast_percent = serializers.FloatField()


class TenantBudgetsApi(APIView):
    """List a tenant's budgets, or create one."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        # ASCII, as the schema's pattern reads in JSON Schema (Python's \w took any letter).
        name = serializers.RegexField(
            r"\A[A-Za-z0-9_ .-]{1,100}\Z", max_length=100, trim_whitespace=False
        )
        period = serializers.ChoiceField(choices=Budget.Period.choices, default="monthly")
        amount = MoneyField()
        provider = serializers.RegexField(
            PROVIDER_PATTERN,
            max_length=32,
            required=False,
            default="",
            trim_whitespace=False,
            help_text="A built-in provider (aws, azure, gcp, focus) or a FOCUS mapping's name "
            "(e.g. oci): that provider's FOCUS table only. Omitted: every FOCUS table.",
            error_messages={"invalid": "A provider is 2-32 characters of a-z, 0-9 and _."},
        )
        service = serializers.CharField(max_length=200, required=False, default="")
        sub_account = serializers.CharField(max_length=200, required=False, default="")
        tag_key = serializers.CharField(max_length=128, required=False, default="")
        tag_value = serializers.CharField(max_length=256, required=False, default="")
        thresholds = serializers.ListField(
            child=ThresholdInputSerializer(), min_length=1, max_length=10
        )

    @extend_schema(responses=BudgetOutputSerializer(many=True))
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(BudgetOutputSerializer(tenant.budgets.all(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: BudgetOutputSerializer})
    def post(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            budget = budget_create(
                tenant=tenant, actor=request_actor(request), **data.validated_data
            )
        except BudgetExists as exc:
            raise Conflict(str(exc)) from exc
        except BudgetInvalid as exc:
            raise ValidationError(str(exc)) from exc
        return Response(BudgetOutputSerializer(budget).data, status=201)


class TenantBudgetDetailApi(APIView):
    """One budget with its current period's actual and forecast cost; or delete it."""

    permission_classes = [IsTenantOrStaff]

    class OutputSerializer(BudgetOutputSerializer):
        status = serializers.SerializerMethodField()

        class Meta(BudgetOutputSerializer.Meta):
            fields = [*BudgetOutputSerializer.Meta.fields, "status"]

        @extend_schema(responses=BudgetStatusSerializer)
        def get_status(self, budget) -> dict:
            return BudgetStatusSerializer(self.context["status"]).data

    @extend_schema(responses=OutputSerializer)
    def get(self, request, tenant_id: str, budget_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        budget = get_object_or_404(Budget, pk=budget_id, tenant=tenant)
        current = budget_status(budget=budget)
        return Response(self.OutputSerializer(budget, context={"status": current}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id: str, budget_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        budget = get_object_or_404(Budget, pk=budget_id, tenant=tenant)
        budget_delete(budget=budget, actor=request_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnomalyOutputSerializer(serializers.Serializer):
    day = serializers.DateField()
    provider = serializers.CharField()
    service = serializers.CharField()
    sub_account = serializers.CharField()
    region = serializers.CharField()
    tag_key = serializers.CharField(allow_null=True)
    tag_value = serializers.CharField(allow_null=True)
    actual = serializers.FloatField()
    expected = serializers.FloatField()
    score = serializers.FloatField()
    top_contributors = serializers.JSONField()
    detected_at = serializers.DateTimeField()


class TenantAnomaliesApi(APIView):
    """The tenant's cost anomalies (from its x_meta_cost_anomalies), newest day first."""

    permission_classes = [IsTenantOrStaff]

    @extend_schema(responses=AnomalyOutputSerializer(many=True))
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        rows = anomalies_for_tenant(tenant_id=tenant.pk)
        return Response(AnomalyOutputSerializer(rows, many=True).data)


class TenantWebhookApi(APIView):
    """The URL alerts are POSTed to. PUT sets it and returns a new signing secret, once.

    The URL must be https (in production) and its host resolve to public addresses only."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        url = serializers.URLField(
            max_length=500, validators=[URLValidator(schemes=["https", "http"])]
        )

    class OutputSerializer(serializers.Serializer):
        url = serializers.URLField()
        secret = serializers.CharField(required=False)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        endpoint = get_object_or_404(WebhookEndpoint, tenant=tenant)
        return Response({"url": endpoint.url})

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def put(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint, secret = webhook_set(
                tenant=tenant, url=data.validated_data["url"], actor=request_actor(request)
            )
        except WebhookUrlRefused as exc:
            raise ValidationError({"url": [str(exc)]}) from exc
        return Response({"url": endpoint.url, "secret": secret})
