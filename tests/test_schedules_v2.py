"""Account schedules v2: a draft timeline edited in bulk (all or none), finalized into billing or discarded.

Amounts are worked by hand: the account's first plan charges 1 USD a ride,
the v2 plan 3 USD a ride; two rides in January.
"""
from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from test_billing import MONTHLY, billed, move, ride, setup_account
from test_price_plans_v2 import create, finalized, op, ops, usage


def v2_plan(api: Api, rate: float) -> str:
    plan = create(api)
    assert ops(api, plan, op("CREATE", "rides", usage(api, {"USD": rate}))).status_code == 200
    assert api.post(f"/v2/price_plans/{plan}/finalize", json={}).status_code == 200
    return plan


def associate_edit(plan: str, start: str = "2024-01-01", end: str = "2099-01-01", **config: Any) -> dict[str, Any]:
    return {"mode": "ASSOCIATE", "effectiveFrom": start, "effectiveUntil": end,
            "associationConfig": {"pricePlanId": plan, **config}}


def listed(api: Api, account: str, mode: str) -> list[tuple[str, int, str, str, bool]]:
    data = api.get(f"/v2/accounts/{account}/schedules", params={"mode": mode}).json()["data"]
    return [(s["pricePlanId"], s["version"], s["startDate"][:10], s["endDate"][:10], s["isOverridden"]) for s in data]


@pytest.mark.parametrize(("publish", "total"), [
    ("finalize", 6),  # the draft (3 USD a ride) is billed: 2 x 3
    ("discard", 2),  # the active plan (1 USD a ride) still is: 2 x 1
])
def test_a_finalized_draft_changes_the_next_invoice(api: Api, publish: str, total: int) -> None:
    account = setup_account(api, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1)
    first = listed(api, account, "ACTIVE")
    plan = v2_plan(api, 3)
    r = api.post(f"/v2/accounts/{account}/edit_schedules", json={"edits": [associate_edit(plan)]})
    assert r.status_code == 200, r.text
    assert [s["pricePlanId"] for s in r.json()["pricingSchedules"]] == [plan]
    assert listed(api, account, "ACTIVE") == first  # nothing billed differently yet
    assert listed(api, account, "DRAFT") == [(plan, 1, "2024-01-01", "2099-01-01", False)]
    if publish == "finalize":
        r = api.post(f"/v2/accounts/{account}/finalize_schedules", json={})
        assert r.status_code == 200, r.text
        assert [s["pricePlanId"] for s in r.json()["data"]] == [plan]
        assert listed(api, account, "ACTIVE") == [(plan, 1, "2024-01-01", "2099-01-01", False)]
    else:
        assert api.delete(f"/v2/accounts/{account}/discard_schedules").json() == {"success": True}
    assert listed(api, account, "DRAFT") == listed(api, account, "ACTIVE")  # no draft left
    ride(api, account, "2024-01-05T10:00:00Z", "2024-01-06T10:00:00Z")
    move(api, to="2024-02-01T00:00:00Z")
    assert billed(api, account) == [("2024-01-01", "2024-02-01", "DUE", total)]


def test_a_bad_third_edit_leaves_the_first_two_unapplied(api: Api) -> None:
    plan = finalized(api)
    draft_plan = create(api)  # never finalized: it cannot be associated
    before = api.state()
    edits = [associate_edit(plan, "2024-01-01", "2024-06-01"),
             {"mode": "DISASSOCIATE", "effectiveFrom": "2024-03-01", "effectiveUntil": "2024-04-01"},
             associate_edit(draft_plan, "2024-06-01", "2025-01-01")]
    r = api.post("/v2/accounts/GLOBEX-US/edit_schedules", json={"edits": edits})
    assert r.status_code == 400
    assert r.json()["message"].startswith(f"edits[2].associationConfig.pricePlanId: price plan {draft_plan!r} is DRAFT")
    assert api.state() == before
    r = api.post("/v2/accounts/GLOBEX-US/edit_schedules", json={"edits": edits[:2]})
    assert r.status_code == 200, r.text
    assert listed(api, "GLOBEX-US", "DRAFT") == [(plan, 1, "2024-01-01", "2024-03-01", False),
                                                 (plan, 1, "2024-04-01", "2024-06-01", False)]
    # a second batch goes on from the draft; discard=true starts again from the active timeline
    r = api.post("/v2/accounts/GLOBEX-US/edit_schedules", params={"discard": "true"},
                 json={"edits": [associate_edit(plan, "2024-02-01", "2024-03-01")]})
    assert r.status_code == 200
    assert listed(api, "GLOBEX-US", "DRAFT") == [(plan, 1, "2024-02-01", "2024-03-01", False)]


def test_a_draft_schedule_gets_its_own_rate_cards_rules_and_errors(api: Api) -> None:
    plan = finalized(api)
    r = api.post("/v2/accounts/GLOBEX-US/edit_schedules", json={"edits": [associate_edit(plan)]})
    assert r.status_code == 200
    assert api.post("/v2/accounts/GLOBEX-US/finalize_schedules", json={}).status_code == 200
    [schedule] = api.get("/v2/accounts/GLOBEX-US/schedules", params={"mode": "ACTIVE"}).json()["data"]
    sid = schedule["id"]
    cheaper = usage(api, {"USD": 0.25})
    r = api.post(f"/v2/schedules/{sid}/rate_cards", json={"operations": [op("UPDATE", "rides", cheaper)]})
    assert r.status_code == 200, r.text
    [card] = r.json()["rateCards"]
    assert (card["referenceType"], card["accountId"], card["referenceId"]) == ("ACCOUNT_SCHEDULE", "GLOBEX-US", sid)

    def rate(mode: str) -> Any:
        [c] = api.get(f"/v2/schedules/{sid}/rate_cards", params={"mode": mode}).json()["data"]
        return c["rateCardDetails"]["usageRateCard"]["rateValues"][0]["slabRates"][0]["rate"]

    assert (rate("ACTIVE"), rate("DRAFT")) == (1, 0.25)
    assert listed(api, "GLOBEX-US", "DRAFT")[0][4] is True  # overridden in the draft only
    assert listed(api, "GLOBEX-US", "ACTIVE")[0][4] is False
    rule = {"name": "Cap", "order": 1, "computation": "100", "action": {"type": "UPDATE", "target": "usage.amount"}}
    r = api.request("PUT", f"/v2/schedules/{sid}/pricing_rules", json={"pricingRules": [rule]})
    assert r.status_code == 200 and r.json()["data"][0]["name"] == "Cap"
    assert api.get(f"/v2/schedules/{sid}/pricing_rules", params={"mode": "ACTIVE"}).json()["data"] == []
    # a card without rates in the account's currency (USD) keeps the draft from being finalized
    bare = usage(api, {}, "Ride distance")
    assert api.post(f"/v2/schedules/{sid}/rate_cards",
                    json={"operations": [op("CREATE", "distance", bare)]}).status_code == 200
    [error] = api.get(f"/v2/schedules/{sid}/errors").json()["data"]
    assert (error["entityType"], error["entityId"], error["referenceId"]) == ("RATE_CARD", "distance", sid)
    before = api.state()
    r = api.post("/v2/accounts/GLOBEX-US/finalize_schedules", json={})
    assert r.status_code == 400 and "distance: rate card distance has no rates in USD" in r.json()["message"]
    assert api.state() == before
    assert api.post(f"/v2/schedules/{sid}/rate_cards",
                    json={"operations": [op("DELETE", "distance")]}).status_code == 200
    assert api.post("/v2/accounts/GLOBEX-US/finalize_schedules", json={}).status_code == 200
    assert rate("ACTIVE") == 0.25


def test_bad_input_changes_nothing(api: Api) -> None:
    plan = finalized(api)
    before = api.state()
    good = associate_edit(plan)
    cases = [
        ("POST", "/v2/accounts/GLOBEX-US/edit_schedules", {"edits": []}, 400),
        ("POST", "/v2/accounts/GLOBEX-US/edit_schedules", {"edits": [good] * 11}, 400),
        ("POST", "/v2/accounts/GLOBEX-US/edit_schedules", {"edits": [{**good, "effectiveUntil": "2023-01-01"}]}, 400),
        ("POST", "/v2/accounts/GLOBEX-US/edit_schedules", {"edits": [associate_edit("pp.nope")]}, 400),
        ("POST", "/v2/accounts/GLOBEX-US/edit_schedules",
         {"edits": [associate_edit(plan, scheduleId="sch.nope")]}, 400),
        ("POST", "/v2/accounts/NOPE/edit_schedules", {"edits": [good]}, 404),
        ("POST", "/v2/accounts/GLOBEX-US/finalize_schedules", {}, 409),
        ("DELETE", "/v2/accounts/GLOBEX-US/discard_schedules", None, 409),
        ("GET", "/v2/accounts/GLOBEX-US/schedules?mode=LATER", None, 400),
        ("GET", "/v2/schedules/sch.nope/errors", None, 404),
        ("PUT", "/v2/schedules/sch.nope/pricing_rules", {"pricingRules": []}, 404),
        ("POST", "/v2/schedules/sch.nope/rate_cards", {"operations": [op("DELETE", "rides")]}, 404),
    ]
    for method, path, body, status in cases:
        r = api.request(method, path, json=body) if body is not None else api.request(method, path)
        assert r.status_code == status, (method, path, r.text)
        assert api.state() == before, (method, path)


def test_a_draft_survives_export_and_import(api: Api) -> None:
    plan = finalized(api)
    assert api.post("/v2/accounts/GLOBEX-US/edit_schedules", json={"edits": [associate_edit(plan)]}).status_code == 200
    draft = listed(api, "GLOBEX-US", "DRAFT")
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code in (200, 204)
    assert listed(api, "GLOBEX-US", "DRAFT") == draft
    sid = api.get("/v2/accounts/GLOBEX-US/schedules", params={"mode": "DRAFT"}).json()["data"][0]["id"]
    assert api.get(f"/v2/schedules/{sid}/rate_cards", params={"mode": "DRAFT"}).status_code == 200


def test_togais_client_finalizes_a_bulk_schedule_edit(sdk: Any) -> None:
    import togai_client

    v2, schedules = togai_client.PricePlanV2Api(sdk), togai_client.SchedulesApi(sdk)
    meter = next(m.id for m in togai_client.UsageMetersApi(sdk).get_usage_meters_for_event_schema(status="ACTIVE").data if m.name == "Ride count")
    plan = v2.create_price_plan_v2(togai_client.CreatePricePlanV2Request(
        name="Rides V2", type="BILLING", supportedCurrencies=["USD"]))
    card = {"billableId": meter, "type": "USAGE", "invoiceTiming": "IN_ARREARS", "rateCardDetails": {
        "usageRateCard": {"usageMeterId": meter, "ratePlan": {
            "pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
            "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 3}]}]}}}
    v2.bulk_price_plan_rate_card_operations(plan.id, togai_client.BulkRateCardOperationsRequest.from_dict(
        {"operations": [{"actionType": "CREATE", "rateCardName": "rides", "rateCard": card}]}))
    v2.finalize_price_plan(plan.id, togai_client.FinalizePricePlanRequest())
    edited = schedules.bulk_edit_schedules("GLOBEX-US", togai_client.EditAccountScheduleRequest.from_dict(
        {"edits": [associate_edit(plan.id)]}))
    assert [s.price_plan_id for s in edited.pricing_schedules] == [plan.id]
    assert schedules.listaccount_schedules("GLOBEX-US", mode="ACTIVE").data == []
    final = schedules.finalize_account_schedules("GLOBEX-US", togai_client.FinalizeAccountSchedules())
    assert [(s.price_plan_id, s.version) for s in final.data] == [(plan.id, 1)]
    [active] = schedules.listaccount_schedules("GLOBEX-US", mode="ACTIVE").data
    [card_read] = schedules.list_schedule_rate_cards(active.id, mode="ACTIVE").data
    assert (card_read.name, card_read.reference_type) == ("rides", "ACCOUNT_SCHEDULE")


def test_an_imported_draft_must_name_a_plan_version(api: Api) -> None:
    plan = finalized(api)
    assert api.post("/v2/accounts/GLOBEX-US/edit_schedules", json={"edits": [associate_edit(plan)]}).status_code == 200
    state = api.get("/__mock/state").json()
    [record] = [r for r in state["accountSchedules"] if r["accountId"] == "GLOBEX-US"]
    record["draft"][0]["version"] = 9
    before = api.state()
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and f"no price plan {plan!r} at version 9" in r.json()["message"]
    assert api.state() == before
