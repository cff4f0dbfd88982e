"""Entitlements and feature credits: entries granted by purchases, consumed by entitled events, derived
balances and values -- over HTTP and with Togai's client."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import togai_client
from conftest import Api

from mock_server.domain.core.times import add_duration
from mock_server.domain.ledger.entitlements import in_effect, render_entry, shown_status


def feature(api: Api, name: str) -> str:
    return next(f["id"] for f in api.get("/features").json()["data"] if f["name"] == name)


def credits(api: Api, account: str, name: str) -> tuple[float, float]:
    body = api.get(f"/accounts/{account}/features/{feature(api, name)}").json()
    return body["granted"], body["balance"]


def event(account: str = "ACME-US", schema: str = "rides", **attributes: str) -> dict[str, Any]:
    return {"event": {"schemaName": schema, "timestamp": "2024-01-01T00:00:00Z", "accountId": account,
                      "attributes": [{"name": k, "value": v} for k, v in attributes.items()], "dimensions": {}}}


def entries(api: Api, account: str, name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = api.get(f"/accounts/{account}/features/{feature(api, name)}/entries").json()["data"]
    return data


def test_the_demo_purchase_granted_feature_credits(api: Api) -> None:
    assert credits(api, "ACME-US", "Rides") == (100, 100)
    assert credits(api, "ACME-US", "Support tickets") == (5, 5)
    assert credits(api, "ACME-US", "Seats") == (0, 0)
    (entry,) = entries(api, "ACME-US", "Rides")
    assert (entry["source"], entry["status"], entry["granted"], entry["used"], entry["balance"]) == (
        "ENTITLEMENT", "ACTIVE", 100, 0, 100)
    assert entry["id"].startswith("purchase.") and entry["id"].endswith("$1")


def test_entitlements_are_the_features_with_credits_left(api: Api) -> None:
    values = api.get("/accounts/ACME-US/entitlements").json()["data"]
    assert values == [{"featureId": feature(api, "Rides"), "value": "100"},
                      {"featureId": feature(api, "Support tickets"), "value": "5"}]
    seats = feature(api, "Seats")
    assert api.get(f"/accounts/ACME-US/entitlements/{seats}").json() == {"data": []}
    assert api.get(f"/accounts/UMBRELLA-EU/entitlements/{seats}").json()["data"] == [{"featureId": seats, "value": "25"}]
    assert api.get("/accounts/GLOBEX-UK/entitlements").json() == {"data": []}
    assert api.get(f"/accounts/NOPE/entitlements/{seats}").status_code == 404
    assert api.get("/accounts/ACME-US/entitlements/feature.nope").status_code == 404


def test_validate_an_entitlement_value(api: Api) -> None:
    rides = feature(api, "Rides")
    assert api.post(f"/accounts/ACME-US/entitlements/{rides}", json={"value": "100"}).json() == {"success": True}
    assert api.post(f"/accounts/ACME-US/entitlements/{rides}", json={"value": "100.5"}).json() == {"success": False}
    assert api.post(f"/accounts/ACME-US/entitlements/{rides}", json={"value": "lots"}).json() == {"success": False}
    assert api.post(f"/accounts/GLOBEX-UK/entitlements/{rides}", json={"value": "1"}).json() == {"success": False}


def test_an_entitled_event_consumes_each_linked_feature(api: Api) -> None:
    # Rides is linked to rides.distance (its first association); Support tickets is not linked to rides.
    r = api.post("/entitled", json=event(distance="12.5"))
    assert r.status_code == 200 and r.json() == {"success": True}
    assert credits(api, "ACME-US", "Rides") == (100, 87.5)
    assert credits(api, "ACME-US", "Support tickets") == (5, 5)
    # Without the attribute, the event counts once.
    api.post("/entitled", json=event(duration="3"))
    assert credits(api, "ACME-US", "Rides") == (100, 86.5)
    (entry,) = entries(api, "ACME-US", "Rides")
    assert (entry["used"], entry["balance"]) == (13.5, 86.5)


def test_an_event_past_the_balance_is_refused_and_consumes_nothing(api: Api) -> None:
    r = api.post("/entitled", json=event(distance="100.5"))
    assert r.status_code == 400
    assert r.json()["message"].startswith(f"event.accountId: account 'ACME-US' is not entitled to 100.5 of feature '{feature(api, 'Rides')}'")
    assert credits(api, "ACME-US", "Rides") == (100, 100)
    assert api.post("/entitled", json=event("GLOBEX-UK", distance="1")).status_code == 400
    assert api.post("/entitled", json=event("NOPE", distance="1")).status_code == 400
    assert api.post("/entitled", json=event(distance="-1")).status_code == 400


def test_an_event_id_is_taken_once(api: Api) -> None:
    once = event(distance="1")
    once["event"]["id"] = "evt-1"
    assert api.post("/entitled", json=once).status_code == 200
    r = api.post("/entitled", json=once)
    assert (r.status_code, r.json()["message"]) == (409, "event.id: event 'evt-1' was already ingested")
    assert credits(api, "ACME-US", "Rides") == (100, 99)


def test_an_event_of_a_schema_no_feature_uses_consumes_nothing(api: Api) -> None:
    assert api.post("/entitled", json=event(schema="other", distance="5")).status_code == 200
    assert credits(api, "ACME-US", "Rides") == (100, 100)


def test_update_an_entry(api: Api) -> None:
    rides = feature(api, "Rides")
    (entry,) = entries(api, "ACME-US", "Rides")
    api.post("/entitled", json=event(distance="30"))
    path = f"/accounts/ACME-US/features/{rides}/entries/{entry['id']}"
    r = api.patch(path, json={"granted": 200, "effectiveUntil": "2150-01-01T00:00:00+01:00"})
    assert r.status_code == 200, r.text
    assert (r.json()["granted"], r.json()["balance"], r.json()["effectiveUntil"]) == (200, 170, "2149-12-31T23:00:00.000Z")
    r = api.patch(path, json={"granted": 29})
    assert (r.status_code, r.json()["message"]) == (400, "granted: must be at least what was used (30)")
    r = api.patch(path, json={"effectiveUntil": "2000-01-01T00:00:00Z"})
    assert (r.status_code, r.json()["message"]) == (400, "effectiveUntil: must be after effectiveFrom")
    assert api.patch(path, json={"effectiveUntil": "2024-02-30T00:00:00Z"}).status_code == 400
    assert api.patch(f"/accounts/ACME-US/features/{rides}/entries/nope", json={}).status_code == 404
    assert api.patch(f"/accounts/UMBRELLA-EU/features/{rides}/entries/{entry['id']}", json={}).status_code == 404


def test_an_entry_ends_and_expires(api: Api) -> None:
    rides = feature(api, "Rides")
    (entry,) = entries(api, "ACME-US", "Rides")
    path = f"/accounts/ACME-US/features/{rides}/entries/{entry['id']}"
    # Ending it in the past (after it started) expires it: no credits, no entitlement, no changes.
    start = entry["effectiveFrom"]
    assert api.patch(path, json={"effectiveUntil": start.replace(".000Z", ".001Z")}).status_code == 200
    assert entries(api, "ACME-US", "Rides")[0]["status"] == "EXPIRED"
    assert credits(api, "ACME-US", "Rides") == (0, 0)
    assert api.patch(path, json={"granted": 1}).status_code == 400
    assert api.post(f"{path}/void").status_code == 400


def test_void_an_entry(api: Api) -> None:
    rides = feature(api, "Rides")
    (entry,) = entries(api, "ACME-US", "Rides")
    path = f"/accounts/ACME-US/features/{rides}/entries/{entry['id']}"
    assert api.post(f"{path}/void").json() == {"success": True}
    assert (entries(api, "ACME-US", "Rides")[0]["status"], entries(api, "ACME-US", "Rides")[0]["balance"]) == ("VOIDED", 0)
    assert credits(api, "ACME-US", "Rides") == (0, 0)
    assert api.post("/entitled", json=event(distance="1")).status_code == 400
    r = api.post(f"{path}/void")
    assert (r.status_code, r.json()["message"]) == (400, f"entry_id: entry '{entry['id']}' is VOIDED; only an ACTIVE one can be voided")


def test_import_refuses_entries_the_api_cannot_make(api: Api) -> None:
    state = api.get("/__mock/state").json()
    first = state["featureCreditEntries"][0]
    for broken, says in [
        ({**first, "used": first["granted"] + 1}, "used: must be between 0 and granted"),
        ({**first, "status": "EXPIRED"}, "status: must be ACTIVE or VOIDED"),
        ({**first, "id": "made-up"}, "id: must be <purchase id>$<n>"),
        ({**first, "accountId": "GLOBEX-UK"}, "id: must be <purchase id>$<n>"),
        ({**first, "featureId": "feature.nope"}, "featureId: no feature"),
        ({**first, "effectiveUntil": first["effectiveFrom"]}, "effectiveUntil: must be after effectiveFrom"),
    ]:
        r = api.request("PUT", "/__mock/state", json={**state, "featureCreditEntries": [broken]})
        assert r.status_code == 400 and says in r.json()["message"], (says, r.text)
    assert api.get("/__mock/state").json() == state


def test_entitlements_with_togais_client(sdk: togai_client.ApiClient) -> None:
    api = togai_client.EntitlementsApi(sdk)
    rides = next(f.id for f in togai_client.FeatureApi(sdk).get_features().data if f.name == "Rides")
    assert api.get_feature_credits("ACME-US", rides).balance == 100
    api.ingest_entitled_event(togai_client.IngestEventRequest(event=togai_client.Event(
        schema_name="rides", timestamp="2024-01-01T00:00:00Z", account_id="ACME-US",
        attributes=[togai_client.Attribute(name="distance", value="40")], dimensions={})))
    (entry,) = api.list_feature_credit_entries("ACME-US", rides, page_size=5).data
    assert (entry.used, entry.balance) == (40, 60)
    changed = api.update_feature_credit_entry("ACME-US", rides, entry.id,
                                              togai_client.UpdateFeatureCreditsRequest(granted=150))
    assert changed.balance == 110
    assert [e.value for e in api.get_entitlements("ACME-US").data][0] == "110"
    assert api.get_entitlement_value("ACME-US", rides).data[0].value == "110"
    assert api.validate_entitlement_value("ACME-US", rides, togai_client.ValidateEntitlementValueRequest(value="110")).success
    assert api.void_feature_credit_entry("ACME-US", rides, entry.id).success
    assert api.get_feature_credits("ACME-US", rides).balance == 0


def test_durations_add_calendar_months_and_clamp_the_day() -> None:
    start = datetime(2024, 1, 31, tzinfo=UTC)
    assert add_duration(start, "P1M") == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_duration(start, "P1Y1M1DT1H") == datetime(2025, 3, 1, 1, tzinfo=UTC)
    assert add_duration(start, "P2W") == datetime(2024, 2, 14, tzinfo=UTC)
    assert add_duration(start, "P") is None and add_duration(start, "1M") is None and add_duration(start, "P1DT") is None
    assert add_duration(start, "P9000Y") is None  # past year 9999


def test_an_entry_is_in_effect_from_its_start_and_expired_at_its_end() -> None:
    # The window is [effectiveFrom, effectiveUntil): worked by hand at each bound, a millisecond either side.
    entry = {"status": "ACTIVE", "effectiveFrom": "2024-01-01T00:00:00.000Z", "effectiveUntil": "2024-02-01T00:00:00.000Z",
             "granted": 10, "used": 4}
    cases = [  # now, in effect, shown status, balance
        ("2023-12-31T23:59:59.999Z", False, "ACTIVE", 6),  # not started: not usable, yet not expired either
        ("2024-01-01T00:00:00.000Z", True, "ACTIVE", 6),  # effectiveFrom counts
        ("2024-01-31T23:59:59.999Z", True, "ACTIVE", 6),
        ("2024-02-01T00:00:00.000Z", False, "EXPIRED", 0),  # expiring exactly now: expired already
        ("2024-02-01T00:00:00.001Z", False, "EXPIRED", 0),
    ]
    for now, live, status, left in cases:
        shown = render_entry(entry, now)
        assert (in_effect(entry, now), shown_status(entry, now), shown["status"], shown["balance"]) == (
            live, status, status, left), now
    assert not in_effect({**entry, "status": "VOIDED"}, "2024-01-15T00:00:00.000Z")


def linked_by_scan(api: Api) -> dict[str, list[str]]:
    """What the features-by-schema index must hold, found by reading every feature (ids, creation order)."""
    out: dict[str, list[str]] = {}
    for f in api.app.state.store.collections["features"].items.values():
        for schema in dict.fromkeys(a["schemaName"] for a in f["schemaAssociations"]):
            out.setdefault(schema, []).append(f["id"])
    return out


def linked_by_index(api: Api) -> dict[str, list[str]]:
    from mock_server.domain.catalog import features

    store = api.app.state.store
    return {schema: [f["id"] for f in features.linked_to(store, schema)] for schema in store.indexes[features.BY_SCHEMA]}


def test_entitled_events_follow_features_relinked_to_schemas(api: Api) -> None:
    """The index of features by schema follows generic updates and the import, in creation order."""
    rides, tickets = feature(api, "Rides"), feature(api, "Support tickets")
    assert linked_by_index(api) == linked_by_scan(api) == {"rides": [rides], "support": [tickets]}

    def link(feature_id: str, *associations: tuple[str, str]) -> None:
        body = {"schemaAssociations": [{"schemaName": s, "attributeName": a} for s, a in associations]}
        assert api.patch(f"/features/{feature_id}", json=body).status_code == 200
        assert linked_by_index(api) == linked_by_scan(api)

    link(tickets, ("support", "tickets"), ("rides", "distance"))
    link(rides)  # Rides no longer counts rides
    assert api.post("/entitled", json=event(distance="3")).status_code == 200
    assert (credits(api, "ACME-US", "Rides"), credits(api, "ACME-US", "Support tickets")) == ((100, 100), (5, 2))
    link(rides, ("rides", "distance"))  # linked again: still listed before Support tickets, created after it
    assert linked_by_index(api)["rides"] == [rides, tickets]
    r = api.post("/entitled", json=event(distance="150"))
    # Both lack credits; the answer names the first problem: Rides', the feature created first.
    assert (r.status_code, r.json()["message"]) == (400, f"event.accountId: account 'ACME-US' is not entitled to 150 "
                                                         f"of feature '{rides}' (100 left) (and 1 more)")
    # Exported and imported: the index is rebuilt from the features, in the same order.
    state = api.get("/__mock/state").json()
    api.app.state.store.indexes["features_by_schema"].clear()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert linked_by_index(api) == linked_by_scan(api) == {"rides": [rides, tickets], "support": [tickets]}
    # (Whatever is left after the import: its seeded clock starts again, before the demo entries start.)
    message = api.post("/entitled", json=event(distance="150")).json()["message"]
    assert message.startswith(f"event.accountId: account 'ACME-US' is not entitled to 150 of feature '{rides}' (")
    assert message.endswith(" (and 1 more)")
