"""Ingestion and events: every outcome, batches, duplicates, corrections, paging, export and import."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import togai_client
from conftest import Api, make_api

from mock_server.domain.usage import events as events_module
from mock_server.domain.usage import metering

METERED = "INGESTION_COMPLETED_EVENT_METERED"


def event(event_id: str | None, distance: str = "1", **changes: Any) -> dict[str, Any]:
    """A rides event of ACME-US (the demo tenant's ACTIVE schema and meters)."""
    body: dict[str, Any] = {"schemaName": "rides", "accountId": "ACME-US", "timestamp": "2024-01-02T10:00:00Z",
                            "attributes": [{"name": "distance", "value": distance, "unit": "km"}],
                            "dimensions": {"city": "x"}}
    if event_id is not None:
        body["id"] = event_id
    body.update(changes)
    return body


def one(api: Api, event_id: str) -> dict[str, Any]:
    r = api.get(f"/events/{event_id}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["events"][0]
    return found


def status(api: Api, event_id: str) -> str:
    return str(one(api, event_id)["ingestionStatus"]["status"])


def units(api: Api, event_id: str) -> dict[str, Any]:
    meters = {m["id"]: m["name"] for m in api.get("/usage_meters").json()["data"]}
    return {meters[m["id"]]: m.get("units", m["status"]) for m in one(api, event_id)["eventPipelineInfo"]["usageMeters"]}


def test_a_metered_event_gets_each_active_meters_units(api: Api) -> None:
    r = api.post("/ingest", json={"event": event("e1", "12.5")})
    assert (r.status_code, r.json()) == (202, {"success": True})
    found = one(api, "e1")
    assert found["ingestionStatus"]["status"] == METERED and found["customerId"] == "ACME"
    assert found["referenceId"].startswith("event.") and found["eventPayload"] == event("e1", "12.5")
    info = found["eventPipelineInfo"]
    assert info["account"] == {"id": "ACME-US", "name": "ACME US operations"}
    assert info["customer"]["id"] == "ACME" and info["eventSchema"] == {"name": "rides", "version": 1}
    assert units(api, "e1") == {"Ride count": 1, "Ride distance": 12.5}


def test_units_are_exact_decimals() -> None:
    """12.5 + 10 + 7.5 is 30, not a float's approximation; arithmetic in an expression reads back exactly."""
    schema = metering.ActiveSchema(1, [metering.CompiledMeter({
        "id": "um.x", "aggregation": "SUM",
        "computations": [{"order": 1, "computation": '{"var": "attribute.d"}'}]})])
    total = Decimal(0)
    for value in ("12.5", "10", "7.5", "0.1", "0.2", "12.5"):
        outcome = schema.meter(("d", value, None), ())
        assert outcome is not None and outcome[0] is not None
        total += Decimal(outcome[0])
    assert total == Decimal("42.8")
    doubled = metering.CompiledMeter({"id": "um.y", "aggregation": "SUM",
                                      "computations": [{"order": 1, "computation": '{"*": [{"var": "attribute.d"}, 2]}'}]})
    assert doubled.units({"d": "1.1"}, {}) == "2.2"


def test_a_meter_remembers_outcomes_by_the_fields_it_reads() -> None:
    """The library runs once per distinct value of the fields an expression names; equal units share one string."""
    meter = metering.CompiledMeter({"id": "um.x", "aggregation": "SUM", "computations": [
        {"order": 1, "matcher": '{"==": [{"var": "dimension.city"}, "x"]}', "computation": '{"var": "attribute.d"}'}]})
    assert meter.reads == (("attribute", "d"), ("dimension", "city"))
    first = meter.units({"d": "2.5", "other": "9"}, {"city": "x"})
    assert meter.units({"d": "2.5", "other": "1"}, {"city": "x"}) is first
    assert meter.units({"d": "2.5"}, {"city": "y"}) is None
    assert len(meter.memo) == 2
    # A field named at run time cannot be remembered by: evaluated each time.
    dynamic = metering.CompiledMeter({"id": "um.z", "aggregation": "SUM", "computations": [
        {"order": 1, "computation": '{"var": {"cat": ["attribute.", "d"]}}'}]})
    assert dynamic.reads is None and dynamic.units({"d": "3"}, {}) == "3" and not dynamic.memo


def test_filters_and_matchers_decide_which_meters_count(api: Api) -> None:
    # The demo "Ride count" meter matches city x only: elsewhere it filters the event out.
    api.post("/ingest", json={"event": event("elsewhere", "3", dimensions={"city": "y"})})
    assert units(api, "elsewhere") == {"Ride count": "PROCESSED_FILTERED_OUT", "Ride distance": 3}
    assert status(api, "elsewhere") == METERED
    # A meter filter on a dimension value.
    um = api.post("/usage_meters", json={"name": "Paris km", "type": "COUNTER", "aggregation": "SUM",
                                         "eventSchemaName": "rides", "filters": [{"field": "dimension.city",
                                                                                  "value": "paris"}],
                                         "computations": [{"order": 1,
                                                           "computation": '{"var": "attribute.distance"}'}]}).json()
    api.post(f"/usage_meters/{um['id']}/activate")
    api.post("/ingest", json={"event": event("paris", "2", dimensions={"city": "paris"})})
    api.post("/ingest", json={"event": event("rome", "2", dimensions={"city": "rome"})})
    assert units(api, "paris")["Paris km"] == 2
    assert units(api, "rome")["Paris km"] == "PROCESSED_FILTERED_OUT"


def test_no_matching_meters(api: Api) -> None:
    for meter in api.get("/usage_meters", params={"status": "ACTIVE"}).json()["data"]:
        api.post(f"/usage_meters/{meter['id']}/deactivate")
    api.post("/ingest", json={"event": event("lonely")})
    assert status(api, "lonely") == "INGESTION_COMPLETED_NO_MATCHING_METERS"
    assert "usageMeters" not in one(api, "lonely")["eventPipelineInfo"]


def test_every_meter_filtering_the_event_out_is_not_metered(api: Api) -> None:
    # No distance: the SUM meter's matcher is false; city y: the COUNT meter's matcher is false. Togai's event
    # statuses: NOT_METERED "if no usage_metadata is generated" (NO_MATCHING_METERS is for a schema without meters).
    api.post("/ingest", json={"event": event("none", attributes=[], dimensions={"city": "y"})})
    assert status(api, "none") == "INGESTION_COMPLETED_EVENT_NOT_METERED"
    assert set(units(api, "none").values()) == {"PROCESSED_FILTERED_OUT"}


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"accountId": "NO-SUCH-ACCOUNT"}, "INGESTION_FAILED_ACCOUNT_NOT_FOUND"),
        ({"schemaName": "no_such_schema"}, "INGESTION_FAILED_SCHEMA_NOT_DEFINED"),
    ],
)
def test_failed_outcomes(api: Api, changes: dict[str, Any], outcome: str) -> None:
    assert api.post("/ingest", json={"event": event("failing", **changes)}).status_code == 202
    found = one(api, "failing")
    assert found["ingestionStatus"]["status"] == outcome and found["ingestionStatus"]["statusDescription"]
    assert "usageMeters" not in found["eventPipelineInfo"]


def test_an_alias_finds_its_account_and_an_archived_account_is_not_found(api: Api) -> None:
    api.post("/accounts/ACME-US/add_aliases", json={"aliases": ["acme-alias"]})
    api.post("/ingest", json={"event": event("aliased", accountId="acme-alias")})
    assert one(api, "aliased")["eventPipelineInfo"]["account"] == {
        "id": "ACME-US", "name": "ACME US operations", "alias": "acme-alias"}
    assert api.delete("/accounts/GLOBEX-US").status_code == 200
    api.post("/ingest", json={"event": event("archived", accountId="GLOBEX-US")})
    assert status(api, "archived") == "INGESTION_FAILED_ACCOUNT_NOT_FOUND"


def test_a_schema_that_is_not_active_is_not_defined(api: Api) -> None:
    api.post("/event_schema", json={"name": "drafted", "attributes": [{"name": "n"}], "dimensions": []})
    api.post("/ingest", json={"event": event("draft", schemaName="drafted")})
    assert status(api, "draft") == "INGESTION_FAILED_SCHEMA_NOT_DEFINED"
    api.post("/event_schema/drafted/activate")
    api.post("/ingest", json={"event": event("active", schemaName="drafted")})
    assert status(api, "active") == "INGESTION_COMPLETED_NO_MATCHING_METERS"
    assert one(api, "active")["eventPipelineInfo"]["eventSchema"] == {"name": "drafted", "version": 1}


def test_units_that_are_no_number_fail_the_event(api: Api) -> None:
    um = api.post("/usage_meters", json={"name": "Text", "type": "COUNTER", "aggregation": "SUM",
                                         "eventSchemaName": "rides",
                                         "computations": [{"order": 1, "computation": '{"cat": ["a", "b"]}'}]}).json()
    api.post(f"/usage_meters/{um['id']}/activate")
    api.post("/ingest", json={"event": event("text")})
    assert status(api, "text") == "INGESTION_FAILED_UNITS_INVALID"


def test_an_event_without_id_and_a_duplicate_id_never_count(api: Api) -> None:
    api.post("/ingest", json={"event": event(None)})
    api.post("/ingest", json={"event": event("dup", "5")})
    api.post("/ingest", json={"event": event("dup", "7")})
    listed = api.get("/events").json()["events"]
    assert [e["ingestionStatus"]["status"] for e in listed[-3:]] == [
        "INGESTION_FAILED_NO_EVENT_ID", METERED, "INGESTION_FAILED_DUPLICATE_EVENT"]
    # The id names the counted event; the duplicate is read by its referenceId.
    assert units(api, "dup")["Ride distance"] == 5
    duplicate = listed[-1]
    assert status(api, duplicate["referenceId"]) == "INGESTION_FAILED_DUPLICATE_EVENT"
    assert duplicate["eventPayload"]["attributes"][0]["value"] == "7"


def test_a_batch_answers_202_and_207_naming_the_refused_events(api: Api) -> None:
    r = api.post("/ingestBatch", json={"events": [event("b1"), event("b2")]})
    assert (r.status_code, r.json()) == (202, {"success": True})
    twice = event("b4", attributes=[{"name": "distance", "value": "1"}, {"name": "distance", "value": "2"}])
    r = api.post("/ingestBatch", json={"events": [event("b3"), twice, event("b5")]})
    assert r.status_code == 207, r.text
    assert r.json() == {"success": False, "statusCode": 207, "message": "1 of 3 events were not accepted",
                        "details": {"events[1].attributes[1].name": "is given twice"}}
    assert [status(api, e) for e in ("b3", "b5")] == [METERED, METERED]
    assert api.get("/events/b4").status_code == 404
    before = api.get("/__mock/health").json()["events"]
    r = api.post("/ingestBatch", json={"events": [twice]})
    assert r.status_code == 400 and r.json()["message"] == "events[0].attributes[1].name: is given twice"
    r = api.post("/ingest", json={"event": twice})
    assert r.status_code == 400 and r.json()["message"] == "event.attributes[1].name: is given twice"
    assert api.get("/__mock/health").json()["events"] == before


def test_the_batch_limit_is_the_contracts(api: Api) -> None:
    r = api.post("/ingestBatch", json={"events": [event(f"x{i}") for i in range(501)]})
    assert r.status_code == 400 and "events" in r.json()["message"]
    assert api.post("/ingestBatch", json={"events": [event(f"x{i}") for i in range(500)]}).status_code == 202


def test_paging_and_filters(api: Api) -> None:
    processed = len(api.get("/events", params={"status": "PROCESSED"}).json()["events"])
    api.post("/ingestBatch", json={"events": [event(f"p{i}", accountId="GLOBEX-UK" if i % 2 else "ACME-US")
                                              for i in range(7)]})
    seen: list[str] = []
    query: dict[str, Any] = {"pageSize": 2, "account_id": "GLOBEX-UK"}
    while True:
        page = api.get("/events", params=query).json()
        assert len(page["events"]) <= 2
        seen += [e["eventPayload"]["id"] for e in page["events"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"], "account_id": "GLOBEX-UK"}
    assert seen == ["p1", "p3", "p5"]
    api.post("/ingest", json={"event": event("other", schemaName="no_such_schema")})
    assert [e["eventPayload"]["id"] for e in api.get("/events", params={"schema_name": "no_such_schema"}).json()["events"]] == ["other"]
    failed = api.get("/events", params={"status": "UNPROCESSED"}).json()["events"]
    assert "other" in [e["eventPayload"].get("id") for e in failed]
    assert all(e["ingestionStatus"]["status"].startswith("INGESTION_FAILED") for e in failed)
    exact = api.get("/events", params={"status": "INGESTION_FAILED_SCHEMA_NOT_DEFINED"}).json()["events"]
    assert exact == [e for e in failed if e["ingestionStatus"]["status"] == "INGESTION_FAILED_SCHEMA_NOT_DEFINED"]
    assert len(api.get("/events", params={"status": "PROCESSED"}).json()["events"]) == processed + 7
    r = api.get("/events", params={"status": "BOGUS"})
    assert r.status_code == 400 and r.json()["message"].startswith("status: is not an ingestion status")
    assert api.get("/events", params={"pageSize": 51}).status_code == 400


def test_a_page_holds_50_events_by_default(api: Api) -> None:
    before = api.get("/__mock/health").json()["events"]
    api.post("/ingestBatch", json={"events": [event(f"d{i}") for i in range(60)]})
    first = api.get("/events").json()
    assert len(first["events"]) == 50 and "nextToken" in first
    rest = api.get("/events", params={"nextToken": first["nextToken"]}).json()
    assert len(rest["events"]) == before + 10 and "nextToken" not in rest


def test_undo_reverts_and_redo_reingests(api: Api) -> None:
    api.post("/ingest", json={"event": event("c1", "4")})
    r = api.post("/events/correction", params={"action": "UNDO"}, json={"event": event("c1", "4")})
    assert r.status_code == 200, r.text
    (info,) = r.json()["data"]
    assert (info["status"], info["ingestionStatus"]["status"]) == ("REVERTED", "REVERTED")
    assert one(api, "c1")["eventPipelineInfo"]["statusBeforeReverting"] == METERED
    again = api.post("/events/correction", params={"action": "UNDO"}, json={"event": event("c1")}).json()["data"][0]
    assert again["status"] == "FAILED" and "REVERTED" in again["reason"]
    assert status(api, "c1") == "REVERTED"
    # A reverted id stays used.
    api.post("/ingest", json={"event": event("c1")})
    assert api.get("/events", params={"status": "INGESTION_FAILED_DUPLICATE_EVENT"}).json()["events"]
    redone = api.post("/events/correction", params={"action": "REDO"}, json={"event": event("c1")}).json()["data"][0]
    assert redone["status"] == "REVERTED_AND_REINGESTED" and redone["ingestionStatus"]["status"] == METERED
    assert units(api, "c1")["Ride distance"] == 4  # the event as it was ingested
    fixed = api.post("/events/correction", params={"action": "REDO_EVENT"}, json={"event": event("c1", "9")})
    assert fixed.json()["data"][0]["eventPayload"]["attributes"][0]["value"] == "9"
    assert units(api, "c1")["Ride distance"] == 9


def test_a_failed_event_cannot_be_undone_but_can_be_redone(api: Api) -> None:
    api.post("/ingest", json={"event": event("late", schemaName="later")})
    undo = api.post("/events/correction", params={"action": "UNDO"}, json={"event": event("late", schemaName="later")})
    assert undo.json()["data"][0]["status"] == "FAILED"
    api.post("/event_schema", json={"name": "later", "attributes": [{"name": "distance"}], "dimensions": []})
    api.post("/event_schema/later/activate")
    redo = api.post("/events/correction", params={"action": "REDO"}, json={"event": event("late")})
    assert redo.json()["data"][0]["ingestionStatus"]["status"] == "INGESTION_COMPLETED_NO_MATCHING_METERS"


def test_a_correction_names_a_known_event(api: Api) -> None:
    r = api.post("/events/correction", params={"action": "UNDO"}, json={"event": event("nope")})
    assert (r.status_code, r.json()["message"]) == (400, "event.id: no event with id 'nope'")
    r = api.post("/events/correction", params={"action": "UNDO"}, json={"event": event(None)})
    assert r.status_code == 400 and r.json()["message"].startswith("event.id: is required")


def test_unknown_event_is_a_404(api: Api) -> None:
    r = api.get("/events/nope")
    assert (r.status_code, r.json()["message"]) == (404, "event_id: no event with id 'nope'")


def test_events_are_exported_and_imported(api: Api) -> None:
    api.post("/ingestBatch", json={"events": [event("x1", "2.5"), event("x1"), event(None),
                                              event("x2", accountId="NOPE")]})
    api.post("/events/correction", params={"action": "UNDO"}, json={"event": event("x1")})
    state = api.get("/__mock/state").json()
    assert [e["eventPayload"].get("id") for e in state["events"][-4:]] == ["x1", "x1", None, "x2"]
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert api.get("/__mock/state").json() == state
    assert one(api, "x1")["eventPipelineInfo"]["statusBeforeReverting"] == METERED
    # The id stays taken after an import.
    api.post("/ingest", json={"event": event("x1")})
    assert api.get("/events").json()["events"][-1]["ingestionStatus"]["status"] == "INGESTION_FAILED_DUPLICATE_EVENT"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e[0]["eventPipelineInfo"]["usageMeters"][0].update(id="um.nope"),
         "events[0].eventPipelineInfo.usageMeters[0].id: no usage meter 'um.nope'"),
        (lambda e: e[0]["eventPipelineInfo"]["account"].update(id="NOPE"),
         "events[0].eventPipelineInfo.account.id: no account 'NOPE'"),
        (lambda e: e[1].update(referenceId=e[0]["referenceId"]), "events[1].referenceId: is also events[0]'s"),
        # A DUPLICATE of no exported event is allowed: its id may be one /entitled took (one id space), and
        # /entitled keeps no event to export.
        (lambda e: e[0]["eventPipelineInfo"]["usageMeters"][0].pop("units"),
         "events[0].eventPipelineInfo.usageMeters[0].units: is given exactly when the status is PROCESSED_UNITS_COMPUTED"),
        (lambda e: e[0]["ingestionStatus"].update(status="REVERTED"),
         "events[0].eventPipelineInfo.statusBeforeReverting: is required of a REVERTED event: the completed status it had"),
    ],
)
def test_an_import_is_checked_like_ingestion(api: Api, change: Any, message: str) -> None:
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json={**state, "events": []}).status_code == 200
    api.post("/ingestBatch", json={"events": [event("i1", "2.5"), event("i1")]})
    state = api.get("/__mock/state").json()
    change(state["events"])
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and message in r.json()["message"], r.text


def test_a_hand_written_event_gets_a_reference_id(api: Api) -> None:
    state = api.get("/__mock/state").json()
    state["events"] = [{"eventPayload": event("hand"), "ingestionStatus": {"status": "INGESTION_FAILED_SCHEMA_NOT_DEFINED"},
                        "eventPipelineInfo": {}}]
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 200, r.text
    assert one(api, "hand")["referenceId"].startswith("event.")


def test_a_seed_gives_the_same_ids_and_outcomes() -> None:
    def run() -> list[dict[str, Any]]:
        with_api: Iterator[Api] = make_api()
        api = next(with_api)
        api.post("/ingestBatch", json={"events": [event("s1", "1.5"), event("s1"), event(None)]})
        found: list[dict[str, Any]] = api.get("/events").json()["events"]
        with pytest.raises(StopIteration):
            next(with_api)
        return found

    assert run() == run()


@pytest.fixture
def delayed() -> Iterator[Api]:
    yield from make_api(ingest_delay=0.3)


def test_with_a_delay_events_are_in_progress_first(delayed: Api) -> None:
    delayed.post("/ingest", json={"event": event("slow", timestamp="2024-06-02T10:00:00Z")})
    assert status(delayed, "slow") == "INGESTION_IN_PROGRESS"
    assert delayed.get("/events", params={"status": "IN_PROGRESS"}).json()["events"]
    undo = delayed.post("/events/correction", params={"action": "UNDO"}, json={"event": event("slow")}).json()
    assert undo["data"][0]["status"] == "FAILED"
    # Exported in progress, imported, and processed after all.
    state = delayed.get("/__mock/state").json()
    assert delayed.request("PUT", "/__mock/state", json=state).status_code == 200
    assert events_by_status(delayed) == {"IN_PROGRESS": 1}  # counted while it waits, also after the import
    time.sleep(0.35)
    assert status(delayed, "slow") == METERED
    assert events_by_status(delayed) == {"PROCESSED": 1}  # the in-progress count is taken back


def events_by_status(api: Api) -> dict[str, int]:
    """June 2, 2024's events by coarse status, from POST /metrics (the demo events are in January)."""
    body = {"startTime": "2024-06-02T00:00:00Z", "endTime": "2024-06-03T00:00:00Z", "metricQueries": [
        {"id": "e", "name": "EVENTS", "aggregationPeriod": "DAY", "groupBy": "EVENT_STATUS",
         "filters": [{"fieldName": "EVENT_STATUS", "fieldValues": ["PROCESSED", "UNPROCESSED", "IN_PROGRESS"]}]}]}
    r = api.post("/metrics", json=body)
    assert r.status_code == 200, r.text
    counts = {d["groupedBy"]["fieldValue"]: int(sum(d["metricValues"])) for d in r.json()["results"][0]["data"]}
    return {k: v for k, v in counts.items() if v}


def test_the_cli_takes_an_ingest_delay() -> None:
    from mock_server.cli import config_from_args

    config, _ = config_from_args(["--ingest-delay", "1.5"])
    assert config.ingest_delay == 1.5
    with pytest.raises(SystemExit):
        config_from_args(["--ingest-delay", "-1"])


def test_events_are_compact() -> None:
    """Slotted: no per-event dict."""
    record = events_module.Event("k", "event.a.b", event("k"), datetime.now(UTC).isoformat())
    assert not hasattr(record, "__dict__")


def test_the_whole_flow_with_togais_client(sdk: togai_client.ApiClient) -> None:
    schemas, meters = togai_client.EventSchemasApi(sdk), togai_client.UsageMetersApi(sdk)
    ingestion, management = togai_client.EventIngestionApi(sdk), togai_client.EventManagementApi(sdk)
    schemas.create_event_schema(togai_client.CreateEventSchemaRequest(
        name="calls", attributes=[togai_client.EventAttributeSchema(name="minutes")],
        dimensions=[togai_client.DimensionsSchema(name="country")]))
    schemas.activate_event_schema("calls")
    meter = meters.create_usage_meter(togai_client.CreateUsageMeterRequest(
        name="Minutes", type="COUNTER", aggregation="SUM", event_schema_name="calls",
        computations=[togai_client.Computation(order=1, computation='{"var": "attribute.minutes"}')]))
    assert meters.activate_usage_meter(meter.id).status == "ACTIVE"

    def call(event_id: str, minutes: str, account: str = "ACME-US", schema: str = "calls") -> togai_client.Event:
        return togai_client.Event(id=event_id, schema_name=schema, account_id=account,
                                  timestamp=datetime(2024, 3, 1, tzinfo=UTC),
                                  attributes=[togai_client.Attribute(name="minutes", value=minutes)],
                                  dimensions={"country": "FR"})

    ingestion.ingest(togai_client.IngestEventRequest(event=call("call-1", "12.5")))
    ingestion.ingest_batch(togai_client.IngestBatchEventRequest(events=[
        call("call-2", "10"), call("call-3", "7.5"), call("call-1", "1"), call("call-4", "1", account="NOPE"),
        call("call-5", "1", schema="nope"), togai_client.Event(schema_name="calls", account_id="ACME-US",
                                                               timestamp=datetime(2024, 3, 1, tzinfo=UTC),
                                                               attributes=[], dimensions={})]))
    single = management.get_single_event("call-1").events[0]
    assert single.ingestion_status.status == METERED
    assert single.event_pipeline_info.usage_meters[0].units == 12.5
    pages, token = [], None
    while True:
        page = management.get_events(schema_name=None, page_size=2, next_token=token)
        pages.append(page.events)
        token = page.next_token
        if token is None:
            break
    listed = [e for p in pages for e in p if e.event_payload.schema_name in ("calls", "nope")]
    assert all(len(p) <= 2 for p in pages)
    assert [e.ingestion_status.status for e in listed] == [
        METERED, METERED, METERED, "INGESTION_FAILED_DUPLICATE_EVENT", "INGESTION_FAILED_ACCOUNT_NOT_FOUND",
        "INGESTION_FAILED_SCHEMA_NOT_DEFINED", "INGESTION_FAILED_NO_EVENT_ID"]
    metered = [management.get_single_event(f"call-{i}").events[0] for i in (1, 2, 3)]
    assert sum(Decimal(str(e.event_pipeline_info.usage_meters[0].units)) for e in metered) == 30
    undone = management.event_correction("UNDO", event_correction_request=togai_client.EventCorrectionRequest(
        event=call("call-3", "7.5")))
    assert undone.data[0].status == "REVERTED"


def test_the_pipeline_names_the_plan_whose_cycle_the_event_falls_in(api: Api) -> None:
    # ACME-US is on the demo plan "Rides Pro" (monthly cycles from the 1st); GLOBEX-US has no plan.
    api.post("/ingestBatch", json={"events": [event("planned"), event("unplanned", accountId="GLOBEX-US")]})
    [planned] = api.get("/events/planned").json()["events"]
    [plan] = planned["eventPipelineInfo"]["pricePlans"]
    assert (plan["name"], plan["cycleStart"], plan["cycleEnd"]) == ("Rides Pro", "2024-01-01", "2024-01-31")
    schedules = api.get("/accounts/ACME-US/pricing_schedules").json()["data"]
    assert plan["scheduleId"] in {s["id"] for s in schedules}
    assert len(plan["usageMeters"]) == 2
    [unplanned] = api.get("/events/unplanned").json()["events"]
    assert "pricePlans" not in unplanned["eventPipelineInfo"]


def listed(api: Api, **filters: str) -> list[str]:
    """Every event ``GET /events`` lists with ``filters``, two a page (so tokens are used), by referenceId."""
    seen: list[str] = []
    query: dict[str, Any] = {"pageSize": 2, **filters}
    while True:
        r = api.get("/events", params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["events"]) <= 2
        seen += [e["referenceId"] for e in page["events"]]
        if "nextToken" not in page:
            return seen
        query = {"pageSize": 2, "nextToken": page["nextToken"], **filters}


def oracle(api: Api, account: str | None = None, schema: str | None = None) -> list[str]:
    """What the filters select, read from the exported events (in the list's order) without any index."""
    return [e["referenceId"] for e in api.get("/__mock/state").json()["events"]
            if (account is None or account in (e["eventPayload"]["accountId"],
                                               e["eventPipelineInfo"].get("account", {}).get("id")))
            and (schema is None or e["eventPayload"]["schemaName"] == schema)]


def same_as_oracle(api: Api) -> None:
    for account in ("ACME-US", "acme-alias", "GLOBEX-US", "NOPE"):
        assert listed(api, account_id=account) == oracle(api, account=account), account
    for schema in ("rides", "later"):
        assert listed(api, schema_name=schema) == oracle(api, schema=schema), schema
    assert listed(api, account_id="ACME-US", schema_name="rides") == oracle(api, "ACME-US", "rides")


def test_filtered_lists_follow_resolution_corrections_and_imports(delayed: Api) -> None:
    """The account and schema indexes against a scan of the export: late resolution (an alias, resolved after
    ``--ingest-delay``) puts an event back in its place, a correction moves it, an import rebuilds them."""
    api = delayed
    api.post("/accounts/ACME-US/add_aliases", json={"aliases": ["acme-alias"]})
    api.post("/ingestBatch", json={"events": [event("a1"), event("a2", accountId="acme-alias"), event("a3"),
                                              event("a4", accountId="GLOBEX-US", schemaName="later")]})
    same_as_oracle(api)  # in progress: an aliased event is listed under its alias only
    time.sleep(0.35)
    aliased = one(api, "a2")["referenceId"]
    acme = listed(api, account_id="ACME-US")
    assert acme.index(aliased) == acme.index(one(api, "a1")["referenceId"]) + 1  # in its place, not last
    same_as_oracle(api)
    # A new payload moves the event to another account and schema, at its place in the order.
    api.post("/events/correction", params={"action": "REDO_EVENT"},
             json={"event": event("a1", accountId="GLOBEX-US", schemaName="later")})
    time.sleep(0.35)
    assert status(api, "a1") == "INGESTION_FAILED_SCHEMA_NOT_DEFINED"
    same_as_oracle(api)
    assert listed(api, schema_name="later") == [one(api, "a1")["referenceId"], one(api, "a4")["referenceId"]]
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    same_as_oracle(api)
    assert api.post("/__mock/reset", headers={"Content-Type": "application/json"}).json() == {"success": True}
    same_as_oracle(api)


def test_a_page_token_of_one_list_goes_on_in_a_filtered_one(api: Api) -> None:
    """Tokens carry the collection's positions, whichever list (index) made them."""
    api.post("/ingestBatch", json={"events": [event(f"t{i}", accountId="GLOBEX-US" if i % 2 else "ACME-US")
                                              for i in range(6)]})
    everything = api.get("/events", params={"pageSize": 50}).json()["events"]
    ids = [e["eventPayload"].get("id") for e in everything]
    token = api.get("/events", params={"pageSize": ids.index("t2") + 1}).json()["nextToken"]  # after t2
    rest = api.get("/events", params={"nextToken": token, "account_id": "ACME-US"}).json()["events"]
    assert [e["eventPayload"]["id"] for e in rest] == ["t4"]
