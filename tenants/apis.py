"""The tenants API: onboarding for staff, usage, keys, credentials and provider configs."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Conflict
from core.serializers import FutureDateTimeField, StrictInputSerializer
from tenants.authentication import request_actor
from tenants.errors import ProvisioningFailed, TenantAlreadyExists, TenantError, TenantInvalid
from tenants.models import (
    PROVIDER_PATTERN,
    TENANT_ID_PATTERN,
    AdminKey,
    ApiKey,
    CloudCredential,
    Plan,
    ProviderConfig,
    Tenant,
)
from tenants.permissions import IsStaff, IsTenantOrStaff
from tenants.selectors import tenant_get_for_user, tenant_reader_account, tenant_usage
from tenants.services.credentials import (
    credential_delete,
    credential_store,
    provider_config_set,
)
from tenants.services.keys import admin_key_issue, api_key_issue, key_revoke
from tenants.services.lifecycle import tenant_status_set
from tenants.services.onboarding import onboarding_arguments, tenant_dry_run, tenant_onboard

# The statuses a tenant may be onboarded with (the onboarding and dry-run bodies).
ONBOARD_STATUSES = [
    (Tenant.Status.TRIAL.value, Tenant.Status.TRIAL.label),
    (Tenant.Status.ACTIVE.value, Tenant.Status.ACTIVE.label),
]


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service the request needs is unavailable."


def raise_for_tenant_error(exc: TenantError):
    """Map a service error to its HTTP answer, keeping the service's message."""
    if isinstance(exc, TenantAlreadyExists):
        raise Conflict(str(exc)) from exc
    if isinstance(exc, ProvisioningFailed):
        raise ServiceUnavailable(str(exc)) from exc
    if isinstance(exc, TenantInvalid) and exc.field:
        raise ValidationError({exc.field: [str(exc)]}) from exc
    raise ValidationError(str(exc)) from exc


class ProviderField(serializers.RegexField):
    """A built-in provider (gcp, aws, azure) or the name of a FOCUS mapping the tenant can use;
    which of those it is, the service checks."""

    def __init__(self, **kwargs):
        super().__init__(
            PROVIDER_PATTERN,
            max_length=32,
            trim_whitespace=False,
            help_text="gcp, aws, azure, or a FOCUS mapping's name (e.g. oci).",
            error_messages={"invalid": "A provider is 2-32 characters of a-z, 0-9 and _."},
            **kwargs,
        )


class TenantIdField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(
            TENANT_ID_PATTERN,
            max_length=50,
            trim_whitespace=False,
            error_messages={"invalid": "Must be 3-50 characters of a-z, 0-9 and _."},
            **kwargs,
        )


class TenantOutputSerializer(serializers.ModelSerializer):
    plan = serializers.CharField(source="subscription.plan.code", default=None)

    class Meta:
        model = Tenant
        fields = [
            "id",
            "company_name",
            "admin_email",
            "status",
            "status_reason",
            "plan",
            "dataset_id",
            "created_at",
        ]


class KeyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class DryRunOutputSerializer(serializers.Serializer):
    checks = serializers.ListField(child=serializers.DictField())
    summary = serializers.DictField()


class OnboardOutputSerializer(serializers.Serializer):
    tenant = TenantOutputSerializer()
    dataset_id = serializers.CharField()
    api_key = serializers.CharField()
    api_key_notice = serializers.CharField()


class IssuedKeyOutputSerializer(KeyOutputSerializer):
    key = serializers.CharField(help_text="Shown once; only its hash is kept.")
    kind = serializers.ChoiceField(choices=["api", "admin"])


class UsageWindowOutputSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    limit = serializers.IntegerField()
    remaining = serializers.IntegerField()
    resets_at = serializers.DateTimeField(required=False)


class UsageOutputSerializer(serializers.Serializer):
    tenant_id = serializers.CharField()
    status = serializers.CharField()
    plan = serializers.CharField()
    daily = UsageWindowOutputSerializer()
    monthly = UsageWindowOutputSerializer()
    concurrent = UsageWindowOutputSerializer()


class BootstrapOutputSerializer(serializers.Serializer):
    ready = serializers.BooleanField()
    pending_migrations = serializers.ListField(child=serializers.CharField())
    plans = serializers.ListField(child=serializers.CharField())


class SentLengthCharField(serializers.CharField):
    """A CharField whose ``max_length`` holds for the value as sent, as the schema's
    ``maxLength`` says, not only once DRF has trimmed its surrounding whitespace."""

    def to_internal_value(self, data):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class OnboardingBodySerializer(StrictInputSerializer):
    tenant_id = TenantIdField()
    company_name = SentLengthCharField(max_length=200)
    admin_email = serializers.EmailField()
    plan = SentLengthCharField(max_length=32, default="STARTER")
    status = serializers.ChoiceField(choices=ONBOARD_STATUSES, default=Tenant.Status.TRIAL)
    force_recreate_dataset = serializers.BooleanField(default=False)
    force_recreate_tables = serializers.BooleanField(default=False)


class TenantDryRunApi(APIView):
    permission_classes = [IsStaff]

    class InputSerializer(OnboardingBodySerializer):
        # Exactly the onboarding body; tenant id, company name and email free-form on
        # purpose: the dry run reports a bad value as a failed check.
        tenant_id = SentLengthCharField(max_length=200)
        company_name = SentLengthCharField(
            max_length=200, required=False, default="", allow_blank=True
        )
        admin_email = SentLengthCharField(max_length=254)

    @extend_schema(request=InputSerializer, responses=DryRunOutputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = tenant_dry_run(**onboarding_arguments(data.validated_data))
        return Response(report.as_dict())


class TenantOnboardApi(APIView):
    permission_classes = [IsStaff]

    InputSerializer = OnboardingBodySerializer

    @extend_schema(request=InputSerializer, responses={201: OnboardOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            onboarded = tenant_onboard(
                **onboarding_arguments(data.validated_data), actor=request_actor(request)
            )
        except TenantError as exc:
            raise_for_tenant_error(exc)
        return Response(
            {
                "tenant": TenantOutputSerializer(onboarded.tenant).data,
                "dataset_id": onboarded.dataset_id,
                "api_key": onboarded.api_key,
                "api_key_notice": "Shown once; store it now. Only its hash is kept.",
            },
            status=status.HTTP_201_CREATED,
        )


class TenantUsageApi(APIView):
    permission_classes = [IsTenantOrStaff]

    @extend_schema(responses=UsageOutputSerializer)
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(tenant_usage(tenant=tenant))


class TenantApiKeysApi(APIView):
    """A tenant's keys: list, or issue another (rotation: the old key works until revoked)."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        name = serializers.CharField(max_length=100, default="", allow_blank=True)
        expires_at = FutureDateTimeField(required=False, allow_null=True)

    @extend_schema(responses=KeyOutputSerializer(many=True))
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(KeyOutputSerializer(tenant.api_keys.all(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: IssuedKeyOutputSerializer})
    def post(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = api_key_issue(
            tenant=tenant,
            actor=request_actor(request),
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
        )
        body = KeyOutputSerializer(issued.record).data
        body.update(key=issued.plaintext, kind="api")
        return Response(body, status=status.HTTP_201_CREATED)


class TenantApiKeyRevokeApi(APIView):
    """Revoke a key: it stays listed, with ``revoked_at``, and answers 200 with itself."""

    permission_classes = [IsTenantOrStaff]

    # A DELETE is documented 204 unless told otherwise; revocation answers the revoked key.
    @extend_schema(responses={200: KeyOutputSerializer})
    def delete(self, request, tenant_id: str, key_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        key = get_object_or_404(ApiKey, pk=key_id, tenant=tenant)
        key = key_revoke(key=key, actor=request_actor(request))
        return Response(KeyOutputSerializer(key).data)


class CredentialOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CloudCredential
        fields = ["id", "provider", "kind", "name", "key_ref", "created_at", "updated_at"]


class TenantCredentialsApi(APIView):
    """Store a credential (encrypted) or list their metadata; the secret never comes back."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        provider = ProviderField()
        kind = serializers.ChoiceField(choices=CloudCredential.Kind.choices)
        name = serializers.RegexField(
            r"\A[A-Za-z0-9_.-]{1,100}\Z", max_length=100, trim_whitespace=False, default="default"
        )
        secret = serializers.DictField(child=serializers.CharField(max_length=20000))

    @extend_schema(responses=CredentialOutputSerializer(many=True))
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(CredentialOutputSerializer(tenant.credentials.all(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CredentialOutputSerializer})
    def post(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            credential = credential_store(
                tenant=tenant, actor=request_actor(request), **data.validated_data
            )
        except TenantError as exc:
            raise_for_tenant_error(exc)
        return Response(CredentialOutputSerializer(credential).data, status=201)


class TenantCredentialDeleteApi(APIView):
    permission_classes = [IsTenantOrStaff]

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id: str, credential_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        credential = get_object_or_404(CloudCredential, pk=credential_id, tenant=tenant)
        credential_delete(credential=credential, actor=request_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderConfigOutputSerializer(serializers.ModelSerializer):
    credential_id = serializers.IntegerField(allow_null=True)
    # The account Convergence reads the sources as when no credential is attached: the one
    # the tenant grants on its export and buckets (docs/isolation.md). Null where the
    # deployment runs without tenant identities (locally).
    reader_account = serializers.SerializerMethodField()

    class Meta:
        model = ProviderConfig
        fields = [
            "id",
            "provider",
            "settings",
            "notification_emails",
            "credential_id",
            "reader_account",
        ]

    def get_reader_account(self, config: ProviderConfig) -> str | None:
        return tenant_reader_account(tenant_id=config.tenant_id)


class TenantProviderConfigsApi(APIView):
    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        provider = ProviderField()
        settings = serializers.DictField(child=serializers.CharField(max_length=500), default=dict)
        notification_emails = serializers.ListField(
            child=serializers.EmailField(), max_length=20, default=list
        )
        credential_id = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, max_value=2**63 - 1
        )

    @extend_schema(responses=ProviderConfigOutputSerializer(many=True))
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        configs = tenant.provider_configs.all()
        return Response(ProviderConfigOutputSerializer(configs, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ProviderConfigOutputSerializer})
    def post(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        credential = None
        if values.get("credential_id") is not None:
            credential = CloudCredential.objects.filter(
                pk=values["credential_id"], tenant=tenant
            ).first()
            if credential is None:
                raise ValidationError({"credential_id": ["No such credential for this tenant."]})
        try:
            config = provider_config_set(
                tenant=tenant,
                provider=values["provider"],
                settings=values["settings"],
                notification_emails=values["notification_emails"],
                credential=credential,
                actor=request_actor(request),
            )
        except TenantError as exc:
            raise_for_tenant_error(exc)
        return Response(ProviderConfigOutputSerializer(config).data, status=201)


# -- staff ------------------------------------------------------------------------------


class AdminBootstrapApi(APIView):
    """Report whether the control plane is ready: migrations applied, plans seeded."""

    permission_classes = [IsStaff]

    @extend_schema(
        request=None, responses={200: BootstrapOutputSerializer, 503: BootstrapOutputSerializer}
    )
    def post(self, request):
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        plans = list(Plan.objects.values_list("code", flat=True))
        ready = not pending and bool(plans)
        return Response(
            {
                "ready": ready,
                "pending_migrations": [f"{m.app_label}.{m.name}" for m, _ in pending],
                "plans": plans,
            },
            status=200 if ready else 503,
        )


class AdminTenantsApi(TenantOnboardApi):
    """List tenants, or create one (the same operation as onboarding)."""

    @extend_schema(operation_id="admin_tenants_list", responses=TenantOutputSerializer(many=True))
    def get(self, request):
        tenants = Tenant.objects.select_related("subscription__plan").order_by("id")
        status_filter = request.query_params.get("status")
        if status_filter:
            if status_filter not in Tenant.Status.values:
                raise ValidationError({"status": [f"Unknown status {status_filter!r}."]})
            tenants = tenants.filter(status=status_filter)
        return Response(TenantOutputSerializer(tenants, many=True).data)


class AdminTenantDetailApi(APIView):
    permission_classes = [IsStaff]

    class InputSerializer(StrictInputSerializer):
        # A PATCH without ``status`` changes nothing (the schema marks no field required).
        status = serializers.ChoiceField(choices=Tenant.Status.choices, required=False)
        reason = serializers.CharField(max_length=200, default="", allow_blank=True)

    @extend_schema(responses=TenantOutputSerializer)
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(TenantOutputSerializer(tenant).data)

    @extend_schema(request=InputSerializer, responses=TenantOutputSerializer)
    def patch(self, request, tenant_id: str):

        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "status" not in data.validated_data:
            return Response(TenantOutputSerializer(tenant).data)
        tenant = tenant_status_set(
            tenant=tenant,
            status=data.validated_data["status"],
            reason=data.validated_data["reason"],
            actor=request_actor(request),
        )
        return Response(TenantOutputSerializer(tenant).data)


class AdminApiKeyIssueApi(APIView):
    """Issue a tenant API key (with ``tenant_id``) or, without it, a staff admin key."""

    permission_classes = [IsStaff]

    class InputSerializer(StrictInputSerializer):
        tenant_id = TenantIdField(required=False)
        name = serializers.CharField(max_length=100, default="", allow_blank=True)
        expires_at = FutureDateTimeField(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: IssuedKeyOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        actor = request_actor(request)
        with transaction.atomic():
            if "tenant_id" in values:
                tenant = Tenant.objects.filter(pk=values["tenant_id"]).first()
                if tenant is None:
                    raise NotFound(f"No tenant {values['tenant_id']!r}.")
                issued = api_key_issue(
                    tenant=tenant,
                    actor=actor,
                    name=values["name"],
                    expires_at=values.get("expires_at"),
                )
            else:
                issued = admin_key_issue(
                    actor=actor, name=values["name"], expires_at=values.get("expires_at")
                )
        body = KeyOutputSerializer(issued.record).data
        body["key"] = issued.plaintext
        body["kind"] = "api" if "tenant_id" in values else "admin"
        return Response(body, status=status.HTTP_201_CREATED)


class AdminApiKeyRevokeApi(APIView):
    """Revoke a tenant's (``kind=api``) or a staff (``kind=admin``) key; 200 with the key."""

    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, enum=["api", "admin"])],
        responses={200: KeyOutputSerializer},
    )
    def delete(self, request, key_id: int):
        kind = request.query_params.get("kind", "api")
        model = {"api": ApiKey, "admin": AdminKey}.get(kind)
        if model is None:
            raise ValidationError({"kind": ["Must be 'api' or 'admin'."]})
        key = get_object_or_404(model, pk=key_id)
        key = key_revoke(key=key, actor=request_actor(request))
        return Response(KeyOutputSerializer(key).data)
