"""Credits: amounts granted to an account, consumed by its invoices, voidable, expiring.

A credit's transactions, its shown status and an account's credit balance
are derived from the credit records whenever they are shown; nothing is
stored twice. Amounts are summed exactly (Decimal).

A credit is usable in ``[effectiveFrom, effectiveUntil)``: from the first
instant of ``effectiveFrom`` (a date, at midnight UTC) until, not including,
the first instant of ``effectiveUntil``, as Togai's feature credit entries
(:mod:`.entitlements`). From that instant on an ACTIVE credit shows EXPIRED.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..core.collection import Collection
from ..core.cursors import paginate, paginate_positions
from ..core.errors import Invalid, Violation
from ..core.lookup import require
from ..core.money import exact, to_json
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import parse_time, stamp

CREDIT_IDS = IdScheme("credit")
_INSTANT = timedelta(microseconds=1)
# ListCreditsResponse holds at most 50 credits.
MAX_PAGE = 50
# idempotencyKey -> the id of the credit it created.
BY_KEY = "credit_idempotency"
# account id -> positions of its credits in the collection, ascending. Positions, not keys: list
# pages are in collection order and their tokens name positions; credits are never removed.
BY_ACCOUNT = "credits_by_account"


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's credit balance (``CreditBalanceResponse``), exact."""

    active_credits: int
    available: Decimal
    running: Decimal
    inapplicable: Decimal
    unit: str
    last_updated_at: str


def require_credit(store: Store, credit_id: str) -> Record:
    """The credit, or NotFound at ``credit_id``."""
    credit: Record = require(store, "credits", credit_id, "credit_id", "credit")
    return credit


def remaining(credit: Record) -> Decimal:
    """What is left of a credit to consume."""
    return exact(credit["creditAmount"]) - exact(credit["consumedAmount"])


def _until(credit: Record) -> datetime | None:
    until = credit.get("effectiveUntil")
    return None if until is None else parse_time(until, "effectiveUntil")


def shown_status(credit: Record, moment: datetime) -> str:
    """``EXPIRED`` for an ACTIVE credit whose ``effectiveUntil`` has come (at that instant already)."""
    until = _until(credit)
    if credit["status"] == "ACTIVE" and until is not None and until <= moment:
        return "EXPIRED"
    status: str = credit["status"]
    return status


def in_effect(credit: Record, moment: datetime) -> bool:
    """Active and within ``[effectiveFrom, effectiveUntil)`` at ``moment``: usable now."""
    return shown_status(credit, moment) == "ACTIVE" and parse_time(credit["effectiveFrom"], "effectiveFrom") <= moment


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
    """The credit an earlier request created with this ``idempotencyKey`` (from the index)."""
    credit_id = store.indexes[BY_KEY].get(key)
    found: Record | None = None if credit_id is None else store.collections["credits"].get(credit_id)
    return found


def _insert(store: Store, credit: Record) -> None:
    """Store a credit and index it by account and idempotency key (creation and import both come here)."""
    place = store.collections["credits"].append(credit["id"], credit)  # credits are never removed
    store.indexes[BY_ACCOUNT].setdefault(credit["accountId"], []).append(place)
    if "idempotencyKey" in credit:
        store.indexes[BY_KEY].setdefault(credit["idempotencyKey"], credit["id"])  # the first one answers


def create_credits(store: Store, requests: list[dict[str, Any]]) -> list[Record]:
    """Grant one credit per request (``creditRequests``), all or none.

    A request whose ``idempotencyKey`` an earlier credit has answers that
    credit again instead of granting a second one.
    """
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
    answered: list[Record] = []
    for request in requests:
        earlier = by_idempotency_key(store, request["idempotencyKey"]) if "idempotencyKey" in request else None
        if earlier is not None:
            answered.append(earlier)
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
        _insert(store, record)
        answered.append(record)
    return answered


@dataclass(frozen=True, slots=True)
class Transaction:
    """One of a credit's transactions (``CreditTransaction``), derived from the credit."""

    kind: str
    amount: Decimal
    at: str


def transactions(credit: Record, moment: datetime) -> list[Transaction]:
    """A credit's transactions at ``moment``: the grant, what was consumed, the void or the expiry."""
    out = [Transaction("CREDITED", exact(credit["creditAmount"]), credit["createdAt"])]
    if credit["consumedAmount"]:
        out.append(Transaction("DEBITED", exact(credit["consumedAmount"]), credit["updatedAt"]))
    status = shown_status(credit, moment)
    if status in ("VOIDED", "EXPIRED"):
        until = _until(credit)
        # An expiry derived now happened at effectiveUntil; a stored status at the last change.
        at = stamp(until) if status != credit["status"] and until is not None else credit["updatedAt"]
        out.append(Transaction(status, remaining(credit), at))
    return out


def void_credit(store: Store, credit_id: str) -> Record:
    """Void an active credit: what is left of it is gone."""
    credit = require_credit(store, credit_id)
    clock = copy.copy(store.clock)
    now = store.clock.now()
    status = shown_status(credit, parse_time(now))
    if status != "ACTIVE":
        store.clock = clock  # a refused request does not move the (seeded) clock
        raise Invalid.at("credit_id", f"credit {credit['id']!r} is {status}; only an ACTIVE one can be voided")
    credit["status"] = "VOIDED"
    credit["updatedAt"] = now
    return credit


def _account_credits(store: Store, account_id: str) -> list[Record]:
    collection = store.collections["credits"]
    return [collection.items[collection.key_at(p)] for p in store.indexes[BY_ACCOUNT].get(account_id, [])]


def _order(credit: Record) -> tuple[int, str]:
    until = credit.get("effectiveUntil")
    return credit.get("priority", 0), until if until is not None else "9999-99-99"


def usable(store: Store, account_id: str, moment: datetime, unit: str, period_end: datetime | None = None,
           ) -> list[Record]:
    """The account's credits an invoice in ``unit`` may consume at ``moment``, in the order they are consumed:
    by ``priority`` (the lowest number first), then the earliest ``effectiveUntil`` (none: last), then the
    oldest (README, "Money that moves").

    ``period_end``: the end of the period the invoice bills. A credit that lasted until then pays it even
    when it expired since (at the period's end itself, or during a grace period): it was in effect for
    what the invoice bills.
    """
    expiry = moment if period_end is None else min(moment, period_end - _INSTANT)
    found = [c for c in _account_credits(store, account_id)
             if c.get("creditUnit") == unit and remaining(c) > 0 and shown_status(c, expiry) == "ACTIVE"
             and parse_time(c["effectiveFrom"], "effectiveFrom") <= moment]
    return sorted(found, key=_order)  # stable: the oldest first among equals


def consume(credit: Record, amount: Decimal, at: str) -> None:
    """Take ``amount`` (at most what is left) from the credit; CONSUMED once nothing is left."""
    credit["consumedAmount"] = to_json(exact(credit["consumedAmount"]) + amount)
    credit["updatedAt"] = at
    if remaining(credit) <= 0:
        credit["status"] = "CONSUMED"


def expired_between(store: Store, start: datetime, end: datetime) -> list[str]:
    """The credits that expired in ``(start, end]`` with something left: their ``effectiveUntil`` came then."""
    out = []
    for credit in store.collections["credits"].items.values():
        until = credit.get("effectiveUntil")
        if until is None or credit["status"] != "ACTIVE" or remaining(credit) <= 0:
            continue
        if start < parse_time(until, "effectiveUntil") <= end:
            out.append(credit["id"])
    return out


def credit_balance(store: Store, account_id: str, at: datetime | None = None) -> Balance:
    """The account's credit balance now (or ``at``), summed from its credits (the index, not every credit).

    Of the credits that show ACTIVE: ``active_credits`` is how many there
    are, ``running`` what is left of them, ``inapplicable`` the part of that
    not in effect yet, and ``available`` the rest less what is on hold.
    ``at`` lets a reader that must not tick a seeded clock (the dashboard) pass the clock's instant.
    """
    account = require(store, "accounts", account_id, "account_id", "account")
    now = store.clock.now() if at is None else stamp(at)
    moment = parse_time(now)
    mine = _account_credits(store, account_id)
    active = [c for c in mine if shown_status(c, moment) == "ACTIVE"]
    usable = [c for c in active if in_effect(c, moment)]
    running = sum((remaining(c) for c in active), Decimal(0))
    left = sum((remaining(c) for c in usable), Decimal(0))
    return Balance(
        active_credits=len(active),
        available=left - sum((exact(c["holdAmount"]) for c in usable), Decimal(0)),
        running=running,
        inapplicable=running - left,
        unit=account["invoiceCurrency"],
        last_updated_at=max((c["updatedAt"] for c in mine), default=now),
    )


def list_credits(
    store: Store,
    account_id: str | None,
    status: str | None,
    credit_id: str | None,
    moment: datetime,
    next_token: str | None,
    page_size: int | None,
) -> tuple[list[Record], dict[str, Any]]:
    """One page of credits, oldest first, of ``account_id``, in ``status`` (as shown at ``moment``), with
    id ``credit_id`` (each when given). With an account it pages over that account's credits only."""
    collection: Collection = store.collections["credits"]
    keep: Callable[[Record], bool] | None = None
    if status is not None or credit_id is not None:
        keep = lambda c: (  # noqa: E731
            (credit_id is None or c["id"] == credit_id) and (status is None or shown_status(c, moment) == status)
        )
    if account_id is not None:
        positions = store.indexes[BY_ACCOUNT].get(account_id, [])
        return paginate_positions(collection, positions, next_token, page_size, context=False, keep=keep,
                                  limit=MAX_PAGE)
    return paginate(collection, next_token, page_size, context=False, keep=keep, limit=MAX_PAGE)


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


def restore(store: Store, credit: dict[str, Any]) -> None:
    """Insert an imported credit and index it (by account, and by its idempotency key)."""
    _insert(store, dict(credit))


RESOURCE = Resource(
    name="credits",
    schema="Credit",
    ids=CREDIT_IDS,
    references={"accountId": "accounts"},
    indexes=(BY_KEY, BY_ACCOUNT),
    exchange=Exchange(
        check_import=check_import,
        restore=restore,
    ),
)
