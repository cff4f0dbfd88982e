"""Event schemas: named, versioned descriptions of the events a tenant sends.

Every version is its own record (keyed ``name@version``) so exports stay
plain ``EventSchema`` documents. A schema is created as version 1 in DRAFT;
a PATCH edits a DRAFT in place but makes a new DRAFT version of an ACTIVE
or INACTIVE one, archiving the versions before it. DELETE archives.

The index ``schema_versions`` (name -> the keys of its versions, oldest
first) spares ingestion and every lookup by name a scan of all versions.
Versions are never removed, so creation, a new version and an import's
:func:`restore` are the only writes that change it.

The rules that also read usage meters (a schema cannot be deactivated while
one of its meters is ACTIVE) live in :mod:`.meters`: meters refer to
schemas, never the other way round.
"""
from __future__ import annotations

from bisect import insort
from typing import Any

from ..core.cursors import paginate
from ..core.errors import Conflict, Invalid, NotFound, Violation
from ..core.resource import Exchange, ImportContext, Resource
from ..core.store import Record, Store
from . import enrichment

NAME = "eventSchemas"
PARAM = "event_schema_name"
VERSIONS = "schema_versions"  # index: schema name -> keys of its versions, oldest first
INITIAL_STATUSES = ("DRAFT", "ACTIVE", "INACTIVE")
# Togai's built-in schemas (see .builtin_schemas): always there, so their names are taken.
USAGE, NAMED_LICENSE = "togai-usage", "togai-named-license"
BUILTIN = (USAGE, NAMED_LICENSE)


def key_of(name: str, version: int) -> str:
    """The store key of one version."""
    return f"{name}@{version}"


def versions(store: Store, name: str) -> list[Record]:
    """Every stored version of ``name``, oldest first."""
    items = store.collections[NAME].items
    return [items[key] for key in store.indexes[VERSIONS].get(name, ())]


def latest(store: Store, name: str) -> Record | None:
    """The newest version of ``name``, if there is one."""
    keys = store.indexes[VERSIONS].get(name)
    return store.collections[NAME].items[keys[-1]] if keys else None


def require(store: Store, name: str) -> Record:
    """The newest version of the schema named in the path, or a :class:`NotFound`."""
    record = latest(store, name)
    if record is None:
        raise NotFound.at(PARAM, f"no event schema named {name!r}")
    return record


def render(record: Record) -> dict[str, Any]:
    """A stored version as the API shows it (the store key is not part of it); also its exported form."""
    return {k: v for k, v in dict(record).items() if k != "id"}


def _add(store: Store, record: Record) -> None:
    """Store a version and index it under its name, in version order."""
    store.collections[NAME].add(record["id"], record)
    keys = store.indexes[VERSIONS].setdefault(record["name"], [])
    items = store.collections[NAME].items
    if keys and items[keys[-1]]["version"] > record["version"]:  # an import may list versions in any order
        insort(keys, record["id"], key=lambda k: items[k]["version"])
    else:
        keys.append(record["id"])


def _check_unique(body: dict[str, Any]) -> None:
    """An event schema's attributes, dimensions and filter fields are sets (the EventSchema answer says so);
    its enrichments can run (JSON-logic that compiles, dependencies that are declared)."""
    if body.get("enrichments"):
        found = enrichment.problems(body["enrichments"])
        if found:
            raise Invalid(found)
    for field_name in ("attributes", "dimensions", "filterFields"):
        seen: list[Any] = []
        for i, item in enumerate(body.get(field_name, [])):
            if item in seen:
                raise Invalid.at(f"{field_name}[{i}]", "is given twice")
            seen.append(item)


def initial_status(asked: str | None) -> str:
    """DRAFT, or the status a fixture entry asks for (the API has no way to ask)."""
    status = "DRAFT" if asked is None else asked
    if status not in INITIAL_STATUSES:
        raise Invalid.at("status", "must be DRAFT, ACTIVE or INACTIVE")
    return status


def create(store: Store, body: dict[str, Any], status: str | None = None) -> Record:
    """A new schema: version 1 in ``status`` (see :func:`initial_status`); names are unique."""
    _check_unique(body)
    if body["name"] in BUILTIN:
        raise Conflict.at("name", f"{body['name']!r} is one of Togai's built-in event schemas")
    if latest(store, body["name"]) is not None:
        raise Conflict.at("name", f"an event schema named {body['name']!r} already exists")
    now = store.clock.now()
    record = {**body, "id": key_of(body["name"], 1), "version": 1, "status": initial_status(status),
              "createdAt": now, "updatedAt": now}
    _add(store, record)
    return record


def read(store: Store, name: str, version: int | None = None) -> Record:
    """The newest version of ``name``, or its version ``version``."""
    record = require(store, name)
    if version is not None:
        found: Record | None = store.collections[NAME].get(key_of(name, version))
        if found is None:
            raise Invalid.at("version", f"event schema {name!r} has no version {version}")
        record = found
    return record


def newest_page(
    store: Store, status: str | None, next_token: str | None, page_size: int | None
) -> tuple[list[Record], dict[str, Any]]:
    """One page of the newest version of each schema (in ``status``, if given), and the paging fields."""
    keys = store.indexes[VERSIONS]

    def keep(r: Record) -> bool:
        return bool(keys[r["name"]][-1] == r["id"] and (status is None or r["status"] == status))

    return paginate(store.collections[NAME], next_token, page_size, keep=keep)


def all_versions(store: Store, name: str) -> list[Record]:
    """Every version of the schema named in the path, oldest first; a :class:`NotFound` if none."""
    require(store, name)
    return versions(store, name)


def update(store: Store, name: str, changes: dict[str, Any]) -> Record:
    """A DRAFT is edited in place; an ACTIVE or INACTIVE schema gets a new DRAFT version, its older ones archived."""
    record = require(store, name)
    if record["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"event schema {record['name']!r} is archived and cannot be changed")
    _check_unique(changes)
    now = store.clock.now()
    if record["status"] == "DRAFT":
        record.update(changes)
        record["updatedAt"] = now
        return record
    for older in versions(store, record["name"]):
        older["status"] = "ARCHIVED"
        older["updatedAt"] = now
    version = record["version"] + 1
    fresh = {**dict(record), **changes, "id": key_of(record["name"], version), "version": version,
             "status": "DRAFT", "createdAt": now, "updatedAt": now}
    _add(store, fresh)
    return fresh


def move(store: Store, name: str, to: str, allowed: tuple[str, ...]) -> Record:
    """The newest version of ``name`` goes to status ``to``, from one of ``allowed``."""
    record = require(store, name)
    if record["status"] not in allowed:
        raise Invalid.at(PARAM, f"event schema {record['name']!r} is {record['status']}; cannot become {to}")
    record["status"] = to
    record["updatedAt"] = store.clock.now()
    return record


def activate(store: Store, name: str) -> Record:
    """A DRAFT or INACTIVE schema becomes ACTIVE."""
    return move(store, name, "ACTIVE", ("DRAFT", "INACTIVE"))


def archive(store: Store, name: str) -> None:
    """``DELETE``: archives the newest version."""
    record = require(store, name)
    if record["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"event schema {record['name']!r} is already archived")
    record["status"] = "ARCHIVED"
    record["updatedAt"] = store.clock.now()


def complete_import(store: Store, ctx: ImportContext) -> None:
    """An imported version is keyed by its name and version."""
    for record in ctx.data.get(NAME, []):
        record.setdefault("version", 1)
        if isinstance(record.get("name"), str):
            record["id"] = key_of(record["name"], record["version"])


def check_import(ctx: ImportContext) -> None:
    """No imported schema takes a built-in schema's name (creation refuses it)."""
    for i, record in enumerate(ctx.data[NAME]):
        if record.get("name") in BUILTIN:
            ctx.problems.append(Violation(f"{NAME}[{i}].name", f"{record['name']!r} is a built-in event schema"))


def restore(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported version and index it under its name."""
    _add(store, dict(record))


RESOURCE = Resource(
    name=NAME,
    schema="EventSchema",
    exchange=Exchange(
        generated=("version",),
        export=lambda store, record: render(record),
        complete_import=complete_import,
        check_import=check_import,
        restore=restore,
    ),
    indexes=(VERSIONS,),
)
