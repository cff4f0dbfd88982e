"""Batched ingestion (issue 25): a batch stored, decided and counted at once gives what one-by-one ingestion gives.

A batch shares its lookups (accounts, schemas, plan cycles, interned tuples) and counts its events in the
aggregates once per (hour, key); none of that may change an event's outcome, its order, or a total.
"""
from __future__ import annotations

from typing import Any

from conftest import Api, fresh

from mock_server.domain.usage import aggregates, events

METERED = "INGESTION_COMPLETED_EVENT_METERED"
JANUARY = ("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z")


def ride(event_id: str | None, distance: str = "1", account: str = "ACME-US", schema: str = "rides",
         at: str = "2024-01-02T10:00:00Z", attributes: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemaName": schema, "accountId": account, "timestamp": at,
                            "attributes": attributes or [{"name": "distance", "value": distance, "unit": "km"}],
                            "dimensions": {"city": "x"}}
    if event_id is not None:
        body["id"] = event_id
    return body


# A batch mixing every outcome, with the status each must get (hand-written from Togai's rules); None: refused.
MIXED: list[tuple[dict[str, Any], str | None]] = [
    (ride("e1", "12.5"), METERED),
    (ride("e1", "3"), "INGESTION_FAILED_DUPLICATE_EVENT"),  # the same id earlier in the batch
    (ride(None, "4"), "INGESTION_FAILED_NO_EVENT_ID"),
    (ride("e0", "5"), "INGESTION_FAILED_DUPLICATE_EVENT"),  # an id taken before the batch
    (ride("e2", account="NOPE"), "INGESTION_FAILED_ACCOUNT_NOT_FOUND"),
    (ride("e3", schema="unknown"), "INGESTION_FAILED_SCHEMA_NOT_DEFINED"),
    (ride("e4", "2", account="acme-us"), METERED),  # an alias: ACME-US's
    (ride("e5", "0.25", account="GLOBEX-US", at="2024-01-03T23:59:59Z"), METERED),  # no price plan: metered
    (ride("e6", attributes=[{"name": "distance", "value": "1"}, {"name": "distance", "value": "2"}]), None),
    (ride("e7", "1" + "0" * 40), "INGESTION_FAILED_UNITS_INVALID"),  # past 38 digits
    (ride("e8", "7.5", at="2024-01-02T10:59:00Z"), METERED),  # e1's hour
    (ride("e9", "0.125", at="2024-01-02T10:00:00.5Z"), METERED),  # a fraction: its hour read in full
]


def listed(api: Api, after: int) -> list[tuple[Any, str]]:
    """Every event after the first ``after`` (the demo tenant's own), oldest first: its payload and status."""
    stored = list(api.app.state.store.collections[events.NAME].items.values())[after:]
    return [(e.payload(), e.status) for e in stored]


def stored(api: Api) -> int:
    return len(api.app.state.store.collections[events.NAME])


def totals(api: Api) -> list[Any]:
    """The events of 1 to 12 January by raw status and their usage by meter and by account, per hour."""
    r = api.post("/metrics", json={"startTime": JANUARY[0], "endTime": "2024-01-13T00:00:00Z", "metricQueries": [
        {"id": "e", "name": "EVENTS", "aggregationPeriod": "HOUR", "groupBy": "RAW_EVENT_STATUS"},
        {"id": "m", "name": "METER_USAGE", "aggregationPeriod": "HOUR", "groupBy": "USAGE_METER_ID"},
        {"id": "a", "name": "METER_USAGE", "aggregationPeriod": "HOUR", "groupBy": "ACCOUNT_ID"}]})
    assert r.status_code == 200, r.text
    return [sorted((sorted(d.get("groupedBy", {}).items()), d["metricValues"]) for d in q["data"]) for q in r.json()["results"]]


def meter_totals(api: Api) -> dict[str, Any]:
    """Each meter's January total, by name."""
    names = {m["id"]: m["name"] for m in api.get("/usage_meters").json()["data"]}
    r = api.post("/metrics", json={"startTime": JANUARY[0], "endTime": JANUARY[1], "metricQueries": [
        {"id": "m", "name": "METER_USAGE", "aggregationPeriod": "MONTH", "groupBy": "USAGE_METER_ID"}]})
    assert r.status_code == 200, r.text
    return {names[d["groupedBy"]["fieldValue"]]: sum(d["metricValues"]) for d in r.json()["results"][0]["data"]}


def test_a_mixed_batch_gives_each_event_the_outcome_one_by_one_ingestion_gives(api: Api) -> None:
    demo, before = stored(api), meter_totals(api)  # the demo tenant's own January rides
    assert api.post("/ingest", json={"event": ride("e0")}).status_code == 202
    r = api.post("/ingestBatch", json={"events": [body for body, _ in MIXED]})
    assert r.status_code == 207, r.text
    assert r.json()["details"] == {"events[8].attributes[1].name": "is given twice"}
    batched = listed(api, demo)
    assert [status for _, status in batched] == [METERED] + [s for _, s in MIXED if s is not None]
    assert [payload for payload, _ in batched][1:] == [body for body, s in MIXED if s is not None]
    # Rides: e0, e1, e4, e5, e8, e9; distance 1 + 12.5 + 2 + 0.25 + 7.5 + 0.125.
    assert meter_totals(api) == {"Ride count": before["Ride count"] + 6,
                                 "Ride distance": before["Ride distance"] + 23.375}
    batched_totals = totals(api)

    fresh(api)
    assert api.post("/ingest", json={"event": ride("e0")}).status_code == 202
    for body, status in MIXED:
        assert api.post("/ingest", json={"event": body}).status_code == (400 if status is None else 202)
    assert listed(api, demo) == batched
    assert totals(api) == batched_totals


def test_a_batch_that_lets_others_in_between_chunks_counts_what_it_stored_first(api: Api, monkeypatch: Any) -> None:
    """While others wait for the store, a batch yields it every CHUNK events; what they can read then is whole:
    every event stored so far is counted in the aggregates. The outcome is the one of a batch that never yields."""
    store = api.app.state.store
    demo, counted_before = stored(api), sum(aggregates.aggregates(store).events.totals[0].values())
    seen: list[tuple[int, int]] = []

    def yield_lock(max_wait: float) -> None:
        counted = sum(aggregates.aggregates(store).events.totals[0].values())  # one per event counted
        seen.append((stored(api) - demo, counted - counted_before))

    # GLOBEX-US: no Rides credits to run out of (ACME-US has 100 km of them).
    batch = [ride(f"y{i}", str(i % 7), account="GLOBEX-US", at=f"2024-01-{1 + i % 12:02d}T{i % 24:02d}:00:00Z")
             for i in range(events.CHUNK * 2 + 5)]
    assert api.post("/ingestBatch", json={"events": batch}).status_code == 202
    alone = (listed(api, demo), totals(api), meter_totals(api))
    assert not seen and {status for _, status in alone[0]} == {METERED}

    fresh(api)
    monkeypatch.setattr(store, "yield_lock", yield_lock)
    monkeypatch.setattr(store, "waiting", 1)  # another request waits for the store throughout
    assert api.post("/ingestBatch", json={"events": batch}).status_code == 202
    monkeypatch.setattr(store, "waiting", 0)
    assert seen == [(events.CHUNK, events.CHUNK), (2 * events.CHUNK, 2 * events.CHUNK)]
    assert (listed(api, demo), totals(api), meter_totals(api)) == alone


def test_equal_events_of_a_batch_consume_credits_one_by_one(api: Api) -> None:
    """A batch works out the outcome of equal events once, but credits are each event's own: ACME-US holds 100
    Rides credits (the demo's feature on rides.distance), so of three equal 40 km rides the third falls short
    (100 - 40 - 40 = 20 < 40) and is neither metered nor charged; an account holding no credits is not gated."""
    demo, before = stored(api), meter_totals(api)
    batch = [ride(f"k{i}", "40") for i in range(3)] + [ride("k3", "40", account="GLOBEX-US")]
    assert api.post("/ingestBatch", json={"events": batch}).status_code == 202
    assert [status for _, status in listed(api, demo)] == [
        METERED, METERED, "INGESTION_FAILED_INSUFFICIENT_CREDITS", METERED]
    feature = next(f["id"] for f in api.get("/features").json()["data"] if f["name"] == "Rides")
    assert api.get(f"/accounts/ACME-US/features/{feature}").json()["balance"] == 20
    assert meter_totals(api) == {"Ride count": before["Ride count"] + 3,
                                 "Ride distance": before["Ride distance"] + 120}


def test_a_batch_processed_later_gives_what_one_processed_at_once_gives(api: Api, monkeypatch: Any) -> None:
    """With --ingest-delay every event is decided one by one when its time comes (events._decide); at once,
    a batch decides equal events together: the outcomes, their order and every total are the same."""
    body = [body for body, _ in MIXED] + [ride("k1", "60"), ride("k2", "60"), ride("k3", "0", account="acme-us")]
    demo = stored(api)
    assert api.post("/ingest", json={"event": ride("e0")}).status_code == 202
    assert api.post("/ingestBatch", json={"events": body}).status_code == 207
    at_once = (listed(api, demo), totals(api), meter_totals(api))
    assert at_once[0][-3][1] == METERED and at_once[0][-2][1] == "INGESTION_FAILED_INSUFFICIENT_CREDITS"

    fresh(api)
    store = api.app.state.store
    monkeypatch.setattr(store, "ingest_delay", 1e-9)  # processed by the next read, one by one
    assert api.post("/ingest", json={"event": ride("e0")}).status_code == 202
    assert api.post("/ingestBatch", json={"events": body}).status_code == 207
    monkeypatch.setattr(store, "ingest_delay", 0)
    events.settle(store)
    assert (listed(api, demo), totals(api), meter_totals(api)) == at_once


def test_meter_outcomes_remembered_across_requests_follow_the_meters(api: Api) -> None:
    """The outcomes a schema's meters gave are kept from request to request, by the meters as they are: once the
    distance meter is deactivated, an event equal to an earlier one is metered by the count meter alone."""
    meters = {m["name"]: m["id"] for m in api.get("/usage_meters").json()["data"]}
    demo = stored(api)
    assert api.post("/ingestBatch", json={"events": [ride("m1", "7", account="GLOBEX-US")]}).status_code == 202
    assert api.post(f"/usage_meters/{meters['Ride distance']}/deactivate").json()["status"] == "INACTIVE"
    assert api.post("/ingestBatch", json={"events": [ride("m2", "7", account="GLOBEX-US")]}).status_code == 202
    first, second = (api.get(f"/events/{i}").json()["events"][0]["eventPipelineInfo"]["usageMeters"]
                     for i in ("m1", "m2"))
    assert sorted((m["name"], m.get("units")) for m in first) == [("Ride count", 1), ("Ride distance", 7)]
    assert [(m["name"], m.get("units")) for m in second] == [("Ride count", 1)]
    assert stored(api) == demo + 2


def test_a_timestamp_with_a_trailing_newline_is_refused_before_anything_is_stored(api: Api) -> None:
    """A date-time is matched whole: "...Z\\n" is no date-time (it was let through, stored and processed, then
    the request answered 400 on reading it back). In a batch, its field is named and nothing changes."""
    demo = stored(api)
    batch = [ride(f"n{i}") for i in range(12)]
    batch[7]["timestamp"] = "2024-01-02T10:00:00Z\n"
    r = api.post("/ingestBatch", json={"events": batch})
    assert r.status_code == 400 and r.json()["message"].startswith("events[7].timestamp: must be a valid date-time")
    r = api.post("/ingest", json={"event": batch[7]})
    assert r.status_code == 400 and r.json()["message"].startswith("event.timestamp: must be a valid date-time")
    assert stored(api) == demo
