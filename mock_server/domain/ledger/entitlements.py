"""Entitlements and feature credits: what an account may use of each feature.

Feature credit entries are granted per (account, feature) -- by purchases
(:mod:`.purchases`) -- and consumed by ``POST /entitled`` events. An
entry's ``balance``, its shown ``status`` (``EXPIRED`` once ``effectiveUntil``
has passed), an account's feature credits and its entitlement values are all
derived from the entries when shown; nothing is stored twice.

Overage: when the account's price plan in effect has an
``entitlementOverageRateCards`` card for the feature (with rates in its
currency), an entitled event that needs more than its entries hold takes the
rest as overage, up to the card's ``maxQuantity`` per pricing cycle (no
limit without one). What a cycle used is an entry of ``source: OVERAGE``
(Togai's ``FeatureCreditEntry.source``), effective over the cycle, its
``granted`` the limit (absent: no limit) and its ``used`` the overage; it is
no credit (not in ``granted``/``balance`` nor the entitlement value) and the
billing engine prices its ``used`` on the cycle's invoice.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..catalog import features
from ..core import lookup
from ..core.errors import Conflict, Invalid, NotFound, Violation
from ..core.money import decimal_problem, exact, to_json
from ..core.observers import Attributes, Observer
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import parse_time, stamp
from ..parties.accounts import require_account
from ..pricing import engine as pricing
from ..pricing import schedules
from ..usage import events as usage_events

# Index: account id -> feature id -> ids of its entries, oldest first.
ENTRIES = "feature_credit_entries"
# Togai: "Max page size cannot be more than 50" for the entries of a feature.
MAX_PAGE = 50
OVERAGE = "OVERAGE"  # the source of the entry recording a cycle's overage
OVERAGE_IDS = IdScheme("overage")


def shown_status(entry: Record, now: str) -> str:
    """``EXPIRED`` for an active entry whose time has passed; the stored status otherwise.

    An entry ends at its ``effectiveUntil``: at that very instant it is
    EXPIRED already (as :func:`in_effect` counts it out), like Togai's
    credits, whose window is ``[effectiveFrom, effectiveUntil)``.
    """
    if entry["status"] == "ACTIVE" and parse_time(entry["effectiveUntil"]) <= parse_time(now):
        return "EXPIRED"
    status: str = entry["status"]
    return status


def in_effect(entry: Record, now: str) -> bool:
    """Active, started (``effectiveFrom`` counts) and not yet ended (``effectiveUntil`` does not)."""
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
    out["balance"] = to_json(_left(entry)) if status == "ACTIVE" else 0
    return out


def _left(entry: Record) -> Decimal:
    """What is left of an entry, exactly (entries hold JSON numbers: 0.3 - 0.1 - 0.2 is 0, not 2.8e-17).

    An overage entry without a limit (no ``granted``) has nothing left to show (0)."""
    if "granted" not in entry:
        return Decimal(0)
    return exact(entry["granted"]) - exact(entry["used"])


def _credits(entries: list[Record]) -> list[Record]:
    """The entries that are credits (an OVERAGE entry records overage used, it grants nothing)."""
    return [e for e in entries if e["source"] != OVERAGE]


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


def require_feature(store: Store, account_id: str, feature_id: str) -> tuple[str, str]:
    """The path's account and feature, each a :class:`NotFound` when unknown."""
    account_id = require_account(store, account_id)["id"]
    lookup.require(store, "features", feature_id, "feature_id", "feature")
    return account_id, feature_id


def require_entry(store: Store, account_id: str, feature_id: str, entry_id: str) -> Record:
    """One entry of the account's feature, or a :class:`NotFound` (the account's, the feature's or the entry's)."""
    account_id, feature_id = require_feature(store, account_id, feature_id)
    entry: Record | None = store.collections["featureCreditEntries"].get(entry_id)
    if entry is None or entry["accountId"] != account_id or entry["featureId"] != feature_id:
        raise NotFound.at("entry_id", f"no entry {entry_id!r} of feature {feature_id!r} for account {account_id!r}")
    return entry


def balance(store: Store, account_id: str, feature_id: str, now: str) -> tuple[Decimal, Decimal]:
    """What the entries in effect grant, and what is left of them, exactly."""
    live = [e for e in _credits(entries_of(store, account_id, feature_id)) if in_effect(e, now)]
    return sum((exact(e["granted"]) for e in live), Decimal(0)), sum((_left(e) for e in live), Decimal(0))


@dataclass(frozen=True, slots=True)
class Overage:
    """What the account's plan allows of a feature beyond its credits in the cycle now: the limit (None: no
    limit), the cycle, and the entry recording what the cycle used (None before any)."""

    limit: Decimal | None
    cycle_start: str
    cycle_end: str
    entry: Record | None

    @property
    def used(self) -> Decimal:
        """The overage the cycle used so far."""
        return exact(self.entry["used"]) if self.entry is not None else Decimal(0)

    @property
    def room(self) -> Decimal | None:
        """How much more overage the cycle allows (None: no limit)."""
        return None if self.limit is None else max(self.limit - self.used, Decimal(0))


def overage_card(details: dict[str, Any], feature_id: str, currency: str) -> dict[str, Any] | None:
    """The plan's entitlement overage rate card of the feature with rates in ``currency``, if any."""
    return next((c for c in details.get("entitlementOverageRateCards", [])
                 if c["featureId"] == feature_id and pricing.rate_value(c, currency) is not None), None)


def overage_of(store: Store, account_id: str, feature_id: str, now: str) -> Overage | None:
    """The overage the account's plan in effect at ``now`` allows of the feature (None: no overage card)."""
    found = schedules.schedule_at(store, account_id, parse_time(now))
    if found is None:
        return None
    card = overage_card(found.details, feature_id, found.currency)
    if card is None:
        return None
    start, end = stamp(found.cycle_start), stamp(found.cycle_end)
    entry = next((e for e in entries_of(store, account_id, feature_id)
                  if e["source"] == OVERAGE and e["effectiveFrom"] == start), None)
    limit = card.get("maxQuantity")
    return Overage(None if limit is None else exact(limit), start, end, entry)


def overage_used(store: Store, account_id: str, feature_id: str, start: datetime, end: datetime) -> Decimal:
    """The overage of the feature the account used in the cycle ``[start, end)`` (its OVERAGE entries
    starting within it)."""
    return sum((exact(e["used"]) for e in entries_of(store, account_id, feature_id)
                if e["source"] == OVERAGE and start <= parse_time(e["effectiveFrom"]) < end), Decimal(0))


def _take_overage(store: Store, account_id: str, feature_id: str, overage: Overage, amount: Decimal) -> None:
    """Record ``amount`` more overage on the cycle's OVERAGE entry (made at its first use)."""
    entry = overage.entry
    if entry is None:
        entry = {"id": store.new_id(OVERAGE_IDS, store.collections["featureCreditEntries"]),
                 "accountId": account_id, "featureId": feature_id, "source": OVERAGE, "status": "ACTIVE",
                 "effectiveFrom": overage.cycle_start, "effectiveUntil": overage.cycle_end, "used": 0,
                 **({} if overage.limit is None else {"granted": to_json(overage.limit)})}
        insert_entry(store, entry)
    entry["used"] = to_json(exact(entry["used"]) + amount)


def update_entry(store: Store, account_id: str, feature_id: str, entry_id: str, granted: Decimal | None = None,
                 effective_until: str | None = None) -> Record:
    """Change ``granted`` (not below what was used) and ``effectiveUntil`` (after ``effectiveFrom``) of an
    active entry; ``None`` leaves a field as it is."""
    entry = require_entry(store, account_id, feature_id, entry_id)
    status = shown_status(entry, store.clock.now())
    if status != "ACTIVE":
        raise Invalid.at("entry_id", f"entry {entry['id']!r} is {status}; only an ACTIVE one can be changed")
    changes: dict[str, Any] = {}
    problems: list[Violation] = []
    if granted is not None:
        if granted < exact(entry["used"]):
            problems.append(Violation("granted", f"must be at least what was used ({value_text(entry['used'])})"))
        changes["granted"] = to_json(granted)
    if effective_until is not None:
        until = parse_time(effective_until, "effectiveUntil")
        if until <= parse_time(entry["effectiveFrom"]):
            problems.append(Violation("effectiveUntil", "must be after effectiveFrom"))
        changes["effectiveUntil"] = stamp(until)
    if problems:
        raise Invalid(problems)
    entry.update(changes)
    return entry


def void_entry(store: Store, account_id: str, feature_id: str, entry_id: str) -> None:
    """An active entry's credits are gone (it is VOIDED)."""
    entry = require_entry(store, account_id, feature_id, entry_id)
    status = shown_status(entry, store.clock.now())
    if status != "ACTIVE":
        raise Invalid.at("entry_id", f"entry {entry['id']!r} is {status}; only an ACTIVE one can be voided")
    entry["status"] = "VOIDED"


def value_text(amount: Decimal | float) -> str:
    """A balance as an entitlement value, exactly as a decimal numeral: ``12``, ``2.5``, ``0.3``."""
    number = exact(amount).normalize()
    return format(number if number else Decimal(0), "f")


def entitlements(store: Store, account_id: str) -> list[tuple[str, str]]:
    """Each feature of the account with credits in effect, and its value (what is left), as of now."""
    account_id = require_account(store, account_id)["id"]
    now = store.clock.now()
    out = []
    for feature_id in store.indexes[ENTRIES].get(account_id, {}):
        value = _value(store, account_id, feature_id, now)
        if value is not None:
            out.append((feature_id, value))
    return out


def _value(store: Store, account_id: str, feature_id: str, now: str) -> str | None:
    live = [e for e in _credits(entries_of(store, account_id, feature_id)) if in_effect(e, now)]
    return value_text(sum((_left(e) for e in live), Decimal(0))) if live else None


def entitlement_value(store: Store, account_id: str, feature_id: str) -> str | None:
    """The account's entitlement value of the feature now; None when it is not entitled."""
    account_id, feature_id = require_feature(store, account_id, feature_id)
    return _value(store, account_id, feature_id, store.clock.now())


def validate_value(store: Store, account_id: str, feature_id: str, wanted: str) -> bool:
    """Is the account entitled to ``wanted``? A number is, up to what is left; any other value must equal
    the entitlement value."""
    value = entitlement_value(store, account_id, feature_id)
    if value is None:
        return False
    if decimal_problem(wanted) is None:
        return exact(wanted.strip()) <= exact(value)
    return wanted == value


def ingest_entitled(store: Store, event: dict[str, Any]) -> None:
    """Take an event only if its account is entitled to it, consuming credits.

    The features linked to the event's schema (their ``schemaAssociations``)
    each consume the value of their linked attribute (1 when the event does
    not carry it) from the account's entries in effect, soonest-ending
    first. If any feature lacks the credits, nothing is consumed
    (:class:`Invalid`). An event ``id`` already taken is a :class:`Conflict`.
    """
    account_id, event_id = event["accountId"], event.get("id")
    account = lookup.require(store, "accounts", account_id, "event.accountId", "account")
    if account["status"] == "ARCHIVED":
        raise Invalid.at("event.accountId", f"account {account_id!r} is archived")
    if event_id is not None and _id_taken(store, event_id):
        raise Conflict.at("event.id", f"event {event_id!r} was already ingested")
    problems: list[Violation] = []
    attributes: dict[str, Decimal] = {}
    for i, attribute in enumerate(event["attributes"]):
        problem = decimal_problem(attribute["value"])
        if problem is None:
            attributes[attribute["name"]] = exact(attribute["value"].strip() if isinstance(attribute["value"], str)
                                                  else attribute["value"])
        else:
            problems.append(Violation(f"event.attributes[{i}].value", problem))
    now = store.clock.now()
    needs, short = _needs(store, account_id, event["schemaName"], attributes, now)
    problems += short
    if problems:
        raise Invalid(problems)
    _consume(store, account_id, needs, now)
    usage_events.record_entitled(store, event)


Need = tuple[str, Decimal, Overage | None]  # a feature, the amount an event takes of it, its overage


def _needs(store: Store, account_id: str, schema_name: str, attributes: Mapping[str, Decimal],
           now: str) -> tuple[list[Need], list[Violation]]:
    """What an event of ``schema_name`` consumes of each feature linked to it (the value of the feature's first
    linked attribute, 1 when the event lacks it; beyond the credits, the overage its plan allows), and why the
    account cannot have it (none: it can)."""
    problems: list[Violation] = []
    needs: list[Need] = []
    # Only the features linked to the schema (an index of the catalog area), in creation order.
    for feature in features.linked_to(store, schema_name):
        names = [a["attributeName"] for a in feature["schemaAssociations"] if a["schemaName"] == schema_name]
        amount = attributes.get(names[0], Decimal(1))
        if amount < 0:
            problems.append(Violation("event.attributes", f"{names[0]} must not be negative"))
            continue
        left = balance(store, account_id, feature["id"], now)[1]
        overage, short = _beyond_credits(store, account_id, feature["id"], amount, left, now)
        if short:
            room = None if overage is None else overage.room
            rule = f"account {account_id!r} is not entitled to {value_text(amount)} of feature {feature['id']!r}"
            more = "" if room is None else f" and {value_text(room)} of overage"
            problems.append(Violation("event.accountId", f"{rule} ({value_text(left)} left{more})"))
        needs.append((feature["id"], amount, overage))
    return needs, problems


def _beyond_credits(store: Store, account_id: str, feature_id: str, amount: Decimal, left: Decimal,
                    now: str) -> tuple[Overage | None, bool]:
    """What takes an ``amount`` past the ``left`` credits: the plan's overage now (None within the credits,
    or without an overage card), and whether the account falls short even so."""
    if amount <= left:
        return None, False
    overage = overage_of(store, account_id, feature_id, now)
    return overage, overage is None or (overage.room is not None and amount - left > overage.room)


def _consume(store: Store, account_id: str, needs: list[Need], now: str) -> None:
    """Take each feature's amount from the account's credits in effect, soonest-ending first; what they
    cannot cover is the cycle's overage."""
    for feature_id, amount, overage in needs:
        live = [e for e in _credits(entries_of(store, account_id, feature_id)) if in_effect(e, now)]
        for entry in sorted(live, key=lambda e: parse_time(e["effectiveUntil"])):
            taken = min(amount, _left(entry))
            entry["used"] = to_json(exact(entry["used"]) + taken)
            amount -= taken
        if amount > 0 and overage is not None:  # the credits ran out: the rest is the cycle's overage
            _take_overage(store, account_id, feature_id, overage, amount)


def consume_for_event(store: Store, account_id: str, schema_name: str, flat: Attributes) -> bool:
    """An ``/ingest`` event being metered consumes the feature credits of its schema's features, as
    ``/entitled`` would (from the credits in effect now, soonest-ending first, then the overage its plan
    allows); False (nothing consumed) when they run short or the amount is negative (Togai's
    ``INGESTION_FAILED_INSUFFICIENT_CREDITS``).

    Only the features of which the account holds credits in effect gate it (the mock's reading, README): an
    event of a schema no feature is linked to, or of an account never granted (or no longer holding) credits
    of the linked features, consumes nothing and is metered as it always was. ``flat`` holds the event's
    attributes as ``name, value, unit, ...``, each value a bounded decimal numeral (ingestion checked them
    before metering). On the ingestion path: an event of a schema without features, or of an account without
    entries, costs a dictionary look-up.
    """
    held = store.indexes[ENTRIES].get(account_id)
    if not held or not store.indexes[features.BY_SCHEMA].get(schema_name):
        return True
    attributes = {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 3)}
    now = store.clock.now()
    moment = parse_time(now)
    items = store.collections["featureCreditEntries"].items
    needs: list[Need] = []
    for feature in features.linked_to(store, schema_name):
        live = [e for e in _credits([items[key] for key in held.get(feature["id"], ())]) if _live(e, moment)]
        if not live:
            continue  # the account holds none of this feature's credits now: not gated by it
        name = next(a["attributeName"] for a in feature["schemaAssociations"] if a["schemaName"] == schema_name)
        value = attributes.get(name)
        amount = Decimal(1) if value is None else exact(value)
        if amount < 0:
            return False
        overage, short = _beyond_credits(store, account_id, feature["id"], amount,
                                         sum((_left(e) for e in live), Decimal(0)), now)
        if short:
            return False
        needs.append((feature["id"], amount, overage))
    _consume(store, account_id, needs, now)
    return True


def _live(entry: Record, moment: datetime) -> bool:
    """:func:`in_effect` at a parsed instant."""
    return (entry["status"] == "ACTIVE"
            and parse_time(entry["effectiveFrom"]) <= moment < parse_time(entry["effectiveUntil"]))


# The ledger keeps the credits the usage pipeline asks about (core.observers.credits_refused).
def holds_credits(store: Store, account_id: str) -> bool:
    """Whether the account holds feature credits (entries of any status): without any, an event consumes nothing."""
    return bool(store.indexes[ENTRIES].get(account_id))


OBSERVER = Observer(name="feature credits", credits=consume_for_event, holds_credits=holds_credits)


def _id_taken(store: Store, event_id: str) -> bool:
    """Whether /entitled, /ingest or /ingestBatch took ``event_id`` less than 45 days ago (the mock's clock):
    the events of all three are stored together."""
    return usage_events.id_taken(store, event_id)


def check_import(ctx: ImportContext) -> None:
    """Amounts and times an entry can have: 0 <= used <= granted, a start before its end, a stored
    status of ACTIVE or VOIDED (EXPIRED is derived), and a purchase of its account that granted it."""
    purchases = ctx.ids("purchases")
    for i, entry in enumerate(ctx.data["featureCreditEntries"]):
        where = f"featureCreditEntries[{i}]"
        overage = entry.get("source") == OVERAGE
        if not 0 <= entry["used"] <= entry.get("granted", entry["used"] if overage else -1):
            ctx.problems.append(Violation(f"{where}.used", "must be between 0 and granted"))
        try:
            until = parse_time(entry["effectiveUntil"], "effectiveUntil")
            if until <= parse_time(entry["effectiveFrom"], "effectiveFrom"):
                ctx.problems.append(Violation(f"{where}.effectiveUntil", "must be after effectiveFrom"))
        except Invalid as exc:
            ctx.problems.extend(Violation(f"{where}.{v.field}", v.rule) for v in exc.violations)
        if entry["status"] not in ("ACTIVE", "VOIDED"):
            ctx.problems.append(Violation(f"{where}.status", "must be ACTIVE or VOIDED (EXPIRED is derived)"))
        if overage:  # a cycle's overage, made by the entitled events (any id; its owners are its own)
            continue
        purchase = purchases.get(entry["id"].rpartition("$")[0])
        if entry["source"] != "ENTITLEMENT" or purchase is None or purchase["accountId"] != entry["accountId"]:
            rule = "must be <purchase id>$<n> of a purchase of its account (source ENTITLEMENT), or an OVERAGE entry"
            ctx.problems.append(Violation(f"{where}.id", rule))


RESOURCE = Resource(
    name="featureCreditEntries",
    schema="FeatureCreditEntry",
    exchange=Exchange(
        owner_fields=("accountId", "featureId"),
        not_exported=("balance",),
        check_import=check_import,
        restore=restore_entry,
    ),
    references={"accountId": "accounts", "featureId": "features"},
    indexes=(ENTRIES,),
)
