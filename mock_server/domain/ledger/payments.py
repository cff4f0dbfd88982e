"""Payments: money received from an account, allocated to invoices, credits and wallet credit."""
from __future__ import annotations

from typing import Any

from ..core import lookup
from ..core.errors import Invalid, NotFound, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource, Writes
from ..core.store import Record, Store

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
    allocated = sum(item.get("amount", 0) for item in items)
    if allocated > record["totalAmount"]:
        rule = f"allocate {allocated:g}, more than the totalAmount {record['totalAmount']:g}"
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
    ids=IdScheme("payment"),
    references={"accountId": "accounts"},
    defaults={"version": 1, "createdBy": CREATED_BY},
    writes=Writes(
        check=check_payment,
    ),
    exchange=Exchange(
        check_import=check_import,
    ),
)
