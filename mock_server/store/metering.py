"""Usage meters run for real on an event: filters, then the first matching JSON-logic computation.

A meter is compiled once (its filters split, its JSON-logic parsed, its
computations in ``order``) and kept in the store's ``compiled_meters`` index
until it changes. Evaluation uses the JSON-logic library the meters were
checked with at creation (panzi-json-logic). Attribute values reach the
expressions as ``Decimal``: a computation that reads an attribute
(``{"var": "attribute.distance"}``) gives its exact value; arithmetic
inside an expression is JSON-logic's, in binary floating point (as in
JavaScript), read back through the shortest ``repr``.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from json_logic import jsonLogic
from json_logic.builtins import to_bool

from . import event_schemas, usage_meters
from .state import Record, Store

COMPILED = "compiled_meters"  # index: meter id -> CompiledMeter
ONE = Decimal(1)  # shared: a COUNT meter's units (one object for a million events)
Outcome = tuple[tuple[str, Decimal | None], ...]


class Unmeasurable(Exception):
    """A meter's expression gave no finite number for an event."""


class CompiledMeter:
    """A meter ready to run: filters as (kind, name, value), computations as parsed (matcher, computation)."""

    __slots__ = ("id", "source", "count", "filters", "computations")

    def __init__(self, meter: Record) -> None:
        self.id: str = meter["id"]
        self.source = source(meter)
        self.count = meter["aggregation"] == "COUNT"
        filters = []
        for entry in meter.get("filters", []):
            kind, _, name = entry["field"].partition(".")
            if not name:  # a bare name is a dimension (the schema's filterFields are dimensions)
                kind, name = "dimension", kind
            filters.append((kind, name, entry["value"]))
        self.filters = tuple(filters)
        ordered = sorted(meter.get("computations", []), key=lambda c: c["order"])
        self.computations = tuple(
            (json.loads(c["matcher"]) if c.get("matcher") else None, json.loads(c["computation"])) for c in ordered
        )

    def passes(self, data: dict[str, dict[str, Any]]) -> bool:
        """Whether the event has every field the filters ask for, with their value."""
        for kind, name, value in self.filters:
            found = data.get(kind, {}).get(name)
            if found is None:
                return False
            if isinstance(found, Decimal):
                try:
                    if found != Decimal(value):
                        return False
                except InvalidOperation:
                    return False
            elif found != value:
                return False
        return True

    def units(self, data: dict[str, dict[str, Any]]) -> Decimal | None:
        """The event's units on this meter, or None when it is filtered out; :class:`Unmeasurable` if invalid."""
        if not self.passes(data):
            return None
        if not self.computations:
            return ONE if self.count else None
        for matcher, computation in self.computations:
            try:
                if matcher is not None and not to_bool(jsonLogic(matcher, data)):
                    continue
                value = jsonLogic(computation, data)
            except Exception as error:  # noqa: BLE001 - the library's failure is the event's outcome
                raise Unmeasurable(str(error)) from None
            units = exact(value)
            return ONE if self.count else units
        return None


def exact(value: Any) -> Decimal:
    """A computation's result as an exact number; :class:`Unmeasurable` when it is none."""
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
            result = Decimal(value)
        except InvalidOperation:
            raise Unmeasurable(f"{value!r} is not a number") from None
    else:
        raise Unmeasurable("not a number")
    if not result.is_finite():
        raise Unmeasurable("not a finite number")
    return result


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
    """An event schema's ACTIVE version and its ACTIVE meters, compiled."""

    __slots__ = ("version", "meters")

    def __init__(self, version: int, meters: list[CompiledMeter]) -> None:
        self.version = version
        self.meters = meters

    def meter(self, attributes: tuple[tuple[str, str, str | None], ...],
              dimensions: tuple[tuple[str, str], ...]) -> tuple[tuple[str, Decimal | None], ...] | None:
        """Each meter's units for an event (None: filtered out); None altogether when a meter cannot measure it."""
        if not self.meters:
            return ()
        data: dict[str, dict[str, Any]] = {"attribute": {name: _decimal(value) for name, value, _ in attributes},
                                           "dimension": dict(dimensions)}
        try:
            return tuple((m.id, m.units(data)) for m in self.meters)
        except Unmeasurable:
            return None


def _decimal(value: str) -> Decimal:
    return Decimal(value)  # the contract's pattern makes every attribute value a decimal number


class Batch:
    """What one request's events share: each schema looked up once."""

    __slots__ = ("store", "_schemas")

    def __init__(self, store: Store) -> None:
        self.store = store
        self._schemas: dict[str, ActiveSchema | None] = {}

    def schema(self, name: str) -> ActiveSchema | None:
        """The ACTIVE version of ``name`` with its ACTIVE meters, or None when no version is ACTIVE."""
        if name in self._schemas:
            return self._schemas[name]
        active = next((v for v in event_schemas.versions(self.store, name) if v["status"] == "ACTIVE"), None)
        found = None
        if active is not None:
            meters = [compiled(self.store, m) for m in usage_meters.of_schema(self.store, name)
                      if m["status"] == "ACTIVE"]
            found = ActiveSchema(active["version"], meters)
        self._schemas[name] = found
        return found
