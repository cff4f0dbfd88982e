"""Event schemas: versions, lifecycle, unique names."""
from __future__ import annotations

from conftest import Api

BODY = {"name": "downloads", "attributes": [{"name": "bytes"}], "dimensions": [{"name": "region"}]}


def test_created_as_draft_version_1_and_names_are_unique(api: Api) -> None:
    created = api.post("/event_schema", json=BODY)
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["status"]) == (1, "DRAFT")
    again = api.post("/event_schema", json=BODY)
    assert again.status_code != 201 and again.json()["message"].startswith("name: ")


def test_patch_of_a_draft_edits_it_in_place(api: Api) -> None:
    api.post("/event_schema", json=BODY)
    patched = api.patch("/event_schema/downloads", json={"description": "edited"}).json()
    assert (patched["version"], patched["description"]) == (1, "edited")
    assert len(api.get("/event_schema/downloads/versions").json()["data"]) == 1


def test_patch_of_an_active_schema_makes_a_new_version(api: Api) -> None:
    api.post("/event_schema", json=BODY)
    assert api.post("/event_schema/downloads/activate").json()["status"] == "ACTIVE"
    patched = api.patch("/event_schema/downloads", json={"description": "v2"}).json()
    assert (patched["version"], patched["status"]) == (2, "DRAFT")
    versions = api.get("/event_schema/downloads/versions").json()["data"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "ARCHIVED"), (2, "DRAFT")]
    assert api.get("/event_schema/downloads", params={"version": 1}).json()["status"] == "ARCHIVED"
    listed = [s for s in api.get("/event_schema").json()["data"] if s["name"] == "downloads"]
    assert [s["version"] for s in listed] == [2]


def test_activate_deactivate_and_delete_archives(api: Api) -> None:
    api.post("/event_schema", json=BODY)
    assert api.post("/event_schema/downloads/deactivate").status_code == 400  # a DRAFT is not ACTIVE
    api.post("/event_schema/downloads/activate")
    assert api.post("/event_schema/downloads/deactivate").json()["status"] == "INACTIVE"
    assert api.delete("/event_schema/downloads").json() == {"success": True}
    assert api.get("/event_schema/downloads").json()["status"] == "ARCHIVED"
    assert api.get("/event_schema/nope").status_code == 404


def test_the_demo_schema_is_active_with_its_meters_counted(api: Api) -> None:
    rides = next(s for s in api.get("/event_schema").json()["data"] if s["name"] == "rides")
    assert (rides["status"], rides["usageMetersCount"]) == ("ACTIVE", 2)


def test_versions_are_found_by_name_after_an_import_in_any_order(api: Api) -> None:
    """The name -> versions index is rebuilt by an import, oldest first whatever the document's order."""
    api.post("/event_schema", json=BODY)
    api.post("/event_schema/downloads/activate")
    api.patch("/event_schema/downloads", json={"description": "v2"})
    state = api.get("/__mock/state").json()
    state["eventSchemas"].reverse()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    versions = api.get("/event_schema/downloads/versions").json()["data"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "ARCHIVED"), (2, "DRAFT")]
    assert api.get("/event_schema/downloads").json()["version"] == 2
    listed = [s for s in api.get("/event_schema").json()["data"] if s["name"] == "downloads"]
    assert [s["version"] for s in listed] == [2]
    again = api.post("/event_schema", json=BODY)  # the name is still taken
    assert again.status_code != 201 and again.json()["message"].startswith("name: ")
