"""The connectors API: check a provider config's export connection before syncing it."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.services.check import ConnectorCheckFailed, connector_check
from tenants.models import ProviderConfig
from tenants.permissions import IsTenantOrStaff
from tenants.selectors import tenant_get_for_user


class PeriodSerializer(serializers.Serializer):
    billing_period = serializers.DateField()
    kind = serializers.CharField(
        allow_blank=True, help_text="Azure's ActualCost, AmortizedCost or FocusCost; else empty."
    )
    delivery_id = serializers.CharField(help_text="CUR assemblyId, Data Exports executionId…")
    manifest_key = serializers.CharField(allow_null=True)
    parts = serializers.IntegerField()
    bytes = serializers.IntegerField()
    format = serializers.CharField()
    synced = serializers.BooleanField(help_text="True when the last sync loaded this delivery.")


class ProposalSerializer(serializers.Serializer):
    pipeline = serializers.CharField(help_text="The sync pipeline, provider/domain/name.")
    schedule = serializers.CharField(help_text="A cron expression (UTC): every 6 hours.")
    backfill = serializers.ListField(
        child=serializers.DateField(),
        help_text="The billing periods the first sync loads (every one not yet synced).",
    )


class ConnectorCheckOutputSerializer(serializers.Serializer):
    provider = serializers.CharField()
    layout = serializers.CharField()
    location = serializers.CharField(help_text="s3://bucket, azure://account/container…")
    prefix = serializers.CharField(allow_blank=True)
    periods = PeriodSerializer(many=True)
    newest_manifest = serializers.CharField(allow_null=True)
    proposal = ProposalSerializer()


class ProviderConfigCheckApi(APIView):
    """Read the export as a sync would (authenticate, list, read the manifests; no data part
    is read) and say what it holds, or exactly what is wrong as a 400 ``detail``."""

    permission_classes = [IsTenantOrStaff]

    @extend_schema(request=None, responses=ConnectorCheckOutputSerializer)
    def post(self, request, tenant_id: str, config_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        config = (
            ProviderConfig.objects.select_related("credential")
            .filter(pk=config_id, tenant=tenant)
            .first()
        )
        if config is None:
            raise Http404("No such provider config.")
        try:
            found = connector_check(config=config)
        except ConnectorCheckFailed as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(
            ConnectorCheckOutputSerializer(
                {
                    "provider": found.provider,
                    "layout": found.layout,
                    "location": found.location,
                    "prefix": found.prefix,
                    "periods": found.periods,
                    "newest_manifest": found.newest_manifest,
                    "proposal": {
                        "pipeline": found.pipeline,
                        "schedule": found.schedule,
                        "backfill": found.backfill,
                    },
                }
            ).data
        )
