"""Event schemas: named, versioned descriptions of the events a tenant sends.

Every version is its own record (keyed ``name@version``) so exports stay
plain ``EventSchema`` documents. A schema is created as version 1 in DRAFT;
a PATCH edits a DRAFT in place but makes a new DRAFT version of an ACTIVE
or INACTIVE one, archiving the versions before it. DELETE archives.
"""
from __future__ import annotations

from typing import Any

from ...bindings.call import Call  # TEMPORARY: handlers move to mock_server/bindings
from ..core.cursors import paginate
from ..core.errors import Conflict, Invalid, NotFound
from ..core.resource import ImportContext, Resource
from ..core.store import Record, Store

NAME = "eventSchemas"
PARAM = "event_schema_name"


def key_of(name: str, version: int) -> str:
    """The store key of one version."""
    return f"{name}@{version}"


def versions(store: Store, name: str) -> list[Record]:
    """Every stored version of ``name``, oldest first."""
    found = [r for r in store.collections[NAME].items.values() if r["name"] == name]
    return sorted(found, key=lambda r: r["version"])


def latest(store: Store, name: str) -> Record | None:
    """The newest version of ``name``, if there is one."""
    found = versions(store, name)
    return found[-1] if found else None


def require(store: Store, name: str) -> Record:
    """The newest version of the schema named in the path, or a 404."""
    record = latest(store, name)
    if record is None:
        raise NotFound.at(PARAM, f"no event schema named {name!r}")
    return record


def render(record: Record) -> dict[str, Any]:
    """A stored version as the API shows it (the store key is not part of it)."""
    return {k: v for k, v in dict(record).items() if k != "id"}


def _check_unique(body: dict[str, Any]) -> None:
    """An event schema's attributes, dimensions and filter fields are sets (the EventSchema answer says so)."""
    for field_name in ("attributes", "dimensions", "filterFields"):
        seen: list[Any] = []
        for i, item in enumerate(body.get(field_name, [])):
            if item in seen:
                raise Invalid.at(f"{field_name}[{i}]", "is given twice")
            seen.append(item)


def create(store: Store, call: Call) -> dict[str, Any]:
    """``POST /event_schema``: version 1, DRAFT; names are unique."""
    body = call.body
    _check_unique(body)
    if latest(store, body["name"]) is not None:
        raise Conflict.at("name", f"an event schema named {body['name']!r} already exists")
    now = store.clock.now()
    record = {**body, "id": key_of(body["name"], 1), "version": 1, "status": initial_status(call),
              "createdAt": now, "updatedAt": now}
    store.collections[NAME].add(record["id"], record)
    return render(record)


def initial_status(call: Call) -> str:
    """DRAFT, or the status a fixture entry asks for (the API has no way to ask)."""
    status: str = call.params.get("status", "DRAFT")
    if status not in ("DRAFT", "ACTIVE", "INACTIVE"):
        raise Invalid.at("status", "must be DRAFT, ACTIVE or INACTIVE")
    return status


def read(store: Store, call: Call) -> dict[str, Any]:
    """``GET /event_schema/{name}``: the newest version, or the one ``version`` asks for."""
    name = call.params[PARAM]
    record = require(store, name)
    wanted = call.params.get("version")
    if wanted is not None:
        record = store.collections[NAME].get(key_of(name, wanted))
        if record is None:
            raise Invalid.at("version", f"event schema {name!r} has no version {wanted}")
    return render(record)


def list_(store: Store, call: Call) -> dict[str, Any]:
    """``GET /event_schema``: the newest version of each schema with its number of usage meters."""
    newest: dict[str, int] = {}
    for r in store.collections[NAME].items.values():
        newest[r["name"]] = max(newest.get(r["name"], 0), r["version"])
    status = call.params.get("status")

    def keep(r: Record) -> bool:
        return bool(newest[r["name"]] == r["version"] and (status is None or r["status"] == status))

    records, extra = paginate(store.collections[NAME], call.params.get("nextToken"), call.params.get("pageSize"),
                              keep=keep)
    meters = store.indexes["meters_by_schema"]
    return {"data": [{**render(r), "usageMetersCount": len(meters.get(r["name"], ()))} for r in records], **extra}


def list_versions(store: Store, call: Call) -> dict[str, Any]:
    """``GET /event_schema/{name}/versions``: every version, oldest first."""
    require(store, call.params[PARAM])
    return {"data": [render(r) for r in versions(store, call.params[PARAM])]}


def update(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /event_schema/{name}``: a DRAFT in place; otherwise a new DRAFT version."""
    record = require(store, call.params[PARAM])
    if record["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"event schema {record['name']!r} is archived and cannot be changed")
    _check_unique(call.body)
    now = store.clock.now()
    if record["status"] == "DRAFT":
        record.update(call.body)
        record["updatedAt"] = now
        return render(record)
    for older in versions(store, record["name"]):
        older["status"] = "ARCHIVED"
        older["updatedAt"] = now
    version = record["version"] + 1
    fresh = {**dict(record), **call.body, "id": key_of(record["name"], version), "version": version,
             "status": "DRAFT", "createdAt": now, "updatedAt": now}
    store.collections[NAME].add(fresh["id"], fresh)
    return render(fresh)


def _move(store: Store, call: Call, to: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    record = require(store, call.params[PARAM])
    if record["status"] not in allowed:
        raise Invalid.at(PARAM, f"event schema {record['name']!r} is {record['status']}; cannot become {to}")
    record["status"] = to
    record["updatedAt"] = store.clock.now()
    return render(record)


def activate(store: Store, call: Call) -> dict[str, Any]:
    """``POST .../activate``: a DRAFT or INACTIVE schema becomes ACTIVE."""
    return _move(store, call, "ACTIVE", ("DRAFT", "INACTIVE"))


def deactivate(store: Store, call: Call) -> dict[str, Any]:
    """``POST .../deactivate``: an ACTIVE schema becomes INACTIVE once none of its meters is ACTIVE (Togai's rule)."""
    from .meters import of_schema  # meters refer to schemas: imported late

    active = [m["id"] for m in of_schema(store, call.params[PARAM]) if m["status"] == "ACTIVE"]
    if active:
        raise Invalid.at(PARAM, f"event schema {call.params[PARAM]!r} has ACTIVE usage meters "
                                f"({', '.join(active)}); deactivate them first")
    return _move(store, call, "INACTIVE", ("ACTIVE",))


def delete(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /event_schema/{name}``: archives the newest version."""
    record = require(store, call.params[PARAM])
    if record["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"event schema {record['name']!r} is already archived")
    record["status"] = "ARCHIVED"
    record["updatedAt"] = store.clock.now()
    return {"success": True}


def complete_import(store: Store, ctx: ImportContext) -> None:
    """An imported version is keyed by its name and version."""
    for record in ctx.data.get(NAME, []):
        record.setdefault("version", 1)
        if isinstance(record.get("name"), str):
            record["id"] = key_of(record["name"], record["version"])


RESOURCE = Resource(
    name=NAME,
    schema="EventSchema",
    generated=("version",),
    export=lambda store, record: render(record),
    complete_import=complete_import,
)
