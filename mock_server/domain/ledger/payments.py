"""Payments: money received from an account, allocated to invoices, credits and wallet credit."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..core import lookup
from ..core.errors import Invalid, NotFound, Violation
from ..core.money import exact, to_json
from ..core.resource import Exchange, IdScheme, ImportContext, Resource, Writes
from ..core.store import Record, Store
from . import invoices, wallets

PAYMENT_IDS = IdScheme("payment")

# Who recorded a payment: the mock has API keys, not users.
CREATED_BY = "api"
# ListPaymentResponse holds at most 50 payments.
MAX_PAGE = 50


def allocation_problems(record: dict[str, Any], where: str = "") -> list[Violation]:
    """A positive total, allocated at most once in full, each line item with its own ``order``."""
    problems: list[Violation] = []
    if record["totalAmount"] <= 0:
        problems.append(Violation(f"{where}totalAmount", "must be greater than 0"))
    items = record["lineItemRecords"]
    # Exact decimals: three allocations of 0.1 are 0.3, not more than a total of 0.3.
    allocated = sum((exact(item.get("amount", 0)) for item in items), Decimal(0))
    if allocated > exact(record["totalAmount"]):
        rule = f"allocate {to_json(allocated):g}, more than the totalAmount {record['totalAmount']:g}"
        problems.append(Violation(f"{where}lineItemRecords", rule))
    seen: set[int] = set()
    for i, item in enumerate(items):
        if item.get("amount", 0) < 0:
            problems.append(Violation(f"{where}lineItemRecords[{i}].amount", "must not be negative"))
        if item["order"] in seen:
            problems.append(Violation(f"{where}lineItemRecords[{i}].order", f"{item['order']} is used twice"))
        seen.add(item["order"])
    return problems


def check_payment(store: Store, record: dict[str, Any]) -> None:
    """An active account (it exists: the registry checked the reference), paying in its invoice currency."""
    account = store.collections["accounts"].get(record["accountId"])
    if account["status"] == "ARCHIVED":
        raise Invalid.at("accountId", f"account {account['id']!r} is archived")
    if record["currency"] != account["invoiceCurrency"]:
        raise Invalid.at("currency", f"account {account['id']!r} is invoiced in {account['invoiceCurrency']}")
    problems = allocation_problems(record)
    if problems:
        raise Invalid(problems)


def _decimals(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def settlement_problems(store: Store, record: dict[str, Any]) -> list[Violation]:
    """Why the payment's INVOICE and WALLET_CREDIT records cannot all be applied (none: they can).

    An INVOICE record names (``togaiId``) a DUE or PARTIALLY_PAID invoice of the
    payment's account and pays at most what it still owes (records naming one
    invoice add up); a WALLET_CREDIT record tops up an ACTIVE (or not yet
    opened) wallet. Each has an ``amount`` above 0 in the currency's minor
    unit (``decimals``: its number of decimals, from the billing engine's table).
    """
    problems: list[Violation] = []
    paying: dict[str, Decimal] = {}
    account_id = record["accountId"]
    for i, item in enumerate(record["lineItemRecords"]):
        at = f"lineItemRecords[{i}]"
        if item["type"] == "CREDIT":
            continue  # recorded as sent (README, "Money that moves")
        if "amount" not in item:
            problems.append(Violation(f"{at}.amount", f"is required to apply a {item['type']} record"))
            continue
        amount = exact(item["amount"])
        if amount <= 0:
            problems.append(Violation(f"{at}.amount", "must be greater than 0"))
            continue
        if item["type"] == "WALLET_CREDIT":
            why = wallets.top_up_problem(store, account_id)
            if why is not None:
                problems.append(Violation(f"{at}.type", why))
            continue
        if "togaiId" not in item:
            problems.append(Violation(f"{at}.togaiId", "is required: the id of the invoice it pays"))
            continue
        invoice = store.collections["invoices"].get(item["togaiId"])
        if invoice is None:
            problems.append(Violation(f"{at}.togaiId", f"no invoice with id {item['togaiId']!r}"))
        elif invoice["ownerId"] != account_id and invoice["ownerId"] != store.indexes["account_group"].get(account_id):
            # A group's invoice (COMPOSITE, or CUSTOM for the group) is paid by any of its accounts.
            rule = f"invoice {invoice['id']!r} is not an invoice of account {account_id!r}"
            problems.append(Violation(f"{at}.togaiId", rule))
        elif invoice["status"] not in invoices.SETTLEABLE:
            problems.append(Violation(f"{at}.togaiId", f"invoice {invoice['id']!r} is {invoice['status']}; "
                                      "a payment settles a DUE or PARTIALLY_PAID invoice"))
        else:
            paying[invoice["id"]] = paying.get(invoice["id"], Decimal(0)) + amount
            owed = invoices.owed(invoice)
            if paying[invoice["id"]] > owed:
                also = " with the records before it" if paying[invoice["id"]] != amount else ""
                rule = f"is more than invoice {invoice['id']!r} owes ({owed:f}){also}"
                problems.append(Violation(f"{at}.amount", rule))
    return problems


def create_payment(store: Store, body: dict[str, Any], decimals: int) -> Record:
    """``POST /payments``: record a payment and apply it, all or nothing (``body``: the validated request,
    ``externalPaymentReference`` already renamed). INVOICE records settle those invoices, WALLET_CREDIT
    records top up the account's wallet; anything that cannot be applied is a 400 naming the record."""
    lookup.require(store, "accounts", body["accountId"], "accountId", "account")
    record: dict[str, Any] = {"id": "", "version": 1, "createdBy": CREATED_BY, **body}
    check_payment(store, record)
    problems = settlement_problems(store, record)
    for i, item in enumerate(record["lineItemRecords"]):
        if "amount" in item and _decimals(exact(item["amount"])) > decimals:
            problems.append(Violation(f"lineItemRecords[{i}].amount",
                                      f"has more decimals than {record['currency']} has ({decimals})"))
    if problems:
        raise Invalid(problems)
    collection = store.collections["payments"]
    record["id"] = store.new_id(PAYMENT_IDS, collection)
    now = record["createdAt"] = store.clock.now()
    collection.add(record["id"], record)
    for item in record["lineItemRecords"]:
        if item["type"] == "INVOICE":
            invoice = store.collections["invoices"].items[item["togaiId"]]
            invoices.record_payment(store, invoice, exact(item["amount"]), now)
        elif item["type"] == "WALLET_CREDIT":
            wallets.top_up(store, record["accountId"], item["amount"], record["id"])
    return record


def get_payment(store: Store, payment_id: str, version: int | None) -> Record:
    """``GET /payments/{id}``, of ``version`` if asked: the mock keeps one version of a payment, its latest."""
    record: Record = lookup.require(store, "payments", payment_id, "payment_id", "payment")
    if version is not None and version != record["version"]:
        raise NotFound.at("version", f"payment {record['id']!r} has no version {version} (latest: {record['version']})")
    return record


def check_import(ctx: ImportContext) -> None:
    """Imported payments are allocated as the API allows.

    Their currency is not compared with the account's: an account may change
    its currency after a payment, and an export must import back.
    """
    for i, record in enumerate(ctx.data["payments"]):
        ctx.problems.extend(allocation_problems(record, f"payments[{i}]."))


RESOURCE = Resource(
    name="payments",
    schema="Payment",
    ids=PAYMENT_IDS,
    references={"accountId": "accounts"},
    defaults={"version": 1, "createdBy": CREATED_BY},
    writes=Writes(
        check=check_payment,
    ),
    exchange=Exchange(
        check_import=check_import,
    ),
)
