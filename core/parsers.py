"""JSON bodies with bounds: size and nesting depth are refused with a clear 400 before any work."""

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No API body needs more; deeper nesting only costs recursion (a 1,000-deep body used to 500).
MAX_JSON_DEPTH = 32


class JsonTooDeep(ValueError):
    pass


def json_depth_check(value: Any, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise JsonTooDeep when objects and arrays nest deeper than ``limit`` (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise JsonTooDeep(f"JSON nested deeper than {limit} levels.")
        stack.extend((child, depth + 1) for child in children)


def json_loads_bounded(text: str | bytes, *, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses bodies nested deeper than ``limit`` and non-finite numbers."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise JsonTooDeep(f"JSON nested deeper than {limit} levels.") from exc
    json_depth_check(value, limit=limit)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        try:
            length = int((request.META.get("CONTENT_LENGTH") or 0) if request else 0)
        except ValueError:
            length = 0
        if length > limit:
            raise ParseError(f"Request body too large: {length} bytes, limit {limit}.")
        if stream is None:
            return None
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise ParseError(f"Request body too large: more than {limit} bytes.")
        try:
            text = raw.decode((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
            return json_loads_bounded(text)
        except JsonTooDeep as exc:
            raise ParseError(str(exc)) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
