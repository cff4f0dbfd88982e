"""Settings: full ids, filters, value checks and entity references -- over HTTP and with Togai's client."""
from __future__ import annotations

import json
from typing import Any

import pytest
import togai_client
from conftest import Api

BODY = {
    "id": "invoice_prefix",
    "namespace": "USER",
    "name": "Invoice prefix",
    "value": "GLX-",
    "dataType": "STRING",
    "entityType": "ACCOUNT",
    "entityId": "GLOBEX-US",
}
FULL_ID = "setting.USER.invoice_prefix.ACCOUNT.GLOBEX-US"


def insert(api: Api, **changes: Any) -> Any:
    return api.post("/settings", json={**BODY, **changes})


def test_insert_answers_the_full_id_and_reads_back(api: Api) -> None:
    r = insert(api)
    assert r.status_code == 201, r.text
    assert r.json() == {**BODY, "id": FULL_ID}
    assert api.get(f"/settings/{FULL_ID}").json() == r.json()


def test_one_key_holds_one_value_per_entity(api: Api) -> None:
    assert insert(api).status_code == 201
    assert insert(api, entityId="GLOBEX-UK").json()["id"] == "setting.USER.invoice_prefix.ACCOUNT.GLOBEX-UK"
    before = api.state()
    again = insert(api, value="other")
    assert again.status_code == 400
    assert again.json()["message"] == f"id: a setting with id {FULL_ID!r} already exists"
    assert api.state() == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entityId": "NO-SUCH"}, "entityId: no account with id 'NO-SUCH'"),
        ({"entityType": "CUSTOMER", "entityId": "NO-SUCH"}, "entityId: no customer with id 'NO-SUCH'"),
        ({"dataType": "NUMERIC"}, "value: 'GLX-' is not a number (dataType NUMERIC)"),
        ({"dataType": "JSON", "value": "{oops"}, "value: is not JSON (dataType JSON)"),
    ],
)
def test_rejected_inserts_change_nothing(api: Api, changes: dict[str, Any], message: str) -> None:
    before = api.state()
    r = insert(api, **changes)
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert api.state() == before


def test_organisation_settings_name_any_entity(api: Api) -> None:
    r = insert(api, entityType="ORGANIZATION", entityId="any-org", dataType="JSON", value='{"a": 1}')
    assert r.status_code == 201


def test_update_keeps_the_id_and_checks_the_value(api: Api) -> None:
    insert(api)
    r = api.patch(f"/settings/{FULL_ID}", json={"name": "Renamed", "value": "42", "dataType": "NUMERIC"})
    assert r.status_code == 201 and r.json()["id"] == FULL_ID and r.json()["value"] == "42"  # Togai answers 201
    before = api.state()
    bad = api.patch(f"/settings/{FULL_ID}", json={"value": "forty-two"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("value: ")
    assert api.state() == before
    assert api.patch("/settings/setting.nope", json={"value": "1"}).status_code == 404


def test_list_filters_by_entity_namespace_and_id(api: Api) -> None:
    insert(api)
    insert(api, entityId="GLOBEX-UK")
    insert(api, namespace="togai", entityType="ORGANIZATION", entityId="org")

    def ids(**query: str) -> list[str]:
        return [s["id"] for s in api.get("/settings", params=query).json()["data"]]

    demo = ids()  # the demo tenant's five come first
    assert len(demo) == 8
    assert ids(entity_id="GLOBEX-US") == [FULL_ID]
    assert ids(entity_type="ACCOUNT", namespace="USER", entity_id="GLOBEX-UK") == [
        "setting.USER.invoice_prefix.ACCOUNT.GLOBEX-UK"
    ]
    assert ids(setting_id=FULL_ID) == [FULL_ID]
    assert ids(namespace="nothing") == []


def test_a_filtered_list_pages_over_matches_only(api: Api) -> None:
    for entity in ("GLOBEX-US", "GLOBEX-UK", "ACME-EU"):
        insert(api, entityId=entity)
    insert(api, entityType="ORGANIZATION", entityId="org")  # the last record is not a match
    seen, query = [], {"entity_type": "ACCOUNT", "pageSize": "1"}
    while True:
        page = api.get("/settings", params=query).json()
        assert len(page["data"]) == 1  # never an empty page before the end
        seen += [s["entityId"] for s in page["data"]]
        if "nextToken" not in page:
            break
        query = {"entity_type": "ACCOUNT", "nextToken": page["nextToken"]}
    assert seen == ["ACME-US", "ACME-US", "GLOBEX-US", "GLOBEX-UK", "ACME-EU"]


def test_an_import_with_a_wrong_id_or_value_is_refused(api: Api) -> None:
    state = api.get("/__mock/state").json()
    broken = {**state, "settings": [{**state["settings"][0], "id": "other"}, {**state["settings"][2], "value": "x"}]}
    r = api.request("PUT", "/__mock/state", json=broken)
    assert r.status_code == 400
    problems = json.loads(r.headers["x-mock-violations"])
    assert problems[0].startswith("settings[0].id: ") and problems[1].startswith("settings[1].value: ")
    assert api.get("/__mock/state").json() == state


def test_settings_with_togais_client(sdk: togai_client.ApiClient) -> None:
    settings = togai_client.SettingsApi(sdk)
    created = settings.insert_setting(
        togai_client.Setting(
            id="net_terms",
            namespace="USER",
            name="Net terms",
            value="30",
            data_type=togai_client.SettingDataType.NUMERIC,
            entity_type="CUSTOMER",
            entity_id="GLOBEX",
        )
    )
    assert created.id == "setting.USER.net_terms.CUSTOMER.GLOBEX"
    assert settings.get_setting(created.id).value == "30"
    updated = settings.update_setting(created.id, togai_client.UpdateSettingRequest(value="45"))
    assert updated.value == "45"
    page = settings.list_setting(entity_type="CUSTOMER", entity_id="GLOBEX", page_size=1)
    assert [s.id for s in page.data] == [created.id]
