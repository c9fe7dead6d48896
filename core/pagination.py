"""Limit/offset pages with bounds: a limit or offset out of range is a 400, never a SQL error."""

import functools

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1


class PageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, required=False)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pagination, but ``?limit=9223372036854775808`` is refused with 400
    (DRF passes any positive integer to SQL, where it overflowed bigint: a 500)."""

    max_limit = MAX_LIMIT

    def _page_values(self, request) -> dict:
        params = request.query_params
        return _page_validated(
            params.get(self.limit_query_param), params.get(self.offset_query_param)
        )

    def get_limit(self, request) -> int:
        return self._page_values(request).get(self.limit_query_param, self.default_limit)

    def get_offset(self, request) -> int:
        return self._page_values(request).get(self.offset_query_param, 0)


@functools.lru_cache(maxsize=256)
def _page_validated(limit: str | None, offset: str | None) -> dict:
    """``PageQuerySerializer``'s validated limit and offset; a few pairs are asked again and
    again (``?limit=50``), and a serializer costs more than the page's query. Refusals are
    raised, never kept."""
    raw = {k: v for k, v in (("limit", limit), ("offset", offset)) if v is not None}
    page = PageQuerySerializer(data=raw)
    page.is_valid(raise_exception=True)
    return dict(page.validated_data)


def paginated(serializer_class: type[serializers.Serializer], name: str) -> type:
    """The page envelope ``{count, next, previous, results}`` around ``serializer_class``."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(min_value=0),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
            "__module__": __name__,
        },
    )
