"""Features: create, read, list with derived fields, update -- over HTTP and with Togai's client."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import togai_client
from conftest import Api, make_api

ASSOCIATIONS = [
    {"schemaName": "rides", "attributeName": "distance"},
    {"schemaName": "rides", "attributeName": "time"},
    {"schemaName": "deliveries", "attributeName": "weight"},
]


def create(api: Api, **extra: Any) -> dict[str, Any]:
    r = api.post("/features", json={"name": "Rides", "schemaAssociations": ASSOCIATIONS, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_create_makes_an_id_display_name_and_timestamps(empty_api: Api) -> None:
    feature = create(empty_api)
    assert feature["id"].startswith("feature.")
    assert feature["displayName"] == "Rides"
    assert feature["schemaAssociations"] == ASSOCIATIONS
    assert feature["createdAt"].endswith("Z")
    assert empty_api.get(f"/features/{feature['id']}").json() == feature


def test_display_name_is_the_billable_name_and_follows_updates(empty_api: Api) -> None:
    feature = create(empty_api, billableName="Ride minutes")
    assert feature["displayName"] == "Ride minutes"
    r = empty_api.patch(f"/features/{feature['id']}", json={"billableName": "Ride time"})
    assert r.status_code == 200 and r.json()["displayName"] == "Ride time"
    assert r.json()["updatedAt"] > feature["updatedAt"]


def test_list_items_count_linked_event_schemas_and_omit_associations(empty_api: Api) -> None:
    create(empty_api)
    create(empty_api, name="Seats", schemaAssociations=[])
    items = empty_api.get("/features").json()["data"]
    assert [(f["name"], f["schemaCount"]) for f in items] == [("Rides", 2), ("Seats", 0)]
    assert all("schemaAssociations" not in f for f in items)


def test_update_replaces_associations_and_recounts(empty_api: Api) -> None:
    feature = create(empty_api)
    r = empty_api.patch(f"/features/{feature['id']}", json={"schemaAssociations": ASSOCIATIONS[:1]})
    assert r.json()["schemaAssociations"] == ASSOCIATIONS[:1]
    assert empty_api.get("/features").json()["data"][0]["schemaCount"] == 1


def test_unknown_feature_is_a_404_and_changes_nothing(api: Api) -> None:
    before = api.state()
    r = api.patch("/features/feature.nope.nope", json={"name": "X"})
    assert r.status_code == 404
    assert r.json() == {"message": "feature_id: no feature with id 'feature.nope.nope'"}
    assert api.state() == before


def test_the_demo_tenant_has_features(api: Api) -> None:
    assert len(api.get("/features").json()["data"]) >= 2


def test_features_with_togais_client(sdk: togai_client.ApiClient) -> None:
    features = togai_client.FeatureApi(sdk)
    created = features.create_feature(
        togai_client.CreateFeatureRequest(
            name="Api calls",
            billable_name="API calls",
            schema_associations=[togai_client.EventSchemasForFeature(schema_name="api", attribute_name="calls")],
        )
    )
    assert created.display_name == "API calls"
    assert features.get_feature(created.id).name == "Api calls"
    updated = features.update_feature(created.id, togai_client.UpdateFeatureRequest(name="API requests"))
    assert updated.name == "API requests"
    # Paged one at a time, the list reaches the new feature.
    seen, token = [], None
    while True:
        page = features.get_features(next_token=token, page_size=1)
        seen += [(f.id, f.schema_count) for f in page.data]
        token = page.next_token
        if not token:
            break
    assert (created.id, 1) in seen


def test_a_fixture_may_pin_a_feature_id_and_entitled_events_still_find_it(tmp_path: Path) -> None:
    """Features keep an index of positions (by linked schema); pinning an id keeps the feature's place."""
    (tmp_path / "f.yaml").write_text(
        "features:\n"
        "  - {id: FEAT-PINNED, name: Pinned, schemaAssociations: [{schemaName: rides, attributeName: distance}]}\n"
    )
    for api in make_api(fixtures=tmp_path):
        assert api.get("/features/FEAT-PINNED").json()["name"] == "Pinned"
        index = api.app.state.store.indexes["features_by_schema"]
        collection = api.app.state.store.collections["features"]
        assert [collection.key_at(p) for p in index["rides"]] == ["FEAT-PINNED"]
