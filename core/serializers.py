"""Input serializers that take JSON as the schema says it (no unknown fields, no coercion),
and model serializers that build their fields once."""

import copy
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

# Older or more common names clients send for a field; refused with a hint, never ignored.
FIELD_HINTS = {"subscription_plan": "plan", "plan_code": "plan", "email": "admin_email"}

# Real JSON types (not bool) where the field is numeric; bool is a subclass of int.
_NUMBER = (int, float)


def _type_error(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` is not the JSON type the schema gives ``field`` (None when it is)."""
    if value is None:
        return None if field.allow_null else "This field may not be null."
    if isinstance(field, serializers.BooleanField):
        ok = isinstance(value, bool)
        expected = "a boolean"
    elif isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "an integer"
    elif isinstance(field, serializers.DecimalField) and getattr(
        field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING
    ):
        # Money travels as a decimal string, as the schema says ("12.50", never 12.5).
        ok = isinstance(value, str)
        expected = 'a decimal string such as "12.50"'
    elif isinstance(field, serializers.FloatField | serializers.DecimalField):
        ok = isinstance(value, _NUMBER) and not isinstance(value, bool)
        expected = "a number"
    elif isinstance(field, serializers.DictField | serializers.JSONField):
        if isinstance(field, serializers.JSONField):
            return None
        if not isinstance(value, Mapping):
            return "Expected an object."
        for key, item in value.items():
            problem = _type_error(field.child, item)
            if problem:
                return f"{key}: {problem}"
        return None
    elif isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Expected a list."
        for index, item in enumerate(value):
            problem = _type_error(field.child, item)
            if problem:
                return f"[{index}]: {problem}"
        return None
    elif isinstance(field, serializers.Serializer):
        ok = isinstance(value, Mapping)
        expected = "an object"
    elif isinstance(
        field,
        serializers.CharField
        | serializers.ChoiceField
        | serializers.DateField
        | serializers.DateTimeField,
    ):
        ok = isinstance(value, str)
        expected = "a string"
    else:
        return None
    return None if ok else f"Expected {expected}."


class StrictInputSerializer(serializers.Serializer):
    # A request body serializer: unknown fields and wrongly typed values are a 400 naming them.
    # DRF would otherwise drop unknown keys silently (``subscription_plan`` instead of ``plan``
    # onboarded on the default plan) and coerce ``0`` to ``"0"`` or ``"yes"`` to ``True``.
    # (Comments, not a docstring: the schema would show a docstring on every input.)

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        errors: dict[str, list[str]] = {}
        for name in sorted(set(data) - set(self.fields)):
            hint = FIELD_HINTS.get(name)
            if hint and hint in self.fields:
                errors[name] = [f"Unknown field; did you mean {hint!r}?"]
            else:
                errors[name] = ["Unknown field."]
        for name, field in self.fields.items():
            if name in data and not field.read_only:
                problem = _type_error(field, data[name])
                if problem:
                    errors[name] = [problem]
        if errors:
            raise ValidationError(errors)
        return super().to_internal_value(data)


class QuerySerializer(serializers.Serializer):
    # Query-string filters: unknown parameters and empty values are a 400 naming them.

    def __init__(self, *args, data=None, **kwargs):
        if data is not None and hasattr(data, "dict"):
            data = data.dict()  # a blank ``?trigger=`` is then a value to check, not "absent"
        super().__init__(*args, data=data, **kwargs)

    @classmethod
    def validated(cls, query_params) -> dict:
        """The validated filters of ``query_params`` (400 on a bad one); with none but the
        ``extra_params`` given, no serializer is built (its fields are copied per instance)."""
        if set(query_params) <= set(getattr(cls, "extra_params", ())):
            return {}
        filters = cls(data=query_params)
        filters.is_valid(raise_exception=True)
        return filters.validated_data

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields) - set(getattr(self, "extra_params", ())))
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        known = {k: v for k, v in data.items() if k in self.fields}
        return super().to_internal_value(known)


# Dates a request may name: wide enough for any real billing period, narrow enough that date
# arithmetic (time zones, ±1 day) can never overflow (0001-01-01 and 9999-12-31 used to 500).
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2099, 12, 31)
DATE_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# What the schema's formats say, and nothing more: an ISO 8601 calendar date (YYYY-MM-DD), and
# an RFC 3339 date-time, which has seconds and a time zone. Python's own parsers take much
# else: week dates (2026-W45-1), basic format (20261102), one-digit fields (2026-11-2), other
# scripts' digits, a trailing newline (Django's ``$``), a date-time without a zone.
ISO_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
RFC3339_DATETIME = re.compile(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


@extend_schema_field({"type": "string", "format": "date", "pattern": DATE_PATTERN})
class BoundedDateField(serializers.DateField):
    """A date as YYYY-MM-DD, in 2000-01-01 .. 2099-12-31."""

    default_error_messages = {
        "iso": "Must be a date as YYYY-MM-DD.",
        "out_of_range": f"Must be between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}.",
    }

    def to_internal_value(self, value):
        if not isinstance(value, str) or not ISO_DATE.match(value):
            self.fail("iso")
        parsed = super().to_internal_value(value)
        if not DATE_MIN <= parsed <= DATE_MAX:
            self.fail("out_of_range")
        return parsed


class StrictDateTimeField(serializers.DateTimeField):
    """A moment as RFC 3339 (``format: date-time``): ``2026-11-02T09:30:00Z`` or with an
    offset such as ``+01:00``; no other spelling, and never without a time zone."""

    default_error_messages = {
        "rfc3339": "Must be a date-time as RFC 3339 with a time zone, such as 2026-11-02T09:30:00Z."
    }

    def to_internal_value(self, value):
        if not isinstance(value, str) or not RFC3339_DATETIME.match(value):
            self.fail("rfc3339")
        return super().to_internal_value(value.upper())


# A positive amount of money: 0.01 .. 99,999,999,999.99, digits and at most two decimals.
MONEY_MAX = Decimal("99999999999.99")
MONEY_PATTERN = r"^(?=[0-9.]*[1-9])[0-9]{1,11}(\.[0-9]{1,2})?$"


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "maxLength": 14}
)
class MoneyField(serializers.DecimalField):
    """A positive decimal string with at most two decimals, exactly as the schema's pattern."""

    default_error_messages = {
        "money": "Must be a decimal string of 0.01 to 99999999999.99 with at most two decimals."
    }

    def __init__(self, **kwargs):
        limits = {"min_value": Decimal("0.01"), "max_value": MONEY_MAX}
        super().__init__(max_digits=13, decimal_places=2, **limits, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(MONEY_PATTERN, data):
            self.fail("money")
        return super().to_internal_value(data)


class FutureDateTimeField(StrictDateTimeField):
    """A moment after now (an expiry that has already passed is a mistake, not a key)."""

    default_error_messages = {"past": "Must be in the future."}

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Must be in the future.")
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if parsed <= timezone.now():
            self.fail("past")
        return parsed


# A ``ModelSerializer`` mix-in: the fields are built from the model once per class and
# copied for each instance, as DRF copies declared fields. DRF builds a model serializer's
# fields anew for every instance (model introspection per field), which cost a run read
# more than its queries. Same fields, same output, same schema. (A comment, not a
# docstring: drf-spectacular would show an inherited docstring as each schema's description.)
class FieldsBuiltOnce:
    def get_fields(self):
        built = type(self).__dict__.get("_fields_built")
        if built is None:
            built = super().get_fields()
            type(self)._fields_built = built
        return copy.deepcopy(built)
