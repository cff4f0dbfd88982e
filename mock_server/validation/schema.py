"""JSON Schema validators compiled once, reporting violations in Togai's words.

``jsonschema`` is the reference validator and the source of every message.
When ``jsonschema_rs`` is importable it answers the common question "is this
valid?" first, because it is several times faster; the Python validator then
runs only on instances that are invalid, to name the field and the rule.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from ..errors import Violation

try:  # optional accelerator, see the README's performance section
    import jsonschema_rs as _rs
except ImportError:  # pragma: no cover - depends on the environment
    _rs = None

# RFC 3339 date-time; the offset is optional because Togai's own examples
# (effectiveOn) leave it out.
_DATE_TIME = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]"
    r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or _DATE_TIME.match(value) is not None


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def join_path(prefix: str, parts: Iterable[str | int]) -> str:
    """Render a JSON location as ``address.city`` or ``accountIds[0]``."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out = f"{out}[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _types(value: Any) -> str:
    types = value if isinstance(value, list) else [value]
    return "must be " + " or ".join(_TYPE_WORDS.get(t, t) for t in types)


# How each keyword's rule reads, given the keyword's value in the schema.
_PHRASES: dict[str, Callable[[Any], str]] = {
    "type": _types,
    "enum": lambda v: "must be one of: " + ", ".join(str(o) for o in v),
    "const": lambda v: f"must be one of: {v}",
    "minLength": lambda v: f"must be at least {_plural(v, 'character')} long",
    "maxLength": lambda v: f"must be at most {_plural(v, 'character')} long",
    "minItems": lambda v: f"must have at least {_plural(v, 'item')}",
    "maxItems": lambda v: f"must have at most {_plural(v, 'item')}",
    "uniqueItems": lambda v: "must not contain duplicate items",
    "minimum": lambda v: f"must be >= {v}",
    "maximum": lambda v: f"must be <= {v}",
    "exclusiveMinimum": lambda v: f"must be > {v}",
    "exclusiveMaximum": lambda v: f"must be < {v}",
    "pattern": lambda v: f"must match the pattern {v}",
    "format": lambda v: f"must be a valid {v}",
    "minProperties": lambda v: f"must have at least {_plural(v, 'property')}",
    "maxProperties": lambda v: f"must have at most {_plural(v, 'property')}",
}


def _rule(kw: str, value: Any, fallback: str) -> str:
    """The broken rule of keyword ``kw`` (whose schema value is ``value``) as a short phrase."""
    phrase = _PHRASES.get(kw)
    return phrase(value) if phrase is not None else fallback


_UNKNOWN = "is not a known property"


def _order(violation: Violation) -> tuple[bool, str, str]:
    # The engines walk schemas and instances in different orders; a fixed order
    # (unknown properties last, then by field) gives the same first message
    # whichever engine ran.
    return violation.rule == _UNKNOWN, violation.field, violation.rule


class SchemaValidator:
    """A schema compiled once; reports :class:`Violation` objects."""

    __slots__ = ("schema", "_py", "_fast")

    def __init__(self, schema: dict[str, Any] | bool) -> None:
        # Checking against the meta-schema is the slowest part of start-up in
        # pure Python; the Rust check is used when present, and the reference
        # runs only to word the error of a schema it rejects.
        if _rs is None or not _rs.meta.is_valid(schema):
            Draft202012Validator.check_schema(schema)
        self.schema = schema
        self._py = Draft202012Validator(schema, format_checker=FORMATS)
        self._fast = None
        if _rs is not None and not _uses_formats(schema):
            # Formats are checked only by the Python validator (FORMATS above),
            # so schemas that use them skip the fast path to keep one verdict.
            self._fast = _rs.validator_for(schema)

    def is_valid(self, instance: Any) -> bool:
        """True when ``instance`` satisfies the schema."""
        if self._fast is not None:
            try:
                return self._fast.is_valid(instance)
            except (ValueError, OverflowError):
                pass  # e.g. ints beyond 64 bits: let the reference decide
        return self._py.is_valid(instance)

    def violations(self, instance: Any, prefix: str = "") -> list[Violation]:
        """Every rule ``instance`` breaks; empty when it is valid."""
        if self.is_valid(instance):
            return []
        found: dict[str, Violation] = {}
        explained = self._rs_violations(instance, prefix) if self._fast is not None else None
        if explained is None:
            explained = [v for error in self._py.iter_errors(instance) for v in _explain_py(error, prefix)]
        for violation in explained:
            found.setdefault(str(violation), violation)
        return sorted(found.values(), key=_order)

    def reference_violations(self, instance: Any, prefix: str = "") -> list[Violation]:
        """:meth:`violations` as the pure-Python reference validator words them."""
        found: dict[str, Violation] = {}
        for error in self._py.iter_errors(instance):
            for violation in _explain_py(error, prefix):
                found.setdefault(str(violation), violation)
        return sorted(found.values(), key=_order)

    def _rs_violations(self, instance: Any, prefix: str) -> list[Violation] | None:
        """The same violations from the compiled validator, or None to fall back."""
        assert self._fast is not None
        out: list[Violation] = []
        try:
            errors = list(self._fast.iter_errors(instance))
        except (ValueError, OverflowError):
            return None
        for error in errors:
            *parent_path, kw = error.schema_path
            parent: Any = self.schema
            for part in parent_path:
                parent = parent[part]
            where = join_path(prefix, error.instance_path)
            kind = error.kind
            if kw == "required":
                out.append(Violation(join_path(where, [kind.property]), "is required"))
            elif kw == "additionalProperties" and hasattr(kind, "unexpected"):
                out.extend(Violation(join_path(where, [key]), _UNKNOWN) for key in kind.unexpected)
            elif kw in _PHRASES and kw != "format":
                out.append(Violation(where or prefix or "body", _rule(kw, parent[kw], error.message)))
            else:
                return None  # a keyword this mapping does not know: ask the reference
        return out


def _explain_py(error: ValidationError, prefix: str) -> list[Violation]:
    where = join_path(prefix, error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        return [
            Violation(join_path(where, [name]), "is required")
            for name in error.validator_value
            if name not in instance
        ]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        return [
            Violation(join_path(where, [key]), _UNKNOWN)
            for key in instance
            if key not in known and not any(p.search(key) for p in patterns)
        ]
    return [Violation(where or prefix or "body", _rule(str(error.validator), error.validator_value, error.message))]


def _uses_formats(schema: Any) -> bool:
    if isinstance(schema, dict):
        return "format" in schema or any(_uses_formats(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_uses_formats(v) for v in schema)
    return False
