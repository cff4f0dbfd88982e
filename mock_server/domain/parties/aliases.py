"""Aliases: the tenant's alias values, and each account's alias history.

An alias is the tenant's (``/aliases``): it can be created before any account
holds it, and outlives the accounts that held it. Attaching it to an account
(``add_aliases``, or ``aliases`` of a new account) registers it if needed and
opens an ``accountAliases`` record (``effectiveFrom`` now, ``effectiveUntil``
:data:`OPEN_UNTIL`); removing it closes that record (``effectiveUntil`` now).
So an account's open history records are exactly its ``aliases``, and the
store's ``alias_owner`` index says the same from the alias' side.
"""
from __future__ import annotations

from typing import Any

from ..core import lookup
from ..core.errors import Conflict, NotFound, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store

# AccountAlias.effectiveUntil is required: an attachment still in force ends at the end of time.
OPEN_UNTIL = "9999-12-31T23:59:59.999Z"
HISTORY_IDS = IdScheme("account_alias")
# Indexes: alias value -> id of its open history record; account id -> its history record ids.
OPEN = "alias_attachment"
HISTORY = "account_alias_history"


def register(store: Store, value: str, now: str) -> None:
    """Make ``value`` a tenant alias, unless it already is one."""
    if store.collections["aliases"].get(value) is None:
        store.collections["aliases"].add(value, {"value": value, "createdAt": now})


def attach(store: Store, account_id: str, values: list[str]) -> None:
    """Record that ``account_id`` holds ``values`` from now on (they are checked to be free)."""
    if not values:
        return  # no tick of the seeded clock for an account without aliases
    now = store.clock.now()
    for value in values:
        register(store, value, now)
        record = {
            "id": store.new_id(HISTORY_IDS, store.collections["accountAliases"]),
            "accountId": account_id,
            "value": value,
            "effectiveFrom": now,
            "effectiveUntil": OPEN_UNTIL,
            "createdAt": now,
            "updatedAt": now,
        }
        _insert(store, record)


def detach(store: Store, values: list[str] | set[str]) -> None:
    """Close the open history records of ``values`` (their accounts no longer hold them)."""
    now = store.clock.now()
    for value in values:
        key = store.indexes[OPEN].pop(value, None)
        if key is not None:
            record = store.collections["accountAliases"].items[key]
            record["effectiveUntil"] = record["updatedAt"] = now


def _insert(store: Store, record: dict[str, Any]) -> None:
    store.reserved.add(record["id"])  # an imported id is never issued again
    store.collections["accountAliases"].add(record["id"], record)
    store.indexes[HISTORY].setdefault(record["accountId"], []).append(record["id"])
    if record["effectiveUntil"] == OPEN_UNTIL:
        store.indexes[OPEN][record["value"]] = record["id"]


def require_alias(store: Store, value: str) -> Record:
    """The tenant alias, or a 404."""
    record: Record | None = store.collections["aliases"].get(value)
    if record is None:
        raise NotFound.at("alias", f"no alias {value!r}")
    return record


def create_aliases(store: Store, values: list[str]) -> list[Record]:
    """``POST /aliases``: new tenant aliases, all or none; an alias in use is refused."""
    problems: list[Violation] = []
    seen: dict[str, int] = {}
    for i, value in enumerate(values):
        where = f"aliases[{i}].value"
        if not value:
            problems.append(Violation(where, "must not be empty (an alias is addressed by its value)"))
        elif seen.setdefault(value, i) != i:
            problems.append(Violation(where, f"is also aliases[{seen[value]}].value"))
        elif store.collections["aliases"].get(value) is not None:
            problems.append(Violation(where, f"alias {value!r} already exists"))
    if problems:
        raise Conflict(problems)
    now = store.clock.now()
    for value in values:
        register(store, value, now)
    return [store.collections["aliases"].items[v] for v in values]


def delete_alias(store: Store, value: str) -> None:
    """``DELETE /aliases/{alias}``: the tenant's alias is gone, and so from the account holding it
    (archived or not: aliases are managed for the whole organisation); that account's history closes."""
    require_alias(store, value)
    owner = store.indexes["alias_owner"].pop(value, None)
    if owner is not None:
        account = store.collections["accounts"].items[owner]
        account["aliases"] = tuple(a for a in account["aliases"] if a["alias"] != value)
        detach(store, [value])
    store.collections["aliases"].remove(value)


def account_history(store: Store, account_id: str) -> list[Record]:
    """``GET /accounts/{id}/account_aliases``: every alias the account held or holds, oldest first.

    The operation takes no page token, so the whole history is one page.
    """
    # Not accounts.require_account: accounts imports this module.
    lookup.require(store, "accounts", account_id, "account_id", "account")
    items = store.collections["accountAliases"].items
    return [items[key] for key in store.indexes[HISTORY].get(account_id, ())]


def _held(ctx: ImportContext) -> dict[str, str]:
    """Alias value -> the account of the document holding it."""
    return {a["alias"]: account["id"] for account in ctx.data["accounts"] for a in account.get("aliases", [])}


def complete_aliases(store: Store, ctx: ImportContext) -> None:
    """An alias an imported account holds is a tenant alias, as attaching it would have made it."""
    known = {a["value"] for a in ctx.data["aliases"] if "value" in a}
    now = store.clock.now()
    for value in _held(ctx):
        if value not in known:
            ctx.data["aliases"].append({"value": value, "createdAt": now})
            known.add(value)


def check_aliases(ctx: ImportContext) -> None:
    """Every alias an account holds is a tenant alias."""
    known = {a["value"] for a in ctx.data["aliases"]}
    for i, alias in enumerate(ctx.data["aliases"]):
        if not alias["value"]:
            ctx.problems.append(Violation(f"aliases[{i}].value", "must not be empty"))
    for value, account in _held(ctx).items():
        if value not in known:
            ctx.problems.append(Violation("aliases", f"has no alias {value!r}, which account {account!r} holds"))


def complete_history(store: Store, ctx: ImportContext) -> None:
    """An alias an imported account holds without an open history record gets one, from now."""
    open_values = {r["value"] for r in ctx.data["accountAliases"] if r.get("effectiveUntil") == OPEN_UNTIL}
    now = store.clock.now()
    for value, account in _held(ctx).items():
        if value not in open_values:
            ctx.data["accountAliases"].append({
                "id": store.new_id(HISTORY_IDS), "accountId": account, "value": value,
                "effectiveFrom": now, "effectiveUntil": OPEN_UNTIL, "createdAt": now, "updatedAt": now,
            })


def check_history(ctx: ImportContext) -> None:
    """The open records are exactly the aliases the accounts hold; closed ones end after they start."""
    held = _held(ctx)
    opened: dict[str, str] = {}
    for i, record in enumerate(ctx.data["accountAliases"]):
        where = f"accountAliases[{i}]"
        if record["effectiveUntil"] < record["effectiveFrom"]:
            ctx.problems.append(Violation(f"{where}.effectiveUntil", "is before effectiveFrom"))
        if record["effectiveUntil"] != OPEN_UNTIL:
            continue
        value = record["value"]
        if value in opened:
            ctx.problems.append(Violation(f"{where}.value", f"alias {value!r} is also open in {opened[value]}"))
        opened[value] = where
        if held.get(value) != record["accountId"]:
            rule = f"is open, but account {record['accountId']!r} does not hold {value!r}"
            ctx.problems.append(Violation(where, rule))
    for value, account in held.items():
        if value not in opened:
            rule = f"no open record of alias {value!r} of account {account!r}"
            ctx.problems.append(Violation("accountAliases", rule))


ALIASES = Resource(
    name="aliases",
    schema="Alias",
    exchange=Exchange(
        key_field="value",
        check_import=check_aliases,
        complete_import=complete_aliases,
    ),
)

HISTORY_RESOURCE = Resource(
    name="accountAliases",
    schema="AccountAlias",
    ids=HISTORY_IDS,
    exchange=Exchange(
        owner_fields=("accountId",),
        check_import=check_history,
        restore=_insert,
        complete_import=complete_history,
    ),
    references={"accountId": "accounts"},
    indexes=(OPEN, HISTORY),
)
