"""Answers whose JSON is already written (by the database): sent as they are, not re-encoded."""

from django.http import HttpResponse


def json_text_response(text: str, *, status: int = 200) -> HttpResponse:
    """``text``, a JSON document, as the answer; the same content type DRF's JSON renderer
    gives. A DRF view may return it: DRF adds its headers and leaves the body alone."""
    return HttpResponse(text, status=status, content_type="application/json")
