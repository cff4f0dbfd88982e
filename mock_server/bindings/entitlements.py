"""Handlers of feature credit entries and entitlements: requests to
:mod:`mock_server.domain.ledger.entitlements` rules."""
from __future__ import annotations

from typing import Any

from ..domain.core.cursors import page_of
from ..domain.core.money import exact, to_json
from ..domain.core.store import Store
from ..domain.ledger import entitlements
from .call import Call


def _owner(call: Call) -> tuple[str, str]:
    return call.params["account_id"], call.params["feature_id"]


def list_entries(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/features/{id}/entries``: oldest first, at most 50 a page.

    A page of the entries the (account, feature) index holds, not a scan of every entry.
    GetFeatureCreditEntriesPaginatedResponse is closed without Togai's paging ``context``.
    """
    account_id, feature_id = entitlements.require_feature(store, *_owner(call))
    size = call.params.get("pageSize")
    page, extra = page_of(entitlements.entries_of(store, account_id, feature_id), call.params.get("nextToken"),
                          None if size is None else min(size, entitlements.MAX_PAGE))
    now = store.clock.now()
    return {"data": [entitlements.render_entry(e, now) for e in page], **extra}


def update_entry(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH .../entries/{id}``: ``granted`` and ``effectiveUntil`` of an active entry."""
    granted = call.body.get("granted")
    entry = entitlements.update_entry(store, *_owner(call), call.params["entry_id"],
                                      None if granted is None else exact(granted), call.body.get("effectiveUntil"))
    return entitlements.render_entry(entry, store.clock.now())


def void_entry(store: Store, call: Call) -> dict[str, Any]:
    """``POST .../entries/{id}/void``: an active entry's credits are gone."""
    entitlements.void_entry(store, *_owner(call), call.params["entry_id"])
    return {"success": True}


def feature_credits(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/features/{id}``: granted and left of the credit entries in effect, and the overage
    of the pricing cycle now: ``usedOverage``, and ``overageLimit`` when the plan's overage rate card has a
    ``maxQuantity`` (none without an overage card or limit)."""
    account_id, feature_id = entitlements.require_feature(store, *_owner(call))
    now = store.clock.now()
    granted, left = entitlements.balance(store, account_id, feature_id, now)
    overage = entitlements.overage_of(store, account_id, feature_id, now)
    out = {"accountId": account_id, "featureId": feature_id, "granted": to_json(granted), "balance": to_json(left),
           "usedOverage": to_json(overage.used) if overage is not None else 0}
    if overage is not None and overage.limit is not None:
        out["overageLimit"] = to_json(overage.limit)
    return out


def list_entitlements(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/entitlements``: each feature with credits in effect, valued at what is left."""
    values = entitlements.entitlements(store, call.params["account_id"])
    return {"data": [{"featureId": feature_id, "value": value} for feature_id, value in values]}


def entitlement_value(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/entitlements/{id}``: one item, or none when the account is not entitled."""
    account_id, feature_id = _owner(call)
    value = entitlements.entitlement_value(store, account_id, feature_id)
    return {"data": [] if value is None else [{"featureId": feature_id, "value": value}]}


def validate_value(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/entitlements/{id}``: is the account entitled to ``value``?"""
    return {"success": entitlements.validate_value(store, *_owner(call), call.body["value"])}


def ingest_entitled(store: Store, call: Call) -> dict[str, Any]:
    """``POST /entitled``: take the event if its account is entitled to it (400 if not, 409 if taken)."""
    entitlements.ingest_entitled(store, call.body["event"])
    return {"success": True}
