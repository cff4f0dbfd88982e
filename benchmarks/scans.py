"""A filtered ``GET /events`` page with 50 000 unrelated events in state, against the demo tenant alone.

A page filtered by account reads that account's events only (an index),
so the unrelated events must not make it slower: the ratio of the two
timings is the check (at most :data:`TARGET_RATIO`). The events go through
``POST /ingestBatch`` of the in-process app (no socket), as a client's
would, so every index ingestion keeps is as it would be.

``python -m benchmarks.scans``
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from mock_server import Config, create_app

from .inprocess import _time

UNRELATED = 50_000
BATCH = 500  # the most an ingestBatch request holds
RUNS = 2_000
TARGET_RATIO = 3.0
# The demo tenant's ACME-US, one page; the unrelated events are GLOBEX-US's.
PAGE = ("GET", "/events", b"", b"account_id=ACME-US&pageSize=10")


def _batch(start: int) -> bytes:
    """``BATCH`` events of GLOBEX-US (metered by the demo rides meters), ids from ``start``."""
    return json.dumps({"events": [
        {"id": f"scan-{i}", "schemaName": "rides", "accountId": "GLOBEX-US", "timestamp": "2024-03-02T10:00:00Z",
         "attributes": [{"name": "distance", "value": str(i % 40)}], "dimensions": {"city": "x"}}
        for i in range(start, start + BATCH)]}).encode()


def _page_us(app: Any) -> float:
    """Microseconds per filtered page, the best of three rounds of :data:`RUNS`."""
    return min(asyncio.run(_time(app, RUNS, *PAGE)) for _ in range(3))


def measure() -> dict[str, float]:
    """The filtered page's cost on the demo tenant, then with the unrelated events, and their ratio."""
    alone = create_app(Config(log="quiet"))
    crowded = create_app(Config(log="quiet"))
    for start in range(0, UNRELATED, BATCH):
        asyncio.run(_time(crowded, 1, "POST", "/ingestBatch", _batch(start), b""))
    held = len(crowded.state.store.collections["events"])
    if held < UNRELATED:
        raise RuntimeError(f"only {held} events were ingested")
    before, after = _page_us(alone), _page_us(crowded)
    return {"demo_us": round(before, 1), "with_50k_us": round(after, 1), "ratio": round(after / before, 2)}


def main() -> None:
    found = measure()
    verdict = "PASS" if found["ratio"] <= TARGET_RATIO else "MISS"
    print(f"GET /events?account_id=ACME-US&pageSize=10: demo tenant {found['demo_us']:.1f} µs, "
          f"with {UNRELATED} unrelated events {found['with_50k_us']:.1f} µs; "
          f"ratio {found['ratio']:.2f} ({verdict} <= {TARGET_RATIO:.0f})")


if __name__ == "__main__":
    main()
