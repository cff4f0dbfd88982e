"""The organisation settings the usage pipeline reads: its time zone, base currency, exchange rates, enrichment
dependencies.

Togai keeps an organisation's currencies (its base currency, and each other
one with its exchange rate to the base currency, set once in the Admin
Center) and its time zone outside the public API. The mock reads them from
settings of the ``togai`` namespace on the ORGANIZATION (any ``entityId``:
the tenant is the organisation):

``time_zone``
    an IANA zone name (``Europe/Paris``); UTC when absent.
``base_currency``
    a currency code (``EUR``); USD when absent.
``exchange_rate.<CUR>``
    NUMERIC: one unit of ``CUR`` in the base currency (``exchange_rate.EUR`` = ``1.08``).

They are looked up in the settings' index of the organisation's ``togai``
keys (:data:`~mock_server.domain.catalog.settings.ORGANISATION`), and an
enrichment's dependency in the index of settings by key
(:data:`~mock_server.domain.catalog.settings.BY_KEY`): never scanned.
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


def time_zone(store: Store) -> ZoneInfo | None:
    """The organisation's time zone; None for UTC (the default, and what a bad value falls back to)."""
    return settings.organisation_zone(store)


def base_currency(store: Store) -> str:
    """The organisation's base currency: what ``CURRENCY: BASE`` revenue is converted to (USD by default)."""
    return settings.base_currency(store)


def exchange_rates(store: Store) -> dict[str, Decimal]:
    """Each currency's value in the base currency, as the organisation states it (well-formed rates only)."""
    out: dict[str, Decimal] = {}
    for key in settings.organisation_keys(store):
        if key.startswith(RATE_PREFIX):
            currency = key[len(RATE_PREFIX):]
            value = settings.organisation_value(store, key)
            if value is not None and settings.rate_problem(currency, value) is None:
                out[currency] = Decimal(value)
    return out


def dependency(store: Store, key: str, account_id: str, customer_id: str) -> Any:
    """The value of the setting ``key`` (``setting.<namespace>.<id>``) for an event's account: the
    account's own, else its customer's, else the organisation's; ``KeyError`` when none has it.

    A NUMERIC value is a decimal numeral, a JSON or JSON_LOGIC one is parsed, a STRING one is itself.
    """
    collection = store.collections.get(SETTINGS)
    full_key = key if key.lower().startswith("setting.") else f"setting.{key}"
    prefix = full_key.lower() + "."
    wanted = {f"account.{account_id}".lower(): 0, f"customer.{customer_id}".lower(): 1}
    found: Record | None = None
    rank = 3
    # The settings of that key only (an index, one per entity), not every setting.
    for full in (settings.with_key(store, full_key) if collection is not None else ()):
        record = collection.items.get(full) if collection is not None else None
        if record is None:
            continue
        entity = full.lower()[len(prefix):]  # namespaces are matched whatever their case (Togai's example: "user")
        at = wanted.get(entity, 2 if entity.startswith("organization.") else 3)
        if at < rank:
            found, rank = record, at
    if found is None:
        raise KeyError(key)
    value: str = found["value"]
    if found["dataType"] in ("JSON", "JSON_LOGIC"):
        return json.loads(value)
    return value
