"""The billing engine around the operations: no request reads a stale cycle, no write leaves the queue stale.

Every stateful operation first lets the engine process what fell due by the
clock (:func:`~mock_server.domain.billing.engine.catch_up`: one comparison
when nothing did). The operations below can move a cycle's end or open an
ongoing invoice; after them the engine recomputes its queue at the next
look (once per such write, never per request).
"""
from __future__ import annotations

from typing import Any

from ..domain.billing import engine
from ..domain.core.store import Store
from .call import Call, Handler

# Operations after which one account's next due instant may have moved (its association, its
# charges opening an ongoing invoice, an invoice of it changing, its archiving), and those after
# which any account's may have (a plan, a migration, a batch of associations, a setting: the
# organisation's time zone). An account's other fields (name, currency, net terms ...) never
# move a cycle: PATCH /accounts marks nothing.
MOVES_ONE = frozenset({"updatePricingSchedule", "manageMiscellaneousChargesInAccount", "deleteAccount",
                       "updateInvoice", "finalizeAccountSchedules"})
MOVES_ANY = frozenset({"updatePricingScheduleBatch", "pricePlanMigration", "confirmJob", "updatePricePlan",
                       "pricePlanMigrationV2", "finalizePricePlan",
                       # the organisation's time zone (a togai setting) moves where every cycle starts
                       "insertSetting", "updateSetting"})


def _account_of(store: Store, call: Call) -> str | None:
    """The account a MOVES_ONE operation acts on: its path's account, or the owner of its invoice."""
    if "account_id" in call.params:
        account_id: str = call.params["account_id"]
        return account_id
    invoice = store.collections["invoices"].get(call.params.get("invoice_id", ""))
    return None if invoice is None else invoice.get("ownerId")


def guarded(op_id: str, handler: Handler) -> Handler:
    """``handler`` after a catch-up of the billing engine, then marking what ``op_id`` may have moved."""
    one, any_ = op_id in MOVES_ONE, op_id in MOVES_ANY

    def run(store: Store, call: Call) -> Any:
        engine.catch_up(store)
        try:
            return handler(store, call)
        finally:
            if any_:
                engine.mark_dirty(store)
            elif one:
                account_id = _account_of(store, call)
                engine.mark_dirty(store, account_id)  # None (no such invoice): every entry, to be safe

    run.__name__ = getattr(handler, "__name__", op_id)
    run.__doc__ = handler.__doc__
    return run
