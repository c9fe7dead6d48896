"""The one place request bytes become values: charsets, and JSON that can be stored again."""

import codecs
import encodings
import json
import pkgutil
import random
import warnings
from encodings.aliases import aliases

import pytest

from core.parsers import (
    JsonTooDeep,
    JsonUnstorable,
    charset_problem,
    content_type_charset_problem,
    json_check,
    json_loads_bounded,
)


def _codec_names() -> set[str]:
    names = set(aliases.values()) | {m.name for m in pkgutil.iter_modules(encodings.__path__)}
    usable = set()
    for name in names:
        try:
            codecs.lookup(name)
        except LookupError:  # platform codecs (mbcs, oem) and the package's helpers
            continue
        usable.add(name)
    return usable


def _awkward_bytes() -> list[bytes]:
    """Every byte, many byte pairs, random runs, and sequences that decode to surrogates in
    the codecs that can."""
    rng = random.Random(27)
    samples = [bytes([i]) for i in range(256)]
    samples += [bytes([a, b]) for a in range(0, 256, 7) for b in range(0, 256, 5)]
    samples += [rng.randbytes(rng.randint(1, 8)) for _ in range(2000)]
    samples += [b"+2AA-", b"\\ud800", b"\x00\xd8", b"\x00\xd8\x00\x00", b"xn--ls8h"]
    return samples


def test_every_codec_python_ships_is_refused_or_decodes_to_characters_only():
    """The charset rule by enumeration: a codec the server accepts decodes any bytes to text
    without lone surrogates, or fails with a decoding error (which Django and the parser
    handle); every other codec is refused with a message naming it."""
    samples = _awkward_bytes()
    accepted, refused = [], []
    for name in sorted(_codec_names()):
        problem = charset_problem(name)
        if problem:
            assert f"'{name}'" in problem
            refused.append(name)
            continue
        accepted.append(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for sample in samples:
                try:
                    text = sample.decode(name)
                except UnicodeDecodeError:
                    continue
                assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text), (name, sample)
    assert {"utf_8", "latin_1", "ascii", "utf_16", "cp1252", "shift_jis"} <= set(accepted)
    assert {"rot_13", "base64_codec", "hex_codec", "zlib_codec", "bz2_codec", "uu_codec"} <= set(
        refused
    )
    assert {"utf_7", "unicode_escape", "raw_unicode_escape", "punycode", "undefined"} <= set(
        refused
    )


@pytest.mark.parametrize(
    ("content_type", "problem"),
    [
        ("application/json", None),
        ("application/json; charset=utf-8", None),
        ('application/json; charset="UTF-8"', None),
        ("text/plain; charset=rot13", "Charset 'rot13' in Content-Type is not a text encoding"),
        ("application/json; charset=nope", "Unknown charset 'nope' in Content-Type"),
        ("application/json; charset=utf-7", "Charset 'utf-7' in Content-Type is not supported"),
        ("application/json; charset=a\x00b", "Unknown charset"),
    ],
)
def test_content_type_charset(content_type, problem):
    found = content_type_charset_problem(content_type)
    assert (found is None) if problem is None else found.startswith(problem)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"\\ud800"', "The JSON document holds a lone surrogate (U+D800)"),
        ('{"a": {"b": ["ok", "\\udfff"]}}', "JSON at a.b[1] holds a lone surrogate (U+DFFF)"),
        ('{"a": {"\\udc00x": 1}}', "JSON at a has a key holding a lone surrogate (U+DC00)"),
        ('{"a": "x\\u0000"}', "JSON at a holds a NUL character (U+0000)"),
        ('{"\\u0000": 1}', "The JSON document has a key holding a NUL character"),
        ('{"n": 1e999}', "JSON at n is a number out of range (not finite)"),
        ("[1, -1E309]", "JSON at [1] is a number out of range (not finite)"),
    ],
)
def test_unstorable_json_is_refused_naming_where(text, message):
    with pytest.raises(JsonUnstorable) as refused:
        json_loads_bounded(text)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', "[-Infinity]"])
def test_non_finite_constants_are_not_json(text):
    with pytest.raises(ValueError, match="is not valid JSON"):
        json_loads_bounded(text)


def test_what_can_be_stored_passes_unchanged():
    """A surrogate pair is one character (an emoji), big integers and 1e308 are numbers."""
    text = '{"emoji": "\\ud83d\\ude00", "big": 100000000000000000000000, "f": 1e308, "é": "ü"}'
    assert json_loads_bounded(text) == json.loads(text)


def test_depth_bound_holds_and_the_walk_survives_any_depth():
    deep = [[]]
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(JsonTooDeep):
        json_check(deep)
    json_check(deep, limit=None)
