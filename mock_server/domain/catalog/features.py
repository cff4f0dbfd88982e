"""Features: what entitlements grant; linked to event schemas by ``schemaAssociations``.

Features are written by the generic handlers (created and updated, never
deleted or archived: Togai has no way to) and by the import. The index
:data:`BY_SCHEMA` (schema name -> positions, ascending, of the features
linked to it) lets ``POST /entitled`` find the features an event consumes
without reading the whole catalogue; :func:`on_write` keeps it on every
write. Positions, not ids: the features in collection order, as a scan
met them, so an event's problems and consumption keep their order.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Any

from ..core.resource import IdScheme, Resource, Writes
from ..core.store import Store

NAME = "features"
BY_SCHEMA = "features_by_schema"  # index: schema name -> positions of the features linked to it, ascending


def schema_count(record: dict[str, Any]) -> int:
    """How many event schemas a feature is linked to (each counted once)."""
    return len({a["schemaName"] for a in record["schemaAssociations"]})


def _schemas(record: dict[str, Any] | None) -> set[str]:
    return set() if record is None else {a["schemaName"] for a in record.get("schemaAssociations", [])}


def on_write(store: Store, record: dict[str, Any], before: dict[str, Any] | None) -> None:
    """Keep :data:`BY_SCHEMA` in step with a created, updated or imported feature."""
    old, new = _schemas(before), _schemas(record)
    if old == new:
        return
    collection = store.collections[NAME]
    last = len(collection) - 1
    # A new feature is the last one (features are never removed); otherwise find it (a small catalogue).
    position = last if collection.holds_at(last, record["id"]) else collection.position_of(record["id"])
    assert position is not None  # written just now
    index: dict[str, list[int]] = store.indexes[BY_SCHEMA]
    for schema in old - new:
        positions = index[schema]
        positions.remove(position)
        if not positions:
            del index[schema]
    for schema in new - old:
        positions = index.setdefault(schema, [])
        at = bisect_left(positions, position)
        if at == len(positions) or positions[at] != position:
            positions.insert(at, position)


def linked_to(store: Store, schema_name: str) -> list[dict[str, Any]]:
    """The features linked to ``schema_name``, in the order they were created (an index, not a scan)."""
    collection = store.collections[NAME]
    return [collection.items[collection.key_at(p)] for p in store.indexes[BY_SCHEMA].get(schema_name, ())]


RESOURCE = Resource(
    name=NAME,
    schema="Feature",
    ids=IdScheme("feature"),
    derived={"displayName": lambda r: r.get("billableName") or r["name"]},
    indexes=(BY_SCHEMA,),
    writes=Writes(
        on_write=on_write,
    ),
)
