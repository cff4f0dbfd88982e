"""Moving a test clock 12 months with 1 000 accounts on a monthly plan: time, memory, longest slice.

The accounts, their associations with the demo plan "Rides Pro" (monthly,
3-day grace period) and the events (spread over 2024, as ingestion leaves
them, like :mod:`benchmarks.metrics`) are put straight into one in-process
tenant; then the clock moves from 2024-01-01 to 2025-01-01 through the
engine, as ``POST /__mock/clock`` does: 12 000 cycles closed, 12 000
invoices drafted and finalized, 12 000 ongoing invoices opened.

``python -m benchmarks.billing [EVENTS]`` prints JSON; ``make bench`` runs it in its own process.
Target: at most 5 s and 200 MB more for the move, no slice above ~50 ms.
"""
from __future__ import annotations

import gc
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from mock_server import Config, create_app
from mock_server.domain.billing import engine
from mock_server.domain.parties import accounts
from mock_server.domain.pricing import schedules
from mock_server.domain.usage import aggregates as usage
from mock_server.domain.usage import events, statuses

from .metrics import rss_mb

ACCOUNTS = 1000
START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
TARGETS = {"move_s": 5.0, "move_mb": 200.0}


def load(store: Any, n: int) -> float:
    """1 000 accounts on the demo monthly plan and ``n`` metered events over 2024; seconds taken."""
    started = time.perf_counter()
    acme = store.collections["customers"].get("ACME")
    plan = next(p for p in store.collections["pricePlans"].items.values() if p["name"] == "Rides Pro")
    for i in range(ACCOUNTS):
        fields = {"id": f"B{i}", "name": f"Bench account {i}", "invoiceCurrency": "USD"}
        accounts.insert_account(store, accounts.build_account(store, fields, acme, []))
        schedules.associate(store, f"B{i}", {"mode": "ASSOCIATE", "pricePlanId": plan["id"],
                                             "effectiveFrom": "2024-01-01", "effectiveUntil": "2099-01-01"})
    meters = tuple(m["id"] for m in store.collections["usageMeters"].items.values() if m["status"] == "ACTIVE")[:2]
    start, span = int(START.timestamp()), int((END - START).total_seconds())
    for i in range(n):
        moment = datetime.fromtimestamp(start + i * span // n, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        account = f"B{i % ACCOUNTS}"
        event = events.Event(f"bench-{i}", f"event.bench.{i}", {
            "id": f"bench-{i}", "schemaName": "rides", "accountId": account, "timestamp": moment,
            "attributes": [{"name": "distance", "value": "2.5"}], "dimensions": {"city": "x"}}, moment)
        event.status, event.account, event.customer_id = statuses.METERED, account, "ACME"
        event.schema_version, event.meter_ids, event.units = 1, meters, ("1", "2.5")
        events.insert(store, event)
        usage.count_event(store, event, +1)
    engine.mark_dirty(store)
    return time.perf_counter() - started


def measure(n: int) -> dict[str, Any]:
    """Load, then move the clock 12 months; the move's seconds, memory and longest slice."""
    app = create_app(Config(clock=START, log="quiet"))
    store = app.state.store
    load_s = load(store, n)
    gc.collect()
    before = rss_mb()
    slices: list[float] = []
    mark = [time.perf_counter()]

    def between() -> None:  # what the control API does between slices: let others take the lock
        now = time.perf_counter()
        slices.append(now - mark[0])
        mark[0] = now

    started = time.perf_counter()
    with store.lock:
        summary = engine.advance(store, END, between=between)
    move_s = time.perf_counter() - started
    slices.append(time.perf_counter() - mark[0])
    gc.collect()
    return {"events": n, "accounts": ACCOUNTS, "load_s": round(load_s, 1), "move_s": round(move_s, 2),
            "move_mb": round(rss_mb() - before, 1), "rss_mb": round(rss_mb(), 1), "slices": len(slices),
            "longest_slice_ms": round(max(slices) * 1000, 1), "cycles_closed": summary.cycles_closed,
            "invoices": len(store.collections["invoices"]), "targets": TARGETS}


def main() -> None:
    """Print the figure as JSON."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(measure(n), indent=2))


if __name__ == "__main__":
    main()
