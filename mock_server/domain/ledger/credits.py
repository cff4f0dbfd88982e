"""Credits: amounts granted to an account, consumed by its invoices, voidable.

A credit's transactions and an account's credit balance are derived from
the credit records whenever they are shown; nothing is stored twice.
"""
from __future__ import annotations

from typing import Any

from ...bindings.call import Call  # TEMPORARY: handlers move to mock_server/bindings
from ..core.errors import Invalid, NotFound, Violation
from ..core.resource import IdScheme, ImportContext, Resource
from ..core.store import Record, Store

CREDIT_IDS = IdScheme("credit")
# ListCreditsResponse holds at most 50 credits.
MAX_PAGE = 50


def require_credit(store: Store, credit_id: str) -> Record:
    """The credit, or a 404."""
    record: Record | None = store.collections["credits"].get(credit_id)
    if record is None:
        raise NotFound.at("credit_id", f"no credit with id {credit_id!r}")
    return record


def remaining(credit: Record) -> float:
    """What is left of a credit to consume."""
    left: float = credit["creditAmount"] - credit["consumedAmount"]
    return left


def request_problems(store: Store, request: dict[str, Any], where: str) -> list[Violation]:
    """Why one entry of ``creditRequests`` cannot be granted."""
    problems: list[Violation] = []
    account = store.collections["accounts"].get(request["accountId"])
    if account is None:
        problems.append(Violation(f"{where}.accountId", f"no account with id {request['accountId']!r}"))
    elif account["status"] == "ARCHIVED":
        problems.append(Violation(f"{where}.accountId", f"account {account['id']!r} is archived"))
    if "creditAmount" not in request:
        problems.append(Violation(f"{where}.creditAmount", "is required to grant a credit"))
    elif request["creditAmount"] <= 0:
        problems.append(Violation(f"{where}.creditAmount", "must be greater than 0"))
    until = request.get("effectiveUntil")
    if until is not None and until < request["effectiveFrom"]:
        problems.append(Violation(f"{where}.effectiveUntil", "is before effectiveFrom"))
    return problems


def by_idempotency_key(store: Store, key: str) -> Record | None:
    """The credit an earlier request created with this ``idempotencyKey``."""
    return next((c for c in store.collections["credits"].items.values() if c.get("idempotencyKey") == key), None)


def create_credits(store: Store, call: Call) -> dict[str, Any]:
    """``POST /credits``: one credit per request entry, all or none.

    An entry whose ``idempotencyKey`` an earlier credit has answers that
    credit again instead of granting a second one.
    """
    requests = call.body["creditRequests"]
    problems: list[Violation] = []
    keys: dict[str, int] = {}
    for i, request in enumerate(requests):
        where = f"creditRequests[{i}]"
        problems += request_problems(store, request, where)
        key = request.get("idempotencyKey")
        if key is not None and keys.setdefault(key, i) != i:
            problems.append(Violation(f"{where}.idempotencyKey", f"is also creditRequests[{keys[key]}]'s"))
    if problems:
        raise Invalid(problems)
    answered: list[dict[str, Any]] = []
    for request in requests:
        earlier = by_idempotency_key(store, request["idempotencyKey"]) if "idempotencyKey" in request else None
        if earlier is not None:
            answered.append(dict(earlier))
            continue
        account = store.collections["accounts"].items[request["accountId"]]
        now = store.clock.now()
        record = {
            **request,
            "id": store.new_id(CREDIT_IDS, store.collections["credits"]),
            "customerId": account["customerId"],
            "status": "ACTIVE",
            "creditUnit": account["invoiceCurrency"],
            "holdAmount": 0,
            "consumedAmount": 0,
            "createdAt": now,
            "updatedAt": now,
        }
        store.collections["credits"].add(record["id"], record)
        answered.append(dict(record))
    return {"credits": answered}


def transactions(credit: Record) -> list[dict[str, Any]]:
    """A credit's transactions, derived from it: the grant, what was consumed, the void."""
    out = [_transaction(credit, "CREDITED", credit["creditAmount"], credit["createdAt"])]
    if credit["consumedAmount"]:
        out.append(_transaction(credit, "DEBITED", credit["consumedAmount"], credit["updatedAt"]))
    if credit["status"] in ("VOIDED", "EXPIRED"):
        out.append(_transaction(credit, credit["status"], remaining(credit), credit["updatedAt"]))
    return out


def _transaction(credit: Record, kind: str, amount: float, at: str) -> dict[str, Any]:
    return {"id": f"{credit['id']}.{kind}", "creditId": credit["id"], "transactionType": kind,
            "amount": amount, "createdAt": at}


def get_credit(store: Store, call: Call) -> dict[str, Any]:
    """``GET /credits/{id}``: the credit with its transactions."""
    credit = require_credit(store, call.params["credit_id"])
    return {**credit, "transactions": transactions(credit)}


def void_credit(store: Store, call: Call) -> dict[str, Any]:
    """``POST /credits/{id}/void``: only an active credit can be voided; what is left of it is gone."""
    credit = require_credit(store, call.params["credit_id"])
    if credit["status"] != "ACTIVE":
        rule = f"credit {credit['id']!r} is {credit['status']}; only an ACTIVE one can be voided"
        raise Invalid.at("credit_id", rule)
    credit["status"] = "VOIDED"
    credit["updatedAt"] = store.clock.now()
    return dict(credit)


def credit_balance(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/credit_balance``, summed from the account's credits.

    Of the ACTIVE credits: ``activeCredits`` is how many there are,
    ``runningBalance`` what is left of them, ``inapplicableCredits`` the part
    of that not in effect today, and ``availableBalance`` the rest less what
    is on hold.
    """
    account_id = call.params["account_id"]
    account = store.collections["accounts"].get(account_id)
    if account is None:
        raise NotFound.at("account_id", f"no account with id {account_id!r}")
    now = store.clock.now()
    today = now[:10]
    mine = [c for c in store.collections["credits"].items.values() if c["accountId"] == account_id]
    active = [c for c in mine if c["status"] == "ACTIVE"]
    in_effect = [c for c in active if c["effectiveFrom"] <= today <= c.get("effectiveUntil", today)]
    running = sum(remaining(c) for c in active)
    usable = sum(remaining(c) for c in in_effect)
    return {
        "activeCredits": len(active),
        "availableBalance": usable - sum(c["holdAmount"] for c in in_effect),
        "runningBalance": running,
        "inapplicableCredits": running - usable,
        "unit": account["invoiceCurrency"],
        "lastUpdatedAt": max((c["updatedAt"] for c in mine), default=now),
    }


def check_import(ctx: ImportContext) -> None:
    """Each credit belongs to its account's customer and never consumes more than it grants."""
    accounts = ctx.ids("accounts")
    for i, credit in enumerate(ctx.data["credits"]):
        where = f"credits[{i}]"
        account = accounts.get(credit["accountId"])
        if account is not None and account["customerId"] != credit["customerId"]:
            ctx.problems.append(Violation(f"{where}.customerId", "is not its account's customer"))
        amount = credit.get("creditAmount")
        if amount is None or amount <= 0:
            ctx.problems.append(Violation(f"{where}.creditAmount", "must be greater than 0"))
        elif not 0 <= credit.get("consumedAmount", 0) <= amount:
            ctx.problems.append(Violation(f"{where}.consumedAmount", "must be between 0 and creditAmount"))
        for key in ("holdAmount", "consumedAmount", "creditUnit", "updatedAt"):
            if key not in credit:
                ctx.problems.append(Violation(f"{where}.{key}", "is required (the API always sets it)"))


RESOURCE = Resource(
    name="credits",
    schema="Credit",
    ids=CREDIT_IDS,
    references={"accountId": "accounts"},
    check_import=check_import,
)
