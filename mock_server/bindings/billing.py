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

# Operations after which an account's next due instant may have moved.
MOVES_CYCLES = frozenset({
    "updatePricingSchedule", "updatePricingScheduleBatch", "pricePlanMigration", "confirmJob", "updatePricePlan",
    "createAccount", "updateAccount", "deleteAccount", "manageMiscellaneousChargesInAccount", "updateInvoice",
})


def guarded(op_id: str, handler: Handler) -> Handler:
    """``handler`` after a catch-up of the billing engine (and marking its queue dirty when ``op_id`` moves cycles)."""
    marks = op_id in MOVES_CYCLES

    def run(store: Store, call: Call) -> Any:
        engine.catch_up(store)
        try:
            return handler(store, call)
        finally:
            if marks:
                engine.mark_dirty(store)

    run.__name__ = getattr(handler, "__name__", op_id)
    run.__doc__ = handler.__doc__
    return run
