"""A schema-valid value made from a schema, for operations that declare no example.

As ``prism mock`` does in its static mode: the schema's own ``examples``,
``example``, ``default``, ``const`` or first ``enum`` value where it has one,
else a plain value of its type (``"string"``, ``0``, ``true``, one array
item, every declared property) bent to the bounds it states (lengths,
minimums, formats). The caller checks the result against the schema, since
a ``pattern`` or a ``not`` can still refuse it.
"""
from __future__ import annotations

from typing import Any

# How deep a recursive schema is followed before only what is required is made.
_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "byte": "c3RyaW5n",
    "duration": "P1D",
}


def sample(schema: Any) -> Any:
    """A value for ``schema`` (a resolved schema, possibly recursive through ``$id``/``$ref``)."""
    ids: dict[str, Any] = {}
    _collect_ids(schema, ids)
    return _make(schema, ids, 0)


def _collect_ids(node: Any, ids: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("$id"), str):
            ids.setdefault(node["$id"], node)
        for value in node.values():
            _collect_ids(value, ids)
    elif isinstance(node, list):
        for value in node:
            _collect_ids(value, ids)


def _make(schema: Any, ids: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict):
        return None if schema is False else {}
    if isinstance(schema.get("$ref"), str):
        target = ids.get(schema["$ref"])
        return _make(target, ids, depth + 1) if target is not None else {}
    for key in ("examples",):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    for key in ("example", "const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _make(part, ids, depth)
            if not isinstance(value, dict):
                return value
            merged.update(value)
        own = {k: v for k, v in schema.items() if k != "allOf"}
        if own.get("properties") or own.get("type"):
            value = _make(own, ids, depth)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            # The first option that is not just null.
            chosen = next((o for o in options if not (isinstance(o, dict) and o.get("type") == "null")), options[0])
            return _make(chosen, ids, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        return _object(schema, ids, depth)
    if kind == "array":
        count = max(int(schema.get("minItems", 0)), 0 if depth >= _MAX_DEPTH else 1)
        count = min(count, int(schema.get("maxItems", count)))
        items = schema.get("items", {})
        return [_make(items, ids, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema)


def _object(schema: dict[str, Any], ids: dict[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    out: dict[str, Any] = {}
    for name, sub in properties.items():
        if depth < _MAX_DEPTH or name in required:
            out[name] = _make(sub, ids, depth + 1)
    for name in required - set(out):
        out[name] = "string"  # required but not described
    return out


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    ex_low = schema.get("exclusiveMinimum")
    ex_high = schema.get("exclusiveMaximum")
    value: float = 0
    if isinstance(low, (int, float)) and not isinstance(low, bool):
        value = max(value, low) if high is None or low > 0 else low
    if isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool) and value <= ex_low:
        value = ex_low + 1
    if isinstance(high, (int, float)) and not isinstance(high, bool) and value > high:
        value = high
    if isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool) and value >= ex_high:
        value = ex_high - 1
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0 and not isinstance(step, bool):
        value = (value // step) * step
        if isinstance(low, (int, float)) and value < low:
            value += step
    if integer:
        return int(value)
    return value


def _string(schema: dict[str, Any]) -> str:
    text = _FORMATS.get(str(schema.get("format", "")), "string")
    low = schema.get("minLength")
    high = schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = text + "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text
