"""Usage meters run for real on an event: filters, then the first matching JSON-logic computation.

A meter is compiled once (its filters split, its JSON-logic parsed, its
computations in ``order``) and kept in the store's ``compiled_meters`` index
until it changes. Evaluation is Togai's (:mod:`.jsonlogic`: its fork of
json-logic-java on BigDecimal, compiled to closures). Attribute values reach
the expressions as ``Decimal``; an event whose attribute value is out of
bounds (more than 38 significant digits, an exponent beyond 100) is
``UNITS_INVALID`` before any meter runs, and so is one whose units are past
:data:`MAX_UNITS_EXPONENT` (either way round), or whose evaluation fails or
runs out of its step budget.

An expression is a pure function of the fields its ``var``\\ s name. When
they are all fixed names (the usual case), a meter remembers its outcome
for each combination of their values it has seen (a bounded table), so a
batch of similar events runs the library once per distinct combination,
and events with the same units share one units string.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from ..core.store import Record, Store
from . import enrichment, event_schemas, jsonlogic
from . import meters as usage_meters

COMPILED = "compiled_meters"  # index: meter id -> CompiledMeter
# Index: the ACTIVE meters of a schema (their CompiledMeter objects, which a change of a meter replaces) ->
# the outcomes they gave, by an event's attributes and dimensions: kept from request to request.
OUTCOMES = "meter_outcomes"
ONE = "1"  # a COUNT meter's units
# Outcomes a meter remembers, per meter; past it the table starts over.
MEMO_SIZE = 4096
Units = str | None  # an exact decimal numeral (Decimal(units) is exact), or None: filtered out
_VAR_OPS = frozenset({"var"})
_DATA_OPS = frozenset({"missing", "missing_some"})  # read the data without naming a fixed field
# Units a meter may give: below 10**100 and at most 100 decimals (the aggregates sum them scaled to an int).
MAX_UNITS_EXPONENT = 100
# An attribute value longer than this has more digits or a larger exponent than any bounded number.
_VALUE_CHARS = jsonlogic.MAX_DIGITS + jsonlogic.MAX_EXPONENT + 3


def bounded_value(text: str) -> bool:
    """Whether an event's attribute value is a number within :func:`jsonlogic.bounded` (cheap on any length)."""
    if len(text) > _VALUE_CHARS:
        return False
    try:
        return jsonlogic.bounded(Decimal(text))
    except InvalidOperation:
        return False


def bounded_units(units: Decimal) -> bool:
    """Units the aggregates can hold: finite, below ``10**100``, at most 100 decimals."""
    return (units.is_finite() and units.adjusted() < MAX_UNITS_EXPONENT
            and units.as_tuple().exponent >= -MAX_UNITS_EXPONENT)  # type: ignore[operator]


class Unmeasurable(Exception):
    """A meter's expression gave no finite number for an event."""


Field = tuple[str, str]  # ("attribute" | "dimension", name)


def fields_read(logic: Any) -> set[Field] | None:
    """The fields a JSON-logic expression reads, or None when they are not all fixed names."""
    if isinstance(logic, list):
        found: set[Field] = set()
        for item in logic:
            inner = fields_read(item)
            if inner is None:
                return None
            found |= inner
        return found
    if not isinstance(logic, dict) or len(logic) != 1:
        return set()
    op, args = next(iter(logic.items()))
    if op in _DATA_OPS:
        return None
    if op in _VAR_OPS:
        path = args[0] if isinstance(args, list) and args else args
        if isinstance(args, list) and len(args) > 1 and fields_read(args[1]) is None:
            return None
        if not isinstance(path, str) or path.count(".") != 1:
            return None
        kind, name = path.split(".")
        return {(kind, name)} if kind in ("attribute", "dimension") and name else None
    return fields_read(args)


class CompiledMeter:
    """A meter ready to run: filters as (kind, name, value), computations as parsed (matcher, computation)."""

    __slots__ = ("id", "source", "count", "filters", "computations", "reads", "memo")

    def __init__(self, meter: Record) -> None:
        self.id: str = meter["id"]
        self.source = source(meter)
        self.count = meter["aggregation"] == "COUNT"
        filters = []
        for entry in meter.get("filters", []):
            kind, _, name = entry["field"].partition(".")
            if not name:  # a bare name is a dimension (the schema's filterFields are dimensions)
                kind, name = "dimension", kind
            # An attribute filter compares numbers: its value read once (None: no event matches it).
            value: Any = entry["value"]
            if kind == "attribute":
                value = Decimal(value) if bounded_value(value) else None
            filters.append((kind, name, value))
        self.filters = tuple(filters)
        ordered = sorted(meter.get("computations", []), key=lambda c: c["order"])
        self.computations = tuple(
            (jsonlogic.compile_logic(c["matcher"]) if c.get("matcher") else None,
             jsonlogic.compile_logic(c["computation"])) for c in ordered
        )
        reads: set[Field] | None = {(kind, name) for kind, name, _ in self.filters}
        for c in ordered:
            for logic in (json.loads(c["matcher"]) if c.get("matcher") else None, json.loads(c["computation"])):
                inner = fields_read(logic)
                reads = None if inner is None or reads is None else reads | inner
        self.reads = None if reads is None else tuple(sorted(reads))
        self.memo: dict[tuple[str | None, ...], Units | Unmeasurable] = {}

    def units(self, attributes: dict[str, str], dimensions: dict[str, str]) -> Units:
        """The event's units on this meter, or None when it is filtered out; :class:`Unmeasurable` if invalid."""
        if self.reads is None:
            return self._evaluate(attributes, dimensions)
        key = tuple((attributes if kind == "attribute" else dimensions).get(name) for kind, name in self.reads)
        found = self.memo.get(key, _MISSING)
        if found is _MISSING:
            try:
                found = self._evaluate(attributes, dimensions)
            except Unmeasurable as error:
                found = error
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            self.memo[key] = found
        if isinstance(found, Unmeasurable):
            raise found
        units: Units = found
        return units

    def _passes(self, attributes: dict[str, str], dimensions: dict[str, str]) -> bool:
        """Whether the event has every field the filters ask for, with their value."""
        for kind, name, value in self.filters:
            if kind == "attribute":
                found = attributes.get(name)
                if found is None or value is None or Decimal(found) != value:  # values are bounded already
                    return False
            elif dimensions.get(name) != value:
                return False
        return True

    def _evaluate(self, attributes: dict[str, str], dimensions: dict[str, str]) -> Units:
        if not self._passes(attributes, dimensions):
            return None
        if not self.computations:
            return ONE if self.count else None
        data = {"attribute": {name: Decimal(value) for name, value in attributes.items()}, "dimension": dimensions}
        for matcher, computation in self.computations:
            try:
                if matcher is not None and not jsonlogic.truthy(matcher(data)):
                    continue
                value = computation(data)
            except Exception as error:  # noqa: BLE001 - any failure of an evaluation is the event's outcome
                raise Unmeasurable(str(error)) from None
            units = exact(value)
            if not bounded_units(units):
                raise Unmeasurable("units beyond 10**100 or with more than 100 decimals")
            return ONE if self.count else _numeral(units, attributes)
        return None


_MISSING: Any = object()


def _numeral(units: Decimal, attributes: dict[str, str]) -> str:
    """``units`` as a numeral; the attribute's own string when it is one of them (shared, not copied)."""
    text = str(units)
    for value in attributes.values():
        if value == text:
            return value
    return text


def exact(value: Any) -> Decimal:
    """A computation's result as an exact number; :class:`Unmeasurable` when it is none.

    Not :func:`core.money.exact`: a computation may give a boolean, an
    infinity or text, which are an event's ``UNITS_INVALID``, not a number.
    """
    if isinstance(value, bool):
        raise Unmeasurable("a boolean is not a number of units")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Unmeasurable("not a finite number")
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = jsonlogic.big_decimal(value)
        except ValueError:
            raise Unmeasurable(f"{value[:40]!r} is not a number") from None
    else:
        raise Unmeasurable("not a number")
    if not result.is_finite():
        raise Unmeasurable("not a finite number")
    return result


def units_json(units: Decimal) -> int | float:
    """An event's units as a JSON number: an int when whole, at any size; else the nearest float.

    Not :func:`core.money.to_json`, which writes a whole number past 2**53 as a
    float: units are exported with the event and read back on import, and
    must come back as they were.
    """
    return int(units) if units == units.to_integral_value() else float(units)


def source(meter: Record) -> tuple[Any, ...]:
    """What a compiled meter is made from: compiled again when it differs (a PATCH)."""
    return meter["aggregation"], json.dumps(meter.get("filters")), json.dumps(meter.get("computations"))


def compiled(store: Store, meter: Record) -> CompiledMeter:
    """The meter compiled, from the index unless it changed since."""
    cache: dict[str, CompiledMeter] = store.indexes[COMPILED]
    found = cache.get(meter["id"])
    if found is None or found.source != source(meter):
        found = cache[meter["id"]] = CompiledMeter(meter)
    return found


class ActiveSchema:
    """An event schema's ACTIVE version and its ACTIVE meters, compiled.

    For one request it remembers the outcome of each event's attributes and
    dimensions (the only input of a meter): equal events cost one dict
    lookup, and share one tuple of units.
    """

    __slots__ = ("version", "meters", "meter_ids", "_seen", "template", "enricher")

    def __init__(self, version: int, meters: list[CompiledMeter], template: str | None = None,
                 enricher: enrichment.Enricher | None = None,
                 seen: dict[tuple[tuple[str | None, ...], tuple[str, ...]], tuple[Units, ...] | None] | None = None,
                 ) -> None:
        self.version = version
        self.meters = meters
        self.template = template  # eventIdTemplate: builds the event's id at ingestion
        self.enricher = enricher
        self.meter_ids = tuple(m.id for m in meters)  # one tuple, shared by the events it meters
        # ``seen``: the outcomes these meters gave before (the store's OUTCOMES index), else this request's own
        self._seen: dict[tuple[tuple[str | None, ...], tuple[str, ...]], tuple[Units, ...] | None] = (
            {} if seen is None else seen)

    def meter(self, attributes: tuple[str | None, ...], dimensions: tuple[str, ...]) -> tuple[Units, ...] | None:
        """Each meter's units for an event, in :attr:`meter_ids` order; None when a meter cannot measure it.

        ``attributes`` and ``dimensions`` are an :class:`~.events.Event`'s flat tuples.
        """
        key = (attributes, dimensions)
        found = self._seen.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        outcome: tuple[Units, ...] | None = ()
        if not all(bounded_value(attributes[i]) for i in range(1, len(attributes), 3)):  # type: ignore[arg-type]
            outcome = None  # Togai's INGESTION_FAILED_UNITS_INVALID: a value no BigDecimal column holds
        elif self.meters:
            by_name = {attributes[i]: attributes[i + 1] for i in range(0, len(attributes), 3)}
            dims = {dimensions[i]: dimensions[i + 1] for i in range(0, len(dimensions), 2)}
            try:
                outcome = tuple([m.units(by_name, dims) for m in self.meters])  # type: ignore[arg-type]
            except Unmeasurable:
                outcome = None
        if len(self._seen) >= MEMO_SIZE:
            self._seen.clear()
        self._seen[key] = outcome
        return outcome


class Batch:
    """What one request's events share: each schema and each account looked up once."""

    __slots__ = ("store", "_schemas", "_accounts", "tuples")

    def __init__(self, store: Store) -> None:
        self.store = store
        self._schemas: dict[str, ActiveSchema | None] = {}
        self._accounts: dict[str, tuple[str, str] | None] = {}
        # An event's attribute or dimension tuple as sent -> the interned one the request's events share.
        self.tuples: dict[tuple[str | None, ...], tuple[str | None, ...]] = {}

    def account(self, name: str) -> tuple[str, str] | None:
        """The id and customer of the account ``name`` (an id or an alias) names; None if none or archived."""
        found: tuple[str, str] | None = self._accounts.get(name, _MISSING)
        if found is not _MISSING:
            return found
        accounts = self.store.collections["accounts"]
        account = accounts.get(name)
        if account is None:
            owner = self.store.indexes["alias_owner"].get(name)
            account = accounts.get(owner) if owner is not None else None
        found = None if account is None or account["status"] == "ARCHIVED" else (account["id"], account["customerId"])
        self._accounts[name] = found
        return found

    def schema(self, name: str) -> ActiveSchema | None:
        """The ACTIVE version of ``name`` with its ACTIVE meters, or None when no version is ACTIVE."""
        known: ActiveSchema | None = self._schemas.get(name, _MISSING)
        if known is not _MISSING:
            return known
        active = next((v for v in event_schemas.versions(self.store, name) if v["status"] == "ACTIVE"), None)
        found = None
        if active is not None:
            meters = [compiled(self.store, m) for m in usage_meters.of_schema(self.store, name)
                      if m["status"] == "ACTIVE"]
            memos: dict[Any, Any] = self.store.indexes[OUTCOMES]  # keyed by a tuple of CompiledMeter
            if len(memos) >= MEMO_SIZE:  # meters replaced many times over: the old ones' outcomes go
                memos.clear()
            seen = memos.setdefault(tuple(meters), {})
            found = ActiveSchema(active["version"], meters, active.get("eventIdTemplate") or None,
                                 enrichment.enricher(active), seen)
        self._schemas[name] = found
        return found
