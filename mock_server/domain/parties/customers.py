"""Customers: creation (with an optional first account), updates, archiving."""
from __future__ import annotations

from typing import Any

from ..core import lookup
from ..core.cursors import paginate
from ..core.errors import Conflict, Invalid
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from .accounts import AccountRecord, archive_account, build_account, check_new_account, insert_account

TOGAI_CUSTOMER_IDS = IdScheme("customer", 8, 5, mixed_case=False)

_ADDRESS_ORDER = ("line1", "line2", "city", "state", "postalCode", "country")
# Customer.billingAddress is capped at 1000 characters by the contract.
_BILLING_ADDRESS_MAX = 1000


def billing_address(address: dict[str, str]) -> str:
    """The address on one line, as Togai shows it in ``billingAddress``."""
    line = ", ".join(address[k] for k in _ADDRESS_ORDER if address.get(k))
    return line[:_BILLING_ADDRESS_MAX]


def require_customer(store: Store, customer_id: str) -> Record:
    """The customer, or a :class:`NotFound`."""
    record: Record = lookup.require(store, "customers", customer_id, "customer_id", "customer")
    return record


def create_customer(store: Store, body: dict[str, Any]) -> tuple[Record, AccountRecord | None]:
    """``POST /customers``; an ``account`` in the body is created too. The new customer, and its account."""
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
    account = None
    if fields is not None:
        account = build_account(store, fields, record, aliases)
        insert_account(store, account)
    return record, account


def list_customers(store: Store, next_token: str | None, page_size: int | None) -> tuple[list[Record], dict[str, Any]]:
    """``GET /customers``: one page, oldest first, and the page's ``nextToken`` and ``context``."""
    return paginate(store.collections["customers"], next_token, page_size)


def update_customer(store: Store, customer_id: str, changes: dict[str, Any]) -> Record:
    """``PATCH /customers/{id}``: change only the fields sent."""
    record = require_customer(store, customer_id)
    if record["status"] == "ARCHIVED":
        raise Invalid.at("customer_id", f"customer {customer_id!r} is archived and cannot be changed")
    if changes:
        record.update(changes)
        if "address" in changes:
            record["billingAddress"] = billing_address(changes["address"])
        record["updatedAt"] = store.clock.now()
    return record


def delete_customer(store: Store, customer_id: str) -> None:
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
    exchange=Exchange(
        unique=("togaiCustomerId",),
        restore=restore_customer,
        generated=("togaiCustomerId", "billingAddress"),
        complete_import=complete_import,
    ),
)
