"""Handlers of purchases and purchase proposals: requests to :mod:`mock_server.domain.ledger.purchases` rules."""
from __future__ import annotations

from typing import Any

from ..domain.core.store import Store
from ..domain.ledger import entitlements, purchases
from .call import Call

# The fields of a purchase (``PurchaseListResponse``) and a proposal (``ProposalsListResponse``) a list shows.
_LISTED = ("id", "pricePlanId", "quantity", "rateCardQuantities", "pricePlanVersion", "status", "idempotencyKey",
           "walletTopupDetails", "price", "invoiceCurrency", "createdAt", "updatedAt", "type")
_PROPOSAL_LISTED = ("id", "pricePlanId", "pricePlanVersion", "status", "walletTopupDetails", "idempotencyKey",
                    "createdAt", "updatedAt", "expiryDate", "paymentMode", "type")


def create_purchase(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/purchases``: grant now; a repeated ``idempotencyKey`` answers the earlier purchase."""
    return dict(purchases.purchase(store, call.params["account_id"], call.body))


def get_purchase(store: Store, call: Call) -> dict[str, Any]:
    """``GET /purchases/{id}``: the purchase with what each of its grants has left."""
    purchase = purchases.require_purchase(store, call.params["purchase_id"])
    now = store.clock.now()
    features = []
    for entry in purchases.granted_entries(store, purchase):
        shown = entitlements.render_entry(entry, now)
        features.append({
            "id": entry["featureId"], "name": store.collections["features"].items[entry["featureId"]]["name"],
            "creditsGranted": entry["granted"], "creditsAvailable": shown["balance"],
            "updatedAt": purchase["updatedAt"],
            "effectiveFrom": entry["effectiveFrom"], "effectiveUntil": entry["effectiveUntil"],
        })
    return {**purchase, "features": features}


def list_purchases(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/purchases``: all of them, oldest first (the operation takes no page token)."""
    rows = purchases.purchases_of(store, call.params["account_id"])
    return {"data": [{k: r[k] for k in _LISTED if k in r} for r in rows]}


def create_proposal(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/purchase_proposals``: checked as a purchase would be, granted when approved."""
    record = purchases.propose(store, call.params["account_id"], call.body)
    return purchases.show_proposal(record, store.clock.now())


def get_proposal(store: Store, call: Call) -> dict[str, Any]:
    """``GET /purchase_proposals/{id}``."""
    return purchases.show_proposal(purchases.require_proposal(store, call.params["purchase_proposal_id"]),
                                   store.clock.now())


def list_proposals(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/purchase_proposals``: all of them, oldest first (no page token taken)."""
    rows = purchases.proposals_of(store, call.params["account_id"])
    return {"data": [{k: r[k] for k in _PROPOSAL_LISTED if k in r} for r in rows]}


def update_proposal_status(store: Store, call: Call) -> dict[str, Any]:
    """``POST /purchase_proposals/{id}/update_status``: approve or decline an active proposal."""
    record = purchases.answer_proposal(store, call.params["purchase_proposal_id"], call.body["status"] == "APPROVE")
    return dict(record)
