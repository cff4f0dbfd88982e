"""POST /metrics over the usage aggregates: exact numbers per metric, interval, filter and group.

Events are counted with ``usage.count_event`` as ingestion does, in the
``EventWithStatusAndEventPipelineInfo`` shape ingestion stores.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import togai_client
from conftest import Api

from mock_server.domain.core import money
from mock_server.domain.usage import aggregates as usage

COMPLETED = "INGESTION_COMPLETED_EVENT_METERED"


def meters(api: Api) -> dict[str, str]:
    """The demo meters' ids by name."""
    return {m["name"]: m["id"] for m in api.app.state.store.collections["usageMeters"].items.values()}


@dataclass
class Stored:
    """An ingested event as ``events.Event`` keeps it (the attributes usage.count_event reads)."""

    timestamp: str
    account_id: str
    account: str | None
    customer_id: str | None
    schema_name: str
    status: str
    meter_ids: tuple[str, ...]
    units: tuple[str | None, ...]

    def counts(self) -> bool:
        return self.status.startswith("INGESTION_COMPLETED")

    def in_metrics(self) -> bool:
        return self.status != "REVERTED"


def event(ts: str, units: dict[str, Any] | None = None, account: str = "ACME-US", customer: str = "ACME",
          status: str = COMPLETED, schema: str = "rides", sent_as: str | None = None) -> Stored:
    """A processed event: ``units`` by meter id."""
    computed = units or {}
    return Stored(ts, sent_as or account, account, customer, schema, status, tuple(computed),
                  tuple(None if u is None else str(u) for u in computed.values()))


def count(api: Api, *events: Stored, sign: int = 1) -> None:
    for e in events:
        usage.count_event(api.app.state.store, e, sign)


def metrics(api: Api, start: str, end: str, *queries: dict[str, Any]) -> Any:
    r = api.post("/metrics", json={"startTime": start, "endTime": end, "metricQueries": list(queries)})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def query(name: str, period: str = "DAY", qid: str = "q", **extra: Any) -> dict[str, Any]:
    return {"id": qid, "name": name, "aggregationPeriod": period, **extra}


def one(result: dict[str, Any]) -> tuple[list[str], list[Any]]:
    [data] = result["data"]
    return data["timestamps"], data["metricValues"]


MARCH = ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z")


def test_a_sum_meter_adds_exactly(api: Api) -> None:
    distance = meters(api)["Ride distance"]
    count(api, *(event(f"2024-03-0{d}T10:00:00Z", {distance: u}) for d, u in ((1, 12.5), (2, 10), (3, 7.5))))
    for name in ("METER_USAGE", "USAGE"):
        [result] = metrics(api, *MARCH, query(name, "MONTH"))
        assert result["name"] == name
        assert one(result) == (["2024-03-01T00:00:00Z"], [30])
    # Exact where floats are not: 0.1 + 0.2 is 0.3.
    count(api, event("2024-03-04T00:00:00Z", {distance: 0.1}), event("2024-03-04T01:00:00Z", {distance: 0.2}))
    [result] = metrics(api, "2024-03-04T00:00:00Z", "2024-03-05T00:00:00Z", query("METER_USAGE", "DAY"))
    assert one(result)[1] == [0.3]
    assert money.exact(0.1) + money.exact(0.2) == Decimal("0.3")


def test_each_interval_buckets_in_utc(api: Api) -> None:
    rides = meters(api)["Ride count"]
    count(api, event("2024-02-29T23:59:59Z", {rides: 1}), event("2024-03-01T00:00:00Z", {rides: 1}),
          event("2024-03-01T00:59:59+00:00", {rides: 1}), event("2024-03-04T02:00:00+02:00", {rides: 1}),
          event("2024-03-11T00:00:00Z", {rides: 1}))
    start, end = "2024-02-29T00:00:00Z", "2024-03-12T00:00:00Z"
    [hour] = metrics(api, "2024-02-29T23:00:00Z", "2024-03-01T02:00:00Z", query("METER_USAGE", "HOUR"))
    day, week, month = metrics(api, start, end, query("METER_USAGE", "DAY", "d"), query("METER_USAGE", "WEEK", "w"),
                               query("METER_USAGE", "MONTH", "m"))
    assert one(hour) == (["2024-02-29T23:00:00Z", "2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"], [1, 2, 0])
    days, values = one(day)
    assert len(days) == 12 and days[0] == "2024-02-29T00:00:00Z" and days[-1] == "2024-03-11T00:00:00Z"
    assert values == [1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]  # 02:00+02:00 is midnight UTC of the 4th
    # Weeks start on Monday: 2024-02-26, 03-04 and 03-11 are Mondays.
    assert one(week) == (["2024-02-26T00:00:00Z", "2024-03-04T00:00:00Z", "2024-03-11T00:00:00Z"], [3, 1, 1])
    assert one(month) == (["2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"], [1, 4])


def test_only_the_range_counts_widened_to_whole_hours(api: Api) -> None:
    rides = meters(api)["Ride count"]
    count(api, event("2024-03-01T09:59:00Z", {rides: 1}), event("2024-03-01T10:30:00Z", {rides: 1}),
          event("2024-03-01T11:05:00Z", {rides: 1}), event("2024-03-01T12:00:00Z", {rides: 1}))
    [result] = metrics(api, "2024-03-01T10:20:00Z", "2024-03-01T11:10:00Z", query("METER_USAGE", "DAY"))
    assert one(result) == (["2024-03-01T00:00:00Z"], [2])  # the hours 10:00 and 11:00
    [result] = metrics(api, "2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", query("METER_USAGE", "HOUR"))
    assert one(result) == (["2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z"], [1, 1])  # the end is exclusive


def test_events_count_by_status_schema_and_account(api: Api) -> None:
    count(api, event("2024-03-01T10:00:00Z"), event("2024-03-01T11:00:00Z", account="GLOBEX-US", customer="GLOBEX"),
          event("2024-03-02T10:00:00Z", status="INGESTION_FAILED_SCHEMA_NOT_DEFINED", schema="rides"),
          event("2024-03-02T11:00:00Z", status="INGESTION_COMPLETED_NO_MATCHING_METERS"),
          event("2024-03-02T12:00:00Z", status="INGESTION_IN_PROGRESS"))
    [pending] = metrics(api, *MARCH, query("EVENTS", "MONTH", filters=[
        {"fieldName": "EVENT_STATUS", "fieldValues": ["IN_PROGRESS"]}]))
    assert one(pending)[1] == [1]  # counted only when asked for: by default PROCESSED and UNPROCESSED
    total, by_status, by_raw, by_account, failed = metrics(
        api, *MARCH, query("EVENTS", "MONTH", "t"), query("EVENTS", "MONTH", "s", groupBy="EVENT_STATUS"),
        query("EVENTS", "MONTH", "r", groupBy="RAW_EVENT_STATUS"),
        query("EVENTS", "MONTH", "a", groupBy="ACCOUNT_ID"),
        query("EVENTS", "MONTH", "f", filters=[{"fieldName": "EVENT_STATUS", "fieldValues": ["UNPROCESSED"]}]))
    assert one(total)[1] == [4]
    assert [(d["groupedBy"]["fieldValue"], d["metricValues"]) for d in by_status["data"]] == [
        ("PROCESSED", [3]), ("UNPROCESSED", [1])]
    assert {d["groupedBy"]["fieldValue"]: d["metricValues"] for d in by_raw["data"]} == {
        COMPLETED: [2], "INGESTION_COMPLETED_NO_MATCHING_METERS": [1], "INGESTION_FAILED_SCHEMA_NOT_DEFINED": [1]}
    assert {d["groupedBy"]["fieldName"] for d in by_raw["data"]} == {"RAW_EVENT_STATUS"}
    assert [(d["groupedBy"]["fieldValue"], d["metricValues"]) for d in by_account["data"]] == [
        ("ACME-US", [3]), ("GLOBEX-US", [1])]
    assert one(failed)[1] == [1]


def test_filters_narrow_and_combine(api: Api) -> None:
    ids = meters(api)
    rides, distance = ids["Ride count"], ids["Ride distance"]
    count(api, event("2024-03-01T10:00:00Z", {rides: 1, distance: 4}),
          event("2024-03-01T11:00:00Z", {rides: 1, distance: 6}, account="ACME-EU", sent_as="acme-eu"),
          event("2024-03-01T12:00:00Z", {rides: 1, distance: 100}, account="GLOBEX-US", customer="GLOBEX"))

    def total(*filters: tuple[str, list[str]], group: str | None = None) -> Any:
        extra: dict[str, Any] = {"filters": [{"fieldName": f, "fieldValues": v} for f, v in filters]} if filters else {}
        if group:
            extra["groupBy"] = group
        [result] = metrics(api, *MARCH, query("METER_USAGE", "MONTH", **extra))
        return {d.get("groupedBy", {}).get("fieldValue", ""): d["metricValues"][0] for d in result["data"]}

    assert total() == {"": 113}
    assert total(("USAGE_METER_ID", [distance])) == {"": 110}
    assert total(("BILLABLE_ID", ["Ride distance"])) == {"": 110}  # a meter's name names it too
    assert total(("ACCOUNT_ID", ["acme-eu"]), ("USAGE_METER_ID", [distance])) == {"": 6}  # an alias is its account
    assert total(("CUSTOMER_ID", ["ACME"])) == {"": 12}
    assert total(("CUSTOMER_ID", ["ACME"]), group="USAGE_METER_ID") == {rides: 2, distance: 10}
    assert total(("USAGE_METER_ID", [distance]), group="CUSTOMER_ID") == {"ACME": 10, "GLOBEX": 100}
    assert total(("ACCOUNT_ID", ["ACME-US", "GLOBEX-US"]), ("USAGE_METER_ID", [rides, distance]),
                 group="ACCOUNT_ID") == {"ACME-US": 5, "GLOBEX-US": 101}
    assert total(("ORGANIZATION_ID", ["my-org"])) == {"": 113}  # the tenant is the organization


def test_usage_for_cycle_is_the_running_total_of_the_month(api: Api) -> None:
    distance = meters(api)["Ride distance"]
    count(api, event("2024-02-10T00:00:00Z", {distance: 1000}), event("2024-03-02T05:00:00Z", {distance: 2}),
          event("2024-03-04T05:00:00Z", {distance: 3}), event("2024-04-01T00:00:00Z", {distance: 7}))
    start, end = "2024-03-03T00:00:00Z", "2024-04-03T00:00:00Z"
    cycle, weekly, plain = metrics(api, start, end, query("USAGE_FOR_CYCLE", "DAY", "c"),
                                   query("USAGE_FOR_CYCLE", "WEEK", "w"), query("METER_USAGE", "DAY", "u"))
    days, values = one(cycle)
    # The 3rd already holds the 2nd's usage (same cycle, before the range); April starts over.
    assert values[:3] == [2, 5, 5] and values[days.index("2024-03-31T00:00:00Z")] == 5
    assert values[-2:] == [7, 7]
    assert sum(one(plain)[1]) == 10
    weeks, running = one(weekly)
    assert weeks[-1] == "2024-04-01T00:00:00Z" and running[-1] == 7
    assert running[weeks.index("2024-03-25T00:00:00Z")] == 5


def test_a_week_across_two_cycles_counts_the_later_one(api: Api) -> None:
    distance = meters(api)["Ride distance"]
    count(api, event("2024-02-20T00:00:00Z", {distance: 1}), event("2024-02-27T00:00:00Z", {distance: 10}),
          event("2024-03-01T00:00:00Z", {distance: 100}))
    [weekly] = metrics(api, "2024-02-19T00:00:00Z", "2024-03-04T00:00:00Z", query("USAGE_FOR_CYCLE", "WEEK"))
    # Week of Feb 19: February so far; week of Feb 26 ends in March: March's cycle, from March 1.
    assert one(weekly) == (["2024-02-19T00:00:00Z", "2024-02-26T00:00:00Z"], [1, 100])


def test_groups_without_data_are_left_out_and_an_ungrouped_query_answers_zeros(api: Api) -> None:
    grouped, plain, licenses = metrics(api, *MARCH, query("EVENTS", "WEEK", "g", groupBy="ACCOUNT_ID"),
                                       query("METER_USAGE", "WEEK", "p"), query("NAMED_LICENSE_USAGE", "MONTH", "l"))
    assert grouped["data"] == []
    assert one(plain)[1] == [0, 0, 0, 0, 0]
    assert one(licenses) == (["2024-03-01T00:00:00Z"], [0])


def test_a_reverted_event_stops_counting(api: Api) -> None:
    distance = meters(api)["Ride distance"]
    kept, reverted = event("2024-03-01T10:00:00Z", {distance: 2.5}), event("2024-03-01T10:30:00Z", {distance: 4})

    def tables() -> Any:
        found = usage.aggregates(api.app.state.store)
        return [copy.deepcopy((c.hours, c.days, c.months, c.totals)) for c in (found.usage, found.events)]

    before = tables()  # the demo tenant's own events (January)
    count(api, kept, reverted)
    count(api, reverted, sign=-1)
    events, used = metrics(api, *MARCH, query("EVENTS", "MONTH", "e"), query("METER_USAGE", "MONTH", "u"))
    assert one(events)[1] == [1] and one(used)[1] == [2.5]
    count(api, kept, sign=-1)
    assert tables() == before  # nothing left behind, not even zeros


def ride(event_id: str, distance: str, ts: str = "2024-03-05T10:00:00Z", account: str = "ACME-US") -> dict[str, Any]:
    """A rides event as a client ingests it."""
    return {"id": event_id, "schemaName": "rides", "accountId": account, "timestamp": ts,
            "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}


def used(api: Api) -> tuple[Any, Any]:
    """March's distance and ride count, and its events."""
    ids = meters(api)
    by_meter, events = metrics(api, *MARCH, query("METER_USAGE", "MONTH", "u", groupBy="USAGE_METER_ID"),
                               query("EVENTS", "MONTH", "e"))
    names = {v: k for k, v in ids.items()}
    return {names[d["groupedBy"]["fieldValue"]]: d["metricValues"][0] for d in by_meter["data"]}, one(events)[1][0]


def test_ingested_events_count_and_a_correction_reverts_them(api: Api) -> None:
    r = api.post("/ingestBatch", json={"events": [ride("a", "12.5"), ride("b", "10"), ride("c", "7.5")]})
    assert r.status_code == 202, r.text
    api.post("/ingest", json={"event": ride("a", "99")})  # a duplicate id never counts twice
    api.post("/ingest", json={"event": ride("x", "5", account="NOBODY")})  # refused: no such account
    # EVENTS counts the two failed events too (UNPROCESSED); only the three completed ones have units.
    assert used(api) == ({"Ride count": 3, "Ride distance": 30}, 5)
    [failed] = metrics(api, *MARCH, query("EVENTS", "MONTH", "f", filters=[
        {"fieldName": "EVENT_STATUS", "fieldValues": ["UNPROCESSED"]}]))
    assert one(failed)[1] == [2]
    r = api.post("/events/correction", params={"action": "UNDO"}, json={"event": ride("b", "10")})
    assert r.status_code == 200, r.text
    assert used(api) == ({"Ride count": 2, "Ride distance": 20}, 4)


def test_aggregates_are_derived_never_exported_and_rebuilt_on_import(api: Api) -> None:
    api.post("/ingestBatch", json={"events": [ride("a", "12.5"), ride("b", "10"), ride("c", "7.5")]})
    api.post("/events/correction", params={"action": "UNDO"}, json={"event": ride("b", "10")})
    before = used(api)
    exported = api.get("/__mock/state").json()
    assert "usage" not in exported and {"a", "b", "c"} <= {e["eventPayload"].get("id") for e in exported["events"]}
    r = api.request("PUT", "/__mock/state", json={})
    assert r.status_code == 200, r.text
    assert used(api) == ({}, 0)
    r = api.request("PUT", "/__mock/state", json=exported)
    assert r.status_code == 200, r.text
    assert used(api) == before == ({"Ride count": 2, "Ride distance": 20}, 2)
    # A reset goes back to the fixtures' aggregates (none), a counted event does not survive it.
    api.post("/__mock/reset", headers={"Content-Type": "application/json"})
    assert used(api) == ({}, 0)


def test_rebuild_recounts_the_stored_events(api: Api) -> None:
    store = api.app.state.store
    distance = meters(api)["Ride distance"]
    stored = [event("2024-03-01T10:00:00Z", {distance: 2}), event("2024-03-02T10:00:00Z", {distance: 3}),
              event("2024-03-03T10:00:00Z", {distance: 50}, status="REVERTED"),
              event("2024-03-03T10:00:00Z", {}, status="INGESTION_IN_PROGRESS")]  # no units before processing
    store.collections.setdefault(usage.EVENTS, type(store.collections["accounts"])())
    for i, e in enumerate(stored):
        store.collections[usage.EVENTS].add(str(i), e)
    try:
        usage.rebuild(store)
        [used] = metrics(api, *MARCH, query("METER_USAGE", "MONTH"))
        assert one(used)[1] == [5]  # neither the reverted nor the unfinished event
        [pending] = metrics(api, *MARCH, query("EVENTS", "MONTH", filters=[
            {"fieldName": "EVENT_STATUS", "fieldValues": ["IN_PROGRESS"]}]))
        assert one(pending)[1] == [1]  # the unfinished one is an event in progress
    finally:
        del store.collections[usage.EVENTS]


BAD_QUERIES = [
    ({"metricQueries": [query("EVENTS", qid=str(i)) for i in range(6)]}, "metricQueries", "1 to 5 queries"),
    ({"metricQueries": []}, "metricQueries", "1 to 5 queries"),
    ({"endTime": "2024-03-01T00:00:00Z"}, "endTime", "must be after startTime"),
    ({"startTime": "1969-12-31T23:00:00Z"}, "startTime", "must be between 1970-01-01"),
    ({"endTime": "9999-12-31T23:59:59Z"}, "endTime", "must be between 1970-01-01"),
    ({"metricQueries": [query("EVENTS", qid="a"), query("METER_USAGE", qid="a")]}, "metricQueries[1].id",
     "also metricQueries[0]"),
    ({"metricQueries": [query("EVENTS", groupBy="USAGE_METER_ID")]}, "metricQueries[0].groupBy",
     "EVENTS can be grouped by ACCOUNT_ID, EVENT_STATUS, SCHEMA_NAME, RAW_EVENT_STATUS only"),
    ({"metricQueries": [query("METER_USAGE", groupBy="EVENT_STATUS")]}, "metricQueries[0].groupBy", "grouped by"),
    ({"metricQueries": [query("METER_USAGE", filters=[{"fieldName": "SCHEMA_NAME", "fieldValues": ["rides"]}])]},
     "metricQueries[0].filters[0].fieldName", "METER_USAGE can be filtered by"),
    ({"metricQueries": [query("USAGE_FOR_CYCLE", filters=[{"fieldName": "ORGANIZATION_ID", "fieldValues": ["o"]}])]},
     "metricQueries[0].filters[0].fieldName", "filtered by"),
    ({"metricQueries": [query("EVENTS", filters=[{"fieldName": "ACCOUNT_ID", "fieldValues": ["ACME-US", "NOPE"]}])]},
     "metricQueries[0].filters[0].fieldValues[1]", "'NOPE' is not a known account id or alias"),
    ({"metricQueries": [query("EVENTS", filters=[{"fieldName": "SCHEMA_NAME", "fieldValues": ["rides", "rides"]}])]},
     "metricQueries[0].filters[0].fieldValues", "at most one event schema"),
    ({"metricQueries": [query("EVENTS", filters=[{"fieldName": "EVENT_STATUS", "fieldValues": ["DONE"]}])]},
     "metricQueries[0].filters[0].fieldValues[0]", "not a known event status"),
    ({"metricQueries": [query("EVENTS", filters=[{"fieldName": "CUSTOMER_ID", "fieldValues": []}])]},
     "metricQueries[0].filters[0].fieldValues", "at least one value"),
    ({"metricQueries": [query("METER_USAGE", filters=[{"fieldName": "USAGE_METER_ID", "fieldValues": ["um.x"]}])]},
     "metricQueries[0].filters[0].fieldValues[0]", "not a known usage meter"),
    ({"metricQueries": [query("EVENTS", "HOUR")]}, "metricQueries[0].aggregationPeriod", "more than 300 data points"),
    ({"metricQueries": [query("EVENTS", configs={"CURRENCY": "BASE"})]}, "metricQueries[0].configs.CURRENCY",
     "not a config of EVENTS"),
    ({"metricQueries": [query("REVENUE", configs={"CURRENCY": "EUR"})]}, "metricQueries[0].configs.CURRENCY",
     "must be BASE or INVOICE"),
]


@pytest.mark.parametrize(("change", "field", "rule"), BAD_QUERIES, ids=[b[1] + ":" + b[2][:20] for b in BAD_QUERIES])
def test_a_refused_query_names_the_field_and_the_rule(api: Api, change: dict[str, Any], field: str, rule: str) -> None:
    body = {"startTime": MARCH[0], "endTime": MARCH[1], "metricQueries": [query("EVENTS")], **change}
    r = api.post("/metrics", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["x-mock-rejected-by"] == "rule"
    message = r.json()["message"]
    assert message.startswith(f"{field}: "), message
    assert rule in message


def test_three_hundred_points_is_the_limit(api: Api) -> None:
    # 300 hours answer; 301 do not.
    ok = api.post("/metrics", json={"startTime": "2024-03-01T00:00:00Z", "endTime": "2024-03-13T12:00:00Z",
                                    "metricQueries": [query("EVENTS", "HOUR")]})
    assert ok.status_code == 200 and len(one(ok.json()["results"][0])[0]) == 300
    too_many = api.post("/metrics", json={"startTime": "2024-03-01T00:00:00Z", "endTime": "2024-03-13T13:00:00Z",
                                          "metricQueries": [query("EVENTS", "HOUR")]})
    assert too_many.status_code == 400


def test_ingest_then_metrics_with_togais_client(sdk: togai_client.ApiClient) -> None:
    ingestion, metrics_api = togai_client.EventIngestionApi(sdk), togai_client.MetricsApi(sdk)

    def rode(event_id: str, distance: str, ts: datetime, account: str = "ACME-US") -> togai_client.Event:
        return togai_client.Event(id=event_id, schema_name="rides", account_id=account, timestamp=ts,
                                  attributes=[togai_client.Attribute(name="distance", value=distance)],
                                  dimensions={"city": "x"})

    ingestion.ingest(togai_client.IngestEventRequest(event=rode("r1", "12.5", datetime(2024, 3, 1, 10, tzinfo=UTC))))
    ingestion.ingest_batch(togai_client.IngestBatchEventRequest(events=[
        rode("r2", "10", datetime(2024, 3, 2, 23, 59, tzinfo=UTC)),
        rode("r3", "7.5", datetime(2024, 3, 2, 0, 0, tzinfo=UTC), account="acme-us"),  # an alias
        rode("r4", "100", datetime(2024, 3, 3, 12, tzinfo=UTC), account="GLOBEX-US")]))
    distance = next(m.id for m in togai_client.UsageMetersApi(sdk).get_usage_meters_for_event_schema().data
                    if m.name == "Ride distance")
    answer = metrics_api.get_metrics(togai_client.GetMetricsRequest(
        start_time=datetime(2024, 3, 1, tzinfo=UTC), end_time=datetime(2024, 3, 4, tzinfo=UTC), metric_queries=[
            togai_client.MetricQuery(id="d", name=togai_client.MetricName.METER_USAGE, aggregation_period="DAY",
                                     filters=[togai_client.MetricQueryFilterEntry(field_name="ACCOUNT_ID",
                                                                                  field_values=["ACME-US"]),
                                              togai_client.MetricQueryFilterEntry(field_name="USAGE_METER_ID",
                                                                                  field_values=[distance])]),
            togai_client.MetricQuery(id="e", name=togai_client.MetricName.EVENTS, aggregation_period="MONTH",
                                     group_by="ACCOUNT_ID"),
        ]))
    daily, events = answer.results
    [series] = daily.data
    assert [t.isoformat() for t in series.timestamps] == [
        "2024-03-01T00:00:00+00:00", "2024-03-02T00:00:00+00:00", "2024-03-03T00:00:00+00:00"]
    assert series.metric_values == [12.5, 17.5, 0]
    assert {(d.grouped_by.field_value, d.metric_values[0]) for d in events.data} == {("ACME-US", 3), ("GLOBEX-US", 1)}
    with pytest.raises(togai_client.ApiException) as refused:
        metrics_api.get_metrics(togai_client.GetMetricsRequest(
            start_time=datetime(2024, 3, 1, tzinfo=UTC), end_time=datetime(2024, 3, 4, tzinfo=UTC),
            metric_queries=[togai_client.MetricQuery(id="x", name=togai_client.MetricName.EVENTS,
                                                     aggregation_period="DAY", group_by="USAGE_METER_ID")]))
    assert refused.value.status == 400 and "metricQueries[0].groupBy" in str(refused.value.body)


def test_configs_must_be_an_object(api: Api) -> None:
    body = {"startTime": MARCH[0], "endTime": MARCH[1], "metricQueries": [query("EVENTS", configs=6)]}
    r = api.post("/metrics", json=body)
    assert (r.status_code, r.headers["x-mock-rejected-by"]) == (400, "body")
    assert r.json()["message"].startswith("metricQueries[0].configs: ")


def test_revenue_prices_each_cycles_usage_with_the_accounts_plan(api: Api) -> None:
    # ACME-US is on Rides Pro (USD): rides cost 49 flat up to 100, then 0.4 each; distance 0.2 a unit.
    r = api.post("/ingestBatch", json={"events": [
        ride("a", "12.5", "2024-03-01T10:00:00Z"), ride("b", "10", "2024-03-02T10:00:00Z"),
        ride("c", "7.5", "2024-03-03T10:00:00Z"), ride("d", "5", "2024-04-01T10:00:00Z"),
        ride("g", "1000", "2024-03-01T10:00:00Z", account="GLOBEX-US")]})  # no plan: no revenue
    assert r.status_code == 202, r.text
    daily, cycle, monthly, by_meter = metrics(
        api, "2024-03-01T00:00:00Z", "2024-04-03T00:00:00Z", query("REVENUE", "DAY", "d"),
        query("REVENUE_FOR_CYCLE", "DAY", "c"), query("REVENUE", "MONTH", "m"),
        query("REVENUE_FOR_CYCLE", "MONTH", "u", groupBy="USAGE_METER_ID"))
    days = one(daily)[1]
    assert days[:4] == [51.5, 2, 1.5, 0]  # the flat 49 once in the cycle, then the distance
    assert days[31:] == [50, 0]  # April: a new cycle, the flat fee again
    running = one(cycle)[1]
    assert running[:4] == [51.5, 53.5, 55, 55] and running[30] == 55 and running[31:] == [50, 50]
    assert one(monthly)[1] == [55, 50]
    ids = {v: k for k, v in meters(api).items()}
    assert {ids[d["groupedBy"]["fieldValue"]]: d["metricValues"] for d in by_meter["data"]} == {
        "Ride count": [49, 49], "Ride distance": [6, 1]}


def test_revenue_is_in_the_invoice_currency_or_converted_by_a_stated_rate(api: Api) -> None:
    api.post("/ingest", json={"event": ride("e", "100", "2024-03-01T10:00:00Z", account="UMBRELLA-EU")})
    body = {"startTime": MARCH[0], "endTime": MARCH[1], "metricQueries": [query("REVENUE", "MONTH")]}
    assert one(metrics(api, *MARCH, query("REVENUE", "MONTH"))[0])[1] == [68.04]  # 63 EUR at 1.08 (the demo's rate)
    state = api.get("/__mock/state").json()  # the same tenant without the rate (settings have no DELETE)
    state["settings"] = [s for s in state["settings"] if "exchange_rate" not in s["id"]]
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    refused = api.post("/metrics", json=body)
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("metricQueries[0].configs.CURRENCY: account 'UMBRELLA-EU' is "
                                                "invoiced in EUR")
    [eur] = metrics(api, *MARCH, query("REVENUE", "MONTH", configs={"CURRENCY": "INVOICE"}))
    assert one(eur)[1] == [63]  # Rides Pro in EUR: 45 flat, 0.18 a unit
    api.post("/ingest", json={"event": ride("u", "10", "2024-03-01T10:00:00Z")})
    mixed = api.post("/metrics", json={**body, "metricQueries": [
        query("REVENUE", "MONTH", configs={"CURRENCY": "INVOICE"})]})
    assert mixed.status_code == 400 and "would add revenue in" in mixed.json()["message"]
    [by_account] = metrics(api, *MARCH, query("REVENUE", "MONTH", groupBy="ACCOUNT_ID", configs={"CURRENCY": "INVOICE"}))
    assert {d["groupedBy"]["fieldValue"]: d["metricValues"] for d in by_account["data"]} == {
        "ACME-US": [51], "UMBRELLA-EU": [63]}


def test_each_tenant_has_its_own_aggregates() -> None:
    from conftest import make_api

    for api in make_api(tenancy="token"):
        a, b = {"Authorization": "Bearer tenant-a"}, {"Authorization": "Bearer tenant-b"}
        r = api.post("/ingest", json={"event": ride("t", "4")}, headers=a, auth=False)
        assert r.status_code == 202, r.text
        body = {"startTime": MARCH[0], "endTime": MARCH[1], "metricQueries": [query("EVENTS", "MONTH")]}
        seen = [one(api.post("/metrics", json=body, headers=h, auth=False).json()["results"][0])[1] for h in (a, b)]
        assert seen == [[1], [0]]


def test_revenue_over_decades_with_a_plan_that_starts_late(api: Api) -> None:
    """Years without a plan are jumped over, not stepped through: the numbers are those stepping gave.

    GLOBEX-US has no plan until 2030-06-01 (a Saturday, inside a week bucket), then a monthly plan
    pricing rides at 1 each up to 10 and 0.5 after (plans.usage_card), until 2031-01-01.
    """
    from plans import associate, new_plan

    plan = new_plan(api, "Late")
    assert associate(api, "GLOBEX-US", plan["id"], "2030-06-01", "2031-01-01").status_code == 200
    june = [ride(f"j{i}", "1", f"2030-06-01T{5 + i:02d}:30:00Z", account="GLOBEX-US") for i in range(12)]
    july = [ride(f"k{i}", "1", "2030-07-03T10:00:00Z", account="GLOBEX-US") for i in range(2)]
    early = ride("e", "1", "2015-03-01T10:00:00Z", account="GLOBEX-US")  # no plan then: no revenue
    after = ride("z", "1", "2031-02-01T10:00:00Z", account="GLOBEX-US")  # nor after it ended
    r = api.post("/ingestBatch", json={"events": [*june, *july, early, after]})
    assert r.status_code == 202, r.text
    group = {"groupBy": "ACCOUNT_ID", "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": ["GLOBEX-US"]}]}
    # 24 years of months (288 buckets), the plan in 7 of them.
    monthly, cycle = metrics(api, "2010-01-01T00:00:00Z", "2034-01-01T00:00:00Z",
                             query("REVENUE", "MONTH", "m", **group), query("REVENUE_FOR_CYCLE", "MONTH", "c", **group))
    [months] = [d["metricValues"] for d in monthly["data"]]
    june_at = (2030 - 2010) * 12 + 5
    # June: 10 rides at 1, 2 at 0.5 = 11; July: a new cycle, 2 rides at 1.
    assert len(months) == 288 and months[june_at:june_at + 2] == [11, 2]
    assert sum(months) == 13
    [running] = [d["metricValues"] for d in cycle["data"]]
    assert running[june_at:june_at + 2] == [11, 2] and sum(running) == 13
    # Weeks: the plan starts on the Saturday of the week from Monday 2030-05-27.
    [weekly] = metrics(api, "2030-01-07T00:00:00Z", "2030-07-15T00:00:00Z", query("REVENUE", "WEEK", "w", **group))
    [weeks] = [d["metricValues"] for d in weekly["data"]]
    stamps = weekly["data"][0]["timestamps"]
    assert weeks[stamps.index("2030-05-27T00:00:00Z")] == 11
    assert weeks[stamps.index("2030-07-01T00:00:00Z")] == 2
    assert sum(weeks) == 13
