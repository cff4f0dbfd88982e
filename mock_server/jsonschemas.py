"""JSON Schema validators compiled once, reporting violations in Togai's words.

``jsonschema`` is the reference validator. When ``jsonschema_rs`` is
importable it does the work instead, several times faster: it decides
validity and lists the violations, which are worded exactly as the
reference's (``tests/test_validation_engines.py`` proves it). The reference
is then loaded only when needed (a keyword the mapping does not know, an
integer beyond 64 bits), which also keeps its ~8 MB out of a fresh server.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import SEARCH_LIMIT, Violation, Violations

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

try:  # optional accelerator, see the README's performance section
    import jsonschema_rs as _rs
except ImportError:  # pragma: no cover - depends on the environment
    _rs = None  # type: ignore[assignment]
# RFC 3339 date-time: "T"/"Z" in either case (its section 5.6 allows lowercase) or a space, a fraction
# of any length; the offset may be left out (Togai's own examples of effectiveOn leave it out, and
# the mock reads such a time as UTC). No leap second: Togai's Java services refuse second 60.
_DATE_TIME = re.compile(
    r"^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]"
    r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)


def _is_date_time(value: object) -> bool:
    """An RFC 3339 date-time of a real calendar day (no 31 June, no 29 February 2023, no year 0)."""
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.match(value)
    if match is None:
        return False
    year, month, day = match.group(1, 2, 3)
    if day <= "28":  # every month has it (the usual case: no calendar lookup, called per event of a batch)
        return year != "0000"
    return year != "0000" and int(day) <= calendar.monthrange(int(year), int(month))[1]


# The formats this spec relies on, checked alike by both engines.
_FORMATS: dict[str, Callable[[Any], bool]] = {"date-time": _is_date_time}


class SchemaInvalid(Exception):
    """A schema that is not valid JSON Schema (2020-12)."""


@cache
def _reference() -> tuple[Any, Any]:
    """The ``jsonschema`` validator class and format checker, imported on first use."""
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker(formats=())
    for name, check in _FORMATS.items():
        checker.checks(name)(check)
    return Draft202012Validator, checker


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
    return "must be " + " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in types)


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
# Instances with fewer values than this go to the compiled engine when invalid
# (listing ~1 000 errors there takes a few milliseconds).
_FAST_NODES = 1000


def _order(violation: Violation) -> tuple[bool, str, str]:
    # The engines walk schemas and instances in different orders; a fixed order
    # (unknown properties last, then by field) gives the same first message
    # whichever engine ran.
    return violation.rule == _UNKNOWN, violation.field, violation.rule


# Keywords that check one instance location without applying a subschema elsewhere: in a schema made
# only of these (and properties, items, additionalProperties), a format applies exactly where its path
# leads, so "valid with formats" is "valid without them, and each value on a format's path passes".
_PLAIN_KEYWORDS = frozenset({
    "type", "required", "enum", "const", "minLength", "maxLength", "pattern", "minItems", "maxItems",
    "uniqueItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minProperties",
    "maxProperties", "title", "description", "default", "example", "examples", "deprecated", "readOnly",
    "writeOnly", "$comment", "format",
})
Path = tuple[str | None, ...]  # property names; None: every item of an array


def _date_time_paths(schema: Any, here: Path = ()) -> list[Path] | None:
    """Where ``format: date-time`` applies in ``schema``; None when the schema is not that plain (another
    format, a keyword that applies subschemas elsewhere: ``$ref``, ``allOf``, ``patternProperties`` ...)."""
    if isinstance(schema, bool):
        return []
    if not isinstance(schema, dict):
        return None
    found: list[Path] = []
    for keyword, value in schema.items():
        if keyword == "format":
            if value != "date-time":
                return None
            found.append(here)
        elif keyword == "properties" and isinstance(value, dict):
            for name, inner in value.items():
                paths = _date_time_paths(inner, (*here, name))
                if paths is None:
                    return None
                found += paths
        elif keyword in ("items", "additionalProperties"):
            paths = _date_time_paths(value, (*here, None))
            if paths is None or (keyword == "additionalProperties" and paths):
                return None  # a format under additionalProperties: not on a fixed path
            found += paths
        elif keyword not in _PLAIN_KEYWORDS:
            return None
    return found


def _values_at(instance: Any, path: Path) -> list[Any]:
    """The values at ``path`` in ``instance`` (none where it has no such property or item)."""
    nodes = [instance]
    for step in path:
        if step is None:
            nodes = [item for node in nodes if isinstance(node, (list, tuple)) for item in node]
        else:
            nodes = [node[step] for node in nodes if isinstance(node, dict) and step in node]
    return nodes


class SchemaValidator:
    """A schema compiled once; reports :class:`Violation` objects."""

    __slots__ = ("schema", "_reference", "_fast", "_compiled", "_plain", "_date_times")

    def __init__(self, schema: dict[str, Any] | bool, *, lazy: bool = False) -> None:
        """Check ``schema`` against the meta-schema and compile it; raise :class:`SchemaInvalid`.

        ``lazy``: the schema is known to be valid (it was checked at an earlier
        start); compile it on first use.
        """
        self.schema = schema
        self._reference: Any = None
        self._fast: Any = None
        # A plain schema with date-times: the compiled engine without formats, then the date-time check
        # run here on each value at their paths (no call from the engine back to Python per value).
        self._plain: Any = None
        self._date_times: list[Path] = []
        self._compiled = False
        if not lazy:
            self._compile()

    def _compile(self) -> None:
        self._compiled = True
        schema = self.schema
        if _rs is not None and _rs.meta.is_valid(schema):
            self._fast = _rs.validator_for(schema, validate_formats=True, formats=_FORMATS)
            paths = _date_time_paths(schema)
            if paths:
                self._plain, self._date_times = _rs.validator_for(schema, validate_formats=False), paths
        else:
            # Without the accelerator, or to word the error of a schema it rejects.
            from jsonschema.exceptions import SchemaError

            try:
                self._py.check_schema(schema)
            except SchemaError as exc:
                raise SchemaInvalid(exc.message) from None

    @property
    def _py(self) -> Any:
        """The reference validator for this schema, built on first use."""
        if self._reference is None:
            validator_class, formats = _reference()
            self._reference = validator_class(self.schema, format_checker=formats)
        return self._reference

    def is_valid(self, instance: Any) -> bool:
        """True when ``instance`` satisfies the schema."""
        if not self._compiled:
            self._compile()
        if self._plain is not None:
            try:
                plain = bool(self._plain.is_valid(instance))
            except (ValueError, OverflowError):
                pass  # e.g. ints beyond 64 bits: let the reference decide
            else:
                return plain and all(all(map(_is_date_time, _values_at(instance, path))) for path in self._date_times)
        elif self._fast is not None:
            try:
                return bool(self._fast.is_valid(instance))
            except (ValueError, OverflowError):
                pass
        return bool(self._py.is_valid(instance))

    def violations(self, instance: Any, prefix: str = "", limit: int = SEARCH_LIMIT) -> Violations:
        """The rules ``instance`` breaks, sorted; empty when it is valid.

        At most ``limit`` of them: the search stops there and the result is
        marked incomplete, so a body breaking a rule 300 000 times costs
        milliseconds, not seconds.
        """
        if self.is_valid(instance):
            return Violations()
        explained: Iterable[Violation] | None = None
        # The compiled engine lists all errors at once, at a cost that grows
        # faster than their number; it gets only instances too small to
        # have many. The reference yields errors one by one and stops early.
        if self._fast is not None and _fewer_nodes_than(instance, _FAST_NODES):
            explained = self._rs_violations(instance, prefix)
        if explained is None:
            explained = (v for error in self._py.iter_errors(instance) for v in _explain_py(error, prefix))
        return _first(explained, limit)

    def reference_violations(self, instance: Any, prefix: str = "", limit: int = SEARCH_LIMIT) -> Violations:
        """:meth:`violations` as the pure-Python reference validator words them."""
        return _first((v for error in self._py.iter_errors(instance) for v in _explain_py(error, prefix)), limit)

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
            elif kw in _PHRASES:
                out.append(Violation(where or prefix or "body", _rule(kw, parent[kw], error.message)))
            else:
                return None  # a keyword this mapping does not know: ask the reference
        return out


def _first(explained: Iterable[Violation], limit: int) -> Violations:
    """The first ``limit`` distinct violations, sorted; incomplete when there were more."""
    found: dict[str, Violation] = {}
    complete = True
    for violation in explained:
        found.setdefault(str(violation), violation)
        if len(found) > limit:
            complete = False
            break
    return Violations(sorted(found.values(), key=_order)[:limit], complete)


def _fewer_nodes_than(instance: Any, limit: int) -> bool:
    """Whether ``instance`` has fewer than ``limit`` values and keys (stops counting there)."""
    count = 0
    stack = [instance]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            count += 2 * len(value)
            if count >= limit:
                return False
            stack.extend(value.values())
        elif isinstance(value, list):
            count += len(value)
            if count >= limit:
                return False
            stack.extend(value)
    return True


def _explain_py(error: ValidationError, prefix: str) -> Iterator[Violation]:
    where = join_path(prefix, error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict) and isinstance(error.validator_value, list):
        for name in error.validator_value:
            if name not in instance:
                yield Violation(join_path(where, [name]), "is required")
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict) and isinstance(error.schema, dict):
        known = error.schema.get("properties", {})
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        for key in instance:
            if key not in known and not any(p.search(key) for p in patterns):
                yield Violation(join_path(where, [key]), _UNKNOWN)
        return
    yield Violation(where or prefix or "body", _rule(str(error.validator), error.validator_value, error.message))


def field_rules(schemas: dict[str, Any]) -> Callable[[str, str, Any, str], list[Violation]]:
    """A checker of one field of a component schema, as the domain's ``Store.field_rules``.

    Each field's rule is compiled once, on first use.
    """

    @cache
    def compiled(schema: str, name: str) -> SchemaValidator:
        return SchemaValidator(schemas.get(schema, {}).get("properties", {}).get(name, {}))

    def check(schema: str, name: str, value: Any, path: str) -> list[Violation]:
        return list(compiled(schema, name).violations(value, path))

    return check
