"""Settings: a value of a data type, for the organisation, a customer or an account.

A setting is named by its full id, ``setting.<namespace>.<id>.<entityType>.<entityId>``:
the same key (``id`` in the request) can hold one value per entity. The
client's key is used rather than ``name`` so that renaming a setting
(``PATCH`` may change ``name``) does not move it to another URL.
"""
from __future__ import annotations

import json
from typing import Any

from ..core.errors import Invalid, NotFound, Violation
from ..core.resource import Exchange, ImportContext, Resource, Writes
from ..core.store import Store

# Entity types whose ids must name a record of the tenant; others (ORGANIZATION) are free.
ENTITY_COLLECTIONS = {"CUSTOMER": "customers", "ACCOUNT": "accounts"}


def full_id(body: dict[str, Any]) -> str:
    """The id a setting is stored, answered and addressed under."""
    return f"setting.{body['namespace']}.{body['id']}.{body['entityType']}.{body['entityId']}"


def value_problem(value: str, data_type: str) -> str | None:
    """Why ``value`` is not of ``data_type``, or ``None``."""
    if data_type == "NUMERIC":
        try:
            float(value)
        except ValueError:
            return f"{value!r} is not a number (dataType NUMERIC)"
    elif data_type in ("JSON", "JSON_LOGIC"):
        try:
            json.loads(value)
        except ValueError:
            return f"is not JSON (dataType {data_type})"
    return None


def check_setting(store: Store, record: dict[str, Any]) -> None:
    """The value fits the data type; a customer's or account's setting names an existing one."""
    problem = value_problem(record["value"], record["dataType"])
    if problem is not None:
        raise Invalid.at("value", problem)
    target = ENTITY_COLLECTIONS.get(record["entityType"])
    if target is not None and store.collections[target].get(record["entityId"]) is None:
        kind = record["entityType"].lower()
        raise NotFound.at("entityId", f"no {kind} with id {record['entityId']!r}")


def check_import(ctx: ImportContext) -> None:
    """Imported settings obey the same rules, and ``id`` is the full id of the record."""
    targets = {kind: ctx.ids(name) for kind, name in ENTITY_COLLECTIONS.items()}
    for i, record in enumerate(ctx.data["settings"]):
        where = f"settings[{i}]"
        problem = value_problem(record["value"], record["dataType"])
        if problem is not None:
            ctx.problems.append(Violation(f"{where}.value", problem))
        known = targets.get(record["entityType"])
        if known is not None and record["entityId"] not in known:
            rule = f"no {record['entityType'].lower()} {record['entityId']!r}"
            ctx.problems.append(Violation(f"{where}.entityId", rule))
        parts = record["id"].split(".")
        if (
            len(parts) < 5
            or parts[0] != "setting"
            or not record["id"].startswith(f"setting.{record['namespace']}.")
            or not record["id"].endswith(f".{record['entityType']}.{record['entityId']}")
        ):
            rule = "must be setting.<namespace>.<key>.<entityType>.<entityId> of the record"
            ctx.problems.append(Violation(f"{where}.id", rule))


RESOURCE = Resource(
    name="settings",
    schema="Setting",
    writes=Writes(
        make_id=full_id,
        check=check_setting,
    ),
    exchange=Exchange(
        check_import=check_import,
    ),
)
