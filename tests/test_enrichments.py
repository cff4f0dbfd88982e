"""eventIdTemplate and enrichments at ingestion, after Togai's example schema (docs.togai.com, "Create an event
schema": distanceInKM = distance / meters_per_km, a setting dependency; rideType from distanceInKM)."""
from __future__ import annotations

import json
from typing import Any

from conftest import Api

KM = {"/": [{"var": ["attribute.distance"]}, {"var": ["dependencies.meters_per_km"]}]}
RIDE_TYPE = {"if": [{"<=": [100, {"var": ["attribute.distanceInKM"]}]}, "long_distance", "short_distance"]}


def schema(api: Api, name: str, enrichments: dict[str, Any] | None = None, template: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "attributes": [{"name": "distance"}], "dimensions": [{"name": "city"}]}
    if enrichments is not None:
        body["enrichments"] = enrichments
    if template is not None:
        body["eventIdTemplate"] = template
    r = api.post("/event_schema", json=body)
    assert r.status_code == 201, r.text
    assert api.post(f"/event_schema/{name}/activate").status_code == 200
    meter = api.post("/usage_meters", json={
        "name": f"{name} km", "type": "COUNTER", "aggregation": "SUM", "eventSchemaName": name,
        "computations": [{"order": 1, "computation": '{"var": "attribute.distanceInKM"}'}]})
    assert meter.status_code == 201, meter.text
    assert api.post(f"/usage_meters/{meter.json()['id']}/activate").status_code == 200
    return str(meter.json()["id"])


def ride_enrichments(key: str = "setting.user.meters_per_km") -> dict[str, Any]:
    return {"dependencies": [{"type": "SETTING", "key": key, "name": "meters_per_km"}],
            "fields": [{"name": "distanceInKM", "type": "ATTRIBUTE", "enrichmentType": "JSON_LOGIC",
                        "value": json.dumps(KM), "order": 1},
                       {"name": "rideType", "type": "DIMENSION", "enrichmentType": "JSON_LOGIC",
                        "value": json.dumps(RIDE_TYPE), "order": 2}]}


def meters_per_km(api: Api, value: str = "1000", entity: tuple[str, str] = ("ORGANIZATION", "demo-org")) -> None:
    r = api.post("/settings", json={"id": "meters_per_km", "namespace": "user", "name": "m/km", "value": value,
                                    "dataType": "NUMERIC", "entityType": entity[0], "entityId": entity[1]})
    assert r.status_code == 201, r.text


def ingest(api: Api, schema_name: str, distance: str, event_id: str | None = "r1", city: str = "paris") -> None:
    event: dict[str, Any] = {"schemaName": schema_name, "accountId": "ACME-US", "timestamp": "2024-03-01T10:00:00Z",
                             "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": city}}
    if event_id is not None:
        event["id"] = event_id
    assert api.post("/ingest", json={"event": event}).status_code == 202


def get(api: Api, key: str) -> dict[str, Any]:
    r = api.get(f"/events/{key}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["events"][0]
    return found


def test_enriched_fields_are_computed_in_order_from_a_setting_dependency(api: Api) -> None:
    schema(api, "trips", ride_enrichments())
    meters_per_km(api)  # the organisation's: 1000 m a km
    ingest(api, "trips", "150000", "long")  # 150000 / 1000 = 150.0000 (4 places, HALF_UP): >= 100
    ingest(api, "trips", "2500", "short")  # 2.5000
    long, short = get(api, "long"), get(api, "short")
    assert long["ingestionStatus"]["status"] == "INGESTION_COMPLETED_EVENT_METERED"
    assert long["eventPayload"]["attributes"][1] == {"name": "distanceInKM", "value": "150.0000"}
    assert long["eventPayload"]["dimensions"] == {"city": "paris", "rideType": "long_distance"}
    assert short["eventPayload"]["dimensions"]["rideType"] == "short_distance"
    assert [m["units"] for m in short["eventPipelineInfo"]["usageMeters"]] == [2.5]
    # The account's own setting wins over the organisation's: 500 m a "km" doubles the distance.
    meters_per_km(api, "500", ("ACCOUNT", "ACME-US"))
    ingest(api, "trips", "2500", "account")
    assert get(api, "account")["eventPipelineInfo"]["usageMeters"][0]["units"] == 5


def test_an_enrichment_that_cannot_run_fails_the_event(api: Api) -> None:
    schema(api, "trips", ride_enrichments("setting.user.absent"))
    ingest(api, "trips", "1000", "no-dependency")
    assert get(api, "no-dependency")["ingestionStatus"]["status"] == "INGESTION_FAILED_ENRICHMENT_FAILED"
    meters_per_km(api, "0")  # a declared dependency that divides by zero
    schema(api, "zero", ride_enrichments())
    ingest(api, "zero", "1000", "by-zero")
    assert get(api, "by-zero")["ingestionStatus"]["status"] == "INGESTION_FAILED_ENRICHMENT_FAILED"


def test_enrichments_are_checked_when_the_schema_is_written(api: Api) -> None:
    bad = ride_enrichments()
    bad["fields"][0]["value"] = '{"no_such_op": [1]}'
    bad["fields"][1] = {"name": "x", "type": "DIMENSION", "enrichmentType": "JSON_LOGIC_FROM_DEPENDENCY",
                        "value": "undeclared", "order": 2}
    r = api.post("/event_schema", json={"name": "bad", "attributes": [{"name": "distance"}], "dimensions": [],
                                        "enrichments": bad})
    assert r.status_code == 400
    problems = json.loads(r.headers["x-mock-violations"])
    assert problems[0].startswith("enrichments.fields[0].value: is not a JSON-logic expression")
    assert problems[1].startswith("enrichments.fields[1].value: names no dependency")


def test_the_event_id_template_is_the_idempotency_key(api: Api) -> None:
    schema(api, "trips", template="{{accountId}}-{{dimension.city}}-{{timestamp}}")
    ingest(api, "trips", "1", event_id=None)  # no id of its own: the template makes it
    ingest(api, "trips", "2", event_id="other-id")  # same fields, another id: still a duplicate
    ingest(api, "trips", "3", event_id=None, city="rome")
    assert get(api, "ACME-US-paris-2024-03-01T10:00:00Z")["eventPayload"]["attributes"][0]["value"] == "1"
    events = api.get("/events", params={"schema_name": "trips"}).json()["events"]
    # (The meter reads distanceInKM, which this schema does not enrich: UNITS_INVALID, as a null computation is.)
    assert [(e["eventPayload"]["id"], e["ingestionStatus"]["status"]) for e in events] == [
        ("ACME-US-paris-2024-03-01T10:00:00Z", "INGESTION_FAILED_UNITS_INVALID"),
        ("ACME-US-paris-2024-03-01T10:00:00Z", "INGESTION_FAILED_DUPLICATE_EVENT"),
        ("ACME-US-rome-2024-03-01T10:00:00Z", "INGESTION_FAILED_UNITS_INVALID")]


def test_a_template_naming_a_missing_field_leaves_no_id(api: Api) -> None:
    schema(api, "trips", template="{{dimension.driver}}")
    ingest(api, "trips", "1", event_id="mine")
    [event] = api.get("/events", params={"schema_name": "trips"}).json()["events"]
    assert event["ingestionStatus"]["status"] == "INGESTION_FAILED_NO_EVENT_ID"
