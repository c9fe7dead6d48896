"""Where request bytes become values: only what can be stored and answered again gets through.

JSON bodies are bounded (size, nesting depth) and hold no lone surrogate, no NUL and no
non-finite number; a charset must be a character set. Each refusal is a clear 400.
"""

import codecs
import json
import math
import re
from typing import Any

from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No API body needs more; deeper nesting only costs recursion (a 1,000-deep body used to 500).
MAX_JSON_DEPTH = 32

# Text codecs that are not character sets but escape or transfer syntaxes: they decode bytes
# to lone surrogates (utf-7, the two escapes) or fail with an error that is not a decoding
# error (punycode, undefined). The byte-to-byte codecs (base64, zlib, rot13, ...) are no text
# codecs at all. (Each codec Python ships is tried in convergence/tests/test_parsers.py.)
NOT_CHARSETS = frozenset({"utf-7", "unicode-escape", "raw-unicode-escape", "punycode", "undefined"})


def charset_problem(name: str) -> str | None:
    """Why a request's ``charset`` cannot decode it (None when it can)."""
    shown = name[:40]
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):
        return f"Unknown charset {shown!r} in Content-Type; send UTF-8."
    try:
        b"\x00".decode(codec.name)  # a LookupError names a codec that is not bytes to text
    except LookupError:
        return f"Charset {shown!r} in Content-Type is not a text encoding; send UTF-8."
    except UnicodeError:  # a text codec to which a lone NUL byte means nothing
        pass
    if codec.name in NOT_CHARSETS:
        return f"Charset {shown!r} in Content-Type is not supported; send UTF-8."
    return None


def content_type_charset_problem(content_type: str) -> str | None:
    """``charset_problem`` of a Content-Type header's charset, parsed as Django parses it."""
    charset = parse_header_parameters(content_type or "")[1].get("charset")
    return None if charset is None else charset_problem(charset)


class JsonRefused(ValueError):
    """A JSON document this API does not take; the message names where and why."""


class JsonTooDeep(JsonRefused):
    pass


class JsonUnstorable(JsonRefused, TypeError):
    """A value no JSON answer could carry (or PostgreSQL store). Also a TypeError, as
    ``json.dumps`` raises for what it cannot encode: Django's ``JSONField.validate`` (model
    forms, the admin) then reports it as invalid JSON."""


# A string needs a second look only for these: U+0000 and the UTF-16 surrogate halves.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _string_problem(text: str) -> str | None:
    if text.isascii():
        return "a NUL character (U+0000), which cannot be stored" if "\x00" in text else None
    found = _UNSTORABLE_CHARACTER.search(text)
    if found is None:
        return None
    if found[0] == "\x00":
        return "a NUL character (U+0000), which cannot be stored"
    return f"a lone surrogate (U+{ord(found[0]):04X}), which is not a Unicode character"


def _where(path: tuple) -> str:
    if not path:
        return "The JSON document"
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part[:40]}" for part in path)
    return "JSON at " + text.removeprefix(".")


def json_check(value: Any, *, limit: int | None = MAX_JSON_DEPTH) -> None:
    """Raise JsonRefused when ``value`` nests deeper than ``limit`` (None: any depth) or holds
    what cannot be stored and rendered again: a lone surrogate or NUL in a string or a key, a
    non-finite number. Iterative, so any depth is safe to walk."""
    stack: list[tuple[Any, int, tuple]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                raise JsonUnstorable(f"{_where(path)} holds {problem}.")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JsonUnstorable(f"{_where(path)} is a number out of range (not finite).")
        elif isinstance(item, dict | list):
            if limit is not None and depth > limit:
                raise JsonTooDeep(f"JSON nested deeper than {limit} levels.")
            if isinstance(item, list):
                stack.extend((child, depth + 1, (*path, i)) for i, child in enumerate(item))
                continue
            for key, child in item.items():
                problem = _string_problem(key) if isinstance(key, str) else None
                if problem:
                    raise JsonUnstorable(f"{_where(path)} has a key holding {problem}.")
                stack.append((child, depth + 1, (*path, str(key))))


def json_loads_bounded(text: str | bytes, *, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses (JsonRefused, or ValueError for broken JSON) bodies nested
    deeper than ``limit``, ``NaN`` and ``Infinity``, numbers beyond a float (``1e999``), and
    lone surrogates or NUL in any string or key."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise JsonTooDeep(f"JSON nested deeper than {limit} levels.") from exc
    json_check(value, limit=limit)
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


class StoredJSONEncoder(json.JSONEncoder):
    """The encoder of every model JSONField: a value that could not be rendered again (a lone
    surrogate, a non-finite number) or stored in PostgreSQL (NUL) is refused before any row
    holds it, whoever writes it (``JsonUnstorable``)."""

    def encode(self, o: Any) -> str:
        json_check(o, limit=None)
        return super().encode(o)


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        problem = content_type_charset_problem(media_type or "")
        if problem:
            raise ParseError(problem)
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
        except JsonRefused as exc:
            raise ParseError(str(exc)) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
