"""Licenses: how many units of a license add-on an account holds, over time.

Each ``POST /license_updates`` records one update of one license (an add-on
of type ``LICENSE``) for one account, effective from an instant: ``ABSOLUTE``
sets the quantity, ``RELATIVE`` adds to the quantity in effect then. The
quantity an entry answers is derived by replaying the account's updates of
that license in effective order, whenever it is shown; what is stored is the
update as it was asked for, so a change back in time moves every later
quantity, as a ledger does. Togai names an entry by license, account and
``effectiveFrom`` (``PATCH /license_updates/{license_id}`` finds it so), so
the mock keys it by those three.

Named licenses (``GET /named_license_updates``): Togai's API has no
operation that assigns one; they are records of their own, made by the
state import and the fixtures.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ..core.cursors import paginate, paginate_positions
from ..core.errors import DomainError, Invalid, NotFound, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import parse_time

NAME = "licenseUpdates"
# The path segment of PATCH /license_updates/{license_id} as togai-client sends it.
UNFILLED = "{license_id}"
# (license, account) -> entry keys in effective order; idempotencyKey -> entry key.
TIMELINE = "license_timeline"
IDEMPOTENCY = "license_idempotency"
# account id -> positions of its entries in the collection, ascending; license id -> the same.
# Positions, not keys: list pages are in collection order, and their tokens name positions.
BY_ACCOUNT = "license_entries_by_account"
BY_LICENSE = "license_entries_by_license"


def instant(value: str, field: str = "effectiveFrom") -> datetime:
    """A date-time of the API as an aware UTC datetime; one no calendar has is an error naming ``field``."""
    return parse_time(value, field).astimezone(UTC)


def entry_key(license_id: str, account_id: str, effective_from: str) -> str:
    """The key of an entry: its license, account and effective instant (whatever its notation)."""
    return f"{license_id}/{account_id}/{instant(effective_from).isoformat()}"


def _pair(license_id: str, account_id: str) -> str:
    return f"{license_id}\n{account_id}"


def replay(entries: Iterable[Record]) -> list[float]:
    """The quantity after each update, entries in effective order."""
    quantities: list[float] = []
    current: float = 0
    for entry in entries:
        current = entry["change"] if entry["updateType"] == "ABSOLUTE" else current + entry["change"]
        quantities.append(current)
    return quantities


def timeline(store: Store, license_id: str, account_id: str) -> list[Record]:
    """The account's updates of the license, in effective order."""
    items = store.collections[NAME].items
    return [items[key] for key in store.indexes[TIMELINE].get(_pair(license_id, account_id), [])]


def quantities(store: Store, entries: Iterable[Record]) -> dict[str, float]:
    """The derived quantity of each of ``entries``, replaying each timeline once."""
    out: dict[str, float] = {}
    done: set[str] = set()
    for entry in entries:
        pair = _pair(entry["licenseId"], entry["accountId"])
        if pair in done:
            continue
        done.add(pair)
        line = timeline(store, entry["licenseId"], entry["accountId"])
        out.update(zip((e["id"] for e in line), replay(line), strict=True))
    return out


def quantity_at(store: Store, license_id: str, account_id: str, moment: str) -> float:
    """How many units of the license the account holds at ``moment`` (0 before its first update)."""
    at = instant(moment)
    line = [e for e in timeline(store, license_id, account_id) if instant(e["effectiveFrom"]) <= at]
    return (replay(line) or [0])[-1]


def render(store: Store, entry: Record, quantity: float | None = None) -> dict[str, Any]:
    """An entry as the API shows it (``LicenseUpdateResponse``), with its derived quantity."""
    if quantity is None:
        quantity = quantities(store, [entry])[entry["id"]]
    out = {"licenseId": entry["licenseId"], "accountId": entry["accountId"], "quantity": quantity,
           "effectiveFrom": entry["effectiveFrom"]}
    if "metadata" in entry:
        out["metadata"] = entry["metadata"]
    out["createdAt"] = entry["createdAt"]
    return out


def _insert(store: Store, entry: Record) -> None:
    """Store an entry, index it by account and license, and place it in its timeline (after
    entries effective at the same instant). Creation and import both come here."""
    place = store.collections[NAME].append(entry["id"], entry)  # entries are never removed
    store.indexes[BY_ACCOUNT].setdefault(entry["accountId"], []).append(place)
    store.indexes[BY_LICENSE].setdefault(entry["licenseId"], []).append(place)
    keys = store.indexes[TIMELINE].setdefault(_pair(entry["licenseId"], entry["accountId"]), [])
    at = instant(entry["effectiveFrom"])
    items = store.collections[NAME].items
    position = len(keys)
    while position > 0 and instant(items[keys[position - 1]]["effectiveFrom"]) > at:
        position -= 1
    keys.insert(position, entry["id"])
    if "idempotencyKey" in entry:
        store.indexes[IDEMPOTENCY][entry["idempotencyKey"]] = entry["id"]


def license_problem(addon: Record | None, license_id: str) -> str | None:
    """Why ``license_id`` names no license an account can hold, or ``None``."""
    if addon is None:
        return f"no license add-on with id {license_id!r}"
    if addon["type"] != "LICENSE":
        return f"add-on {license_id!r} is of type {addon['type']}, not LICENSE"
    return None


def _check_new(store: Store, body: dict[str, Any], effective_from: str) -> None:
    """Every rule of a new update, checked before anything changes."""
    problems: list[Violation] = []
    addon = store.collections["addOns"].get(body["licenseId"])
    problem = license_problem(addon, body["licenseId"])
    if problem is None and addon["status"] == "ARCHIVED":
        problem = f"license {body['licenseId']!r} is archived"
    if problem is not None:
        problems.append(Violation("licenseId", problem))
    account = store.collections["accounts"].get(body["accountId"])
    if account is None:
        problems.append(Violation("accountId", f"no account with id {body['accountId']!r}"))
    elif account["status"] == "ARCHIVED":
        problems.append(Violation("accountId", f"account {body['accountId']!r} is archived"))
    if problems:
        raise Invalid(problems)
    key = entry_key(body["licenseId"], body["accountId"], effective_from)
    if store.collections[NAME].get(key) is not None:
        rule = (f"license {body['licenseId']!r} of account {body['accountId']!r} already has an update "
                f"effective from {effective_from}; change its metadata with PATCH")
        raise Invalid.at("effectiveFrom", rule)
    if body["updateType"] == "ABSOLUTE" and body["quantity"] < 0:
        raise Invalid.at("quantity", "must not be negative for an ABSOLUTE update")
    # The quantity at the new instant and at every later update must stay at 0 or above.
    line = timeline(store, body["licenseId"], body["accountId"])
    at = instant(effective_from)
    position = sum(1 for e in line if instant(e["effectiveFrom"]) <= at)
    new = {"updateType": body["updateType"], "change": body["quantity"], "effectiveFrom": effective_from}
    after = [*line[:position], new, *line[position:]]
    for entry, quantity in zip(after, replay(after), strict=True):
        if quantity < 0:
            rule = f"would take license {body['licenseId']!r} of account {body['accountId']!r} to {quantity:g} " \
                   f"on {entry['effectiveFrom']}"
            raise Invalid.at("quantity", rule)


def add_update(store: Store, body: dict[str, Any]) -> Record:
    """``POST /license_updates``: record an update; an ``idempotencyKey`` seen before answers that entry again."""
    earlier = store.indexes[IDEMPOTENCY].get(body["idempotencyKey"]) if "idempotencyKey" in body else None
    if earlier is not None:
        found: Record = store.collections[NAME].items[earlier]
        return found
    clock = copy.copy(store.clock)
    now = store.clock.now()
    effective_from = body.get("effectiveFrom", now)
    try:
        _check_new(store, body, effective_from)
    except DomainError:
        store.clock = clock  # a rejected request must not move the (seeded) clock either
        raise
    entry: Record = {
        "id": entry_key(body["licenseId"], body["accountId"], effective_from),
        "licenseId": body["licenseId"],
        "accountId": body["accountId"],
        "effectiveFrom": effective_from,
        "updateType": body["updateType"],
        "change": body["quantity"],
    }
    if "metadata" in body:
        entry["metadata"] = body["metadata"]
    if "idempotencyKey" in body:
        entry["idempotencyKey"] = body["idempotencyKey"]
    entry["createdAt"] = now
    _insert(store, entry)
    return entry


def _keep(account: str | None, license_id: str | None, since: str | None) -> Callable[[Record], bool] | None:
    """The list filters asked for: ``account_id``, ``licenseId``, and updates effective from ``effectiveFrom`` on."""
    if account is None and license_id is None and since is None:
        return None
    start = instant(since) if since is not None else None
    return lambda e: (
        (account is None or e["accountId"] == account)
        and (license_id is None or e["licenseId"] == license_id)
        and (start is None or instant(e["effectiveFrom"]) >= start)
    )


def list_updates(
    store: Store,
    account: str | None,
    license_id: str | None,
    since: str | None,
    next_token: str | None,
    page_size: int | None,
) -> tuple[list[Record], dict[str, Any]]:
    """``GET /license_updates``: one page, oldest first, of the updates of ``account`` and
    ``license_id`` effective from ``since`` on (each when given), and its ``nextToken``."""
    collection = store.collections[NAME]
    keep = _keep(account, license_id, since)
    candidates = [
        store.indexes[index].get(value, [])
        for index, value in ((BY_ACCOUNT, account), (BY_LICENSE, license_id))
        if value is not None
    ]
    if candidates:
        # The shorter list; the filters drop what it holds of other accounts or licenses.
        return paginate_positions(collection, min(candidates, key=len), next_token, page_size,
                                  context=False, keep=keep)
    # GetLicenseUpdatesResponse is closed without the paging context.
    return paginate(collection, next_token, page_size, context=False, keep=keep)


def update_details(
    store: Store, license_id: str, asked: str | None, account_id: str, effective_from: str, metadata: Any
) -> Record:
    """``PATCH /license_updates/{license_id}``: new ``metadata`` for the entry at ``account_id``,
    ``effective_from``; ``asked`` is the license the query names (``licenseId``), if any."""
    if asked is not None:
        # Togai's generated clients send the template unfilled (the published path
        # never declares license_id) and name the license in the query.
        if license_id not in (asked, UNFILLED):
            raise Invalid.at("licenseId", f"names license {asked!r}, the path {license_id!r}")
        license_id = asked
    problem = license_problem(store.collections["addOns"].get(license_id), license_id)
    if problem is not None:
        raise NotFound.at("license_id", problem)
    if store.collections["accounts"].get(account_id) is None:
        raise Invalid.at("accountId", f"no account with id {account_id!r}")
    entry: Record | None = store.collections[NAME].get(entry_key(license_id, account_id, effective_from))
    if entry is None:
        rule = f"license {license_id!r} has no update for account {account_id!r} " \
               f"effective from {effective_from}"
        raise NotFound.at("license_id", rule)
    entry["metadata"] = metadata
    return entry


def check_import(ctx: ImportContext) -> None:
    """Each entry names a license add-on and an account, once per instant, never below zero units."""
    addons = ctx.ids("addOns")
    seen: dict[str, int] = {}
    for i, entry in enumerate(ctx.data[NAME]):
        where = f"{NAME}[{i}]"
        problem = license_problem(addons.get(entry["licenseId"]), entry["licenseId"])
        if problem is not None and entry["licenseId"] in addons:  # an unknown one is reported as a reference
            ctx.problems.append(Violation(f"{where}.licenseId", problem))
        if entry["quantity"] < 0:
            ctx.problems.append(Violation(f"{where}.quantity", "must not be negative"))
        key = entry["id"]
        if seen.setdefault(key, i) != i:
            ctx.problems.append(Violation(f"{where}.effectiveFrom", f"is also {NAME}[{seen[key]}]'s, "
                                          "for the same license and account"))


def complete_import(_: Store, ctx: ImportContext) -> None:
    """An imported entry is keyed by its license, account and instant, as the API keys it."""
    for entry in ctx.data.get(NAME, []):
        if all(isinstance(entry.get(k), str) for k in ("licenseId", "accountId", "effectiveFrom")):
            entry["id"] = entry_key(entry["licenseId"], entry["accountId"], entry["effectiveFrom"])


def restore(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported entry: its exported quantity becomes an ABSOLUTE update."""
    entry = {k: v for k, v in record.items() if k != "quantity"}
    entry.update(updateType="ABSOLUTE", change=record["quantity"])
    _insert(store, entry)


RESOURCE = Resource(
    name=NAME,
    schema="LicenseUpdateResponse",
    references={"accountId": "accounts", "licenseId": "addOns"},
    indexes=(TIMELINE, IDEMPOTENCY, BY_ACCOUNT, BY_LICENSE),
    exchange=Exchange(
        export=render,
        check_import=check_import,
        complete_import=complete_import,
        restore=restore,
    ),
)


def check_named(ctx: ImportContext) -> None:
    """A named license is of a license add-on, and its window does not end before it starts."""
    addons = ctx.ids("addOns")
    for i, record in enumerate(ctx.data["namedLicenses"]):
        where = f"namedLicenses[{i}]"
        problem = license_problem(addons.get(record["licenseId"]), record["licenseId"])
        if problem is not None and record["licenseId"] in addons:
            ctx.problems.append(Violation(f"{where}.licenseId", problem))
        start, until = record.get("effectiveFrom"), record.get("effectiveUntil")
        if start is None or until is None:
            continue
        if instant(until, f"{where}.effectiveUntil") < instant(start, f"{where}.effectiveFrom"):
            ctx.problems.append(Violation(f"{where}.effectiveUntil", "is before effectiveFrom"))


NAMED = Resource(
    name="namedLicenses",
    schema="NamedLicenseUpdate",
    ids=IdScheme("named_license_entry", first=7),
    references={"accountId": "accounts", "licenseId": "addOns"},
    exchange=Exchange(
        check_import=check_named,
    ),
)
