"""Settings: a value of a data type, for the organisation, a customer or an account.

A setting is named by its full id, ``setting.<namespace>.<id>.<entityType>.<entityId>``:
the same key (``id`` in the request) can hold one value per entity. The
client's key is used rather than ``name`` so that renaming a setting
(``PATCH`` may change ``name``) does not move it to another URL.
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


# The organisation settings the mock reads (domain/usage/org_settings.py): Togai keeps an organisation's time
# zone and its currencies' exchange rates outside the API; the mock takes them as ``togai`` settings.
TOGAI = "togai"
TIME_ZONE = "time_zone"
BASE_CURRENCY_KEY = "base_currency"
DEFAULT_BASE_CURRENCY = "USD"  # Togai's organisations default to it; the demo tenant keeps it
RATE_PREFIX = "exchange_rate."
# Index: key of an organisation's togai setting (``time_zone``) -> full ids of the settings with that key,
# in the order they were made (the entityId of an ORGANIZATION is free, so a key may be stated twice:
# the latest made wins, as it always did).
ORGANISATION = "togai_organisation_settings"
# Index: ``setting.<namespace>.<key>`` in lower case -> full ids of the settings of that key (one per entity):
# what an enrichment's dependency names (domain/usage/org_settings.py), looked up at ingestion.
BY_KEY = "settings_by_key"
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT"})


def zone_of(name: str) -> ZoneInfo | None:
    """The zone named ``name`` (None for UTC), or a ``ValueError`` when no zone has that name."""
    if name in UTC_NAMES:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone (such as Europe/Paris)") from exc


def rate_problem(currency: str, value: str) -> str | None:
    """Why ``value`` is no exchange rate of ``currency`` to the base currency, or None."""
    problem = currency_problem(currency)
    if problem is not None:
        return problem
    try:
        rate = Decimal(value)
    except InvalidOperation:
        return f"{value!r} is not a number"
    if not rate.is_finite() or rate <= 0:
        return "an exchange rate must be a positive number"
    return None


def currency_problem(value: str) -> str | None:
    """Why ``value`` is no currency code (three capital letters), or None."""
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        return f"{value!r} is not a currency code (three capital letters)"
    return None


def is_togai(record: dict[str, Any]) -> bool:
    """Whether a setting is one of the organisation's ``togai`` settings (the namespace in any case)."""
    return bool(record["entityType"] == "ORGANIZATION" and record["namespace"].lower() == TOGAI)


def index_setting(store: Store, record: dict[str, Any], before: dict[str, Any] | None) -> None:
    """Keep :data:`ORGANISATION` and :data:`BY_KEY` in step with a setting just written (created, updated or
    imported: a setting's id never changes, so only a new one is indexed)."""
    if before is None:
        ids = store.indexes[BY_KEY].setdefault(f"setting.{record['namespace']}.{key_of(record)}".lower(), [])
        if record["id"] not in ids:
            ids.append(record["id"])
    if before is None and is_togai(record):
        ids = store.indexes[ORGANISATION].setdefault(key_of(record), [])
        if record["id"] not in ids:
            ids.append(record["id"])


def with_key(store: Store, key: str) -> list[str]:
    """The full ids of the settings named ``setting.<namespace>.<key>`` (any case), one per entity."""
    return list(store.indexes[BY_KEY].get(key.lower(), ()))


def organisation_value(store: Store, key: str) -> str | None:
    """The value of the organisation's ``togai`` setting ``key`` (the latest made), or None."""
    ids = store.indexes[ORGANISATION].get(key)
    if not ids:
        return None
    record = store.collections["settings"].get(ids[-1])
    return None if record is None else str(record["value"])


def organisation_keys(store: Store) -> list[str]:
    """The keys of the organisation's ``togai`` settings."""
    return list(store.indexes[ORGANISATION])


def organisation_zone(store: Store) -> ZoneInfo | None:
    """The organisation's time zone (setting ``time_zone``); None for UTC, the default (and for a bad value,
    which writes and imports refuse)."""
    name = organisation_value(store, TIME_ZONE)
    if name is None:
        return None
    try:
        return zone_of(name)  # ZoneInfo keeps its zones: no file is read twice
    except ValueError:
        return None


def base_currency(store: Store) -> str:
    """The organisation's base currency (setting ``base_currency``), USD unless it states another."""
    value = organisation_value(store, BASE_CURRENCY_KEY)
    return value if value is not None and currency_problem(value) is None else DEFAULT_BASE_CURRENCY


def key_of(record: dict[str, Any]) -> str:
    """The client's key of a setting (``id`` in the request; a stored record keeps the full id)."""
    full: str = record["id"]
    head = f"setting.{record['namespace']}."
    tail = f".{record['entityType']}.{record['entityId']}"
    return full[len(head):len(full) - len(tail)] if full.startswith(head) and full.endswith(tail) else full


def togai_problem(record: dict[str, Any]) -> str | None:
    """Why an organisation's ``togai`` setting the mock reads has a value it cannot use, or None."""
    if not is_togai(record):
        return None
    key = key_of(record)
    if key == TIME_ZONE:
        try:
            zone_of(record["value"])
        except ValueError as exc:
            return str(exc)
    elif key == BASE_CURRENCY_KEY:
        return currency_problem(record["value"])
    elif key.startswith(RATE_PREFIX):
        return rate_problem(key[len(RATE_PREFIX):], record["value"])
    return None


def check_setting(store: Store, record: dict[str, Any]) -> None:
    """The value fits the data type; a customer's or account's setting names an existing one; the
    organisation's time zone and exchange rates are ones the mock can use."""
    problem = value_problem(record["value"], record["dataType"]) or togai_problem(record)
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
        problem = value_problem(record["value"], record["dataType"]) or togai_problem(record)
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
    indexes=(ORGANISATION, BY_KEY),
    writes=Writes(
        make_id=full_id,
        check=check_setting,
        on_write=index_setting,
    ),
    exchange=Exchange(
        check_import=check_import,
    ),
)
