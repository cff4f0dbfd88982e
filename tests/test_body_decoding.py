"""The request body's fast reader (orjson) answers exactly as the stdlib reader, or defers to it.

The stdlib reader is the reference: it refuses duplicate keys, infinite numbers and bad text with
worded errors, and turns integral numbers (``30.0``) into ints. Whatever the fast path accepts must
equal what the reference gives; whatever it cannot vouch for goes to the reference.
"""
from __future__ import annotations

import json
import math
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.validation.body import _DECODER, _INTEGRAL_FLOAT, _SLOW, _fast_decode

_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=4), inner, max_size=4), max_leaves=20)


def _reference(raw: bytes) -> Any:
    try:
        return ("ok", _DECODER.decode(raw.decode("utf-8")))
    except (ValueError, RecursionError):  # JSONDecodeError, duplicate key, out of range, bad UTF-8
        return ("refused", None)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _check(raw: bytes) -> None:
    fast = _fast_decode(raw)
    if fast is _SLOW:
        return  # the reference decides
    kind, expected = _reference(raw)
    assert kind == "ok", raw
    assert _same(fast, expected), (raw, fast, expected)


@settings(max_examples=300, deadline=None)
@given(_values, st.sampled_from([None, 0, 2]))
def test_what_the_fast_reader_accepts_is_what_the_reference_gives(value: Any, indent: int | None) -> None:
    _check(json.dumps(value, indent=indent, ensure_ascii=False).encode())


@settings(max_examples=300, deadline=None)
@given(_values, st.integers(0, 200), st.binary(min_size=1, max_size=3))
def test_a_damaged_body_is_never_read_differently(value: Any, at: int, junk: bytes) -> None:
    raw = json.dumps(value).encode()
    at = at % (len(raw) + 1)
    _check(raw[:at] + junk + raw[at:])


def test_the_cases_only_the_reference_can_decide() -> None:
    # A duplicate key (even when the dropped value's colons would make up for it), integral floats (30.0
    # is the int 30; past 64 bits orjson reads a float), text orjson refuses: all deferred.
    for raw in (b'{"a": 1, "a": 2}', b'{"a": "10:00", "a": 1}', b'{"a": 1, "a": "\\u003a"}', b'{"n": 30.0}',
                b'[1e2]', b'[-0.0]', b'[18446744073709551616]', b'{"a": 1e400}', b'"\\ud800"', b'{"a": NaN}',
                b'\xef\xbb\xbf{}', b'[' * 300 + b']' * 300):
        assert _fast_decode(raw) is _SLOW, raw
    assert _fast_decode(b'{"name": "Bench", "tags": ["x"], "n": 2.5}') == {"name": "Bench", "tags": ["x"], "n": 2.5}
    # A colon in a string, as itself or escaped, is no reason to defer: the re-encoding has it too.
    assert _fast_decode(b'{"at": "2024-01-01T10:00:00Z", "s": "\\u003a"}') == {"at": "2024-01-01T10:00:00Z", "s": ":"}


# JSON texts written by hand rather than by an encoder: keys given twice, colons in strings as
# themselves or escaped (\u003a, \u003A, and an escaped backslash before "u003a", which is no colon),
# lone surrogates, numbers in every form (integral floats, exponents, big and huge ints, -0.0,
# out of range), whitespace, and nesting.
_KEYS = st.sampled_from(["a", "b", "t", "a:b", "\\u003a", "\\u003A", "k\\\\u003a", "\\ud800", "é"])
_STRINGS = st.lists(st.sampled_from(["x", ":", "10:00", "\\u003a", "\\u003A", "\\\\u003a", "u003a", "\\ud800",
                                     "\\udc00\\ud800", "\\n", "\\\"", ".0,", "e+", "1.0]", "é"]), max_size=4).map("".join)
_NUMBERS = st.one_of(
    st.integers(-2**70, 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["30.0", "1e2", "1E+2", "2.5e-3", "1.5E2", "-0.0", "0.0", "-0", "1e400", "1e-400", "1.0e0",
                     "123456789012345678901234567890", "9007199254740993", "1e16", "0.1"]),
)
_TEXTS = st.recursive(
    st.one_of(_NUMBERS, _STRINGS.map(lambda s: f'"{s}"'), st.sampled_from(["true", "false", "null"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(_KEYS, inner), max_size=4).map(
            lambda members: "{" + ",".join(f'"{k}": {v}' for k, v in members) + "}"),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_TEXTS, st.sampled_from(["", " ", "\n", "\t "]))
def test_hand_written_texts_are_read_as_the_reference_reads_them_or_deferred(text: str, space: str) -> None:
    _check((space + text + space).encode())


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f.is_integer()))
def test_orjson_writes_every_integral_float_in_a_form_the_check_finds(number: float) -> None:
    # The fast reader's premise: an integral float is written back as "<digits>.0" or with "e+".
    for encoded in (orjson.dumps(number), orjson.dumps([number, 1]), orjson.dumps({"k": number})):
        assert b"e+" in encoded or _INTEGRAL_FLOAT.search(encoded), encoded


def test_a_large_body_is_read_by_the_fast_reader_and_checked_the_same_way() -> None:
    # Past the old 4 KB bound: read by orjson (colons in timestamps and all), still deferred on a
    # key given twice or an integral float anywhere in it.
    events = [{"id": f"e-{i}", "timestamp": "2024-01-01T10:00:00Z", "value": i + 0.5} for i in range(300)]
    raw = json.dumps({"events": events}).encode()
    assert len(raw) > 16 * 1024 and _fast_decode(raw) == {"events": events}
    assert _fast_decode(raw[:-1] + b', "events": []}') is _SLOW
    assert _fast_decode(raw.replace(b'"value": 7.5', b'"value": 7.0')) is _SLOW


def test_the_errors_stay_the_reference_s(api: Any) -> None:
    bad = api.patch("/accounts/ACME-US", content=b'{"name": "A", "name": "B"}',
                    headers={"Content-Type": "application/json"})
    assert (bad.status_code, bad.json()) == (400, {"message": "name: is given more than once"})
    ok = api.patch("/accounts/ACME-US", content=b'{"netTermDays": 30.0}', headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.json()["netTermDays"] == 30, ok.text
