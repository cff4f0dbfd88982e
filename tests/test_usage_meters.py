"""Usage meters: schema reference, JSON-logic checks, lifecycle."""
from __future__ import annotations

from typing import Any

from conftest import Api


def meter(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Km", "type": "COUNTER", "aggregation": "SUM", "eventSchemaName": "rides",
                            "computations": [{"order": 1, "matcher": '{"==": [{"var": "dimension.city"}, "x"]}',
                                              "computation": '{"var": "attribute.distance"}'}]}
    body.update(changes)
    return body


def test_created_as_draft_with_an_um_id_and_moves_through_its_lifecycle(api: Api) -> None:
    created = api.post("/usage_meters", json=meter())
    assert created.status_code == 201, created.text
    um = created.json()
    assert um["id"].startswith("um.") and um["status"] == "DRAFT" and "eventSchemaName" not in um
    assert api.post(f"/usage_meters/{um['id']}/activate").json()["status"] == "ACTIVE"
    assert api.post(f"/usage_meters/{um['id']}/deactivate").json()["status"] == "INACTIVE"
    assert api.delete(f"/usage_meters/{um['id']}").json() == {"success": True}
    assert api.get(f"/usage_meters/{um['id']}").json()["status"] == "ARCHIVED"


def test_the_event_schema_must_exist(api: Api) -> None:
    r = api.post("/usage_meters", json=meter(eventSchemaName="nope"))
    assert r.status_code == 400 and r.json()["message"] == "eventSchemaName: no event schema named 'nope'"


def test_json_logic_that_cannot_be_evaluated_is_refused(api: Api) -> None:
    for bad in ("not json", '{"no_such_operator": [1]}'):
        body = meter(computations=[{"order": 1, "matcher": bad, "computation": "1"}])
        r = api.post("/usage_meters", json=body)
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith("computations[0].matcher: is not a JSON-logic expression: ")
    r = api.patch("/usage_meters/" + api.post("/usage_meters", json=meter()).json()["id"],
                  json={"computations": [{"order": 1, "computation": '{"bogus": 1}'}]})
    assert r.status_code == 400 and r.json()["message"].startswith("computations[0].computation: ")


def test_list_filters_by_aggregation(api: Api) -> None:
    counts = api.get("/usage_meters", params={"aggregations": "COUNT"}).json()["data"]
    assert {m["aggregation"] for m in counts} == {"COUNT"} and len(counts) == 1


def test_a_patch_keeps_the_meters_name_rule(api: Api) -> None:
    um = api.post("/usage_meters", json=meter()).json()
    for bad, rule in (("a" * 51, "must be at most 50 characters long"), ("km!", "must match the pattern")):
        r = api.patch(f"/usage_meters/{um['id']}", json={"name": bad})
        assert r.status_code == 400 and r.json()["message"].startswith(f"name: {rule}"), r.text
    assert api.get(f"/usage_meters/{um['id']}").json()["name"] == "Km"


def test_a_schema_with_an_active_meter_cannot_be_deactivated(api: Api) -> None:
    um = api.post("/usage_meters", json=meter()).json()
    api.post(f"/usage_meters/{um['id']}/activate")
    r = api.post("/event_schema/rides/deactivate")
    assert r.status_code == 400 and um["id"] in r.json()["message"], r.text
    for active in api.get("/usage_meters", params={"status": "ACTIVE"}).json()["data"]:
        api.post(f"/usage_meters/{active['id']}/deactivate")
    assert api.post("/event_schema/rides/deactivate").json()["status"] == "INACTIVE"


def test_the_meters_event_schema_survives_export_and_import(api: Api) -> None:
    um = api.post("/usage_meters", json=meter(name="Exported")).json()
    state = api.get("/__mock/state").json()
    exported = next(m for m in state["usageMeters"] if m["id"] == um["id"])
    assert exported["eventSchemaName"] == "rides"
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert api.get("/__mock/state").json() == state
    api.post(f"/usage_meters/{um['id']}/activate")
    assert api.post("/event_schema/rides/deactivate").status_code == 400  # the index came back too
    exported["eventSchemaName"] = "nope"
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and "eventSchemaName: no event schema named 'nope'" in r.text, r.text


def test_a_count_meter_counts_events_whatever_its_computation_gives(api: Api) -> None:
    """Oracle by hand: a computation giving 5 per event, 3 events. COUNT is 3 (1 per event); SUM is 15."""
    times5 = [{"order": 1, "computation": '{"*": [{"var": "attribute.distance"}, 5]}'}]
    ids = {}
    for aggregation in ("COUNT", "SUM"):
        created = api.post("/usage_meters", json=meter(name=f"Five {aggregation}", aggregation=aggregation,
                                                       computations=times5))
        assert created.status_code == 201, created.text
        ids[aggregation] = created.json()["id"]
        assert api.post(f"/usage_meters/{ids[aggregation]}/activate").json()["status"] == "ACTIVE"
    for i in range(3):
        r = api.post("/ingest", json={"event": {
            "id": f"five-{i}", "schemaName": "rides", "accountId": "ACME-US", "timestamp": f"2024-06-0{i + 1}T10:00:00Z",
            "attributes": [{"name": "distance", "value": "1"}], "dimensions": {"city": "x"}}})
        assert r.status_code == 202, r.text
        found = api.get(f"/events/five-{i}").json()["events"][0]["eventPipelineInfo"]["usageMeters"]
        units = {m["id"]: m["units"] for m in found if m["id"] in ids.values()}
        assert units == {ids["COUNT"]: 1, ids["SUM"]: 5}
    body = {"startTime": "2024-06-01T00:00:00Z", "endTime": "2024-07-01T00:00:00Z", "metricQueries": [
        {"id": a.lower(), "name": "METER_USAGE", "aggregationPeriod": "MONTH",
         "filters": [{"fieldName": "USAGE_METER_ID", "fieldValues": [meter_id]}]} for a, meter_id in ids.items()]}
    r = api.post("/metrics", json=body)
    assert r.status_code == 200, r.text
    totals = {q["id"]: q["data"][0]["metricValues"] for q in r.json()["results"]}
    assert totals == {"count": [3], "sum": [15]}


def test_a_metric_filter_finds_a_meter_by_its_name_as_it_is_now(api: Api) -> None:
    um = api.post("/usage_meters", json=meter(name="Old name")).json()
    api.patch(f"/usage_meters/{um['id']}", json={"name": "New name"})

    def by_name(name: str) -> Any:
        return api.post("/metrics", json={"startTime": "2024-06-01T00:00:00Z", "endTime": "2024-07-01T00:00:00Z",
                                          "metricQueries": [{"id": "q", "name": "METER_USAGE",
                                                             "aggregationPeriod": "MONTH", "filters": [
                                                                 {"fieldName": "USAGE_METER_ID",
                                                                  "fieldValues": [name]}]}]})

    assert by_name("New name").status_code == 200
    r = by_name("Old name")
    assert r.status_code == 400 and "'Old name' is not a known usage meter id or name" in r.json()["message"]
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert by_name("New name").status_code == 200
