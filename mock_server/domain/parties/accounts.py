"""Accounts: Togai's rules for creating, changing, aliasing and archiving them."""
from __future__ import annotations

import sys
from typing import Any

from ..core import lookup
from ..core.cursors import paginate
from ..core.errors import Conflict, Invalid, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Layout, Resource
from ..core.store import BASE_CURRENCY, Record, SlottedRecord, Store
from .aliases import attach, detach
from .invoice_groups import leave_group

# Slotted records made from the spec's Account and InvoiceGroupWithAccounts schemas.
AccountRecord = SlottedRecord
GroupRecord = SlottedRecord

TOGAI_ACCOUNT_IDS = IdScheme("account", 8, 5, mixed_case=False)

MAX_ALIASES = 10


def normalize_tags(tags: list[str]) -> list[str]:
    """Lowercase, without repeats, in first-seen order."""
    return list(dict.fromkeys(tag.lower() for tag in tags))


def require_account(store: Store, account_id: str, field: str = "account_id") -> AccountRecord:
    """The account, or a :class:`NotFound` naming ``field``."""
    record: AccountRecord = lookup.require(store, "accounts", account_id, field, "account")
    return record


def require_active(record: AccountRecord, field: str = "account_id") -> None:
    """Reject changes to an archived account."""
    if record["status"] == "ARCHIVED":
        raise Invalid.at(field, f"account {record['id']!r} is archived and cannot be changed")


def check_new_account(store: Store, fields: dict[str, Any], prefix: str = "") -> list[str]:
    """Check a new account against the store; return its aliases. Changes nothing."""
    where = f"{prefix}." if prefix else ""
    account_id = fields["id"]
    if account_id in store.collections["accounts"].items:
        raise Conflict.at(f"{where}id", f"an account with id {account_id!r} already exists")
    wanted = [*fields.get("aliases", []), *(a["value"] for a in fields.get("accountAliases", []))]
    return _check_new_aliases(store, None, [], wanted, f"{where}aliases")


def build_account(
    store: Store, fields: dict[str, Any], customer: Record, aliases: list[str]
) -> AccountRecord:
    """The record of a new account checked by :func:`check_new_account`."""
    record = {
        "id": fields["id"],
        "togaiAccountId": store.new_id(TOGAI_ACCOUNT_IDS),
        "customerId": customer["id"],
        "togaiCustomerId": customer["togaiCustomerId"],
        "name": fields["name"],
        # Interned as an import does: a request's body gives every account its own copy of these.
        "status": sys.intern(fields.get("status", "ACTIVE")),
        "invoiceCurrency": sys.intern(fields.get("invoiceCurrency", BASE_CURRENCY)),
        # A tuple: the empty one is shared by every account without aliases.
        "aliases": tuple({"alias": alias} for alias in aliases),
    }
    for key in ("netTermDays", "address", "primaryEmail", "billingInformation", "settings", "metadata"):
        if key in fields:
            record[key] = fields[key]
    if "tags" in fields:
        record["tags"] = normalize_tags(fields["tags"])
    made: AccountRecord = store.new_record("accounts", record)
    return made


def insert_account(store: Store, record: AccountRecord) -> None:
    """Store a record built by :func:`build_account`."""
    store.collections["accounts"].add(record["id"], record)
    store.indexes["customer_accounts"].setdefault(record["customerId"], []).append(record["id"])
    for alias in record["aliases"]:
        store.indexes["alias_owner"][alias["alias"]] = record["id"]
    attach(store, record["id"], [a["alias"] for a in record["aliases"]])


def create_account(store: Store, body: dict[str, Any]) -> AccountRecord:
    """``POST /accounts``: an account for an existing, active customer."""
    # A NotFound that is a 400: the edge keeps 404 for the resource named in the path.
    customer = lookup.require(store, "customers", body["customerId"], "customerId", "customer")
    if customer["status"] == "ARCHIVED":
        raise Invalid.at("customerId", f"customer {customer['id']!r} is archived")
    aliases = check_new_account(store, body)
    record = build_account(store, body, customer, aliases)
    insert_account(store, record)
    return record


def list_accounts(
    store: Store, next_token: str | None, page_size: int | None
) -> tuple[list[AccountRecord], dict[str, Any]]:
    """``GET /accounts``: one page, oldest first, and the page's ``nextToken`` and ``context``."""
    return paginate(store.collections["accounts"], next_token, page_size)


def update_account(store: Store, account_id: str, changes: dict[str, Any]) -> AccountRecord:
    """``PATCH /accounts/{id}``: change only the fields sent."""
    record = require_account(store, account_id)
    require_active(record)
    currency = changes.get("invoiceCurrency", record["invoiceCurrency"])
    group_id = store.indexes["account_group"].get(account_id)
    if group_id is not None and currency != record["invoiceCurrency"]:
        raise Invalid.at("invoiceCurrency",
            f"cannot change while the account is in invoice group {group_id!r} "
            f"(invoiced in {record['invoiceCurrency']}); remove it from the group first",
        )
    for key, value in changes.items():
        record[key] = normalize_tags(value) if key == "tags" else value
    return record


def archive_account(store: Store, record: AccountRecord) -> None:
    """Archive an account; it leaves its invoice group."""
    record["status"] = "ARCHIVED"
    leave_group(store, record["id"], store.clock.now())


def delete_account(store: Store, account_id: str) -> None:
    """``DELETE /accounts/{id}``: archive, as Togai does."""
    record = require_account(store, account_id)
    if record["status"] == "ARCHIVED":
        raise Invalid.at("account_id", f"account {account_id!r} is already archived")
    archive_account(store, record)


def add_aliases(store: Store, account_id: str, wanted: list[str]) -> AccountRecord:
    """``POST /accounts/{id}/add_aliases``: the account holds ``wanted`` too (those it holds are skipped)."""
    record = require_account(store, account_id)
    require_active(record)
    current = [a["alias"] for a in record["aliases"]]
    added = _check_new_aliases(store, account_id, current, wanted, "aliases")
    record["aliases"] = (*record["aliases"], *({"alias": alias} for alias in added))
    for alias in added:
        store.indexes["alias_owner"][alias] = account_id
    attach(store, account_id, added)
    return record


def remove_aliases(store: Store, account_id: str, aliases: list[str], alias_ids: list[str]) -> AccountRecord:
    """``POST /accounts/{id}/remove_aliases``: ``aliases`` and ``alias_ids`` (``accountAliases[].id``)
    both name an alias by its value."""
    record = require_account(store, account_id)
    require_active(record)
    current = {a["alias"] for a in record["aliases"]}
    named = [("aliases", i, v) for i, v in enumerate(aliases)]
    named += [("accountAliases", i, v) for i, v in enumerate(alias_ids)]
    problems = [
        Violation(f"{field}[{i}]", f"alias {value!r} is not an alias of account {account_id!r}")
        for field, i, value in named
        if value not in current
    ]
    if problems:
        raise Invalid(problems)
    gone = {value for _, _, value in named}
    record["aliases"] = tuple(a for a in record["aliases"] if a["alias"] not in gone)
    for alias in gone:
        store.indexes["alias_owner"].pop(alias, None)
    detach(store, gone)
    return record


def _check_new_aliases(
    store: Store, owner: str | None, current: list[str], wanted: list[str], field: str
) -> list[str]:
    """The aliases to add; each may name only one account, ten at most per account."""
    new = [a for a in dict.fromkeys(wanted) if a not in current]
    problems = [
        Violation(field, f"alias {alias!r} already belongs to account {store.indexes['alias_owner'][alias]!r}")
        for alias in new
        if store.indexes["alias_owner"].get(alias, owner) != owner
    ]
    if problems:
        raise Invalid(problems)
    if len(current) + len(new) > MAX_ALIASES:
        raise Invalid.at(field, f"an account holds at most {MAX_ALIASES} aliases ({len(current)} already)"
        )
    return new


_SHARED_VALUES = ("customerId", "togaiCustomerId", "status", "invoiceCurrency")


def check_import(ctx: ImportContext) -> None:
    """Each account belongs to a customer of the document; aliases name one account, ten at most."""
    customers = ctx.ids("customers")
    alias_owner: dict[str, str] = {}
    for i, record in enumerate(ctx.data["accounts"]):
        where = f"accounts[{i}]"
        owner = customers.get(record["customerId"])
        if owner is None:
            pass  # an unknown customer is reported with every other broken reference
        elif owner["togaiCustomerId"] != record["togaiCustomerId"]:
            ctx.problems.append(Violation(f"{where}.togaiCustomerId", "is not its customer's togaiCustomerId"))
        elif owner["status"] == "ARCHIVED" and record["status"] != "ARCHIVED":
            ctx.problems.append(Violation(f"{where}.status", "an archived customer's accounts are archived"))
        aliases = [a["alias"] for a in record.get("aliases", [])]
        if len(aliases) > MAX_ALIASES:
            ctx.problems.append(Violation(f"{where}.aliases", f"an account holds at most {MAX_ALIASES} aliases"))
        for alias in aliases:
            other = alias_owner.setdefault(alias, record["id"])
            if other != record["id"]:
                rule = f"alias {alias!r} already belongs to account {other!r}"
                ctx.problems.append(Violation(f"{where}.aliases", rule))


def restore_account(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported account and its index entries."""
    stored = {k: v for k, v in record.items() if k != "invoiceGroupDetails"}
    for key in _SHARED_VALUES:
        if key in stored:
            # Parsed JSON gives every account its own copy of these few values.
            stored[key] = sys.intern(stored[key])
    stored["aliases"] = tuple(stored.get("aliases", ()))
    stored.setdefault("invoiceCurrency", BASE_CURRENCY)
    store.collections["accounts"].add(record["id"], store.new_record("accounts", stored))
    store.reserved.add(record["togaiAccountId"])
    store.indexes["customer_accounts"].setdefault(record["customerId"], []).append(record["id"])
    for alias in stored["aliases"]:
        store.indexes["alias_owner"][alias["alias"]] = record["id"]


def complete_import(store: Store, ctx: ImportContext) -> None:
    """Server-made account fields an import left out: a new ``togaiAccountId``, and
    ``togaiCustomerId`` and (for an archived customer's) ``status`` from the customer."""
    customers = ctx.ids("customers")
    for record in ctx.data["accounts"]:
        if "togaiAccountId" not in record:
            record["togaiAccountId"] = store.new_id(TOGAI_ACCOUNT_IDS)
        owner = customers.get(record["customerId"])
        if owner is None:
            continue  # reported as an unknown customer by the import's checks
        if "togaiCustomerId" not in record and "togaiCustomerId" in owner:
            record["togaiCustomerId"] = owner["togaiCustomerId"]
        if "status" not in record and owner.get("status") == "ARCHIVED":
            record["status"] = "ARCHIVED"


RESOURCE = Resource(
    name="accounts",
    schema="Account",
    references={"customerId": "customers"},
    exchange=Exchange(
        unique=("togaiAccountId",),
        not_exported=("invoiceGroupDetails",),
        check_import=check_import,
        restore=restore_account,
        generated=("togaiAccountId", "togaiCustomerId"),
        complete_import=complete_import,
    ),
    indexes=("customer_accounts", "alias_owner"),
    layout=Layout(
        list_fields=("aliases",),
        computed=("invoiceGroupDetails",),
    ),
)
