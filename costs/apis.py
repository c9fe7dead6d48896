"""The costs API: a tenant's costs, grouped and filtered, and its FOCUS rows as a file."""

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import BoundedDateField, QuerySerializer
from costs.export import CONTENT_TYPES, FORMATS, tenant_focus_export
from costs.query import (
    CURRENCY_PATTERN,
    DIMENSION_PATTERN,
    GRANULARITIES,
    MAX_GROUP_BY,
    MAX_RANGE_MONTHS,
    METRICS,
    CostQuery,
    CostQueryInvalid,
    dimension_check,
    filters_parse,
)
from costs.selectors import tenant_costs
from tenants.permissions import IsTenantOrStaff
from tenants.selectors import tenant_id_for_user
from warehouse.bigquery import WarehouseError

FILTER_MAX_CHARS = 4000


class WarehouseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The warehouse could not answer; try again shortly."


class _ListQuerySerializer(QuerySerializer):
    # Query parameters that may repeat (``?metric=BilledCost&metric=ListCost``) keep every
    # value; the others keep one, as QuerySerializer does.

    def __init__(self, *args, data=None, **kwargs):
        if data is not None and hasattr(data, "getlist"):
            lists = {
                name
                for name, field in self.get_fields().items()
                if isinstance(field, serializers.ListField)
            }
            data = {k: data.getlist(k) if k in lists else data[k] for k in data}
            super(QuerySerializer, self).__init__(*args, data=data, **kwargs)
        else:
            super().__init__(*args, data=data, **kwargs)


@extend_schema_field({"type": "string", "pattern": DIMENSION_PATTERN, "maxLength": 133})
class DimensionField(serializers.CharField):
    """A FOCUS dimension or ``Tags.<key>`` (``costs.query.dimension_check``)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=133, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return dimension_check(value, field="group_by")
        except CostQueryInvalid as exc:
            raise ValidationError(str(exc)) from exc


def _validated(serializer_class, query_params) -> dict:
    # Not QuerySerializer.validated(): that skips an empty query, and start and end are required.
    values = serializer_class(data=query_params)
    values.is_valid(raise_exception=True)
    return values.validated_data


def _answer_error(exc: CostQueryInvalid):
    return ValidationError({exc.field: [str(exc)]})


class RangeFieldsMixin(serializers.Serializer):
    start = BoundedDateField(help_text="First charge day (YYYY-MM-DD), included.")
    end = BoundedDateField(
        help_text=f"Last charge day, included; at most {MAX_RANGE_MONTHS} months after start."
    )


class CurrencyTotalsSerializer(serializers.Serializer):
    BilledCost = serializers.CharField(required=False, allow_null=True)
    EffectiveCost = serializers.CharField(required=False, allow_null=True)
    ListCost = serializers.CharField(required=False, allow_null=True)
    ContractedCost = serializers.CharField(required=False, allow_null=True)


class PointSerializer(CurrencyTotalsSerializer):
    period = serializers.DateField(
        allow_null=True,
        help_text="The day, or the month's first day; null for granularity=total.",
    )


class SeriesSerializer(serializers.Serializer):
    group = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        help_text="The group's value of each group_by dimension (null where a row has none).",
    )
    totals = CurrencyTotalsSerializer()
    points = PointSerializer(many=True)


class CurrencySerializer(serializers.Serializer):
    currency = serializers.CharField(allow_null=True, help_text="The rows' BillingCurrency.")
    totals = CurrencyTotalsSerializer()
    series = SeriesSerializer(many=True)


class CoverageSerializer(serializers.Serializer):
    provider = serializers.CharField()
    first_day = serializers.DateField(allow_null=True)
    last_day = serializers.DateField(allow_null=True)


class TenantCostsApi(APIView):
    """A tenant's costs from every FOCUS table it has (built-in providers, native FOCUS,
    mappings): per billing currency (never summed across currencies), per day, month or in
    total, grouped by up to 3 dimensions and filtered. Reads only the range's partitions;
    cached until a run writes the tenant's FOCUS tables."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(RangeFieldsMixin, _ListQuerySerializer):
        granularity = serializers.ChoiceField(choices=GRANULARITIES, default="day")
        metric = serializers.ListField(
            child=serializers.ChoiceField(choices=METRICS),
            min_length=1,
            max_length=len(METRICS),
            required=False,
            help_text="Repeat for several; default BilledCost.",
        )
        group_by = serializers.ListField(
            child=DimensionField(),
            max_length=MAX_GROUP_BY,
            required=False,
            help_text=(
                "Up to 3 of ProviderName, ServiceCategory, ServiceName, SubAccountId, "
                "SubAccountName, RegionId, ChargeCategory, PricingCategory, ResourceId, "
                "Tags.<key> (a key of 1-128 letters, digits, spaces and _ . : / = + - @)."
            ),
        )
        filter = serializers.CharField(
            max_length=FILTER_MAX_CHARS,
            required=False,
            help_text=(
                'A JSON object, dimension -> condition: "value" (equals), ["a", "b"] (in), '
                '{"not": "value" or ["a", "b"]} (not). E.g. '
                '{"ProviderName": ["AWS", "Microsoft"], "Tags.team": {"not": "data"}}.'
            ),
        )
        currency = serializers.RegexField(
            CURRENCY_PATTERN.pattern,
            max_length=3,
            required=False,
            trim_whitespace=False,
            help_text="Only this BillingCurrency.",
        )

    class OutputSerializer(serializers.Serializer):
        tenant_id = serializers.CharField()
        start = serializers.DateField()
        end = serializers.DateField()
        granularity = serializers.ChoiceField(choices=GRANULARITIES)
        metrics = serializers.ListField(child=serializers.ChoiceField(choices=METRICS))
        group_by = serializers.ListField(child=serializers.CharField())
        currencies = CurrencySerializer(many=True)
        coverage = CoverageSerializer(
            many=True, help_text="Per provider, its first and last charge day in the range."
        )
        groups = serializers.IntegerField(help_text="Rows of the answer (at most 10,000).")
        bytes_processed = serializers.IntegerField(
            help_text="Bytes the warehouse jobs reported having processed when the answer was "
            "computed (a cached answer keeps its figure)."
        )
        cached = serializers.BooleanField()

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request, tenant_id: str):
        tenant_id = tenant_id_for_user(user=request.user, tenant_id=tenant_id)
        values = _validated(self.InputSerializer, request.query_params)
        try:
            filters = ()
            if "filter" in values:
                try:
                    raw = json.loads(values["filter"])
                except ValueError:
                    raise CostQueryInvalid(
                        'Must be a JSON object such as {"ProviderName": "AWS"}.',
                        field="filter",
                    ) from None
                filters = filters_parse(raw)
            query = CostQuery(
                start=values["start"],
                end=values["end"],
                granularity=values["granularity"],
                metrics=tuple(values.get("metric") or ("BilledCost",)),
                group_by=tuple(values.get("group_by") or ()),
                filters=filters,
                currency=values.get("currency"),
            )
            answer = tenant_costs(tenant_id=tenant_id, query=query)
        except CostQueryInvalid as exc:
            raise _answer_error(exc) from exc
        except WarehouseError as exc:
            raise WarehouseUnavailable() from exc
        return Response(
            {
                "tenant_id": tenant_id,
                "start": query.start,
                "end": query.end,
                "granularity": query.granularity,
                "metrics": list(query.metrics),
                "group_by": list(query.group_by),
                **answer,
            }
        )


class TenantCostsExportApi(APIView):
    """The FOCUS rows of a range (every FOCUS table of the tenant), FOCUS column names, as one
    CSV or Parquet file, streamed. The same range rule as the costs: at most 13 months."""

    permission_classes = [IsTenantOrStaff]

    class InputSerializer(RangeFieldsMixin, QuerySerializer):
        format = serializers.ChoiceField(choices=FORMATS, default="csv")

    def perform_content_negotiation(self, request, force=False):
        # ``format`` is this route's own parameter (the file's), not DRF's renderer override,
        # which would answer 404 to ``?format=parquet``; errors are JSON whatever it says.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[InputSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="FOCUS rows"),
            (200, "application/vnd.apache.parquet"): OpenApiResponse(
                OpenApiTypes.BINARY, description="FOCUS rows"
            ),
        },
    )
    def get(self, request, tenant_id: str):
        tenant_id = tenant_id_for_user(user=request.user, tenant_id=tenant_id)
        values = _validated(self.InputSerializer, request.query_params)
        file_format = values["format"]
        try:
            chunks = tenant_focus_export(
                tenant_id=tenant_id,
                start=values["start"],
                end=values["end"],
                file_format=file_format,
            )
        except CostQueryInvalid as exc:
            raise _answer_error(exc) from exc
        except WarehouseError as exc:
            raise WarehouseUnavailable() from exc
        response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[file_format])
        name = f"{tenant_id}_focus_{values['start']:%Y%m%d}_{values['end']:%Y%m%d}.{file_format}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
