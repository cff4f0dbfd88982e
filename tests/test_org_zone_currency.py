"""The organisation's exchange rates (REVENUE in the base currency) and time zone (DAY buckets at local midnight).

Expectations are worked by hand from the demo tenant (fixtures/tenant.yaml):
ACME-US (USD) and UMBRELLA-EU (EUR) are on Rides Pro, which charges a ride
FLAT 45 EUR / 49 USD for the first 100 (meter "Ride count", city x only) and
0.18 EUR / 0.2 USD a unit of distance; the demo states 1 EUR = 1.08 USD.
"""
from __future__ import annotations

from typing import Any

from conftest import Api

ZONE = "/settings/setting.togai.time_zone.ORGANIZATION.demo-org"


def ride(event_id: str, ts: str, distance: str = "1", account: str = "ACME-US") -> dict[str, Any]:
    return {"id": event_id, "schemaName": "rides", "accountId": account, "timestamp": ts,
            "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}


def ingest(api: Api, *events: dict[str, Any]) -> None:
    for e in events:
        assert api.post("/ingest", json={"event": e}).status_code == 202


def series(api: Api, start: str, end: str, name: str = "EVENTS", period: str = "DAY") -> tuple[list[str], list[Any]]:
    r = api.post("/metrics", json={"startTime": start, "endTime": end,
                                   "metricQueries": [{"id": "q", "name": name, "aggregationPeriod": period}]})
    assert r.status_code == 200, r.text
    [data] = r.json()["results"][0]["data"]
    return data["timestamps"], data["metricValues"]


def set_zone(api: Api, name: str) -> Any:
    return api.patch(ZONE, json={"value": name})


# -- currency --------------------------------------------------------------------------------


def test_the_default_revenue_query_converts_eur_usage_by_the_stated_rate(api: Api) -> None:
    # UMBRELLA-EU: 45 (flat) + 100 x 0.18 = 63 EUR, x 1.08 = 68.04 USD; ACME-US: 49 + 10 x 0.2 = 51 USD.
    ingest(api, ride("eu", "2024-03-01T10:00:00Z", "100", "UMBRELLA-EU"), ride("us", "2024-03-02T10:00:00Z", "10"))
    stamps, values = series(api, "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", "REVENUE", "MONTH")
    assert stamps == ["2024-03-01T00:00:00Z"] and values == [119.04]
    # By day: each account's revenue where its usage falls, the EUR one converted.
    _, days = series(api, "2024-03-01T00:00:00Z", "2024-03-04T00:00:00Z", "REVENUE", "DAY")
    assert days == [68.04, 51, 0]


def test_a_changed_rate_is_what_the_next_query_uses(api: Api) -> None:
    ingest(api, ride("eu", "2024-03-01T10:00:00Z", "100", "UMBRELLA-EU"))
    r = api.patch("/settings/setting.togai.exchange_rate.EUR.ORGANIZATION.demo-org", json={"value": "1.1"})
    assert r.status_code == 201, r.text  # PATCH /settings answers 201, as the contract says
    assert series(api, "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", "REVENUE", "MONTH")[1] == [69.3]  # 63 x 1.1


def test_an_exchange_rate_must_be_a_positive_number_of_a_currency_code(api: Api) -> None:
    base = {"namespace": "togai", "name": "rate", "dataType": "NUMERIC", "entityType": "ORGANIZATION",
            "entityId": "demo-org"}
    for key, value in (("exchange_rate.GBP", "0"), ("exchange_rate.GBP", "-1.2"), ("exchange_rate.gbp", "1.2")):
        r = api.post("/settings", json={**base, "id": key, "value": value})
        assert r.status_code == 400, (key, value)
        assert r.json()["message"].startswith("value: ")
    assert api.post("/settings", json={**base, "id": "exchange_rate.GBP", "value": "1.27"}).status_code == 201


# -- time zone -------------------------------------------------------------------------------


def test_utc_by_default_and_days_start_at_local_midnight_in_the_zone(api: Api) -> None:
    # 14:30Z is 23:30 on 1 March in Tokyo (+09:00), 15:30Z is 00:30 on 2 March.
    ingest(api, ride("a", "2024-03-01T14:30:00Z"), ride("b", "2024-03-01T15:30:00Z"))
    start, end = "2024-02-29T15:00:00Z", "2024-03-02T15:00:00Z"
    assert series(api, start, end) == (
        ["2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"], [0, 2, 0])
    assert set_zone(api, "Asia/Tokyo").status_code == 201  # the contract says 201
    assert series(api, start, end) == (["2024-03-01T00:00:00+09:00", "2024-03-02T00:00:00+09:00"], [1, 1])


def test_days_across_a_dst_change_are_23_hours_long(api: Api) -> None:
    # New York moves from -05:00 to -04:00 at 2024-03-10 02:00 local: that day runs 05:00Z to 04:00Z next day.
    ingest(api,
           ride("a", "2024-03-10T04:30:00Z"),  # 23:30 EST, 9 March
           ride("b", "2024-03-11T03:30:00Z"),  # 23:30 EDT, 10 March (4 March 11 in UTC)
           ride("c", "2024-03-11T04:30:00Z"))  # 00:30 EDT, 11 March
    assert set_zone(api, "America/New_York").status_code == 201  # the contract says 201
    stamps, values = series(api, "2024-03-09T05:00:00Z", "2024-03-12T04:00:00Z")
    assert stamps == ["2024-03-09T00:00:00-05:00", "2024-03-10T00:00:00-05:00", "2024-03-11T00:00:00-04:00"]
    assert values == [1, 1, 1]
    # A month in the zone: March starts at 05:00Z on the 1st; the three events are all in it.
    stamps, values = series(api, "2024-03-01T05:00:00Z", "2024-04-01T04:00:00Z", period="MONTH")
    assert (stamps, values) == (["2024-03-01T00:00:00-05:00"], [3])


def test_a_half_hour_zone_starts_its_days_at_the_utc_hour_before_local_midnight(api: Api) -> None:
    # Kolkata is +05:30: local midnight is 18:30Z; the hourly aggregates cut at 18:00Z (23:30 local),
    # so an event at 18:15Z (23:45 local, 1 March) is in the day labelled 2024-03-01T23:30+05:30.
    ingest(api, ride("a", "2024-03-01T18:15:00Z"), ride("b", "2024-03-01T17:45:00Z"))
    assert set_zone(api, "Asia/Kolkata").status_code == 201  # the contract says 201
    assert series(api, "2024-02-29T18:00:00Z", "2024-03-02T18:00:00Z") == (
        ["2024-02-29T23:30:00+05:30", "2024-03-01T23:30:00+05:30"], [1, 1])


def test_an_unknown_zone_is_refused(api: Api) -> None:
    r = set_zone(api, "Mars/Olympus_Mons")
    assert r.status_code == 400 and "is not an IANA time zone" in r.json()["message"]
