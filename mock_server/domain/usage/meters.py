"""Usage meters: COUNT or SUM over the events of one event schema.

A meter's ``computations`` hold JSON-logic (as strings): each ``matcher``
and ``computation`` must parse and evaluate, with a maintained JSON-logic
library, against a sample event before the meter is stored. The meter's
``eventSchemaName`` is kept beside it (the ``UsageMeter`` schema has no
field for it) and never shown, but exported (and checked on import).
The index ``meters_by_schema`` (schema name -> meter ids) spares ingestion
and the schema's lifecycle a scan of the meters.
"""
from __future__ import annotations

import json
from typing import Any

from json_logic import jsonLogic

from ...bindings.call import Call  # TEMPORARY: handlers move to mock_server/bindings
from ..core.cursors import paginate
from ..core.errors import Invalid, NotFound, Violation
from ..core.resource import IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from . import event_schemas

NAME = "usageMeters"
PARAM = "usage_meter_id"
IDS = IdScheme("um")
HIDDEN = ("eventSchemaName",)
BY_SCHEMA = "meters_by_schema"
# What a computation is evaluated against at creation: the shape of an event Togai meters.
SAMPLE_EVENT: dict[str, Any] = {"attribute": {}, "dimension": {}}


def require(store: Store, meter_id: str) -> Record:
    """The meter in the path, or a 404."""
    record: Record | None = store.collections[NAME].get(meter_id)
    if record is None:
        raise NotFound.at(PARAM, f"no usage meter with id {meter_id!r}")
    return record


def render(record: Record) -> dict[str, Any]:
    """A meter as the API shows it."""
    return {k: v for k, v in dict(record).items() if k not in HIDDEN}


def logic_problem(text: str, event: dict[str, Any]) -> str | None:
    """Why ``text`` is not an evaluable JSON-logic expression, or None."""
    try:
        jsonLogic(json.loads(text), event)
    except Exception as error:  # noqa: BLE001 - any failure of the library means "not evaluable"
        return f"is not a JSON-logic expression: {error}"
    return None


def sample_event(store: Store, schema_name: str | None) -> dict[str, Any]:
    """An event of the schema, every attribute 1 and every dimension ``"x"``."""
    schema = event_schemas.latest(store, schema_name) if schema_name else None
    if schema is None:
        return SAMPLE_EVENT
    return {"attribute": {a["name"]: 1 for a in schema.get("attributes", [])},
            "dimension": {d["name"]: "x" for d in schema.get("dimensions", [])}}


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
    event = sample_event(store, schema_name)
    for i, computation in enumerate(computations):
        for key in ("matcher", "computation"):
            if key in computation:
                problem = logic_problem(computation[key], event)
                if problem is not None:
                    out.append(Violation(f"computations[{i}].{key}", problem))
    return out


def create(store: Store, call: Call) -> dict[str, Any]:
    """``POST /usage_meters``: a DRAFT meter, once its schema and JSON-logic check out."""
    found = problems(store, call.body)
    if found:
        raise Invalid(found)
    now = store.clock.now()
    record = {**call.body, "id": store.new_id(IDS, store.collections[NAME]),
              "status": event_schemas.initial_status(call),
              "createdAt": now, "updatedAt": now}
    record.setdefault("displayName", record.get("billableName") or record["name"])
    if record["status"] == "ACTIVE":
        record["lastActivatedAt"] = now
    store.collections[NAME].add(record["id"], record)
    _index(store, record)
    return render(record)


def _index(store: Store, record: Record) -> None:
    store.indexes[BY_SCHEMA].setdefault(record["eventSchemaName"], {})[record["id"]] = None


def of_schema(store: Store, schema_name: str) -> list[Record]:
    """The meters that count the events of ``schema_name``, oldest first."""
    meters = store.collections[NAME].items
    return [meters[m] for m in store.indexes[BY_SCHEMA].get(schema_name, ())]


def read(store: Store, call: Call) -> dict[str, Any]:
    """``GET /usage_meters/{id}``."""
    return render(require(store, call.params[PARAM]))


def list_(store: Store, call: Call) -> dict[str, Any]:
    """``GET /usage_meters``, filtered by ``status`` and ``aggregations``."""
    status, aggregation = call.params.get("status"), call.params.get("aggregations")

    def keep(r: Record) -> bool:
        return (status is None or r["status"] == status) and (aggregation is None or r["aggregation"] == aggregation)

    records, extra = paginate(store.collections[NAME], call.params.get("nextToken"), call.params.get("pageSize"),
                              keep=keep)
    return {"data": [render(r) for r in records], **extra}


def update(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /usage_meters/{id}``: the same checks as creation on the changed meter."""
    record = require(store, call.params[PARAM])
    if record["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"usage meter {record['id']!r} is archived and cannot be changed")
    changed = {**dict(record), **call.body}
    found = problems(store, changed)
    if found:
        raise Invalid(found)
    if changed["eventSchemaName"] != record["eventSchemaName"]:
        store.indexes[BY_SCHEMA][record["eventSchemaName"]].pop(record["id"], None)
    record.update(call.body)
    _index(store, record)
    record["displayName"] = record.get("billableName") or record["name"]
    record["updatedAt"] = store.clock.now()
    return render(record)


def _move(store: Store, call: Call, to: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    record = require(store, call.params[PARAM])
    if record["status"] not in allowed:
        raise Invalid.at(PARAM, f"usage meter {record['id']!r} is {record['status']}; cannot become {to}")
    record["status"] = to
    record["updatedAt"] = now = store.clock.now()
    if to == "ACTIVE":
        record["lastActivatedAt"] = now
    return render(record)


def activate(store: Store, call: Call) -> dict[str, Any]:
    """``POST .../activate``: a DRAFT or INACTIVE meter becomes ACTIVE."""
    return _move(store, call, "ACTIVE", ("DRAFT", "INACTIVE"))


def deactivate(store: Store, call: Call) -> dict[str, Any]:
    """``POST .../deactivate``: an ACTIVE meter becomes INACTIVE."""
    return _move(store, call, "INACTIVE", ("ACTIVE",))


def delete(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /usage_meters/{id}``: archives the meter."""
    return {"success": bool(_move(store, call, "ARCHIVED", ("DRAFT", "ACTIVE", "INACTIVE")))}


def check_import(ctx: ImportContext) -> None:
    """Each meter names an event schema of the document (creation made sure of it)."""
    schemas = {s.get("name") for s in ctx.data.get(event_schemas.NAME, [])}
    for i, meter in enumerate(ctx.data[NAME]):
        name, where = meter.get("eventSchemaName"), f"{NAME}[{i}].eventSchemaName"
        if name is None:
            ctx.problems.append(Violation(where, "is required: a meter counts the events of one schema"))
        elif name not in schemas:
            ctx.problems.append(Violation(where, f"no event schema named {name!r}"))


def restore(store: Store, meter: dict[str, Any]) -> None:
    """Insert an imported meter and index it by its schema."""
    store.collections[NAME].add(meter["id"], dict(meter))
    store.reserved.add(meter["id"])
    _index(store, meter)


RESOURCE = Resource(
    name=NAME,
    schema="UsageMeter",
    ids=IDS,
    derived={"displayName": lambda r: r.get("billableName") or r["name"]},
    indexes=(BY_SCHEMA,),
    hidden={"eventSchemaName": {"type": "string", "maxLength": 50}},
    check_import=check_import,
    restore=restore,
)
