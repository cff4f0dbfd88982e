"""Operations that must not scan: a filtered ``GET /events`` page, and REVENUE over decades.

A page filtered by account reads that account's events only (an index),
so 50 000 unrelated events must not make it slower: the ratio of the two
timings against the demo tenant alone is the check (at most
:data:`TARGET_RATIO`). The events go through ``POST /ingestBatch`` of the
in-process app (no socket), as a client's would, so every index ingestion
keeps is as it would be.

``POST /metrics`` REVENUE by month over 24 years for one account with a
plan in its last months only: the years without a plan are jumped over
(``schedules.next_start``), not stepped through hour by hour, so the query
costs a few milliseconds (at most :data:`TARGET_REVENUE_MS`); stepping
took about 520-630 ms.

``python -m benchmarks.scans``
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from mock_server import Config, create_app

from .inprocess import AUTH, _time

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


# REVENUE by month over 24 years (288 buckets) for GLOBEX-US, on a plan from 2033-06-01 only.
REVENUE_RANGE = ("2010-01-01T00:00:00Z", "2034-01-01T00:00:00Z")
PLAN_WINDOW = ("2033-06-01", "2034-01-01")
REVENUE_RUNS = 20
TARGET_REVENUE_MS = 10.0


async def _call(app: Any, method: str, path: str, body: Any) -> tuple[int, Any]:
    """One in-process request with a JSON body: its status and JSON answer."""
    raw = b"" if body is None else json.dumps(body).encode()
    path, _, query = path.partition("?")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": [*AUTH, (b"content-length", str(len(raw)).encode())]}
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(answer) if answer else None


def _ok(app: Any, method: str, path: str, body: Any) -> Any:
    status, answer = asyncio.run(_call(app, method, path, body))
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {answer}")
    return answer


def measure_revenue() -> dict[str, float]:
    """Milliseconds per REVENUE query over :data:`REVENUE_RANGE`, the best of :data:`REVENUE_RUNS`."""
    app = create_app(Config(log="quiet"))
    meter = next(m["id"] for m in app.state.store.collections["usageMeters"].items.values()
                 if m["name"] == "Ride count")
    card = {"usageMeterId": meter,
            "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
            "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 1}]}]}
    plan = _ok(app, "POST", "/price_plans", {"name": "Late", "pricePlanDetails": {
        "supportedCurrencies": ["USD"], "usageRateCards": [card]}})
    _ok(app, "POST", f"/price_plans/{plan['id']}/activate", {"currencies": ["USD"]})
    _ok(app, "POST", "/accounts/GLOBEX-US/price_plans", {"mode": "ASSOCIATE", "pricePlanId": plan["id"],
                                                         "effectiveFrom": PLAN_WINDOW[0],
                                                         "effectiveUntil": PLAN_WINDOW[1]})
    # Usage before the plan (unpriced) and in it, so the account has a key in the usage cube.
    _ok(app, "POST", "/ingestBatch", {"events": [
        {"id": f"rev-{i}", "schemaName": "rides", "accountId": "GLOBEX-US", "timestamp": ts,
         "attributes": [{"name": "distance", "value": "3"}], "dimensions": {"city": "x"}}
        for i, ts in enumerate(("2012-05-01T10:00:00Z", "2033-07-01T10:00:00Z"))]})
    body = {"startTime": REVENUE_RANGE[0], "endTime": REVENUE_RANGE[1], "metricQueries": [
        {"id": "r", "name": "REVENUE", "aggregationPeriod": "MONTH",
         "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": ["GLOBEX-US"]}]}]}
    values = _ok(app, "POST", "/metrics", body)["results"][0]["data"][0]["metricValues"]
    if sum(values) != 1:  # the one ride in the plan, at 1
        raise RuntimeError(f"REVENUE adds up to {sum(values)}, not 1")
    best = float("inf")
    for _ in range(REVENUE_RUNS):
        started = time.perf_counter()
        _ok(app, "POST", "/metrics", body)
        best = min(best, time.perf_counter() - started)
    return {"revenue_24y_ms": round(best * 1e3, 2)}


UNRELATED_CREDITS = 5_000
UNRELATED_ENTRIES = 5_000
# Account-scoped reads of the ledger: ACME-US's, with the unrelated records GLOBEX-US's.
LEDGER_READS = {
    "GET /credits?account_id": ("GET", "/credits", b"", b"account_id=ACME-US&pageSize=10"),
    "GET /accounts/{id}/credit_balance": ("GET", "/accounts/ACME-US/credit_balance", b"", b""),
    "GET /accounts/{id}/wallet/entries": ("GET", "/accounts/ACME-US/wallet/entries", b"", b""),
}


def _ledger_app(credits: int, entries: int) -> Any:
    """The demo tenant, ACME-US with a credit and a wallet, and GLOBEX-US with ``credits`` and ``entries`` more."""
    app = create_app(Config(log="quiet"))
    grant = {"creditRequests": [{"accountId": "ACME-US", "purpose": "bench", "effectiveFrom": "2024-01-01",
                                 "creditAmount": 5, "priority": 1}]}
    _ok(app, "POST", "/credits", grant)
    _ok(app, "POST", "/accounts/ACME-US/wallet_topup", {"topupAmount": 5})
    for start in range(0, credits, 50):
        _ok(app, "POST", "/credits", {"creditRequests": [
            {"accountId": "GLOBEX-US", "purpose": "bench", "effectiveFrom": "2024-01-01", "creditAmount": 1,
             "priority": 1} for _ in range(min(50, credits - start))]})
    for _ in range(entries):
        _ok(app, "POST", "/accounts/GLOBEX-US/wallet_topup", {"topupAmount": 1})
    return app


def measure_ledger() -> dict[str, dict[str, float]]:
    """Each account-scoped ledger read on the demo tenant, then with 5 000 unrelated credits and wallet entries."""
    alone = _ledger_app(0, 0)
    crowded = _ledger_app(UNRELATED_CREDITS, UNRELATED_ENTRIES)
    out = {}
    for label, request in LEDGER_READS.items():
        method, path, _, query = request
        for app in (alone, crowded):  # a refused request would time nothing useful
            status, answer = asyncio.run(_call(app, method, f"{path}?{query.decode()}" if query else path, None))
            if status != 200:
                raise RuntimeError(f"{label}: {status} {answer}")
        before = min(asyncio.run(_time(alone, RUNS, *request)) for _ in range(3))
        after = min(asyncio.run(_time(crowded, RUNS, *request)) for _ in range(3))
        out[label] = {"demo_us": round(before, 1), "crowded_us": round(after, 1), "ratio": round(after / before, 2)}
    return out


def report() -> dict[str, Any]:
    """Every figure of this module, for ``make bench``."""
    return {"events": measure(), "ledger": measure_ledger(), **measure_revenue()}


def describe(found: dict[str, Any]) -> str:
    """The figures as lines of text, each against its target."""
    events = found["events"]
    lines = ["\nscans (account-scoped reads with unrelated records in state; target ratio <= 3):",
             f"  {'PASS' if events['ratio'] <= TARGET_RATIO else 'MISS'}  GET /events?account_id: demo "
             f"{events['demo_us']} us, with {UNRELATED} unrelated events {events['with_50k_us']} us, "
             f"ratio {events['ratio']}"]
    for label, row in found["ledger"].items():
        lines.append(f"  {'PASS' if row['ratio'] <= TARGET_RATIO else 'MISS'}  {label}: demo {row['demo_us']} us, "
                     f"with {UNRELATED_CREDITS} credits and {UNRELATED_ENTRIES} wallet entries unrelated "
                     f"{row['crowded_us']} us, ratio {row['ratio']}")
    revenue = found["revenue_24y_ms"]
    lines.append(f"  {'PASS' if revenue <= TARGET_REVENUE_MS else 'MISS'}  REVENUE by month over 24 years, "
                 f"one account on a plan for its last months: {revenue} ms (target <= {TARGET_REVENUE_MS:.0f} ms)")
    return "\n".join(lines)


def main() -> None:
    print(describe(report()))


if __name__ == "__main__":
    main()
