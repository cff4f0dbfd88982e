"""The request body's fast reader (orjson) answers exactly as the stdlib reader, or defers to it.

The stdlib reader is the reference: it refuses duplicate keys, infinite numbers and bad text with
worded errors, and turns integral numbers (``30.0``) into ints. Whatever the fast path accepts must
equal what the reference gives; whatever it cannot vouch for goes to the reference.
"""
from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.validation.body import _DECODER, _SLOW, _fast_decode

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
    # A duplicate key, integral floats (30.0 is the int 30; past 64 bits orjson reads a float),
    # a colon inside a string (the key count cannot vouch), text orjson refuses: all deferred.
    for raw in (b'{"a": 1, "a": 2}', b'{"n": 30.0}', b'[18446744073709551616]', b'{"t": "10:00"}',
                b'{"a": 1e400}', b'"\\ud800"', b'{"a": NaN}', b'\xef\xbb\xbf{}'):
        assert _fast_decode(raw) is _SLOW, raw
    assert _fast_decode(b'{"name": "Bench", "tags": ["x"], "n": 2.5}') == {"name": "Bench", "tags": ["x"], "n": 2.5}


def test_the_errors_stay_the_reference_s(api: Any) -> None:
    bad = api.patch("/accounts/ACME-US", content=b'{"name": "A", "name": "B"}',
                    headers={"Content-Type": "application/json"})
    assert (bad.status_code, bad.json()) == (400, {"message": "name: is given more than once"})
    ok = api.patch("/accounts/ACME-US", content=b'{"netTermDays": 30.0}', headers={"Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.json()["netTermDays"] == 30, ok.text
