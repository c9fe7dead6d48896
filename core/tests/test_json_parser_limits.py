"""``LimitedJSONParser`` refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` itself.

Through Django's test client ``RequestDataTooBig`` answers first, so the parser's own limit is
checked directly: a declared length over the limit, and a body with no length (chunked) that
turns out longer than it.
"""

import io

import pytest
from django.test import RequestFactory
from rest_framework.exceptions import ParseError

from core.parsers import LimitedJSONParser


def _context(length: int | None) -> dict:
    request = RequestFactory().post("/x", content_type="application/json")
    request.META.pop("CONTENT_LENGTH", None)
    if length is not None:
        request.META["CONTENT_LENGTH"] = str(length)
    return {"request": request, "encoding": "utf-8"}


def test_a_declared_length_over_the_limit_is_refused_before_reading(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64
    stream = io.BytesIO(b"{}")
    with pytest.raises(ParseError, match="Request body too large: 65 bytes, limit 64"):
        LimitedJSONParser().parse(stream, "application/json", _context(65))
    assert stream.tell() == 0


def test_a_body_without_a_length_is_cut_at_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64
    body = b'{"a": "' + b"x" * 100 + b'"}'
    with pytest.raises(ParseError, match="Request body too large: more than 64 bytes"):
        LimitedJSONParser().parse(io.BytesIO(body), "application/json", _context(None))


def test_a_body_at_the_limit_is_parsed(settings):
    body = b'{"a": "' + b"x" * 55 + b'"}'
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)
    parsed = LimitedJSONParser().parse(io.BytesIO(body), "application/json", _context(len(body)))
    assert parsed == {"a": "x" * 55}
