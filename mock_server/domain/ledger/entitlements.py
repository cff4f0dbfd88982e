"""Entitlements and feature credits: what an account may use of each feature.

Feature credit entries are granted per (account, feature) -- by purchases
(``store/purchases.py``) -- and consumed by ``POST /entitled`` events. An
entry's ``balance``, its shown ``status`` (``EXPIRED`` once ``effectiveUntil``
has passed), an account's feature credits and its entitlement values are all
derived from the entries when shown; nothing is stored twice.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ...bindings.call import Call  # TEMPORARY: handlers move to mock_server/bindings
from ..core.cursors import paginate
from ..core.errors import Conflict, Invalid, NotFound, Violation
from ..core.resource import ImportContext, Resource
from ..core.store import Record, Store
from ..parties.accounts import require_account

# Index: account id -> feature id -> ids of its entries, oldest first.
ENTRIES = "feature_credit_entries"
# Index: ids of the entitled events taken (the event id is the idempotency key).
EVENTS = "entitled_event_ids"
# Togai: "Max page size cannot be more than 50" for the entries of a feature.
MAX_PAGE = 50
_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


_LEAP_SECOND = re.compile(r"(?<=:)60(?=(\.\d+)?([Z+-]|$))")


def parse_time(text: str, field: str = "effectiveUntil") -> datetime:
    """An RFC 3339 date-time (or a date, at midnight UTC); a leap second counts as :59.

    One the schema's pattern lets through but no calendar has (February 30)
    is a 400 naming ``field``.
    """
    try:
        moment = datetime.fromisoformat(_LEAP_SECOND.sub("59", text.upper()))
    except ValueError:
        raise Invalid.at(field, f"{text!r} is not a real date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """A moment as the mock's clock writes it: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def add_duration(moment: datetime, text: str) -> datetime | None:
    """``moment`` plus an ISO 8601 duration (``P1M``, ``P30D``, ``PT12H``), or ``None`` if it is not one."""
    match = _DURATION.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        return None
    part = {k: int(v or 0) for k, v in match.groupdict().items()}
    months = moment.month - 1 + part["months"] + 12 * part["years"]
    year = moment.year + months // 12
    if year > 9999:
        return None
    month = months % 12 + 1
    day = min(moment.day, _days_in(year, month))
    try:
        return moment.replace(year=year, month=month, day=day) + timedelta(
            weeks=part["weeks"], days=part["days"], hours=part["hours"], minutes=part["minutes"],
            seconds=part["seconds"],
        )
    except OverflowError:
        return None


def _days_in(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def shown_status(entry: Record, now: str) -> str:
    """``EXPIRED`` for an active entry whose time has passed; the stored status otherwise."""
    if entry["status"] == "ACTIVE" and parse_time(entry["effectiveUntil"]) <= parse_time(now):
        return "EXPIRED"
    status: str = entry["status"]
    return status


def in_effect(entry: Record, now: str) -> bool:
    """Active, started and not yet ended."""
    moment = parse_time(now)
    return (
        entry["status"] == "ACTIVE"
        and parse_time(entry["effectiveFrom"]) <= moment < parse_time(entry["effectiveUntil"])
    )


def render_entry(entry: Record, now: str) -> dict[str, Any]:
    """An entry as the API shows it: without its owners, with its derived status and balance."""
    status = shown_status(entry, now)
    out = {k: v for k, v in entry.items() if k not in ("accountId", "featureId")}
    out["status"] = status
    out["balance"] = entry["granted"] - entry["used"] if status == "ACTIVE" else 0
    return out


def insert_entry(store: Store, entry: dict[str, Any]) -> None:
    """Store an entry and index it under its account and feature."""
    store.collections["featureCreditEntries"].add(entry["id"], entry)
    store.indexes[ENTRIES].setdefault(entry["accountId"], {}).setdefault(entry["featureId"], []).append(entry["id"])


def restore_entry(store: Store, entry: dict[str, Any]) -> None:
    """Insert an imported entry (its balance is derived)."""
    insert_entry(store, {k: v for k, v in entry.items() if k != "balance"})


def entries_of(store: Store, account_id: str, feature_id: str) -> list[Record]:
    """The entries of one feature of one account, oldest first."""
    items = store.collections["featureCreditEntries"].items
    return [items[key] for key in store.indexes[ENTRIES].get(account_id, {}).get(feature_id, ())]


def _require(store: Store, call: Call) -> tuple[str, str]:
    """The path's account and feature, each a 404 when unknown."""
    account_id, feature_id = require_account(store, call.params["account_id"])["id"], call.params["feature_id"]
    if store.collections["features"].get(feature_id) is None:
        raise NotFound.at("feature_id", f"no feature with id {feature_id!r}")
    return account_id, feature_id


def _require_entry(store: Store, call: Call) -> Record:
    account_id, feature_id = _require(store, call)
    entry: Record | None = store.collections["featureCreditEntries"].get(call.params["entry_id"])
    if entry is None or entry["accountId"] != account_id or entry["featureId"] != feature_id:
        rule = f"no entry {call.params['entry_id']!r} of feature {feature_id!r} for account {account_id!r}"
        raise NotFound.at("entry_id", rule)
    return entry


def balance(store: Store, account_id: str, feature_id: str, now: str) -> tuple[float, float]:
    """What the entries in effect grant, and what is left of them."""
    live = [e for e in entries_of(store, account_id, feature_id) if in_effect(e, now)]
    return sum(e["granted"] for e in live), sum(e["granted"] - e["used"] for e in live)


def list_entries(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/features/{id}/entries``: oldest first, at most 50 a page."""
    account_id, feature_id = _require(store, call)
    page, extra = paginate(
        store.collections["featureCreditEntries"],
        call.params.get("nextToken"),
        call.params.get("pageSize"),
        context=False,  # GetFeatureCreditEntriesPaginatedResponse is closed without it
        keep=lambda e: e["accountId"] == account_id and e["featureId"] == feature_id,
        limit=MAX_PAGE,
    )
    now = store.clock.now()
    return {"data": [render_entry(e, now) for e in page], **extra}


def update_entry(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH .../entries/{id}``: ``granted`` (not below what was used) and ``effectiveUntil``
    (after ``effectiveFrom``) of an active entry."""
    entry = _require_entry(store, call)
    now = store.clock.now()
    status = shown_status(entry, now)
    if status != "ACTIVE":
        raise Invalid.at("entry_id", f"entry {entry['id']!r} is {status}; only an ACTIVE one can be changed")
    changes: dict[str, Any] = {}
    problems: list[Violation] = []
    if "granted" in call.body:
        granted = call.body["granted"]
        if granted < entry["used"]:
            problems.append(Violation("granted", f"must be at least what was used ({value_text(entry['used'])})"))
        changes["granted"] = granted
    if "effectiveUntil" in call.body:
        until = parse_time(call.body["effectiveUntil"])
        if until <= parse_time(entry["effectiveFrom"]):
            problems.append(Violation("effectiveUntil", "must be after effectiveFrom"))
        changes["effectiveUntil"] = stamp(until)
    if problems:
        raise Invalid(problems)
    entry.update(changes)
    return render_entry(entry, now)


def void_entry(store: Store, call: Call) -> dict[str, Any]:
    """``POST .../entries/{id}/void``: an active entry's credits are gone."""
    entry = _require_entry(store, call)
    status = shown_status(entry, store.clock.now())
    if status != "ACTIVE":
        raise Invalid.at("entry_id", f"entry {entry['id']!r} is {status}; only an ACTIVE one can be voided")
    entry["status"] = "VOIDED"
    return {"success": True}


def feature_credits(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/features/{id}``: granted and left of the entries in effect.

    Overage comes from price plans' overage rate cards, which the mock does
    not apply: ``usedOverage`` is 0 and there is no ``overageLimit``.
    """
    account_id, feature_id = _require(store, call)
    granted, left = balance(store, account_id, feature_id, store.clock.now())
    return {"accountId": account_id, "featureId": feature_id, "granted": granted, "balance": left, "usedOverage": 0}


def value_text(amount: float) -> str:
    """A balance as an entitlement value: ``12``, ``2.5``."""
    return str(int(amount)) if float(amount).is_integer() else repr(float(amount))


def entitlements(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/entitlements``: each feature with credits in effect, valued at what is left."""
    account_id = require_account(store, call.params["account_id"])["id"]
    now = store.clock.now()
    data = []
    for feature_id in store.indexes[ENTRIES].get(account_id, {}):
        value = _value(store, account_id, feature_id, now)
        if value is not None:
            data.append({"featureId": feature_id, "value": value})
    return {"data": data}


def _value(store: Store, account_id: str, feature_id: str, now: str) -> str | None:
    live = [e for e in entries_of(store, account_id, feature_id) if in_effect(e, now)]
    return value_text(sum(e["granted"] - e["used"] for e in live)) if live else None


def entitlement_value(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/entitlements/{id}``: one item, or none when the account is not entitled."""
    account_id, feature_id = _require(store, call)
    value = _value(store, account_id, feature_id, store.clock.now())
    return {"data": [] if value is None else [{"featureId": feature_id, "value": value}]}


def validate_value(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/entitlements/{id}``: is the account entitled to ``value``?

    A number is valid up to what is left; any other value must equal the
    entitlement value.
    """
    account_id, feature_id = _require(store, call)
    value = _value(store, account_id, feature_id, store.clock.now())
    wanted = call.body["value"]
    if value is None:
        return {"success": False}
    try:
        return {"success": float(wanted) <= float(value)}
    except ValueError:
        return {"success": wanted == value}


def ingest_entitled(store: Store, call: Call) -> dict[str, Any]:
    """``POST /entitled``: take an event only if its account is entitled to it, consuming credits.

    The features linked to the event's schema (their ``schemaAssociations``)
    each consume the value of their linked attribute (1 when the event does
    not carry it) from the account's entries in effect, soonest-ending
    first. If any feature lacks the credits, nothing is consumed (400). An
    event ``id`` already taken is a 409.
    """
    event = call.body["event"]
    account_id, event_id = event["accountId"], event.get("id")
    account = store.collections["accounts"].get(account_id)
    if account is None:
        raise NotFound.at("event.accountId", f"no account with id {account_id!r}")
    if account["status"] == "ARCHIVED":
        raise Invalid.at("event.accountId", f"account {account_id!r} is archived")
    if event_id is not None and event_id in store.indexes[EVENTS]:
        raise Conflict.at("event.id", f"event {event_id!r} was already ingested")
    attributes = {a["name"]: float(a["value"]) for a in event["attributes"]}
    now = store.clock.now()
    needs: list[tuple[str, float]] = []
    problems: list[Violation] = []
    # Features are a small catalogue; linking them to schemas has no index.
    for feature in store.collections["features"].items.values():
        names = [a["attributeName"] for a in feature["schemaAssociations"] if a["schemaName"] == event["schemaName"]]
        if not names:
            continue
        amount = attributes.get(names[0], 1.0)
        if amount < 0:
            problems.append(Violation("event.attributes", f"{names[0]} must not be negative"))
            continue
        left = balance(store, account_id, feature["id"], now)[1]
        if amount > left:
            rule = f"account {account_id!r} is not entitled to {value_text(amount)} of feature {feature['id']!r}"
            problems.append(Violation("event.accountId", f"{rule} ({value_text(left)} left)"))
        needs.append((feature["id"], amount))
    if problems:
        raise Invalid(problems)
    for feature_id, amount in needs:
        live = [e for e in entries_of(store, account_id, feature_id) if in_effect(e, now)]
        for entry in sorted(live, key=lambda e: parse_time(e["effectiveUntil"])):
            taken = min(amount, entry["granted"] - entry["used"])
            entry["used"] += taken
            amount -= taken
    if event_id is not None:
        store.indexes[EVENTS][event_id] = True
    return {"success": True}


def check_import(ctx: ImportContext) -> None:
    """Amounts and times an entry can have: 0 <= used <= granted, a start before its end, a stored
    status of ACTIVE or VOIDED (EXPIRED is derived), and a purchase of its account that granted it."""
    purchases = ctx.ids("purchases")
    for i, entry in enumerate(ctx.data["featureCreditEntries"]):
        where = f"featureCreditEntries[{i}]"
        if not 0 <= entry["used"] <= entry.get("granted", -1):
            ctx.problems.append(Violation(f"{where}.used", "must be between 0 and granted"))
        try:
            if parse_time(entry["effectiveUntil"]) <= parse_time(entry["effectiveFrom"]):
                ctx.problems.append(Violation(f"{where}.effectiveUntil", "must be after effectiveFrom"))
        except Invalid as exc:
            ctx.problems.extend(Violation(f"{where}.{v.field}", v.rule) for v in exc.violations)
        if entry["status"] not in ("ACTIVE", "VOIDED"):
            ctx.problems.append(Violation(f"{where}.status", "must be ACTIVE or VOIDED (EXPIRED is derived)"))
        purchase = purchases.get(entry["id"].rpartition("$")[0])
        if entry["source"] != "ENTITLEMENT" or purchase is None or purchase["accountId"] != entry["accountId"]:
            rule = "must be <purchase id>$<n> of a purchase of its account (source ENTITLEMENT)"
            ctx.problems.append(Violation(f"{where}.id", rule))


RESOURCE = Resource(
    name="featureCreditEntries",
    schema="FeatureCreditEntry",
    owner_fields=("accountId", "featureId"),
    references={"accountId": "accounts", "featureId": "features"},
    indexes=(ENTRIES, EVENTS),
    not_exported=("balance",),
    check_import=check_import,
    restore=restore_entry,
)
