"""Wallets: an account's prepaid funds, raised by top-ups; one wallet per account.

The wallet's ``balance`` and ``holdAmount`` and each entry's
``closingBalance`` are derived from the wallet's entries whenever they are
shown; nothing is stored twice. The first top-up of an account opens its
wallet.
"""
from __future__ import annotations

from typing import Any

from ...bindings.call import Call  # TEMPORARY: handlers move to mock_server/bindings
from ..core.cursors import paginate
from ..core.errors import Invalid, NotFound, Violation
from ..core.resource import IdScheme, ImportContext, Resource
from ..core.store import Record, Store

WALLET_IDS = IdScheme("wallet")
ENTRY_IDS = IdScheme("wallet_entry")
# WalletEntriesPaginatedResponse holds at most 50 entries.
MAX_PAGE = 50
TOPUP_DESCRIPTION = "Wallet top-up"


def _account(store: Store, account_id: str) -> Record:
    account: Record | None = store.collections["accounts"].get(account_id)
    if account is None:
        raise NotFound.at("account_id", f"no account with id {account_id!r}")
    return account


def require_wallet(store: Store, account_id: str) -> Record:
    """The account's wallet (the wallets collection is keyed by account), or a 404."""
    _account(store, account_id)
    wallet: Record | None = store.collections["wallets"].get(account_id)
    if wallet is None:
        raise NotFound.at("account_id", f"account {account_id!r} has no wallet (a top-up opens one)")
    return wallet


def entries_of(store: Store, wallet_id: str) -> list[Record]:
    """A wallet's entries, oldest first."""
    return [e for e in store.collections["walletEntries"].items.values() if e["walletId"] == wallet_id]


def signed(entry: Record) -> float:
    """What a completed entry adds to the balance (a held one adds nothing yet)."""
    if entry["status"] != "COMPLETED":
        return 0
    amount: float = entry["amount"]
    return amount if entry["transactionType"] == "CREDITED" else -amount


def render_wallet(store: Store, wallet: Record) -> dict[str, Any]:
    """The wallet as the API shows it, with its balance and hold summed from its entries."""
    entries = entries_of(store, wallet["id"])
    held = sum(e["amount"] for e in entries if e["status"] == "ON_HOLD" and e["transactionType"] == "DEBITED")
    return {**wallet, "balance": sum(signed(e) for e in entries), "holdAmount": held}


def top_up(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/wallet_topup``: a completed credit entry; opens the wallet if needed."""
    account_id, amount = call.params["account_id"], call.body["topupAmount"]
    account = _account(store, account_id)
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
    store.collections["walletEntries"].add(entry["id"], entry)
    return render_wallet(store, wallet)


def get_wallet(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/wallet``."""
    return render_wallet(store, require_wallet(store, call.params["account_id"]))


def update_wallet(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /accounts/{id}/wallet``: its status and ``effectiveFrom``; not on an archived account."""
    wallet = require_wallet(store, call.params["account_id"])
    if store.collections["accounts"].items[wallet["accountId"]]["status"] == "ARCHIVED":
        raise Invalid.at("account_id", f"account {wallet['accountId']!r} is archived")
    wallet.update(call.body)
    wallet["updatedAt"] = store.clock.now()
    return render_wallet(store, wallet)


def list_entries(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/wallet/entries``: oldest first, each with the balance after it."""
    wallet = require_wallet(store, call.params["account_id"])
    entries = entries_of(store, wallet["id"])
    closing: dict[str, float] = {}
    running: float = 0
    for entry in entries:
        running += signed(entry)
        closing[entry["id"]] = running
    page, extra = paginate(
        store.collections["walletEntries"],
        call.params.get("nextToken"),
        call.params.get("pageSize"),
        context=False,  # WalletEntriesPaginatedResponse is closed without it
        keep=lambda e: e["walletId"] == wallet["id"],
        limit=MAX_PAGE,
    )
    return {"data": [{**e, "closingBalance": closing[e["id"]]} for e in page], **extra}


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
    running: dict[str, float] = {}
    for i, entry in enumerate(ctx.data["walletEntries"]):
        where = f"walletEntries[{i}]"
        if entry["amount"] <= 0:
            ctx.problems.append(Violation(f"{where}.amount", "must be greater than 0"))
        running[entry["walletId"]] = running.get(entry["walletId"], 0) + signed(entry)
        if running[entry["walletId"]] < 0:
            ctx.problems.append(Violation(f"{where}.amount", "takes the wallet below zero"))


def restore_wallet(store: Store, wallet: dict[str, Any]) -> None:
    """Insert an imported wallet under its account (balance and hold are derived)."""
    stored = {k: v for k, v in wallet.items() if k not in ("balance", "holdAmount")}
    store.collections["wallets"].add(stored["accountId"], stored)
    store.reserved.add(stored["id"])


def restore_entry(store: Store, entry: dict[str, Any]) -> None:
    """Insert an imported entry (its closing balance is derived)."""
    stored = {k: v for k, v in entry.items() if k != "closingBalance"}
    store.collections["walletEntries"].add(stored["id"], stored)
    store.reserved.add(stored["id"])


WALLETS = Resource(
    name="wallets",
    schema="WalletBalanceResponse",
    ids=WALLET_IDS,
    references={"accountId": "accounts"},
    not_exported=("balance", "holdAmount"),
    export=lambda store, wallet: render_wallet(store, wallet),
    check_import=check_wallets,
    restore=restore_wallet,
)

ENTRIES = Resource(
    name="walletEntries",
    schema="WalletEntry",
    ids=ENTRY_IDS,
    references={"walletId": "wallets"},
    not_exported=("closingBalance",),
    check_import=check_entries,
    restore=restore_entry,
)
