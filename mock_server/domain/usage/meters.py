"""Usage meters: COUNT or SUM over the events of one event schema.

A meter's ``computations`` hold JSON-logic (as strings): each ``matcher``
and ``computation`` must compile with Togai's evaluator (:mod:`.jsonlogic`:
JSON, known operators, numbers within bounds, a worst case within the step
budget) before the meter is stored, and an import checks the same. The meter's
``eventSchemaName`` is kept beside it (the ``UsageMeter`` schema has no
field for it) and never shown, but exported (and checked on import).

Two indexes spare the request paths a scan of the meters:
``meters_by_schema`` (schema name -> meter ids) for ingestion and the
schema's lifecycle, ``meters_by_name`` (name -> meter ids) for the metrics'
filters. Meters are archived, never removed: creation, a PATCH and an
import's :func:`restore` are the writes that change them.

This module also holds the rule of the schema's lifecycle that reads its
meters (:func:`deactivate_schema`): meters refer to schemas, so that rule
is here and :mod:`.event_schemas` knows nothing of meters.
"""
from __future__ import annotations

from typing import Any

from ..core.cursors import paginate
from ..core.errors import Invalid, Violation
from ..core.lookup import require as lookup
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from . import event_schemas, jsonlogic

NAME = "usageMeters"
PARAM = "usage_meter_id"
IDS = IdScheme("um")
HIDDEN = ("eventSchemaName",)
BY_SCHEMA = "meters_by_schema"
BY_NAME = "meters_by_name"


def require(store: Store, meter_id: str) -> Record:
    """The meter in the path, or a :class:`NotFound`."""
    record: Record = lookup(store, NAME, meter_id, PARAM, "usage meter")
    return record


def logic_problem(text: Any) -> str | None:
    """Why ``text`` is not a JSON-logic expression Togai's evaluator takes within the budget, or None.

    Only compiled, never run against a made-up event: a date operator over a
    sample value would fail where real events pass.
    """
    if not isinstance(text, str):
        return "is not a JSON-logic expression: must be a string of JSON"
    try:
        jsonlogic.compile_logic(text)
    except jsonlogic.LogicError as error:
        return f"is not a JSON-logic expression: {error}"
    return None


def logic_problems(meter: dict[str, Any], prefix: str = "") -> list[Violation]:
    """The computations of ``meter`` that do not compile, each naming its field (after ``prefix``)."""
    out = []
    computations = meter.get("computations", [])
    for i, computation in enumerate(computations if isinstance(computations, list) else []):
        for key in ("matcher", "computation"):
            if isinstance(computation, dict) and key in computation:
                problem = logic_problem(computation[key])
                if problem is not None:
                    out.append(Violation(f"{prefix}computations[{i}].{key}", problem))
    return out


def _name_problems(store: Store, meter: dict[str, Any]) -> list[Violation]:
    """A meter's name keeps the rules of ``UsageMeter.name`` (a PATCH body allows a longer one)."""
    return store.field_problems("UsageMeter", "name", meter.get("name", ""), "name")


def problems(store: Store, meter: dict[str, Any]) -> list[Violation]:
    """Why ``meter`` (the record about to be written) cannot be stored."""
    out: list[Violation] = _name_problems(store, meter)
    schema_name = meter.get("eventSchemaName")
    if schema_name is None:
        out.append(Violation("eventSchemaName", "is required: a meter counts the events of one event schema"))
    elif event_schemas.latest(store, schema_name) is None:
        out.append(Violation("eventSchemaName", f"no event schema named {schema_name!r}"))
    computations = meter.get("computations", [])
    if len(computations) > 1:
        out.append(Violation("computations", "holds at most one computation"))
    out += logic_problems(meter)
    return out


def create(store: Store, body: dict[str, Any], status: str | None = None) -> Record:
    """A meter in ``status`` (DRAFT unless a fixture asks), once its schema and JSON-logic check out."""
    found = problems(store, body)
    if found:
        raise Invalid(found)
    now = store.clock.now()
    record = {**body, "id": store.new_id(IDS, store.collections[NAME]),
              "status": event_schemas.initial_status(status),
              "createdAt": now, "updatedAt": now}
    record.setdefault("displayName", record.get("billableName") or record["name"])
    if record["status"] == "ACTIVE":
        record["lastActivatedAt"] = now
    store.collections[NAME].add(record["id"], record)
    _index(store, record)
    return record


def _index(store: Store, record: Record) -> None:
    store.indexes[BY_SCHEMA].setdefault(record["eventSchemaName"], {})[record["id"]] = None
    store.indexes[BY_NAME].setdefault(record["name"], {})[record["id"]] = None


def _reindex(store: Store, record: Record, changed: dict[str, Any]) -> None:
    """Move a meter in the indexes whose key ``changed`` (the meter as it will be) alters.

    An unchanged key keeps the meter where it is: ``of_schema``'s order is the order events list their meters in.
    """
    for index, field_name in ((BY_SCHEMA, "eventSchemaName"), (BY_NAME, "name")):
        old, new = record[field_name], changed[field_name]
        if old == new:
            continue
        ids = store.indexes[index].get(old)
        if ids is not None:
            ids.pop(record["id"], None)
            if not ids:
                del store.indexes[index][old]
        store.indexes[index].setdefault(new, {})[record["id"]] = None


def of_schema(store: Store, schema_name: str) -> list[Record]:
    """The meters that count the events of ``schema_name``, oldest first."""
    meters = store.collections[NAME].items
    return [meters[m] for m in store.indexes[BY_SCHEMA].get(schema_name, ())]


def count_of_schema(store: Store, schema_name: str) -> int:
    """How many meters count the events of ``schema_name`` (``usageMetersCount``)."""
    return len(store.indexes[BY_SCHEMA].get(schema_name, ()))


def named(store: Store, name: str) -> list[str]:
    """The ids of the meters called ``name``, oldest first."""
    return list(store.indexes[BY_NAME].get(name, ()))


def page(
    store: Store, status: str | None, aggregation: str | None, next_token: str | None, page_size: int | None
) -> tuple[list[Record], dict[str, Any]]:
    """One page of the meters (in ``status`` and of ``aggregation``, when given), and the paging fields."""

    def keep(r: Record) -> bool:
        return (status is None or r["status"] == status) and (aggregation is None or r["aggregation"] == aggregation)

    return paginate(store.collections[NAME], next_token, page_size, keep=keep)


def update(store: Store, meter_id: str, changes: dict[str, Any]) -> Record:
    """A PATCH: the same checks as creation on the changed meter."""
    record = require(store, meter_id)
    if record["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"usage meter {record['id']!r} is archived and cannot be changed")
    changed = {**dict(record), **changes}
    found = problems(store, changed)
    if found:
        raise Invalid(found)
    _reindex(store, record, changed)
    record.update(changes)
    record["displayName"] = record.get("billableName") or record["name"]
    record["updatedAt"] = store.clock.now()
    return record


def move(store: Store, meter_id: str, to: str, allowed: tuple[str, ...]) -> Record:
    """The meter goes to status ``to``, from one of ``allowed``."""
    record = require(store, meter_id)
    if record["status"] not in allowed:
        raise Invalid.at(PARAM, f"usage meter {record['id']!r} is {record['status']}; cannot become {to}")
    record["status"] = to
    record["updatedAt"] = now = store.clock.now()
    if to == "ACTIVE":
        record["lastActivatedAt"] = now
    return record


def activate(store: Store, meter_id: str) -> Record:
    """A DRAFT or INACTIVE meter becomes ACTIVE."""
    return move(store, meter_id, "ACTIVE", ("DRAFT", "INACTIVE"))


def deactivate(store: Store, meter_id: str) -> Record:
    """An ACTIVE meter becomes INACTIVE."""
    return move(store, meter_id, "INACTIVE", ("ACTIVE",))


def archive(store: Store, meter_id: str) -> Record:
    """``DELETE``: the meter is archived."""
    return move(store, meter_id, "ARCHIVED", ("DRAFT", "ACTIVE", "INACTIVE"))


def deactivate_schema(store: Store, schema_name: str) -> Record:
    """An ACTIVE schema becomes INACTIVE once none of its meters is ACTIVE (Togai's rule)."""
    active = [m["id"] for m in of_schema(store, schema_name) if m["status"] == "ACTIVE"]
    if active:
        raise Invalid.at(event_schemas.PARAM, f"event schema {schema_name!r} has ACTIVE usage meters "
                                              f"({', '.join(active)}); deactivate them first")
    return event_schemas.move(store, schema_name, "INACTIVE", ("ACTIVE",))


def check_import(ctx: ImportContext) -> None:
    """Each meter names an event schema of the document, and its JSON-logic compiles within the budget
    (what creation makes sure of: an import never stores what a request would refuse)."""
    schemas = {s.get("name") for s in ctx.data.get(event_schemas.NAME, [])}
    for i, meter in enumerate(ctx.data[NAME]):
        ctx.problems.extend(logic_problems(meter, f"{NAME}[{i}]."))
        name, where = meter.get("eventSchemaName"), f"{NAME}[{i}].eventSchemaName"
        if name is None:
            ctx.problems.append(Violation(where, "is required: a meter counts the events of one schema"))
        elif name not in schemas:
            ctx.problems.append(Violation(where, f"no event schema named {name!r}"))


def restore(store: Store, meter: dict[str, Any]) -> None:
    """Insert an imported meter and index it by its schema and name."""
    store.collections[NAME].add(meter["id"], dict(meter))
    store.reserved.add(meter["id"])
    _index(store, meter)


RESOURCE = Resource(
    name=NAME,
    schema="UsageMeter",
    ids=IDS,
    derived={"displayName": lambda r: r.get("billableName") or r["name"]},
    indexes=(BY_SCHEMA, BY_NAME),
    exchange=Exchange(
        hidden={"eventSchemaName": {"type": "string", "maxLength": 50}},
        not_exported=("eventSchema",),  # shown by GET /usage_meters/{id}?includeSchema, never stored
        check_import=check_import,
        restore=restore,
    ),
)
