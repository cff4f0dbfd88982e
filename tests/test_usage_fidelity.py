"""Usage fidelity (issue 20): pricing cycles in the organisation's time zone, insufficient feature credits on
``/ingest``, entitled events listed with the others, the organisation's base currency.

Every expectation is worked by hand in the comment beside it (offsets from the IANA rules: Europe/Paris is
+01:00 in winter and +02:00 from 2024-03-31T01:00Z; America/New_York -05:00, then -04:00 from
2024-03-10T07:00Z; Asia/Kolkata +05:30 all year), never computed by the code under test.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Api

from mock_server.domain.pricing.engine import cycle_at, cycles_between

ZONE = "/settings/setting.togai.time_zone.ORGANIZATION.demo-org"
MONTHLY = {"interval": "MONTHLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0}
WEEKLY = {"interval": "WEEKLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0}
ANNIVERSARY = {**MONTHLY, "anniversaryCycle": True}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


# -- 1. pricing cycles in the organisation's time zone ----------------------------------------------------

# (zone, config, anchor, instant, expected [start, end) in UTC)
CYCLES: list[tuple[str | None, dict[str, Any], str | None, str, tuple[str, str]]] = [
    # UTC: February is [Feb 1 00:00Z, Mar 1 00:00Z).
    (None, MONTHLY, None, "2024-02-15T12:00:00Z", ("2024-02-01T00:00Z", "2024-03-01T00:00Z")),
    # Paris (+01:00 in winter): Feb 1 00:00 local is Jan 31 23:00Z; Mar 1 00:00 local is Feb 29 23:00Z.
    ("Europe/Paris", MONTHLY, None, "2024-02-15T12:00:00Z", ("2024-01-31T23:00Z", "2024-02-29T23:00Z")),
    # Kolkata (+05:30): Feb 1 00:00 local is Jan 31 18:30Z.
    ("Asia/Kolkata", MONTHLY, None, "2024-02-15T12:00:00Z", ("2024-01-31T18:30Z", "2024-02-29T18:30Z")),
    # Jan 31 23:30Z is Feb 1 00:30 in Paris: February already; Jan 31 18:00Z is 23:30 in Kolkata: January.
    ("Europe/Paris", MONTHLY, None, "2024-01-31T23:30:00Z", ("2024-01-31T23:00Z", "2024-02-29T23:00Z")),
    ("Asia/Kolkata", MONTHLY, None, "2024-01-31T18:00:00Z", ("2023-12-31T18:30Z", "2024-01-31T18:30Z")),
    # The DST month in Paris: March starts at +01:00 (Feb 29 23:00Z) and ends at +02:00 (Mar 31 22:00Z), 743 h.
    ("Europe/Paris", MONTHLY, None, "2024-03-31T21:59:00Z", ("2024-02-29T23:00Z", "2024-03-31T22:00Z")),
    ("Europe/Paris", MONTHLY, None, "2024-03-31T22:00:00Z", ("2024-03-31T22:00Z", "2024-04-30T22:00Z")),
    # New York, weeks from Monday: Mar 11 03:00Z is Sunday Mar 10 23:00 EDT, in the week of Mon Mar 4 00:00 EST
    # (05:00Z) to Mon Mar 11 00:00 EDT (04:00Z): 167 hours.
    ("America/New_York", WEEKLY, None, "2024-03-11T03:00:00Z", ("2024-03-04T05:00Z", "2024-03-11T04:00Z")),
    # Anniversary from 2024-03-10T00:00Z: 01:00 on the 10th in Paris, kept as the wall time: the April cycle
    # starts Apr 10 01:00 CEST = Apr 9 23:00Z.
    ("Europe/Paris", ANNIVERSARY, "2024-03-10T00:00:00Z", "2024-03-20T00:00:00Z",
     ("2024-03-10T00:00Z", "2024-04-09T23:00Z")),
    ("Europe/Paris", ANNIVERSARY, "2024-03-10T00:00:00Z", "2024-04-15T00:00:00Z",
     ("2024-04-09T23:00Z", "2024-05-09T23:00Z")),
    # In New York the same anchor is Mar 9 19:00 EST: the 9th at 19:00 local; Apr 9 19:00 EDT = 23:00Z.
    ("America/New_York", ANNIVERSARY, "2024-03-10T00:00:00Z", "2024-03-20T00:00:00Z",
     ("2024-03-10T00:00Z", "2024-04-09T23:00Z")),
    # UTC anniversary from the 31st: unchanged (Jan 31, then the last day, Feb 29).
    (None, ANNIVERSARY, "2024-01-31T00:00:00Z", "2024-02-10T00:00:00Z", ("2024-01-31T00:00Z", "2024-02-29T00:00Z")),
]


@pytest.mark.parametrize("row", CYCLES, ids=[f"{r[0]}-{r[3]}" for r in CYCLES])
def test_cycle_boundaries_in_the_zone(row: Any) -> None:
    zone, config, anchor, instant, expected = row
    start, end = cycle_at(config, at(instant), at(anchor) if anchor else None, ZoneInfo(zone) if zone else None)
    assert (z(start), z(end)) == expected


def test_cycles_are_counted_on_local_dates_across_dst() -> None:
    # Mon Mar 4 00:00 EST (05:00Z) to Mon Mar 11 00:00 EDT (04:00Z) is one week of 167 hours: 1, not 0.
    assert cycles_between(WEEKLY, at("2024-03-04T05:00:00Z"), at("2024-03-11T04:00:00Z"),
                          ZoneInfo("America/New_York")) == 1
    # London: Jan 1 00:00 GMT (00:00Z) to Apr 1 00:00 BST (Mar 31 23:00Z) is three months, not two.
    assert cycles_between(MONTHLY, at("2024-01-01T00:00:00Z"), at("2024-03-31T23:00:00Z"),
                          ZoneInfo("Europe/London")) == 3



def _ride_meter(api: Api) -> str:
    return next(m["id"] for m in api.get("/usage_meters").json()["data"] if m["name"] == "Ride count")


def _billed_account(api: Api, config: dict[str, Any]) -> str:
    """An account on a plan pricing each ride (city x) at 1 USD, associated from 2024-01-01."""
    r = api.post("/accounts", json={"id": "ZONED", "customerId": "ACME", "name": "Zoned", "invoiceCurrency": "USD"})
    assert r.status_code == 201, r.text
    details = {"supportedCurrencies": ["USD"], "pricingCycleConfig": config, "usageRateCards": [{
        "usageMeterId": _ride_meter(api), "ratePlan": {"pricingModel": "TIERED", "slabs": [
            {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
        "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 1}]}]}]}
    r = api.post("/price_plans", json={"name": "Zoned plan", "pricePlanDetails": details})
    assert r.status_code in (200, 201), r.text
    plan = r.json()["id"]
    assert api.post(f"/price_plans/{plan}/activate", json={"currencies": ["USD"]}).status_code == 200
    r = api.post("/accounts/ZONED/price_plans", json={"mode": "ASSOCIATE", "pricePlanId": plan,
                                                      "effectiveFrom": "2024-01-01", "effectiveUntil": "2099-01-01"})
    assert r.status_code == 200, r.text
    return "ZONED"


def _rides(api: Api, *stamps: str) -> None:
    events = [{"id": f"z-{s}", "schemaName": "rides", "accountId": "ZONED", "timestamp": s,
               "attributes": [{"name": "distance", "value": "1"}], "dimensions": {"city": "x"}} for s in stamps]
    assert api.post("/ingestBatch", json={"events": events}).status_code == 202


def _invoices(api: Api) -> list[tuple[str, str, str, Any]]:
    out = []
    for summary in api.get("/invoices", params={"owner_id": "ZONED"}).json()["data"]:
        invoice = api.get(f"/invoices/{summary['id']}").json()
        if invoice.get("finalizingStatus") is not None:
            out.append((invoice["startDate"], invoice["endDate"], invoice["invoiceDate"], invoice["totalAmount"]))
    return sorted(out)


def test_invoices_close_at_local_midnight_on_a_test_clock(capi: Api) -> None:
    _billed_account(capi, MONTHLY)
    # The zone is set after the association: the engine's queue must follow (a setting write marks it dirty).
    assert capi.patch(ZONE, json={"value": "Europe/Paris"}).status_code == 201
    # Jan 31 22:30Z is 23:30 in Paris (January); 23:30Z is Feb 1 00:30 (February); Mar 31 21:30Z is 23:30
    # CEST on Mar 31 (March); 22:30Z is Apr 1 00:30 (April, still open).
    _rides(capi, "2024-01-31T22:30:00Z", "2024-01-31T23:30:00Z", "2024-01-31T23:40:00Z",
           "2024-03-31T21:30:00Z", "2024-03-31T22:30:00Z")
    [event] = capi.get("/events/z-2024-01-31T23:30:00Z").json()["events"]
    info = event["eventPipelineInfo"]["pricePlans"][0]
    assert (info["cycleStart"], info["cycleEnd"]) == ("2024-02-01", "2024-02-29")  # local days
    # At 23:30Z on Jan 31 (00:30 in Paris) January is closed, though it is still January in UTC.
    assert capi.post("/__mock/clock", json={"to": "2024-01-31T23:30:00Z"}).status_code == 200
    assert [i[:2] for i in _invoices(capi)] == [("2024-01-01T00:00:00.000Z", "2024-01-31T23:00:00.000Z")]
    assert capi.post("/__mock/clock", json={"to": "2024-04-01T00:00:00Z"}).status_code == 200
    # The first cycle starts with the association (Jan 1 00:00Z, clipped) and ends at Feb 1 00:00 Paris; with
    # no grace period, invoiceDate is the cycle's end. 1 + 2 + 0 + 1 rides at 1 USD.
    assert _invoices(capi) == [
        ("2024-01-01T00:00:00.000Z", "2024-01-31T23:00:00.000Z", "2024-01-31T23:00:00.000Z", 1),
        ("2024-01-31T23:00:00.000Z", "2024-02-29T23:00:00.000Z", "2024-02-29T23:00:00.000Z", 2),
        ("2024-02-29T23:00:00.000Z", "2024-03-31T22:00:00.000Z", "2024-03-31T22:00:00.000Z", 1),
    ]


# -- 2. INGESTION_FAILED_INSUFFICIENT_CREDITS -------------------------------------------------------------


def _rides_feature(api: Api) -> str:
    return next(f["id"] for f in api.get("/features").json()["data"] if f["name"] == "Rides")


def _left(api: Api, account: str = "ACME-US") -> Any:
    return api.get(f"/accounts/{account}/features/{_rides_feature(api)}").json()["balance"]


def _ingest_ride(api: Api, event_id: str, distance: str, account: str = "ACME-US") -> str:
    body = {"id": event_id, "schemaName": "rides", "accountId": account, "timestamp": "2024-01-02T10:00:00Z",
            "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}
    assert api.post("/ingest", json={"event": body}).status_code == 202
    [event] = api.get(f"/events/{event_id}").json()["events"]
    status: str = event["ingestionStatus"]["status"]
    return status


def test_an_ingested_event_consumes_feature_credits_and_fails_when_they_run_short(api: Api) -> None:
    # The demo's feature Rides is linked to rides.distance; ACME-US holds 100 Rides credits (its purchase).
    assert _left(api) == 100
    assert _ingest_ride(api, "c1", "60") == "INGESTION_COMPLETED_EVENT_METERED"
    assert _left(api) == 40  # 100 - 60
    # 50 > the 40 left: the event fails, consumes nothing, is not metered.
    assert _ingest_ride(api, "c2", "50") == "INGESTION_FAILED_INSUFFICIENT_CREDITS"
    assert _left(api) == 40
    [failed] = api.get("/events/c2").json()["events"]
    assert "usageMeters" not in failed["eventPipelineInfo"]
    listed = api.get("/events", params={"status": "INGESTION_FAILED_INSUFFICIENT_CREDITS"}).json()["events"]
    assert [e["eventPayload"]["id"] for e in listed] == ["c2"]
    # A failed event (units out of bounds: 39 significant digits) consumes none either.
    assert _ingest_ride(api, "c3", "1" * 39) == "INGESTION_FAILED_UNITS_INVALID"
    assert _left(api) == 40
    # Exactly what is left: 40 - 40 = 0.
    assert _ingest_ride(api, "c4", "40") == "INGESTION_COMPLETED_EVENT_METERED"
    assert _left(api) == 0
    # /entitled sees the same credits: none left for 0.5.
    entitled = {"schemaName": "rides", "timestamp": "2024-01-02T10:00:00Z", "accountId": "ACME-US",
                "attributes": [{"name": "distance", "value": "0.5"}], "dimensions": {}}
    assert api.post("/entitled", json={"event": entitled}).status_code == 400
    # An account never granted Rides credits is not gated by them: 500 is metered.
    assert _ingest_ride(api, "c5", "500", "GLOBEX-UK") == "INGESTION_COMPLETED_EVENT_METERED"


# -- 3. entitled events listed with the others -------------------------------------------------------------


def test_entitled_events_are_listed_read_metered_once_and_round_trip(api: Api) -> None:
    body = {"id": "ent-a", "schemaName": "rides", "timestamp": "2024-01-02T10:00:00Z", "accountId": "ACME-US",
            "attributes": [{"name": "distance", "value": "30"}], "dimensions": {"city": "x"}}
    assert api.post("/entitled", json={"event": body}).status_code == 200
    # Its credits are consumed once, by /entitled (100 - 30), not again when it is metered.
    assert _left(api) == 70
    listed = api.get("/events", params={"account_id": "ACME-US", "schema_name": "rides"}).json()["events"]
    assert [e["eventPayload"]["id"] for e in listed if e["eventPayload"].get("id") == "ent-a"] == ["ent-a"]
    [event] = api.get("/events/ent-a").json()["events"]
    assert event["ingestionStatus"]["status"] == "INGESTION_COMPLETED_EVENT_METERED"
    # Metered like an ingested event: the distance meter computed 30, the ride count 1.
    assert sorted(m.get("units") for m in event["eventPipelineInfo"]["usageMeters"]) == [1, 30]
    # Exported with its mark, imported back, exported the same.
    state = api.get("/__mock/state").json()
    [exported] = [e for e in state["events"] if e["eventPayload"].get("id") == "ent-a"]
    assert exported["entitled"] is True
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    again = [e for e in api.get("/__mock/state").json()["events"] if e["eventPayload"].get("id") == "ent-a"]
    assert again == [exported]
    # The same id space: /ingest of its id is a duplicate (GET /events/ent-a still reads the entitled one).
    _ingest_ride(api, "ent-a", "1")
    duplicates = api.get("/events", params={"account_id": "ACME-US",
                                            "status": "INGESTION_FAILED_DUPLICATE_EVENT"}).json()["events"]
    assert [e["eventPayload"]["id"] for e in duplicates if e["eventPayload"]["id"] == "ent-a"] == ["ent-a"]


# -- 4. the organisation's base currency -------------------------------------------------------------------

BASE = "/settings/setting.togai.base_currency.ORGANIZATION.demo-org"


def _march_ride(api: Api, event_id: str, account: str, distance: str) -> None:
    body = {"id": event_id, "schemaName": "rides", "accountId": account, "timestamp": "2024-03-01T10:00:00Z",
            "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}
    assert api.post("/ingest", json={"event": body}).status_code == 202


def _march_revenue(api: Api) -> Any:
    return api.post("/metrics", json={"startTime": "2024-03-01T00:00:00Z", "endTime": "2024-04-01T00:00:00Z",
                                      "metricQueries": [{"id": "r", "name": "REVENUE", "aggregationPeriod": "MONTH"}]})


def test_revenue_in_the_base_currency_the_organisation_states(api: Api) -> None:
    # Rides Pro (the demo plan): UMBRELLA-EU (EUR) 45 flat + 100 km x 0.18 = 63 EUR; ACME-US (USD) 49 flat +
    # 10 km x 0.2 = 51 USD. With USD the base (the default) and 1 EUR = 1.08 USD: 63 x 1.08 + 51 = 119.04.
    _march_ride(api, "b1", "UMBRELLA-EU", "100")
    _march_ride(api, "b2", "ACME-US", "10")
    [data] = _march_revenue(api).json()["results"][0]["data"]
    assert data["metricValues"] == [119.04]
    # EUR the base: the USD account needs a rate to EUR; none is stated yet, so the query is refused.
    assert api.patch(BASE, json={"value": "EUR"}).status_code == 201
    refused = _march_revenue(api)
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("metricQueries[0].configs.CURRENCY: account 'ACME-US' is invoiced in "
                                                "USD and the organisation states no exchange rate from USD to EUR")
    rate = {"id": "exchange_rate.USD", "namespace": "togai", "name": "USD to EUR", "value": "0.92",
            "dataType": "NUMERIC", "entityType": "ORGANIZATION", "entityId": "demo-org"}
    assert api.post("/settings", json=rate).status_code == 201
    # 63 + 51 x 0.92 = 63 + 46.92 = 109.92 EUR.
    [data] = _march_revenue(api).json()["results"][0]["data"]
    assert data["metricValues"] == [109.92]
    [event] = api.get("/events/b2").json()["events"]
    assert (event["eventPipelineInfo"]["baseCurrency"], event["eventPipelineInfo"]["invoiceCurrency"]) == ("EUR", "USD")
    # A base currency is a currency code.
    assert api.patch(BASE, json={"value": "euro"}).status_code == 400
