"""Handlers of credits: requests to :mod:`mock_server.domain.ledger.credits` rules, answers in the API's shapes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.core.money import to_json
from ..domain.core.store import Record, Store
from ..domain.core.times import parse_time
from ..domain.ledger import credits
from .call import Call


def _now(store: Store) -> datetime:
    return parse_time(store.clock.now())


def _shown(credit: Record, moment: datetime) -> dict[str, Any]:
    """A credit as the API shows it at ``moment``: EXPIRED once its effectiveUntil has come."""
    return {**credit, "status": credits.shown_status(credit, moment)}


def create_credits(store: Store, call: Call) -> dict[str, Any]:
    """``POST /credits``: one credit per request entry, all or none; a known ``idempotencyKey``
    answers the earlier credit. Answered as stored, ACTIVE (the grant reads no clock of its own)."""
    return {"credits": [dict(c) for c in credits.create_credits(store, call.body["creditRequests"])]}


def get_credit(store: Store, call: Call) -> dict[str, Any]:
    """``GET /credits/{id}``: the credit with its transactions."""
    credit = credits.require_credit(store, call.params["credit_id"])
    moment = _now(store)
    shown = [
        {"id": f"{credit['id']}.{t.kind}", "creditId": credit["id"], "transactionType": t.kind,
         "amount": to_json(t.amount), "createdAt": t.at}
        for t in credits.transactions(credit, moment)
    ]
    return {**_shown(credit, moment), "transactions": shown}


def list_credits(store: Store, call: Call) -> dict[str, Any]:
    """``GET /credits``: oldest first, filtered by ``account_id``, ``status`` and ``id``."""
    params, moment = call.params, _now(store)
    page, extra = credits.list_credits(store, params.get("account_id"), params.get("status"), params.get("id"),
                                       moment, params.get("nextToken"), params.get("pageSize"))
    return {"data": [_shown(c, moment) for c in page], **extra}


def void_credit(store: Store, call: Call) -> dict[str, Any]:
    """``POST /credits/{id}/void``: only an active credit can be voided; what is left of it is gone."""
    return dict(credits.void_credit(store, call.params["credit_id"]))


def credit_balance(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/credit_balance``."""
    shown = credits.credit_balance(store, call.params["account_id"])
    return {
        "activeCredits": shown.active_credits,
        "availableBalance": to_json(shown.available),
        "runningBalance": to_json(shown.running),
        "inapplicableCredits": to_json(shown.inapplicable),
        "unit": shown.unit,
        "lastUpdatedAt": shown.last_updated_at,
    }
