"""Accounts: Togai's rules for creating, changing, aliasing and archiving them."""
from __future__ import annotations

from typing import Any

from ..errors import ApiError, Violation
from .pagination import paginate
from .state import AccountRecord, GroupRecord, Record, Store

MAX_ALIASES = 10
# Accounts are invoiced in the tenant's base currency unless they say otherwise.
BASE_CURRENCY = "USD"
# An account's invoiceGroupDetails: its group without the timestamps.
_GROUP_DETAIL_KEYS = tuple(f for f in GroupRecord.FIELDS if f not in ("createdAt", "updatedAt"))


def normalize_tags(tags: list[str]) -> list[str]:
    """Lowercase, without repeats, in first-seen order."""
    return list(dict.fromkeys(tag.lower() for tag in tags))


def require_account(store: Store, account_id: str, field: str = "account_id") -> AccountRecord:
    """The account, or a 404 naming ``field``."""
    record = store.accounts.get(account_id)
    if record is None:
        raise ApiError.of(404, field, f"no account with id {account_id!r}")
    return record


def require_active(record: AccountRecord, field: str = "account_id") -> None:
    """Reject changes to an archived account."""
    if record["status"] == "ARCHIVED":
        raise ApiError.of(400, field, f"account {record['id']!r} is archived and cannot be changed")


def check_new_account(store: Store, fields: dict[str, Any], prefix: str = "") -> list[str]:
    """Check a new account against the store; return its aliases. Changes nothing."""
    where = f"{prefix}." if prefix else ""
    account_id = fields["id"]
    if account_id in store.accounts.items:
        raise ApiError.of(400, f"{where}id", f"an account with id {account_id!r} already exists")
    wanted = [*fields.get("aliases", []), *(a["value"] for a in fields.get("accountAliases", []))]
    return _check_new_aliases(store, None, [], wanted, f"{where}aliases")


def build_account(
    store: Store, fields: dict[str, Any], customer: Record, aliases: list[str]
) -> AccountRecord:
    """The record of a new account checked by :func:`check_new_account`."""
    record = {
        "id": fields["id"],
        "togaiAccountId": store.new_id("account", 8, 5),
        "customerId": customer["id"],
        "togaiCustomerId": customer["togaiCustomerId"],
        "name": fields["name"],
        "status": fields.get("status", "ACTIVE"),
        "invoiceCurrency": fields.get("invoiceCurrency", BASE_CURRENCY),
        # A tuple: the empty one is shared by every account without aliases.
        "aliases": tuple({"alias": alias} for alias in aliases),
    }
    for key in ("netTermDays", "address", "primaryEmail", "billingInformation", "settings", "metadata"):
        if key in fields:
            record[key] = fields[key]
    if "tags" in fields:
        record["tags"] = normalize_tags(fields["tags"])
    return AccountRecord(record)


def insert_account(store: Store, record: AccountRecord) -> None:
    """Store a record built by :func:`build_account`."""
    store.accounts.add(record["id"], record)
    store.customer_accounts.setdefault(record["customerId"], []).append(record["id"])
    for alias in record["aliases"]:
        store.alias_owner[alias["alias"]] = record["id"]


def create_account(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /accounts``: an account for an existing, active customer."""
    customer = store.customers.get(body["customerId"])
    if customer is None:
        # 404 is kept for the resource in the path; a bad reference in the body is a 400.
        raise ApiError.of(400, "customerId", f"no customer with id {body['customerId']!r}")
    if customer["status"] == "ARCHIVED":
        raise ApiError.of(400, "customerId", f"customer {customer['id']!r} is archived")
    aliases = check_new_account(store, body)
    record = build_account(store, body, customer, aliases)
    insert_account(store, record)
    return render_account(store, record)


def render_account(store: Store, record: AccountRecord, with_group: bool = False) -> dict[str, Any]:
    """The account as the API shows it."""
    out = record.to_dict()
    if with_group:
        group_id = store.account_group.get(record["id"])
        if group_id is not None:
            group = store.groups.items[group_id]
            out["invoiceGroupDetails"] = {k: group[k] for k in _GROUP_DETAIL_KEYS if k in group}
    return out


def get_account(store: Store, account_id: str, include_group: bool) -> dict[str, Any]:
    """``GET /accounts/{id}``."""
    return render_account(store, require_account(store, account_id), include_group)


def list_accounts(store: Store, next_token: str | None, page_size: int | None) -> dict[str, Any]:
    """``GET /accounts``: one page, oldest first."""
    records, extra = paginate(store.accounts, next_token, page_size)
    return {"data": [render_account(store, r) for r in records], **extra}


def update_account(store: Store, account_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """``PATCH /accounts/{id}``: change only the fields sent."""
    record = require_account(store, account_id)
    require_active(record)
    currency = changes.get("invoiceCurrency", record["invoiceCurrency"])
    group_id = store.account_group.get(account_id)
    if group_id is not None and currency != record["invoiceCurrency"]:
        raise ApiError.of(
            400,
            "invoiceCurrency",
            f"cannot change while the account is in invoice group {group_id!r} "
            f"(invoiced in {record['invoiceCurrency']}); remove it from the group first",
        )
    for key, value in changes.items():
        record[key] = normalize_tags(value) if key == "tags" else value
    return render_account(store, record)


def archive_account(store: Store, record: AccountRecord) -> None:
    """Archive an account; it leaves its invoice group."""
    record["status"] = "ARCHIVED"
    store.leave_group(record["id"], store.clock.now())


def delete_account(store: Store, account_id: str) -> dict[str, Any]:
    """``DELETE /accounts/{id}``: archive, as Togai does."""
    record = require_account(store, account_id)
    if record["status"] == "ARCHIVED":
        raise ApiError.of(400, "account_id", f"account {account_id!r} is already archived")
    archive_account(store, record)
    return {"success": True}


def add_aliases(store: Store, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /accounts/{id}/add_aliases``."""
    record = require_account(store, account_id)
    require_active(record)
    current = [a["alias"] for a in record["aliases"]]
    wanted = [*body.get("aliases", []), *(a["value"] for a in body.get("accountAliases", []))]
    added = _check_new_aliases(store, account_id, current, wanted, "aliases")
    record["aliases"] = (*record["aliases"], *({"alias": alias} for alias in added))
    for alias in added:
        store.alias_owner[alias] = account_id
    return render_account(store, record)


def remove_aliases(store: Store, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /accounts/{id}/remove_aliases``; an alias is named by its value."""
    record = require_account(store, account_id)
    require_active(record)
    current = {a["alias"] for a in record["aliases"]}
    named = [("aliases", i, v) for i, v in enumerate(body.get("aliases", []))]
    named += [("accountAliases", i, a["id"]) for i, a in enumerate(body.get("accountAliases", []))]
    problems = [
        Violation(f"{field}[{i}]", f"alias {value!r} is not an alias of account {account_id!r}")
        for field, i, value in named
        if value not in current
    ]
    if problems:
        raise ApiError(400, problems)
    gone = {value for _, _, value in named}
    record["aliases"] = tuple(a for a in record["aliases"] if a["alias"] not in gone)
    for alias in gone:
        store.alias_owner.pop(alias, None)
    return render_account(store, record)


def _check_new_aliases(
    store: Store, owner: str | None, current: list[str], wanted: list[str], field: str
) -> list[str]:
    """The aliases to add; each may name only one account, ten at most per account."""
    new = [a for a in dict.fromkeys(wanted) if a not in current]
    problems = [
        Violation(field, f"alias {alias!r} already belongs to account {store.alias_owner[alias]!r}")
        for alias in new
        if store.alias_owner.get(alias, owner) != owner
    ]
    if problems:
        raise ApiError(400, problems)
    if len(current) + len(new) > MAX_ALIASES:
        raise ApiError.of(
            400, field, f"an account holds at most {MAX_ALIASES} aliases ({len(current)} already)"
        )
    return new
