"""``POST /metrics`` with a million events in state: latency of the queries a dashboard asks, and memory.

The events are put straight into one in-process tenant, as ingestion leaves
them (an ``events.Event`` processed by the demo tenant's two ACTIVE meters,
then ``usage.count_event``): going through HTTP would take minutes and
measure ingestion, which has its own bench. Each query then goes through the
whole ASGI app (routing, validation, handler, encoding), without a socket.

``python -m benchmarks.metrics [EVENTS]`` prints JSON; ``make bench`` runs it
in its own process, so its resident memory is the tenant's alone.
"""
from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mock_server import Config, create_app
from mock_server.domain.parties import accounts
from mock_server.domain.usage import aggregates as usage
from mock_server.domain.usage import events, statuses

from .inprocess import _time

ACCOUNTS = 1000
MONTH = ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z")
RUNS = 200
TARGETS = {"p99_ms": 20.0, "rss_mb": 600.0}
QUERIES: dict[str, dict[str, Any]] = {
    "METER_USAGE DAY, a month": {"name": "METER_USAGE", "aggregationPeriod": "DAY"},
    "... of one account": {"name": "METER_USAGE", "aggregationPeriod": "DAY",
                           "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": ["B7"]}]},
    "... by meter": {"name": "METER_USAGE", "aggregationPeriod": "DAY", "groupBy": "USAGE_METER_ID"},
    "... by account (1000 series)": {"name": "METER_USAGE", "aggregationPeriod": "DAY", "groupBy": "ACCOUNT_ID"},
    "EVENTS DAY, a month": {"name": "EVENTS", "aggregationPeriod": "DAY"},
    "USAGE_FOR_CYCLE DAY, a month": {"name": "USAGE_FOR_CYCLE", "aggregationPeriod": "DAY"},
    "METER_USAGE HOUR, 12 days": {"name": "METER_USAGE", "aggregationPeriod": "HOUR",
                                  "range": ("2024-03-01T00:00:00Z", "2024-03-13T00:00:00Z")},
}


def rss_mb() -> float:
    """This process's resident memory, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load(store: Any, n: int) -> tuple[float, float]:
    """``n`` processed events over March 2024, spread over the accounts; seconds to make them and to count them."""
    acme = store.collections["customers"].get("ACME")
    for i in range(ACCOUNTS):
        fields = {"id": f"B{i}", "name": f"Bench account {i}", "invoiceCurrency": "USD"}
        accounts.insert_account(store, accounts.build_account(store, fields, acme, []))
    meters = [m["id"] for m in store.collections["usageMeters"].items.values() if m["status"] == "ACTIVE"]
    start, span = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()), 31 * 86400
    distances = [f"{d}.5" for d in range(50)]
    meter_ids = tuple(meters[:2])
    made = []
    started = time.perf_counter()
    for i in range(n):
        moment = datetime.fromtimestamp(start + i * span // n, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        account = f"B{i % ACCOUNTS}"
        distance = distances[i % 50]
        event = events.Event(f"bench-{i}", f"event.bench.{i}", {
            "id": f"bench-{i}", "schemaName": "rides", "accountId": account, "timestamp": moment,
            "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}, moment)
        event.status, event.account, event.customer_id = statuses.METERED, account, "ACME"
        event.schema_version, event.meter_ids, event.units = 1, meter_ids, ("1", distance)
        events.insert(store, event)  # stored and indexed, as ingestion leaves it
        made.append(event)
    made_s = time.perf_counter() - started
    started = time.perf_counter()
    for event in made:
        usage.count_event(store, event, +1)
    return made_s, time.perf_counter() - started


def measure(n: int) -> dict[str, Any]:
    """Load ``n`` events, then time each query :data:`RUNS` times."""
    app = create_app(Config(log="quiet"))
    store = app.state.store
    gc.collect()
    before = rss_mb()
    made_s, counted_s = load(store, n)
    gc.collect()
    rss = rss_mb()
    aggregates_mb = _aggregates_mb(store)
    out: dict[str, Any] = {"events": n, "accounts": ACCOUNTS, "rss_mb": round(rss, 1),
                           "rss_mb_tenant": round(rss - before, 1), "aggregates_mb": aggregates_mb,
                           "count_us_per_event": round(counted_s / n * 1e6, 2), "make_s": round(made_s, 1),
                           "queries": {}}
    for label, spec in QUERIES.items():
        spec = dict(spec)
        start, end = spec.pop("range", MONTH)
        body = json.dumps({"startTime": start, "endTime": end, "metricQueries": [{"id": "q", **spec}]}).encode()
        times = [asyncio.run(_time(app, 1, "POST", "/metrics", body, b"")) / 1000 for _ in range(RUNS)]
        times.sort()
        out["queries"][label] = {"p50_ms": round(statistics.median(times), 2),
                                 "p99_ms": round(times[int(len(times) * 0.99) - 1], 2)}
    return out


def _aggregates_mb(store: Any) -> float:
    """What the aggregates hold, recounted into a fresh copy (RSS before and after a rebuild)."""
    gc.collect()
    before = rss_mb()
    kept = store.derived[usage.NAME]
    usage.rebuild(store)  # a second copy while ``kept`` lives
    gc.collect()
    grown = rss_mb() - before
    del kept
    return round(grown, 1)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 1_000_000
    print(json.dumps(measure(n)))


if __name__ == "__main__":
    main()
