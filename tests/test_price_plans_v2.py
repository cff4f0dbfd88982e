"""Price plans v2: drafts, finalize and discard, versions, bulk rate cards, pricing rules, errors, migrations.

Expectations are Togai's documented rules worked out by hand: a draft is
finalized only without errors, a finalized plan's edits make a draft of the
next version, bulk rate-card operations are all or none, and one store
serves v1 and v2. The seeded clock reads 2024-01-01.
"""
from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from plans import associate, meter_ids

USD_EUR = ["USD", "EUR"]


def create(api: Api, currencies: list[str] | None = None, **extra: Any) -> str:
    body = {"name": "Rides V2", "type": "BILLING", "supportedCurrencies": currencies or ["USD"], **extra}
    r = api.post("/v2/price_plans", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def usage(api: Api, rates: dict[str, float], meter: str = "Ride count") -> dict[str, Any]:
    """A USAGE rate card data: one per-unit slab at each currency's rate."""
    meter_id = meter_ids(api)[meter]
    return {"billableId": meter_id, "type": "USAGE", "invoiceTiming": "IN_ARREARS", "rateCardDetails": {
        "usageRateCard": {"usageMeterId": meter_id,
                          "ratePlan": {"pricingModel": "TIERED",
                                       "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
                          "rateValues": [{"currency": c, "slabRates": [{"order": 1, "rate": r}]}
                                         for c, r in rates.items()]}}}


def ops(api: Api, plan: str, *operations: dict[str, Any]) -> Any:
    return api.post(f"/v2/price_plans/{plan}/rate_cards", json={"operations": list(operations)})


def op(action: str, name: str, card: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"actionType": action, "rateCardName": name}
    if card is not None:
        out["rateCard"] = card
    return out


def errors(api: Api, plan: str) -> list[tuple[str, str, str]]:
    data = api.get(f"/v2/price_plans/{plan}/errors").json()["data"]
    return [(e["entityType"], e["entityId"], e["errorMessage"]) for e in data]


def versions(api: Api, plan: str) -> list[tuple[int, str]]:
    return [(v["version"], v["status"]) for v in api.get(f"/v2/price_plans/{plan}/versions").json()["data"]]


def finalized(api: Api, rates: dict[str, float] | None = None) -> str:
    """A plan finalized at version 1 with one USAGE card ``rides`` (1 USD per ride)."""
    plan = create(api)
    assert ops(api, plan, op("CREATE", "rides", usage(api, rates or {"USD": 1}))).status_code == 200
    assert api.post(f"/v2/price_plans/{plan}/finalize", json={}).status_code == 200
    return plan


def test_a_draft_is_finalized_only_once_its_errors_are_gone(api: Api) -> None:
    plan = create(api, USD_EUR)
    got = api.get(f"/v2/price_plans/{plan}").json()
    assert (got["status"], got["version"], got["supportedCurrencies"]) == ("DRAFT", 1, USD_EUR)
    assert errors(api, plan) == [("PRICE_PLAN", plan, "has no rate card")]
    r = api.post(f"/v2/price_plans/{plan}/finalize", json={})
    assert r.status_code == 400 and r.json()["message"] == "pricePlan: has no rate card"
    assert ops(api, plan, op("CREATE", "rides", usage(api, {"USD": 1}))).status_code == 200
    missing = "rate card rides has no rates in EUR, a supported currency of the plan"
    assert errors(api, plan) == [("RATE_CARD", "rides", missing)]
    r = api.post(f"/v2/price_plans/{plan}/finalize", json={})
    assert r.status_code == 400 and r.json()["message"] == f"rateCards.rides: {missing}"
    assert api.get(f"/v2/price_plans/{plan}").json()["status"] == "DRAFT"
    assert ops(api, plan, op("UPDATE", "rides", usage(api, {"USD": 1, "EUR": 0.9}))).status_code == 200
    assert errors(api, plan) == []
    r = api.post(f"/v2/price_plans/{plan}/finalize", json={})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert (api.get(f"/v2/price_plans/{plan}").json()["status"], versions(api, plan)) == ("ACTIVE", [(1, "ACTIVE")])
    # v1 reads the same plan: ACTIVE in every supported currency, the card under its name
    v1 = api.get(f"/price_plans/{plan}").json()
    [version] = v1["pricingSchedule"]
    assert (v1["status"], version["version"]) == ("ACTIVE", 1)
    assert version["pricePlanDetails"]["activeCurrencies"] == USD_EUR
    assert version["pricePlanDetails"]["usageRateCards"][0]["name"] == "rides"


def test_edits_of_a_finalized_plan_make_a_draft_of_the_next_version(api: Api) -> None:
    plan = finalized(api)
    assert api.patch(f"/v2/price_plans/{plan}", json={"description": "cheaper"}).status_code == 200
    assert ops(api, plan, op("UPDATE", "rides", usage(api, {"USD": 0.5}))).status_code == 200
    assert versions(api, plan) == [(1, "ACTIVE"), (2, "DRAFT")]
    draft = api.get(f"/v2/price_plans/{plan}").json()
    assert (draft["version"], draft["status"]) == (2, "DRAFT")
    first = api.get(f"/v2/price_plans/{plan}", params={"version": "1"}).json()
    assert (first["version"], first["status"]) == (1, "ACTIVE") and first["referenceId"] != draft["referenceId"]
    # v1 sees the finalized versions only, and will not make a version 2 of its own meanwhile
    v1 = api.get(f"/price_plans/{plan}").json()
    assert [v["version"] for v in v1["pricingSchedule"]] == [1]
    rate = v1["pricingSchedule"][0]["pricePlanDetails"]["usageRateCards"][0]["rateValues"][0]["slabRates"][0]["rate"]
    assert rate == 1
    r = api.patch(f"/price_plans/{plan}", json={"description": "v1 edit"})
    assert r.status_code == 400 and "pending v2 draft of version 2" in r.json()["message"]
    assert api.post(f"/v2/price_plans/{plan}/finalize", json={}).status_code == 200
    assert versions(api, plan) == [(1, "ACTIVE"), (2, "ACTIVE")]
    v1 = api.get(f"/price_plans/{plan}").json()
    [latest] = v1["pricingSchedule"]
    assert latest["version"] == 2 and latest["id"] == draft["referenceId"]
    assert latest["pricePlanDetails"]["usageRateCards"][0]["rateValues"][0]["slabRates"][0]["rate"] == 0.5
    r = api.post(f"/v2/price_plans/{plan}/finalize", json={})
    assert r.status_code == 409 and "no draft to finalize" in r.json()["message"]


def test_discard(api: Api) -> None:
    never = create(api)
    assert api.delete(f"/v2/price_plans/{never}/discard").json() == {"success": True}
    assert api.get(f"/price_plans/{never}").status_code == 404  # a plan never finalized is gone
    plan = finalized(api)
    before = api.state()
    r = api.delete(f"/v2/price_plans/{plan}/discard")
    assert r.status_code == 409 and "is finalized and has no draft" in r.json()["message"]
    assert api.state() == before
    assert ops(api, plan, op("DELETE", "rides")).status_code == 200
    assert api.delete(f"/v2/price_plans/{plan}/discard").status_code == 200
    assert versions(api, plan) == [(1, "ACTIVE")]
    assert [c["name"] for c in api.get(f"/v2/price_plans/{plan}/rate_cards").json()["data"]] == ["rides"]


BAD_THIRD = [
    (op("UPDATE", "nope", None), "operations[2].rateCard: is required to UPDATE a rate card"),
    (op("DELETE", "nope"), "operations[2].rateCardName: no rate card named 'nope' to delete"),
    (op("CREATE", "a", "usd"), "operations[2].rateCardName: a rate card named 'a' already exists"),
    (op("UPDATE", "nope", "usd"), "operations[2].rateCardName: no rate card named 'nope' to update"),
    (op("CREATE", "c", "eur"), "operations[2].rateCard.rateCardDetails.usageRateCard.rateValues[0].currency: "
                               "'EUR' is not a supported currency of the plan"),
    (op("CREATE", "c", "wrong member"), "operations[2].rateCard.rateCardDetails: must hold exactly fixedFeeRateCard "
                                        "for a FIXED_FEE rate card (it holds usageRateCard)"),
    (op("CREATE", "c", "in advance"), "operations[2].rateCard.invoiceTiming: a USAGE rate card is invoiced IN_ARREARS"),
    (op("CREATE", "c", "billable"), "operations[2].rateCard.billableId: must be the card's usageMeterId"),
]


@pytest.mark.parametrize(("third", "message"), BAD_THIRD, ids=[m.split(":")[0] + str(i) for i, (_, m) in
                                                                enumerate(BAD_THIRD)])
def test_a_bad_third_operation_leaves_the_first_two_unapplied(api: Api, third: dict[str, Any], message: str) -> None:
    plan = create(api)
    cards = {"usd": usage(api, {"USD": 1}), "eur": usage(api, {"EUR": 1}, "Ride distance"),
             "wrong member": {**usage(api, {"USD": 1}), "type": "FIXED_FEE"},
             "in advance": {**usage(api, {"USD": 1}), "invoiceTiming": "IN_ADVANCE"},
             "billable": {**usage(api, {"USD": 1}), "billableId": "um.other"}}
    if isinstance(third.get("rateCard"), str):
        third = {**third, "rateCard": cards[third["rateCard"]]}
    before = api.state()
    r = ops(api, plan, op("CREATE", "a", usage(api, {"USD": 1})), op("UPDATE", "a", usage(api, {"USD": 2})), third)
    assert r.status_code == 400
    assert r.json()["message"].startswith(message)
    assert api.state() == before
    assert api.get(f"/v2/price_plans/{plan}/rate_cards").json()["data"] == []


def test_operations_apply_in_order_and_name_their_cards(api: Api) -> None:
    plan = create(api)
    r = ops(api, plan, op("CREATE", "a", usage(api, {"USD": 1})), op("UPDATE", "a", usage(api, {"USD": 3})),
            op("CREATE", "b", usage(api, {"USD": 2}, "Ride distance")), op("DELETE", "a"))
    assert r.status_code == 200, r.text
    [card] = r.json()["rateCards"]
    assert (card["name"], card["type"], card["billableId"]) == ("b", "USAGE", meter_ids(api)["Ride distance"])
    assert (card["referenceType"], card["pricePlanId"], card["currencies"]) == ("PRICE_PLAN", plan, ["USD"])


def test_pricing_rules_are_replaced_on_the_draft(api: Api) -> None:
    plan = finalized(api)
    rule = {"name": "Half", "order": 1, "computation": '{"*": [{"var": "usage.amount"}, 0.5]}',
            "action": {"type": "UPDATE", "target": "usage.amount"}}
    r = api.request("PUT", f"/v2/price_plans/{plan}/pricing_rules", json={"pricingRules": [rule]})
    assert r.status_code == 200, r.text
    [stored] = r.json()["data"]
    assert (stored["name"], stored["order"], stored["version"]) == ("Half", 1, 1)
    assert api.get(f"/v2/price_plans/{plan}/pricing_rules").json()["data"] == [stored]
    assert api.get(f"/v2/price_plans/{plan}/pricing_rules", params={"version": "1"}).json()["data"] == []
    before = api.state()
    bad = {**rule, "computation": "not json"}
    r = api.request("PUT", f"/v2/price_plans/{plan}/pricing_rules", json={"pricingRules": [bad, {**rule, "order": 1}]})
    assert r.status_code == 400
    assert r.json()["message"].startswith("pricingRules[0].computation: is not a JSON-logic expression")
    assert api.state() == before


def test_bad_input_changes_nothing(api: Api) -> None:
    plan = finalized(api)
    before = api.state()
    cases = [
        ("POST", "/v2/price_plans", {"name": "", "type": "BILLING", "supportedCurrencies": ["USD"]}, 400),
        ("POST", "/v2/price_plans", {"name": "x", "type": "BILLING", "supportedCurrencies": ["usd"]}, 400),
        ("POST", "/v2/price_plans", {"name": "x" * 51, "type": "BILLING", "supportedCurrencies": ["USD"]}, 400),
        ("POST", "/v2/price_plans", {"name": "x", "type": "BILLING", "supportedCurrencies": []}, 400),
        ("PATCH", f"/v2/price_plans/{plan}", {"supportedCurrencies": ["EUR"]}, 400),  # USD is billed
        ("PATCH", f"/v2/price_plans/{plan}", {"name": "renamed"}, 400),  # closed body
        ("PATCH", "/v2/price_plans/pp.nope", {"description": "x"}, 404),
        ("POST", f"/v2/price_plans/{plan}/rate_cards", {"operations": []}, 400),
        ("POST", f"/v2/price_plans/{plan}/finalize", {"migrationMode": "LATER"}, 400),
        ("POST", f"/v2/price_plans/{plan}/finalize", {}, 409),
        ("DELETE", f"/v2/price_plans/{plan}/discard", None, 409),
        ("GET", f"/v2/price_plans/{plan}?version=3", None, 400),
        ("GET", f"/v2/price_plans/{plan}?version=0", None, 400),
        ("POST", "/v2/price_plans/migration", {"sourceId": plan, "sourceVersion": 7, "migrationMode": "NONE"}, 400),
    ]
    for method, path, body, status in cases:
        r = api.request(method, path, json=body) if body is not None else api.request(method, path)
        assert r.status_code == status, (method, path, body, r.text)
        assert api.state() == before, (method, path, body)


def test_archived_plans_are_not_v2_plans(api: Api) -> None:
    plan = finalized(api)
    assert api.delete(f"/price_plans/{plan}").status_code == 200
    assert api.get(f"/v2/price_plans/{plan}").status_code == 404
    assert plan not in [p["id"] for p in api.get("/v2/price_plans", params={"pageSize": 100}).json()["data"]]


def _timeline(api: Api, account: str) -> list[tuple[int, str, str]]:
    data = api.get(f"/accounts/{account}/pricing_schedules").json()["data"]
    return [(s["version"], s["startDate"][:10], s["endDate"][:10]) for s in data]


@pytest.mark.parametrize(("mode", "versions_to_migrate", "expected"), [
    # GLOBEX-US on version 1 from 2023-12-01; the clock moved to 2024-01-15, a monthly cycle from the 1st
    ("NONE", "LATEST_VERSION", [(1, "2023-12-01", "2025-01-01")]),
    ("IMMEDIATE", "LATEST_VERSION", [(1, "2023-12-01", "2024-01-15"), (2, "2024-01-15", "2025-01-01")]),
    ("NEXT_CYCLE", "LATEST_VERSION", [(1, "2023-12-01", "2024-02-01"), (2, "2024-02-01", "2025-01-01")]),
    ("START_OF_CURRENT_CYCLE", "ALL_VERSION", [(1, "2023-12-01", "2024-01-01"), (2, "2024-01-01", "2025-01-01")]),
])
def test_finalize_moves_accounts_as_its_migration_mode_says(api: Api, mode: str, versions_to_migrate: str,
                                                           expected: list[tuple[int, str, str]]) -> None:
    plan = finalized(api)
    assert associate(api, "GLOBEX-US", plan, "2023-12-01", "2025-01-01").status_code == 200
    assert api.post("/__mock/clock", json={"to": "2024-01-15T00:00:00Z"}).status_code == 200
    assert ops(api, plan, op("UPDATE", "rides", usage(api, {"USD": 2}))).status_code == 200
    body = {"migrationMode": mode, "versionsToMigrate": versions_to_migrate}
    assert api.post(f"/v2/price_plans/{plan}/finalize", json=body).status_code == 200
    assert _timeline(api, "GLOBEX-US") == expected


def test_the_v2_migration_operation_moves_accounts(api: Api) -> None:
    plan = finalized(api)
    assert associate(api, "GLOBEX-US", plan, "2023-12-01", "2025-01-01").status_code == 200
    assert ops(api, plan, op("UPDATE", "rides", usage(api, {"USD": 2}))).status_code == 200
    assert api.post(f"/v2/price_plans/{plan}/finalize", json={}).status_code == 200
    body = {"sourceId": plan, "sourceVersion": 1, "targetId": plan, "targetVersion": 2,
            "migrationMode": "START_OF_CURRENT_CYCLE", "isPricePlanV2Migration": True}
    r = api.post("/v2/price_plans/migration", json=body)
    assert r.status_code == 201 and r.json() == {"success": True}
    assert _timeline(api, "GLOBEX-US") == [(1, "2023-12-01", "2024-01-01"), (2, "2024-01-01", "2025-01-01")]


def test_a_draft_survives_export_and_import(api: Api) -> None:
    plan = finalized(api)
    assert ops(api, plan, op("UPDATE", "rides", usage(api, {"USD": 2}))).status_code == 200
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code in (200, 204)
    assert versions(api, plan) == [(1, "ACTIVE"), (2, "DRAFT")]


def test_revenue_v2_names_the_rate_cards(api: Api) -> None:
    plan = finalized(api, {"USD": 1.5})
    meter = meter_ids(api)["Ride count"]
    body = {"currencyConfig": {"mode": "CUSTOM", "currency": "USD"},
            "pricePlanDetailsConfig": {"mode": "PRICE_PLAN", "pricePlanId": plan},
            "usageConfig": {"mode": "CUSTOM", "usageMap": {meter: 12}}, "licenseEntriesConfig": {"mode": "CUSTOM"}}
    r = api.post("/v2/revenue_calculator", json=body)
    assert r.status_code == 200, r.text
    [line] = r.json()["revenueInfo"]
    assert (line["rateCard"]["name"], line["usages"], line["slabRevenueSummaries"][0]["revenue"]) == (
        "rides", {meter: 12}, 18)


def test_togais_client_drives_a_plan_from_draft_to_finalized_and_migrates(sdk: Any) -> None:
    import togai_client

    v2 = togai_client.PricePlanV2Api(sdk)
    meters = {m.name: m.id for m in togai_client.UsageMetersApi(sdk).get_usage_meters_for_event_schema(status="ACTIVE").data}
    plan = v2.create_price_plan_v2(togai_client.CreatePricePlanV2Request(
        name="Rides V2", type="BILLING", supportedCurrencies=["USD"]))
    assert (plan.status, plan.version) == ("DRAFT", 1)
    card = {"billableId": meters["Ride count"], "type": "USAGE", "invoiceTiming": "IN_ARREARS", "rateCardDetails": {
        "usageRateCard": {"usageMeterId": meters["Ride count"], "ratePlan": {
            "pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
            "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 1}]}]}}}
    done = v2.bulk_price_plan_rate_card_operations(plan.id, togai_client.BulkRateCardOperationsRequest.from_dict(
        {"operations": [{"actionType": "CREATE", "rateCardName": "rides", "rateCard": card}]}))
    assert [c.name for c in done.rate_cards] == ["rides"]
    rules = v2.update_price_plan_pricing_rules(plan.id, togai_client.UpdatePricingRulesRequest.from_dict(
        {"pricingRules": [{"name": "Flat", "order": 1, "computation": "5", "action": {"type": "ADD"}}]}))
    assert [r.name for r in rules.data] == ["Flat"]
    assert v2.list_price_plan_errors(plan.id).data == []
    assert v2.finalize_price_plan(plan.id, togai_client.FinalizePricePlanRequest()).success is True
    assert v2.get_price_plan_v2(plan.id).status == "ACTIVE"
    v2.update_price_plan_v2(plan.id, togai_client.UpdatePricePlanV2Request(description="second"))
    v2.finalize_price_plan(plan.id, togai_client.FinalizePricePlanRequest(migrationMode="NONE"))
    assert [(v.version, v.status) for v in v2.list_price_plan_versions(plan.id).data] == [(1, "ACTIVE"), (2, "ACTIVE")]
    moved = v2.price_plan_migration_v2(togai_client.CreatePricePlanMigrationRequest(
        sourceId=plan.id, sourceVersion=1, targetId=plan.id, targetVersion=2, migrationMode="START_OF_CURRENT_CYCLE",
        isPricePlanV2Migration=True))
    assert moved.success is True


def test_the_demo_tenant_has_a_v2_draft_with_an_error(api: Api) -> None:
    plans = {p["name"]: p for p in api.get("/v2/price_plans", params={"pageSize": 100}).json()["data"]}
    draft = plans["Rides Go (v2 draft)"]
    assert (draft["status"], draft["version"], draft["supportedCurrencies"]) == ("DRAFT", 1, ["USD", "EUR"])
    assert errors(api, draft["id"]) == [
        ("RATE_CARD", "rides", "rate card rides has no rates in EUR, a supported currency of the plan")]


def test_an_imported_draft_is_checked(api: Api) -> None:
    plan = finalized(api)
    assert ops(api, plan, op("UPDATE", "rides", usage(api, {"USD": 2}))).status_code == 200
    state = api.get("/__mock/state").json()
    [record] = [p for p in state["pricePlans"] if p["id"] == plan]
    del record["draft"]["pricePlanDetails"]["supportedCurrencies"]
    before = api.state()
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and "draft.pricePlanDetails.supportedCurrencies: is required" in r.json()["message"]
    assert api.state() == before
