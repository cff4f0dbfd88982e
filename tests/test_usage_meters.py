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
