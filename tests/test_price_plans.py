"""Price plans: versions, activation per currency, currencies, archive, and Togai's rate card rules."""
from __future__ import annotations

from typing import Any

import pytest
import togai_client
from conftest import Api
from plans import associate, meter_ids, new_plan, plan_body, usage_card


def add_on_ids(api: Api) -> dict[str, str]:
    return {a["type"]: a["id"] for a in api.get("/addons").json()["data"]}


def test_a_new_plan_is_a_draft_at_version_1(api: Api) -> None:
    body = plan_body(api, "Starter")
    r = api.post("/price_plans", json=body)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["id"].startswith("pp.") and (plan["status"], plan["type"]) == ("DRAFT", "BILLING")
    [version] = plan["pricingSchedule"]
    assert version["id"].startswith("sch.") and (version["version"], version["isOverriden"]) == (1, False)
    details = version["pricePlanDetails"]
    assert (details["supportedCurrencies"], details["activeCurrencies"]) == (["USD"], [])
    assert details["pricingCycleConfig"]["interval"] == "MONTHLY"  # Togai's usual cycle when none is given
    assert api.get(f"/price_plans/{plan['id']}").json() == plan
    listed = {p["id"]: p for p in api.get("/price_plans", params={"pageSize": 100}).json()["data"]}[plan["id"]]
    assert listed["usageMeters"] == [meter_ids(api)["Ride count"]]
    assert (listed["version"], listed["status"]) == (1, "DRAFT") and listed["createdAt"] == listed["updatedAt"]


def test_a_dry_run_keeps_nothing(api: Api) -> None:
    before = api.state()
    r = api.post("/price_plans", params={"dry_run": "true"}, json=plan_body(api))
    assert r.status_code == 200 and r.json()["status"] == "DRAFT"
    assert api.state() == before
    assert api.get(f"/price_plans/{r.json()['id']}").status_code == 404


def _broken(api: Api, change: str) -> dict[str, Any]:
    body = plan_body(api)
    details, card = body["pricePlanDetails"], body["pricePlanDetails"]["usageRateCards"][0]
    if change == "unknown meter":
        card["usageMeterId"] = "um.nope"
    elif change == "meter twice":
        details["usageRateCards"].append(dict(card))
    elif change == "slabs descend":
        card["ratePlan"]["slabs"][1]["startAfter"] = 0
    elif change == "unsupported rate currency":
        card["rateValues"].append({"currency": "EUR", "slabRates": [{"order": 1, "rate": 1}, {"order": 2, "rate": 1}]})
    elif change == "bad currency":
        details["supportedCurrencies"] = ["usd"]
    elif change == "currency and a newline":  # matched whole: "$" let "USD\n" through
        details["supportedCurrencies"] = ["USD\n"]
    elif change == "wrong add-on type":
        details["fixedFeeRateCards"] = [{"id": add_on_ids(api)["LICENSE"], "enableProration": False,
                                         "rateValues": [{"currency": "USD", "rate": 10}]}]
    elif change == "unknown feature":
        details["entitlementOverageRateCards"] = [{**usage_card("x"), "featureId": "feature.nope"}]
    elif change == "deferred in advance":
        details["deferredRevenue"] = True
        details["licenseRateCards"] = [{**usage_card("x"), "id": add_on_ids(api)["LICENSE"], "enableProration": False,
                                        "invoiceTiming": "IN_ADVANCE"}]
    elif change == "rule order 0":
        body["pricingRules"] = [{"name": "r", "order": 0, "computation": "1", "action": {"type": "ADD"}}]
    elif change == "bad cycle offset":
        details["pricingCycleConfig"] = {"interval": "WEEKLY", "gracePeriod": 1,
                                         "startOffset": {"dayOffset": "8", "monthOffset": "NIL"}}
    return body


@pytest.mark.parametrize(("change", "message"), [
    ("unknown meter", "pricePlanDetails.usageRateCards[0].usageMeterId: no usage meter with id 'um.nope'"),
    ("meter twice", "pricePlanDetails.usageRateCards[1].usageMeterId: usage meter is also priced by usageRateCards[0]"),
    ("slabs descend", "pricePlanDetails.usageRateCards[0].ratePlan.slabs[1].startAfter: must be greater than"),
    ("unsupported rate currency", "pricePlanDetails.usageRateCards[0].rateValues[1].currency: 'EUR' is not a supp"),
    ("bad currency", "pricePlanDetails.supportedCurrencies[0]: must be an ISO 4217 code"),
    ("currency and a newline", "pricePlanDetails.supportedCurrencies[0]: must"),
    ("wrong add-on type", "pricePlanDetails.fixedFeeRateCards[0].id: add-on 'addon."),
    ("unknown feature", "pricePlanDetails.entitlementOverageRateCards[0].featureId: no feature with id"),
    ("deferred in advance", "pricePlanDetails.licenseRateCards[0].invoiceTiming: IN_ADVANCE is not allowed"),
    ("rule order 0", "pricingRules[0].order: must be at least 1"),
    ("bad cycle offset", "pricePlanDetails.pricingCycleConfig.startOffset.dayOffset: must be LAST or 1 to 7"),
])
def test_rate_card_rules_refuse_and_change_nothing(api: Api, change: str, message: str) -> None:
    body = _broken(api, change)
    before = api.state()
    r = api.post("/price_plans", json=body)
    assert r.status_code == 400 and r.json()["message"].startswith(message), r.text
    assert api.state() == before


def test_an_archived_meter_cannot_be_priced(api: Api) -> None:
    meter = meter_ids(api)["Ride count"]
    assert api.delete(f"/usage_meters/{meter}").status_code == 200
    r = api.post("/price_plans", json=plan_body(api))
    assert r.status_code == 400
    assert r.json()["message"] == f"pricePlanDetails.usageRateCards[0].usageMeterId: usage meter {meter!r} is archived"


def test_activation_is_per_currency(api: Api) -> None:
    plan = new_plan(api, active=())
    pid = plan["id"]
    r = api.post(f"/price_plans/{pid}/activate", json={"currencies": ["EUR"]})
    assert r.status_code == 400 and r.json()["message"] == "currencies[0]: 'EUR' is not a supported currency of the plan"
    r = api.post(f"/price_plans/{pid}/currencies", json={"currency": "EUR"})  # supported, but no rates yet
    assert r.status_code == 200 and r.json()["pricingSchedule"][0]["pricePlanDetails"]["activeCurrencies"] == []
    r = api.post(f"/price_plans/{pid}/activate", json={"currencies": ["EUR"]})
    assert r.status_code == 400 and r.json()["message"] == "currencies[0]: usageRateCards[0] has no rates in EUR"
    r = api.post(f"/price_plans/{pid}/activate", json={"currencies": ["USD"]})
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["pricingSchedule"][0]["pricePlanDetails"]["activeCurrencies"]) == (
        "ACTIVE", ["USD"])


def test_a_currency_is_added_with_its_rates_and_removed_while_a_draft(api: Api) -> None:
    plan = new_plan(api)
    pid, meter = plan["id"], meter_ids(api)["Ride count"]
    rates = {"currency": "GBP", "usageRates": [{"usageMeterId": meter,
                                                "slabRates": [{"order": 1, "rate": 0.8}, {"order": 2, "rate": 0.4}]}]}
    assert api.post(f"/price_plans/{pid}/currencies", json=rates).status_code == 200
    r = api.post(f"/price_plans/{pid}/currencies", json=rates)
    assert r.status_code == 400 and r.json()["message"] == "currency: GBP is already a supported currency of the plan"
    unknown = {"currency": "EUR", "usageRates": [{"usageMeterId": "um.nope", "slabRates": [{"order": 1, "rate": 1}]}]}
    assert api.post(f"/price_plans/{pid}/currencies", json=unknown).status_code == 400
    details = api.get(f"/price_plans/{pid}").json()["pricingSchedule"][0]["pricePlanDetails"]
    assert details["supportedCurrencies"] == ["USD", "GBP"]
    assert [v["currency"] for v in details["usageRateCards"][0]["rateValues"]] == ["USD", "GBP"]
    r = api.delete(f"/price_plans/{pid}/currencies/USD")
    assert r.status_code == 400 and r.json()["message"] == "currency_id: USD is active; only a draft currency can be removed"
    r = api.delete(f"/price_plans/{pid}/currencies/GBP")
    assert r.status_code == 200
    assert r.json()["pricingSchedule"][0]["pricePlanDetails"]["usageRateCards"][0]["rateValues"][0]["currency"] == "USD"
    assert len(r.json()["pricingSchedule"][0]["pricePlanDetails"]["usageRateCards"][0]["rateValues"]) == 1
    assert api.delete(f"/price_plans/{pid}/currencies/JPY").status_code == 400


def test_a_draft_is_edited_in_place_an_active_plan_gets_a_new_version(api: Api) -> None:
    draft = new_plan(api, active=())
    r = api.patch(f"/price_plans/{draft['id']}", json={"description": "edited",
                                                       "pricePlanDetails": {"pricingCycleConfig": {
                                                           "interval": "WEEKLY", "gracePeriod": 0}}})
    assert r.status_code == 200
    assert r.json()["pricingSchedule"][0]["version"] == 1 and r.json()["description"] == "edited"
    assert r.json()["pricingSchedule"][0]["pricePlanDetails"]["pricingCycleConfig"]["interval"] == "WEEKLY"

    active = new_plan(api)
    pid = active["id"]
    r = api.patch(f"/price_plans/{pid}", json={"pricePlanDetails": {"supportedCurrencies": ["EUR"]}})
    assert r.status_code == 400  # USD is active and must stay supported
    r = api.patch(f"/price_plans/{pid}", json={"description": "v2"})
    assert r.status_code == 200
    [v2] = r.json()["pricingSchedule"]
    assert (v2["version"], r.json()["status"], v2["pricePlanDetails"]["activeCurrencies"]) == (2, "ACTIVE", ["USD"])
    v1 = api.get(f"/price_plans/{pid}", params={"version": 1}).json()["pricingSchedule"][0]
    assert v1["version"] == 1 and v1["endDate"] == v2["startDate"] and v1["id"] != v2["id"]
    r = api.get(f"/price_plans/{pid}", params={"version": 3})
    assert r.status_code == 400 and r.json()["message"] == f"version: price plan {pid!r} has no version 3"
    listed = {p["id"]: p for p in api.get("/price_plans", params={"pageSize": 100}).json()["data"]}[pid]
    assert listed["version"] == 2


def test_delete_archives_unless_an_account_is_still_on_the_plan(api: Api) -> None:
    plan = new_plan(api)
    pid = plan["id"]
    assert associate(api, "GLOBEX-US", pid, "2020-01-01", "2099-01-01").status_code == 200
    r = api.delete(f"/price_plans/{pid}")
    assert r.status_code == 400
    assert r.json()["message"] == f"price_plan_id: price plan {pid!r} is associated with account(s) GLOBEX-US"
    api.post("/accounts/GLOBEX-US/price_plans", json={"mode": "DISASSOCIATE", "effectiveFrom": "2020-01-01",
                                                     "effectiveUntil": "2099-01-01"})
    assert api.delete(f"/price_plans/{pid}").json() == {"success": True}
    assert api.get(f"/price_plans/{pid}").json()["status"] == "ARCHIVED"
    assert api.delete(f"/price_plans/{pid}").status_code == 400
    assert api.patch(f"/price_plans/{pid}", json={"description": "x"}).status_code == 400
    assert api.post(f"/price_plans/{pid}/activate", json={"currencies": ["USD"]}).status_code == 400
    r = associate(api, "GLOBEX-US", pid, "2020-01-01", "2021-01-01")
    assert r.status_code == 400 and "is ARCHIVED; only an ACTIVE plan can be associated" in r.json()["message"]


def test_the_demo_tenant_has_plans_associations_and_a_waiting_migration(api: Api) -> None:
    plans = api.get("/price_plans").json()["data"]
    assert [(p["name"], p["status"]) for p in plans] == [
        ("Rides Enterprise (draft)", "DRAFT"), ("Rides Pro", "ACTIVE"), ("Rides Pro 2025", "ACTIVE"),
        ("Ride pack", "ACTIVE"), ("Rides Go (v2 draft)", "DRAFT"),
    ]
    assert len(plans[1]["usageMeters"]) == 2
    assert [s["pricePlanName"] for s in api.get("/accounts/ACME-US/pricing_schedules").json()["data"]] == ["Rides Pro"]
    [job] = api.get("/jobs").json()["data"]
    assert job["status"] == "WAITING_FOR_CONFIRMATION"
    entries = api.get(f"/jobs/{job['id']}/entries").json()["data"]
    assert sorted(e["entityId"] for e in entries) == ["ACME-US", "UMBRELLA-EU"]


def test_togai_client_drives_a_plan_to_a_confirmed_migration(sdk: togai_client.ApiClient) -> None:
    plans, accounts, jobs = togai_client.PricePlansApi(sdk), togai_client.AccountsApi(sdk), togai_client.JobsApi(sdk)
    meter = togai_client.UsageMetersApi(sdk).get_usage_meters_for_event_schema().data[0].id
    card = togai_client.UsageRateCard.from_dict(usage_card(meter))
    request = togai_client.CreatePricePlanRequest(
        name="SDK plan", pricePlanDetails=togai_client.CreatePricePlanDetails(supportedCurrencies=["USD"],
                                                                              usageRateCards=[card]))
    plan = plans.create_price_plan(request)
    assert plan.status == "DRAFT"
    plan = plans.activate_price_plan(plan.id, togai_client.ActivatePricePlanRequest(currencies=["USD"]))
    assert plan.status == "ACTIVE"
    association = togai_client.UpdatePricingScheduleRequestWithActions(
        mode="ASSOCIATE", pricePlanId=plan.id, effectiveFrom="2024-01-01", effectiveUntil="2099-01-01")
    answer = accounts.update_pricing_schedule("GLOBEX-US", association)
    assert [s.price_plan_id for s in answer.pricing_schedules] == [plan.id]
    schedules = accounts.get_pricing_schedules("GLOBEX-US").data
    assert [(s.price_plan_id, s.version) for s in schedules] == [(plan.id, 1)]
    # A second version, then a migration of the account to it that waits for confirmation.
    plans.update_price_plan(plan.id, togai_client.UpdatePricePlanRequest(description="v2"))
    migration = togai_client.CreatePricePlanMigrationRequest(
        sourceId=plan.id, sourceVersion=1, targetId=plan.id, targetVersion=2, migrationMode="IMMEDIATE",
        requireConfirmation=True)
    assert plans.price_plan_migration(migration).success
    job = jobs.get_jobs().data[-1]
    assert (job.type, job.status) == ("PRICE_PLAN", "WAITING_FOR_CONFIRMATION")
    assert [e.entity_id for e in jobs.get_job_entries(job.id).data] == ["GLOBEX-US"]
    done = jobs.confirm_job(job.id)
    assert (done.status, done.completed_job_entries, done.total_job_entries) == ("COMPLETED", 1, 1)
    assert [s.version for s in accounts.get_pricing_schedules("GLOBEX-US").data] == [2]


def test_an_import_refuses_plans_the_api_could_not_make(api: Api) -> None:
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    plan = state["pricePlans"][1]
    plan["pricingSchedule"][0]["pricePlanDetails"]["usageRateCards"][0]["usageMeterId"] = "um.gone"
    plan["pricingSchedule"].append({**plan["pricingSchedule"][0], "version": 3})
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400
    shown = r.headers["x-mock-violations"]
    assert "pricePlans[1].pricingSchedule[0].pricePlanDetails.usageRateCards[0].usageMeterId: no such record" in shown
    assert "pricePlans[1].pricingSchedule[1].version: must be 2" in shown
