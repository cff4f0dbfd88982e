"""Wallets: an account's prepaid funds, raised by top-ups; one wallet per account.

The wallet's ``balance`` and ``holdAmount`` and each entry's
``closingBalance`` are derived from the wallet's entries whenever they are
shown, summed exactly (Decimal); nothing is stored twice. The first top-up
of an account opens its wallet.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..core.cursors import paginate_positions
from ..core.errors import Invalid, NotFound, Violation
from ..core.lookup import require
from ..core.money import exact, to_json
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store

WALLET_IDS = IdScheme("wallet")
ENTRY_IDS = IdScheme("wallet_entry")
# WalletEntriesPaginatedResponse holds at most 50 entries.
MAX_PAGE = 50
TOPUP_DESCRIPTION = "Wallet top-up"
# wallet id -> positions of its entries in the walletEntries collection, ascending.
# Positions, not keys: entry pages are in collection order and their tokens name positions;
# entries are never removed, so a position never moves.
ENTRIES_BY_WALLET = "wallet_entries_by_wallet"


@dataclass(frozen=True, slots=True)
class Totals:
    """What a wallet holds, summed exactly from its entries."""

    balance: Decimal
    held: Decimal


def require_wallet(store: Store, account_id: str) -> Record:
    """The account's wallet (the wallets collection is keyed by account), or NotFound at ``account_id``."""
    require(store, "accounts", account_id, "account_id", "account")
    wallet: Record | None = store.collections["wallets"].get(account_id)
    if wallet is None:
        raise NotFound.at("account_id", f"account {account_id!r} has no wallet (a top-up opens one)")
    return wallet


def _positions(store: Store, wallet_id: str) -> list[int]:
    positions: list[int] = store.indexes[ENTRIES_BY_WALLET].get(wallet_id, [])
    return positions


def entries_of(store: Store, wallet_id: str) -> list[Record]:
    """A wallet's entries, oldest first (from the index, not a scan of every wallet's entries)."""
    collection = store.collections["walletEntries"]
    return [collection.items[collection.key_at(p)] for p in _positions(store, wallet_id)]


def signed(entry: Record) -> Decimal:
    """What a completed entry adds to the balance (a held one adds nothing yet), exactly."""
    if entry["status"] != "COMPLETED":
        return Decimal(0)
    amount = exact(entry["amount"])
    return amount if entry["transactionType"] == "CREDITED" else -amount


def totals(store: Store, wallet: Record) -> Totals:
    """The wallet's balance and the amount on hold, from its entries."""
    entries = entries_of(store, wallet["id"])
    held = sum((exact(e["amount"]) for e in entries if e["status"] == "ON_HOLD" and e["transactionType"] == "DEBITED"),
               Decimal(0))
    return Totals(sum((signed(e) for e in entries), Decimal(0)), held)


def render_wallet(store: Store, wallet: Record) -> dict[str, Any]:
    """The wallet as the API shows (and the export writes) it, with its derived balance and hold."""
    shown = totals(store, wallet)
    return {**wallet, "balance": to_json(shown.balance), "holdAmount": to_json(shown.held)}


def closing_balances(store: Store, wallet_id: str) -> dict[str, Decimal]:
    """The balance after each of the wallet's entries, by entry id."""
    closing: dict[str, Decimal] = {}
    running = Decimal(0)
    for entry in entries_of(store, wallet_id):
        running += signed(entry)
        closing[entry["id"]] = running
    return closing


def _add_entry(store: Store, entry: Record) -> None:
    """Store an entry and index it under its wallet (creation and import both come here)."""
    place = store.collections["walletEntries"].append(entry["id"], entry)  # entries are never removed
    store.indexes[ENTRIES_BY_WALLET].setdefault(entry["walletId"], []).append(place)


def top_up(store: Store, account_id: str, amount: float, entity_id: str | None = None) -> Record:
    """Add a completed credit entry of ``amount`` to the account's wallet, opening it if needed
    (``entity_id``: the payment it came from, when a payment's WALLET_CREDIT record tops it up)."""
    account = require(store, "accounts", account_id, "account_id", "account")
    if account["status"] == "ARCHIVED":
        raise Invalid.at("account_id", f"account {account_id!r} is archived")
    if amount <= 0:
        raise Invalid.at("topupAmount", "must be greater than 0")
    wallet: Record | None = store.collections["wallets"].get(account_id)
    if wallet is not None and wallet["status"] != "ACTIVE":
        raise Invalid.at("account_id", f"the wallet of account {account_id!r} is INACTIVE")
    now = store.clock.now()
    if wallet is None:
        wallet = {
            "id": store.new_id(WALLET_IDS, store.collections["wallets"]),
            "accountId": account_id,
            "customerId": account["customerId"],
            "creditUnit": account["invoiceCurrency"],
            "status": "ACTIVE",
            "effectiveFrom": now,
            "createdAt": now,
        }
        store.collections["wallets"].add(account_id, wallet)
    wallet["updatedAt"] = now
    entry = {
        "id": store.new_id(ENTRY_IDS, store.collections["walletEntries"]),
        "description": TOPUP_DESCRIPTION,
        "walletId": wallet["id"],
        "transactionType": "CREDITED",
        "status": "COMPLETED",
        "amount": amount,
        "createdAt": now,
    }
    if entity_id is not None:
        entry["entityId"] = entity_id
    _add_entry(store, entry)
    return wallet


def top_up_problem(store: Store, account_id: str) -> str | None:
    """Why the account's wallet cannot take a top-up now (its wallet is INACTIVE), or None."""
    wallet: Record | None = store.collections["wallets"].get(account_id)
    if wallet is not None and wallet["status"] != "ACTIVE":
        return f"the wallet of account {account_id!r} is INACTIVE"
    return None


def debit(store: Store, wallet: Record, amount: Decimal, entity_id: str, description: str, at: str) -> Record:
    """A completed debit entry of ``amount`` (the caller checked the balance holds it), for ``entity_id``."""
    entry = {
        "id": store.new_id(ENTRY_IDS, store.collections["walletEntries"]),
        "description": description,
        "walletId": wallet["id"],
        "transactionType": "DEBITED",
        "status": "COMPLETED",
        "entityId": entity_id,
        "amount": to_json(amount),
        "createdAt": at,
    }
    _add_entry(store, entry)
    wallet["updatedAt"] = at
    return entry


def update_wallet(store: Store, account_id: str, changes: dict[str, Any]) -> Record:
    """Change a wallet's status and ``effectiveFrom`` (``changes``, the validated body); not on an archived account."""
    wallet = require_wallet(store, account_id)
    if store.collections["accounts"].items[wallet["accountId"]]["status"] == "ARCHIVED":
        raise Invalid.at("account_id", f"account {wallet['accountId']!r} is archived")
    wallet.update(changes)
    wallet["updatedAt"] = store.clock.now()
    return wallet


def entries_page(
    store: Store, wallet: Record, next_token: str | None, page_size: int | None
) -> tuple[list[Record], dict[str, Any]]:
    """One page of the wallet's entries, oldest first, and its ``nextToken``.

    It pages over the wallet's indexed positions, not over every wallet's
    entries; tokens are positions of the whole collection.
    """
    return paginate_positions(
        store.collections["walletEntries"],
        _positions(store, wallet["id"]),
        next_token,
        page_size,
        context=False,  # WalletEntriesPaginatedResponse is closed without it
        limit=MAX_PAGE,
    )


def check_wallets(ctx: ImportContext) -> None:
    """One wallet per account, of its customer.

    ``creditUnit`` is not compared with the account's currency: the account
    may change its currency after the wallet opened, and an export must
    import back.
    """
    accounts = ctx.ids("accounts")
    owners: dict[str, int] = {}
    for i, wallet in enumerate(ctx.data["wallets"]):
        where = f"wallets[{i}]"
        if owners.setdefault(wallet["accountId"], i) != i:
            ctx.problems.append(Violation(f"{where}.accountId", f"also has wallets[{owners[wallet['accountId']]}]"))
        account = accounts.get(wallet["accountId"])
        if account is None:
            continue  # reported with the other broken references
        if account["customerId"] != wallet["customerId"]:
            ctx.problems.append(Violation(f"{where}.customerId", "is not its account's customer"))


def check_entries(ctx: ImportContext) -> None:
    """Amounts are positive, and a wallet never goes below zero."""
    running: dict[str, Decimal] = {}
    for i, entry in enumerate(ctx.data["walletEntries"]):
        where = f"walletEntries[{i}]"
        if entry["amount"] <= 0:
            ctx.problems.append(Violation(f"{where}.amount", "must be greater than 0"))
        running[entry["walletId"]] = running.get(entry["walletId"], Decimal(0)) + signed(entry)
        if running[entry["walletId"]] < 0:
            ctx.problems.append(Violation(f"{where}.amount", "takes the wallet below zero"))


def restore_wallet(store: Store, wallet: dict[str, Any]) -> None:
    """Insert an imported wallet under its account (balance and hold are derived)."""
    stored = {k: v for k, v in wallet.items() if k not in ("balance", "holdAmount")}
    store.collections["wallets"].add(stored["accountId"], stored)
    store.reserved.add(stored["id"])


def restore_entry(store: Store, entry: dict[str, Any]) -> None:
    """Insert an imported entry (its closing balance is derived) and index it under its wallet."""
    stored = {k: v for k, v in entry.items() if k != "closingBalance"}
    _add_entry(store, stored)
    store.reserved.add(stored["id"])


WALLETS = Resource(
    name="wallets",
    schema="WalletBalanceResponse",
    ids=WALLET_IDS,
    references={"accountId": "accounts"},
    exchange=Exchange(
        not_exported=("balance", "holdAmount"),
        export=render_wallet,
        check_import=check_wallets,
        restore=restore_wallet,
    ),
)

ENTRIES = Resource(
    name="walletEntries",
    schema="WalletEntry",
    ids=ENTRY_IDS,
    references={"walletId": "wallets"},
    indexes=(ENTRIES_BY_WALLET,),
    exchange=Exchange(
        not_exported=("closingBalance",),
        check_import=check_entries,
        restore=restore_entry,
    ),
)
