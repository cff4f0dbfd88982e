"""Handlers of wallets and their entries: requests to :mod:`mock_server.domain.ledger.wallets` rules."""
from __future__ import annotations

from typing import Any

from ..domain.core.money import to_json
from ..domain.core.store import Store
from ..domain.ledger import wallets
from .call import Call


def top_up(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/wallet_topup``: a completed credit entry; opens the wallet if needed."""
    wallet = wallets.top_up(store, call.params["account_id"], call.body["topupAmount"])
    return wallets.render_wallet(store, wallet)


def get_wallet(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/wallet``."""
    return wallets.render_wallet(store, wallets.require_wallet(store, call.params["account_id"]))


def update_wallet(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /accounts/{id}/wallet``: its status and ``effectiveFrom``; not on an archived account."""
    return wallets.render_wallet(store, wallets.update_wallet(store, call.params["account_id"], call.body))


def list_entries(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/wallet/entries``: oldest first, each with the balance after it."""
    wallet = wallets.require_wallet(store, call.params["account_id"])
    page, extra = wallets.entries_page(store, wallet, call.params.get("nextToken"), call.params.get("pageSize"))
    closing = wallets.closing_balances(store, wallet["id"])
    return {"data": [{**e, "closingBalance": to_json(closing[e["id"]])} for e in page], **extra}
