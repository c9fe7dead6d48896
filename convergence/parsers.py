"""A JSON parser that refuses oversized bodies with a clear 400 instead of reading them."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        length = int((request.META.get("CONTENT_LENGTH") or 0) if request else 0)
        if length > limit:
            raise ParseError(f"Request body too large: {length} bytes, limit {limit}.")
        return super().parse(stream, media_type, parser_context)
