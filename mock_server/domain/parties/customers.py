"""Customers: creation (with an optional first account), updates, archiving."""
from __future__ import annotations

from typing import Any

from ..core.cursors import paginate
from ..core.errors import Conflict, Invalid, NotFound
from ..core.resource import IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from .accounts import archive_account, build_account, check_new_account, insert_account, render_account

TOGAI_CUSTOMER_IDS = IdScheme("customer", 8, 5, mixed_case=False)

_ADDRESS_ORDER = ("line1", "line2", "city", "state", "postalCode", "country")
# Customer.billingAddress is capped at 1000 characters by the contract.
_BILLING_ADDRESS_MAX = 1000


def billing_address(address: dict[str, str]) -> str:
    """The address on one line, as Togai shows it in ``billingAddress``."""
    line = ", ".join(address[k] for k in _ADDRESS_ORDER if address.get(k))
    return line[:_BILLING_ADDRESS_MAX]


def require_customer(store: Store, customer_id: str) -> Record:
    """The customer, or a 404."""
    record: Record | None = store.collections["customers"].get(customer_id)
    if record is None:
        raise NotFound.at("customer_id", f"no customer with id {customer_id!r}")
    return record


def create_customer(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /customers``; an ``account`` in the body is created too."""
    customer_id = body["id"]
    if customer_id in store.collections["customers"].items:
        raise Conflict.at("id", f"a customer with id {customer_id!r} already exists")
    fields = body.get("account")
    # Checked before anything is stored, so a bad account leaves no customer behind.
    aliases = check_new_account(store, fields, prefix="account") if fields is not None else []
    now = store.clock.now()
    record: Record = {
        "id": customer_id,
        "togaiCustomerId": store.new_id(TOGAI_CUSTOMER_IDS),
        "name": body["name"],
        "primaryEmail": body["primaryEmail"],
        "billingAddress": billing_address(body["address"]),
        "address": body["address"],
        "status": "ACTIVE",
        "createdAt": now,
        "updatedAt": now,
    }
    store.collections["customers"].add(customer_id, record)
    response = {k: record[k] for k in ("id", "togaiCustomerId", "name", "primaryEmail", "billingAddress", "address")}
    if "settings" in body:
        response["settings"] = body["settings"]
    if fields is not None:
        account = build_account(store, fields, record, aliases)
        insert_account(store, account)
        response["account"] = render_account(store, account)
    return response


def get_customer(store: Store, customer_id: str) -> dict[str, Any]:
    """``GET /customers/{id}``."""
    return dict(require_customer(store, customer_id))


def list_customers(store: Store, next_token: str | None, page_size: int | None) -> dict[str, Any]:
    """``GET /customers``: one page, oldest first."""
    records, extra = paginate(store.collections["customers"], next_token, page_size)
    return {"data": [dict(r) for r in records], **extra}


def update_customer(store: Store, customer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """``PATCH /customers/{id}``: change only the fields sent."""
    record = require_customer(store, customer_id)
    if record["status"] == "ARCHIVED":
        raise Invalid.at("customer_id", f"customer {customer_id!r} is archived and cannot be changed")
    if changes:
        record.update(changes)
        if "address" in changes:
            record["billingAddress"] = billing_address(changes["address"])
        record["updatedAt"] = store.clock.now()
    return dict(record)


def delete_customer(store: Store, customer_id: str) -> dict[str, Any]:
    """``DELETE /customers/{id}``: archive the customer and all its accounts."""
    record = require_customer(store, customer_id)
    if record["status"] == "ARCHIVED":
        raise Invalid.at("customer_id", f"customer {customer_id!r} is already archived")
    for account_id in store.indexes["customer_accounts"].get(customer_id, ()):
        account = store.collections["accounts"].items[account_id]
        if account["status"] != "ARCHIVED":
            archive_account(store, account)
    record["status"] = "ARCHIVED"
    record["updatedAt"] = store.clock.now()
    return {"success": True}


def restore_customer(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported customer."""
    store.collections["customers"].add(record["id"], dict(record))
    store.reserved.add(record["togaiCustomerId"])


def complete_import(store: Store, ctx: ImportContext) -> None:
    """An imported customer without ``togaiCustomerId`` or ``billingAddress`` gets them as creation gives them."""
    for record in ctx.data["customers"]:
        if "togaiCustomerId" not in record:
            record["togaiCustomerId"] = store.new_id(TOGAI_CUSTOMER_IDS)
        if "billingAddress" not in record:
            record["billingAddress"] = billing_address(record["address"])


RESOURCE = Resource(
    name="customers",
    schema="Customer",
    unique=("togaiCustomerId",),
    restore=restore_customer,
    generated=("togaiCustomerId", "billingAddress"),
    complete_import=complete_import,
)
