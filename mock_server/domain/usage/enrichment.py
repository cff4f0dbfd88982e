"""An event schema's ``eventIdTemplate`` and ``enrichments``, applied at ingestion.

Togai documents both on the schema (docs.togai.com/docs/event-ingestion,
/docs/event-enrichments, /docs/enriched-values); neither documents a template
syntax, so the mock reads ``{{name}}`` placeholders: ``{{timestamp}}``,
``{{accountId}}``, ``{{schemaName}}``, ``{{id}}``, ``{{attribute.<name>}}``,
``{{dimension.<name>}}``; other text is kept as it is.

Enrichment fields run in ``order``; each adds (or replaces) an attribute or
a dimension that later fields and the meters read. ``VALUE`` is the value
itself, ``JSON_LOGIC`` an expression over ``attribute.*``, ``dimension.*`` and
``dependencies.<name>``, ``JSON_LOGIC_FROM_DEPENDENCY`` the expression a
dependency holds (a JSON_LOGIC setting). A dependency is a setting
(``setting.<namespace>.<id>``) of the event's account, else its customer,
else the organisation (:func:`.org_settings.dependency`).
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from ..core.errors import Violation
from ..core.store import Record, Store
from . import jsonlogic, org_settings

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
Flat = tuple[str | None, ...]


class Failed(Exception):
    """An enrichment could not be applied: Togai's ``INGESTION_FAILED_ENRICHMENT_FAILED``."""


def event_id(template: str, payload: dict[str, Any]) -> str | None:
    """The id ``template`` builds from an event's payload; None when it names a field the event lacks."""
    attributes = {a["name"]: a["value"] for a in payload["attributes"]}
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        kind, _, rest = name.partition(".")
        found: Any = (attributes.get(rest) if kind == "attribute" else
                      payload["dimensions"].get(rest) if kind == "dimension" else
                      payload.get(name) if name in ("timestamp", "accountId", "schemaName", "id") else None)
        if found is None:
            missing = True
            return ""
        return str(found)

    built = _PLACEHOLDER.sub(value, template)
    return None if missing or not built else built


def problems(enrichments: dict[str, Any], where: str = "enrichments") -> list[Violation]:
    """Why a schema's enrichments cannot run: a JSON-logic value that does not compile, a dependency
    field naming no dependency, a name given twice."""
    out: list[Violation] = []
    names = [d["name"] for d in enrichments.get("dependencies", [])]
    for i, name in enumerate(names):
        if name in names[:i]:
            out.append(Violation(f"{where}.dependencies[{i}].name", "is given twice"))
    fields = enrichments.get("fields", [])
    for i, field in enumerate(fields):
        at = f"{where}.fields[{i}]"
        if any((f["type"], f["name"]) == (field["type"], field["name"]) for f in fields[:i]):
            out.append(Violation(f"{at}.name", "is given twice"))
        if field["enrichmentType"] == "JSON_LOGIC":
            try:
                jsonlogic.compile_logic(field["value"])
            except jsonlogic.LogicError as error:
                out.append(Violation(f"{at}.value", f"is not a JSON-logic expression: {error}"))
        elif field["enrichmentType"] == "JSON_LOGIC_FROM_DEPENDENCY" and field["value"] not in names:
            out.append(Violation(f"{at}.value", f"names no dependency ({', '.join(names) or 'none declared'})"))
    return out


class Enricher:
    """A schema's enrichments, compiled once per request."""

    __slots__ = ("dependencies", "fields")

    def __init__(self, enrichments: dict[str, Any]) -> None:
        self.dependencies = [(d["name"], d["key"]) for d in enrichments.get("dependencies", [])]
        self.fields: list[tuple[str, str, str, Any]] = []
        for field in sorted(enrichments.get("fields", []), key=lambda f: f["order"]):
            kind = field["enrichmentType"]
            run = jsonlogic.compile_logic(field["value"]) if kind == "JSON_LOGIC" else field["value"]
            self.fields.append((field["name"], field["type"], kind, run))

    def apply(self, store: Store, attributes: Flat, dimensions: tuple[str, ...], account: str,
              customer: str) -> tuple[Flat, tuple[str, ...]]:
        """The event's attributes and dimensions (flat tuples) with the enriched fields; :class:`Failed`."""
        attrs: dict[str, tuple[str, str | None]] = {
            str(attributes[i]): (str(attributes[i + 1]), attributes[i + 2]) for i in range(0, len(attributes), 3)}
        dims = {dimensions[i]: dimensions[i + 1] for i in range(0, len(dimensions), 2)}
        deps: dict[str, Any] = {}
        for name, key in self.dependencies:
            try:
                deps[name] = org_settings.dependency(store, key, account, customer)
            except (KeyError, ValueError) as error:
                raise Failed(f"dependency {name!r}: no setting {key!r} for the account") from error
        data: dict[str, Any] = {"attribute": {n: Decimal(v) for n, (v, _) in attrs.items()}, "dimension": dims,
                                "dependencies": {n: _decimals(v) for n, v in deps.items()}}
        for name, field_type, kind, run in self.fields:
            if kind == "VALUE":
                result: Any = run
            else:
                program = run if kind == "JSON_LOGIC" else _program(deps[run])
                try:
                    result = program(data)
                except jsonlogic.EvalError as error:
                    raise Failed(f"{name}: {error}") from None
            text = _text(result)
            if field_type == "ATTRIBUTE":
                try:
                    number = Decimal(text) if text is not None else None
                except ArithmeticError:
                    number = None
                if number is None or not number.is_finite():
                    raise Failed(f"{name}: {result!r} is not a number (an attribute's value)")
                attrs[name] = (text, attrs.get(name, ("", None))[1])  # type: ignore[assignment]
                data["attribute"][name] = number
            else:
                if text is None:
                    raise Failed(f"{name}: the expression gave no value")
                dims[name] = text
                data["dimension"][name] = text
        flat_attrs: list[str | None] = []
        for n, (v, unit) in attrs.items():
            flat_attrs += (n, v, unit)
        flat_dims: list[str] = []
        for n, v in dims.items():
            flat_dims += (n, v)
        return tuple(flat_attrs), tuple(flat_dims)


def _decimals(value: Any) -> Any:
    """A dependency's value as the evaluator reads it: a numeral string stays text, JSON numbers are exact."""
    return jsonlogic.parse(json.dumps(value)) if not isinstance(value, str) else value


def _program(logic: Any) -> jsonlogic.Program:
    try:
        return jsonlogic.compile_logic(json.dumps(logic))
    except jsonlogic.LogicError as error:
        raise Failed(f"the dependency's expression: {error}") from None


def _text(value: Any) -> str | None:
    """A JSON-logic value as an event field's text (Java's toString of it); None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f") if value == value.to_integral_value() or abs(value.adjusted()) < 20 else str(value)
    return str(value)


def enricher(record: Record) -> Enricher | None:
    """The compiled enrichments of a schema version, None when it has none."""
    found = record.get("enrichments")
    return Enricher(found) if found and found.get("fields") else None
