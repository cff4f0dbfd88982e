"""The organisation settings the usage pipeline reads: its time zone, its exchange rates, enrichment dependencies.

Togai keeps an organisation's currencies (each with its exchange rate to the
base currency, set once in the Admin Center) and its time zone outside the
public API. The mock reads both from settings of the ``togai`` namespace on
the ORGANIZATION (any ``entityId``: the tenant is the organisation):

``time_zone``
    an IANA zone name (``Europe/Paris``); UTC when absent.
``exchange_rate.<CUR>``
    NUMERIC: one unit of ``CUR`` in the base currency (``exchange_rate.EUR`` = ``1.08``).

Settings are few (a tenant's configuration, not its traffic), so each read
scans them; nothing here is kept between requests.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..catalog import settings
from ..core.store import Record, Store

SETTINGS = "settings"
NAMESPACE = settings.TOGAI
TIME_ZONE = settings.TIME_ZONE
RATE_PREFIX = settings.RATE_PREFIX


def organisation(store: Store) -> dict[str, Record]:
    """The organisation's ``togai`` settings, by key."""
    collection = store.collections.get(SETTINGS)
    if collection is None:
        return {}
    return {settings.key_of(r): r for r in collection.items.values()
            if r["entityType"] == "ORGANIZATION" and r["namespace"].lower() == NAMESPACE}


def time_zone(store: Store) -> ZoneInfo | None:
    """The organisation's time zone; None for UTC (the default, and what a bad value falls back to)."""
    record = organisation(store).get(TIME_ZONE)
    if record is None:
        return None
    try:
        return settings.zone_of(record["value"])
    except ValueError:  # writes and imports refuse one; should one slip through, metrics stay in UTC
        return None


def exchange_rates(store: Store) -> dict[str, Decimal]:
    """Each currency's value in the base currency, as the organisation states it (well-formed rates only)."""
    out: dict[str, Decimal] = {}
    for key, record in organisation(store).items():
        if key.startswith(RATE_PREFIX):
            currency = key[len(RATE_PREFIX):]
            if settings.rate_problem(currency, record["value"]) is None:
                out[currency] = Decimal(record["value"])
    return out


def dependency(store: Store, key: str, account_id: str, customer_id: str) -> Any:
    """The value of the setting ``key`` (``setting.<namespace>.<id>``) for an event's account: the
    account's own, else its customer's, else the organisation's; ``KeyError`` when none has it.

    A NUMERIC value is a decimal numeral, a JSON or JSON_LOGIC one is parsed, a STRING one is itself.
    """
    collection = store.collections.get(SETTINGS)
    prefix = (key if key.startswith("setting.") else f"setting.{key}").lower() + "."
    wanted = {f"account.{account_id}".lower(): 0, f"customer.{customer_id}".lower(): 1}
    found: Record | None = None
    rank = 3
    for full, record in (collection.items.items() if collection is not None else ()):
        lowered = full.lower()  # namespaces are matched whatever their case (Togai's example says "user")
        if not lowered.startswith(prefix):
            continue
        entity = lowered[len(prefix):]
        at = wanted.get(entity, 2 if entity.startswith("organization.") else 3)
        if at < rank:
            found, rank = record, at
    if found is None:
        raise KeyError(key)
    value: str = found["value"]
    if found["dataType"] in ("JSON", "JSON_LOGIC"):
        return json.loads(value)
    return value
