"""The mappings API: a tenant's own FOCUS mappings, and a dry run of one on a sample file."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictInputSerializer
from mappings.format import MAPPING_NAME, MAX_TEXT, MappingInvalid
from mappings.models import FocusMapping
from mappings.selectors import mapping_get, mapping_spec_from_row, mappings_list
from mappings.services import (
    PREVIEW_ROWS_DEFAULT,
    PREVIEW_ROWS_MAX,
    MappingConflict,
    MappingError,
    mapping_create,
    mapping_delete,
    mapping_preview,
    mapping_update,
    sample_file_head,
    sample_head,
)
from tenants.authentication import request_actor
from tenants.permissions import IsTenantOrStaff
from tenants.selectors import tenant_get_for_user
from warehouse.files import FileSourceError, file_source_check


class MappingOutputSerializer(serializers.ModelSerializer):
    run_path = serializers.SerializerMethodField(help_text="The run route's provider/domain/name.")

    class Meta:
        model = FocusMapping
        fields = ["id", "name", "description", "definition", "run_path", "created_at", "updated_at"]

    def get_run_path(self, row: FocusMapping) -> str:
        return f"{row.name}/cost/focus"


class IssueSerializer(serializers.Serializer):
    file = serializers.CharField()
    column = serializers.CharField()
    expression = serializers.CharField()
    problem = serializers.CharField()


def _refused(exc: MappingError) -> Response:
    code = status.HTTP_409_CONFLICT if isinstance(exc, MappingConflict) else 400
    body = {"detail": str(exc)}
    if exc.issues:
        body["issues"] = [IssueSerializer(issue).data for issue in exc.issues]
    return Response(body, status=code)


class TenantMappingsApi(APIView):
    """The tenant's own FOCUS mappings; POST stores one once it validates."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        name = serializers.RegexField(MAPPING_NAME.pattern, max_length=32, trim_whitespace=False)
        definition = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=False)

    @extend_schema(responses=MappingOutputSerializer(many=True))
    def get(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        return Response(MappingOutputSerializer(mappings_list(tenant_id=tenant.id), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: MappingOutputSerializer})
    def post(self, request, tenant_id: str):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            row = mapping_create(tenant=tenant, actor=request_actor(request), **data.validated_data)
        except MappingError as exc:
            return _refused(exc)
        return Response(MappingOutputSerializer(row).data, status=status.HTTP_201_CREATED)


class TenantMappingDetailApi(APIView):
    """One of the tenant's mappings: read, replace its definition, delete."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        definition = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=False)

    @extend_schema(responses=MappingOutputSerializer)
    def get(self, request, tenant_id: str, mapping_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        row = mapping_get(tenant_id=tenant.id, mapping_id=mapping_id)
        return Response(MappingOutputSerializer(row).data)

    @extend_schema(request=InputSerializer, responses=MappingOutputSerializer)
    def put(self, request, tenant_id: str, mapping_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        row = mapping_get(tenant_id=tenant.id, mapping_id=mapping_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            row = mapping_update(
                row=row, definition=data.validated_data["definition"], actor=request_actor(request)
            )
        except MappingError as exc:
            return _refused(exc)
        return Response(MappingOutputSerializer(row).data)

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id: str, mapping_id: int):
        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        row = mapping_get(tenant_id=tenant.id, mapping_id=mapping_id)
        mapping_delete(row=row, actor=request_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreviewOutputSerializer(serializers.Serializer):
    class EmptyColumnSerializer(serializers.Serializer):
        column = serializers.CharField()
        empty_rows = serializers.IntegerField()

    class BrokenRuleSerializer(serializers.Serializer):
        rule = serializers.CharField()
        text = serializers.CharField()
        rows = serializers.IntegerField()

    mapping = serializers.CharField()
    rows_read = serializers.IntegerField()
    source_columns = serializers.ListField(child=serializers.CharField())
    focus_rows = serializers.ListField(child=serializers.DictField())
    empty_required_columns = EmptyColumnSerializer(many=True)
    broken_rules = BrokenRuleSerializer(many=True)


class TenantMappingPreviewApi(APIView):
    """A dry run: the FOCUS rows the mapping makes of a sample's first rows, the required FOCUS
    columns it leaves empty and the FOCUS MUST rules those rows break. Nothing is kept."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(StrictInputSerializer):
        source_file = serializers.CharField(
            max_length=1024,
            required=False,
            help_text="A CSV in the tenant's imports folder, as a run's source_file.",
        )
        csv = serializers.CharField(
            max_length=900_000,
            required=False,
            trim_whitespace=False,
            help_text="The sample itself: CSV text with its header line.",
        )
        rows = serializers.IntegerField(
            min_value=1, max_value=PREVIEW_ROWS_MAX, default=PREVIEW_ROWS_DEFAULT
        )

        def validate(self, attrs):
            if ("source_file" in attrs) == ("csv" in attrs):
                raise serializers.ValidationError("Give exactly one of source_file and csv.")
            return attrs

    @extend_schema(request=InputSerializer, responses=PreviewOutputSerializer)
    def post(self, request, tenant_id: str, mapping_id: int):
        from pathlib import Path

        tenant = tenant_get_for_user(user=request.user, tenant_id=tenant_id)
        row = mapping_get(tenant_id=tenant.id, mapping_id=mapping_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            spec = mapping_spec_from_row(row)
            if "csv" in values:
                sample = sample_head(values["csv"], rows=values["rows"])
            else:
                try:
                    path = file_source_check(values["source_file"], tenant_id=tenant.id)
                except FileSourceError as exc:
                    raise MappingError(f"source_file: {exc}") from None
                if path.startswith("gs://") or not Path(path).is_file():
                    raise MappingError(
                        f"source_file: no file {values['source_file']!r} in the tenant's "
                        "imports folder (a preview reads local samples or csv text)"
                    )
                sample = sample_file_head(
                    Path(path), rows=values["rows"], max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                )
            preview = mapping_preview(
                tenant_id=tenant.id, spec=spec, sample=sample, rows=values["rows"]
            )
        except MappingInvalid as exc:
            return _refused(MappingError(str(exc), issues=exc.issues))
        except MappingError as exc:
            return _refused(exc)
        return Response(preview.as_dict())
