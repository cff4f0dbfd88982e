"""The request body: Content-Type (415), JSON syntax and schema (400)."""
from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

import orjson

from ..errors import ApiError
from ..openapi.spec import Operation

# Every body is first read by orjson (:func:`_fast_decode`: a third of the stdlib's cost at any size), which
# defers to the stdlib when it cannot vouch for its answer. There, bodies over this size are read without
# the duplicate-key hook first (:func:`_decode_text`: the check costs a fixed encoding pass that pays off on
# large bodies); either defers to the hooked reader, which words every refusal.
_SMALL = 4096


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _OutOfRange(ValueError):
    pass


def _number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: finite, and an int when integral.

    ``1e400`` would become infinity, which no JSON answer can carry; ``30.0``
    is the integer 30 (JSON does not tell them apart, Python does, and the
    mock would echo ``30.0`` back in an integer field).
    """
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(text if len(text) <= 40 else text[:40] + "…")
    if value.is_integer():
        exact = Decimal(text)
        if exact == exact.to_integral_value():
            return int(exact)
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant, parse_float=_number
)
# The same decoder without the hook (a call per object): dicts made in C. Used where the text shows it has
# no key given twice (:func:`_keys_all_kept`), else the one above decides and words the error.
_PLAIN_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_number)


def _keys_all_kept(text: str, value: Any) -> bool:
    """Whether ``value`` (``text`` decoded into dicts) kept every member ``text`` has: no key given twice.

    Each member puts one ``:`` in ``text`` and one in ``value`` encoded compactly; every other ``:``
    is in a string, written as itself or as ``\\u003a`` (counted by the "u003a" in it, or more). The
    strings ``value`` kept are some of those of ``text``, so the counts are equal exactly when no member
    was dropped; a key given twice drops one. False when it cannot tell (orjson refusing).
    """
    try:
        encoded = orjson.dumps(value)
    except (TypeError, ValueError):  # an int beyond 64 bits, a lone surrogate, nesting past 255
        return False
    return text.count(":") + text.count("u003a") + text.count("u003A") == encoded.count(b":")


def _decode_text(text: str) -> Any:
    """``text`` as JSON; :class:`_DuplicateKey` for an object that gives a key twice."""
    if len(text) > _SMALL:  # a large body (a batch): the hook costs a third of the decoding
        try:
            value = _PLAIN_DECODER.decode(text)
        except (ValueError, RecursionError):
            pass  # the hooked decoder words it (and finds a key given twice before a later error)
        else:
            if _keys_all_kept(text, value):
                return value
    return _DECODER.decode(text)


_SLOW = object()
# How orjson writes back a float that the stdlib path would turn into an int: ``30.0`` and ``1e2`` as
# "<digits>.0", past 1e16 (integers beyond 64 bits, which orjson reads as floats) with an exponent
# "e+". Looked for in the re-encoding, where every number is in that one form; text in a string that
# looks the same is a false alarm, which only defers to the stdlib path.
_INTEGRAL_FLOAT = re.compile(rb"\.0(?:[]},]|$)")
# Single bytes, looked for as ints: memchr, without the buffer protocol a bytes needle goes through.
_BACKSLASH, _PLUS = ord("\\"), ord("+")


def _fast_decode(raw: bytes) -> Any:
    """``raw`` as :data:`_DECODER` would read it, or ``_SLOW`` when only the stdlib path can tell.

    orjson keeps the last of duplicate keys and reads ``30.0`` (and integers past 64 bits) as
    floats; the stdlib path refuses the first and turns the second into ints. So orjson's answer
    stands only when its compact re-encoding proves neither happened (all in C, whatever the size):
    as many ``:`` as the text (see :func:`_keys_all_kept`: then no key was given twice) and no
    integral float (:data:`_INTEGRAL_FLOAT`, a ``+`` first: a single-byte search); otherwise, and
    for any text orjson refuses or cannot write back, the stdlib path decides (and words the error).
    """
    try:
        value = orjson.loads(raw)
        encoded = orjson.dumps(value)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # bad text, a lone surrogate, nesting past 255
        return _SLOW
    colons = raw.count(b":")
    if _BACKSLASH in raw:  # an escape: a colon in a string may be written \u003a
        colons += raw.count(b"u003a") + raw.count(b"u003A")
    if colons != encoded.count(b":"):
        return _SLOW
    if (_PLUS in encoded and b"e+" in encoded) or _INTEGRAL_FLOAT.search(encoded) is not None:
        return _SLOW
    return value


def parse_body(op: Operation, content_type: str | None, raw: bytes) -> Any:
    """The decoded, schema-valid body of ``op`` (``None`` when there is none)."""
    spec = op.body
    if spec is None:
        return None
    if content_type is None and not raw:
        if spec.required:
            raise ApiError.of(400, "body", "is required")
        return None
    if content_type not in spec.media_types:  # "application/json" as clients send it: nothing to parse
        _check_media_type(content_type, spec.media_types)
    if not raw:
        if spec.required:
            raise ApiError.of(400, "body", "is required")
        return None
    value = _fast_decode(raw)
    if value is _SLOW:
        value = _decode(raw)
    validator = spec.validator
    if validator is not None:
        try:  # is_valid first: a valid body (the usual) makes no empty list of violations
            problems = None if validator.is_valid(value) else validator.violations(value)
        except RecursionError:
            raise ApiError.of(400, "body", "is nested too deeply") from None
        if problems:
            raise ApiError(400, problems)
    return value


def _decode(raw: bytes) -> Any:
    """``raw`` read by the stdlib (duplicate keys, out-of-range numbers and every syntax error worded)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError.of(400, "body", f"is not valid UTF-8 (byte {exc.start})") from None
    try:
        return _decode_text(text)
    except json.JSONDecodeError as exc:
        raise ApiError.of(
            400, "body", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except _DuplicateKey as exc:
        raise ApiError.of(400, exc.key, "is given more than once") from None
    except _OutOfRange as exc:
        raise ApiError.of(400, "body", f"{exc} is out of range for a number") from None
    except RecursionError:
        raise ApiError.of(400, "body", "is nested too deeply") from None
    except ValueError as exc:
        raise ApiError.of(400, "body", f"is not valid JSON: {exc}") from None


# JSON echoed back (override bodies) or shown (the journal) is nested at most
# this deep: the encoders give up between 255 (orjson) and ~1000 (stdlib) levels.
MAX_DEPTH = 64


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _check_media_type(content_type: str | None, accepted: tuple[str, ...]) -> None:
    if content_type in accepted:  # "application/json" as clients send it: nothing to parse
        return
    expected = " or ".join(accepted)
    if not content_type:
        raise ApiError.of(415, "Content-Type", f"must be {expected}")
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media not in accepted:
        shown = content_type if len(content_type) <= 100 else content_type[:100] + "…"
        raise ApiError.of(415, "Content-Type", f"must be {expected}, got {shown!r}")
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise ApiError.of(415, "Content-Type", "charset must be utf-8")
