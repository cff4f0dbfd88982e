"""Purchases and purchase proposals: buying a PURCHASE plan grants its entitlements; proposals wait for an
answer -- over HTTP and with Togai's client."""
from __future__ import annotations

from typing import Any

import togai_client
from conftest import Api
from test_entitlements import credits, feature


def plan(api: Api, name: str = "Ride pack") -> dict[str, Any]:
    return next(p for p in api.get("/__mock/state").json()["pricePlans"] if p["name"] == name)


def buy(api: Api, account: str = "GLOBEX-US", **body: Any) -> Any:
    return api.post(f"/accounts/{account}/purchases", json={"pricePlanId": plan(api)["id"], **body})


def test_a_purchase_grants_the_plans_entitlements_times_the_quantity(api: Api) -> None:
    r = buy(api, quantity=3, effectiveFrom="2024-01-01")
    assert r.status_code == 200, r.text
    made = r.json()
    assert (made["status"], made["type"], made["invoiceCurrency"], made["pricePlanVersion"]) == (
        "SUCCESS", "ENTITLEMENT_GRANT", "USD", 1)
    assert credits(api, "GLOBEX-US", "Rides") == (30, 30)
    assert credits(api, "GLOBEX-US", "Support tickets") == (1.5, 1.5)
    shown = api.get(f"/purchases/{made['id']}").json()
    assert [(f["name"], f["creditsGranted"], f["creditsAvailable"]) for f in shown["features"]] == [
        ("Rides", 30, 30), ("Support tickets", 1.5, 1.5)]
    # Durations run from the purchase's effectiveFrom: P100Y from 2024-01-01.
    assert {(f["effectiveFrom"], f["effectiveUntil"]) for f in shown["features"]} == {
        ("2024-01-01T00:00:00.000Z", "2124-01-01T00:00:00.000Z")}


def test_the_override_replaces_the_plans_entitlement_cards(api: Api) -> None:
    seats = feature(api, "Seats")
    card = {"featureId": seats, "featureConfigs": [{"effectiveFrom": "P1D", "effectiveUntil": "P1M", "featureCreditLimit": 4}],
            "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "FLAT"}]},
            "rateValues": [], "invoiceTiming": "IN_ADVANCE"}
    made = buy(api, purchasePlanOverride={"billingEntitlementRateCards": [card]}, effectiveFrom="2024-01-31").json()
    (granted,) = api.get(f"/purchases/{made['id']}").json()["features"]
    assert (granted["id"], granted["creditsGranted"]) == (seats, 4)
    assert (granted["effectiveFrom"], granted["effectiveUntil"]) == ("2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z")
    assert credits(api, "GLOBEX-US", "Rides") == (0, 0)


def test_what_cannot_be_bought(api: Api) -> None:
    before = api.get("/__mock/state").json()
    draft = plan(api, "Rides Enterprise (draft)")["id"]
    cases = [
        ({"pricePlanId": None}, "pricePlanId: is required for an ENTITLEMENT_GRANT purchase"),
        ({"pricePlanId": "pp.nope"}, "pricePlanId: no price plan with id 'pp.nope'"),
        ({"pricePlanId": draft}, "is a DRAFT BILLING plan; an ACTIVE PURCHASE plan is bought"),
        ({"type": "WALLET_TOPUP"}, "type: the mock makes entitlement grants only"),
        ({"quantity": 0}, "quantity: must be at least 1"),
        ({"purchasePlanOverride": {"billingEntitlementRateCards": [{
            "featureId": "feature.nope", "featureConfigs": [{"effectiveUntil": "P1M", "featureCreditLimit": 1}],
            "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "FLAT"}]},
            "rateValues": [], "invoiceTiming": "IN_ADVANCE"}]}},
         "purchasePlanOverride.billingEntitlementRateCards[0].featureId: no feature with id 'feature.nope'"),
    ]
    for change, says in cases:
        body = {k: v for k, v in {"pricePlanId": plan(api)["id"], **change}.items() if v is not None}
        r = api.post("/accounts/GLOBEX-US/purchases", json=body)
        assert r.status_code == 400 and says in r.json()["message"], (change, r.text)
    r = buy(api, "GLOBEX-UK")  # the plan is active in USD and EUR, the account invoices in GBP
    assert r.status_code == 400 and "not active in GBP" in r.json()["message"]
    assert buy(api, "NOPE").status_code == 404
    api.delete("/accounts/GLOBEX-US")
    assert buy(api).status_code == 400
    after = api.get("/__mock/state").json()
    assert (after["purchases"], after["featureCreditEntries"]) == (before["purchases"], before["featureCreditEntries"])


def test_an_idempotency_key_buys_once_per_account(api: Api) -> None:
    first = buy(api, idempotencyKey="k").json()
    assert buy(api, idempotencyKey="k").json() == first
    assert credits(api, "GLOBEX-US", "Rides") == (10, 10)
    assert buy(api, "ACME-US", idempotencyKey="k").json()["id"] != first["id"]


def test_an_accounts_purchases_are_listed(api: Api) -> None:
    made = buy(api).json()
    listed = api.get("/accounts/GLOBEX-US/purchases").json()["data"]
    assert [p["id"] for p in listed] == [made["id"]] and "accountId" not in listed[0]
    assert len(api.get("/accounts/ACME-US/purchases").json()["data"]) == 1
    assert api.get("/accounts/NOPE/purchases").status_code == 404
    assert api.get("/purchases/purchase.nope").status_code == 404


def proposal(api: Api, **body: Any) -> Any:
    return api.post("/accounts/GLOBEX-US/purchase_proposals", json={
        "pricePlanId": plan(api)["id"], "type": "ENTITLEMENT_GRANT", "paymentMode": "POSTPAID", **body})


def test_an_approved_proposal_makes_the_purchase_once(api: Api) -> None:
    made = proposal(api, quantity=2).json()
    assert made["status"] == "PROPOSAL_ACTIVE" and "proposalResponseDate" not in made
    assert credits(api, "GLOBEX-US", "Rides") == (0, 0)
    r = api.post(f"/purchase_proposals/{made['id']}/update_status", json={"status": "APPROVE"})
    assert r.status_code == 200 and r.json()["status"] == "PROPOSAL_APPROVED" and r.json()["proposalResponseDate"]
    assert credits(api, "GLOBEX-US", "Rides") == (20, 20)
    assert len(api.get("/accounts/GLOBEX-US/purchases").json()["data"]) == 1
    again = api.post(f"/purchase_proposals/{made['id']}/update_status", json={"status": "DECLINE"})
    assert (again.status_code, again.json()["message"]) == (
        400, f"purchase_proposal_id: proposal '{made['id']}' is PROPOSAL_APPROVED; only an active one is answered")


def test_a_declined_or_expired_proposal_grants_nothing(api: Api) -> None:
    made = proposal(api).json()
    declined = api.post(f"/purchase_proposals/{made['id']}/update_status", json={"status": "DECLINE"}).json()
    assert declined["status"] == "PROPOSAL_DECLINED"
    old = proposal(api, expiryDate="2000-01-01T00:00:00Z").json()
    assert old["status"] == "PROPOSAL_EXPIRED"
    assert api.get(f"/purchase_proposals/{old['id']}").json()["status"] == "PROPOSAL_EXPIRED"
    assert api.post(f"/purchase_proposals/{old['id']}/update_status", json={"status": "APPROVE"}).status_code == 400
    assert credits(api, "GLOBEX-US", "Rides") == (0, 0)
    statuses = [p["status"] for p in api.get("/accounts/GLOBEX-US/purchase_proposals").json()["data"]]
    assert statuses == ["PROPOSAL_ACTIVE", "PROPOSAL_DECLINED", "PROPOSAL_EXPIRED"]  # the demo one first


def test_a_proposal_is_checked_like_a_purchase(api: Api) -> None:
    r = proposal(api, quantity=0)
    assert (r.status_code, r.json()["message"]) == (400, "quantity: must be at least 1")
    assert api.get("/purchase_proposals/proposal.nope").status_code == 404


def test_import_refuses_purchases_and_proposals_the_api_cannot_make(api: Api) -> None:
    state = api.get("/__mock/state").json()
    bad = {**state, "purchases": [{**state["purchases"][0], "status": "PENDING"}, *state["purchases"][1:]]}
    assert api.request("PUT", "/__mock/state", json=bad).status_code == 400
    answered = {**state["purchaseProposals"][0], "status": "PROPOSAL_APPROVED"}
    r = api.request("PUT", "/__mock/state", json={**state, "purchaseProposals": [answered]})
    assert r.status_code == 400 and "proposalResponseDate" in r.json()["message"]
    assert api.get("/__mock/state").json() == state


def test_purchases_and_proposals_with_togais_client(sdk: togai_client.ApiClient) -> None:
    accounts = togai_client.AccountsApi(sdk)
    plans = togai_client.PricePlansApi(sdk).get_price_plans().data
    plan_id = next(p.id for p in plans if p.name == "Ride pack")
    bought = accounts.initiate_one_time_entitlement_plan(
        "GLOBEX-US", togai_client.CreatePurchaseRequest(price_plan_id=plan_id, quantity=2, idempotency_key="sdk"))
    assert bought.status == togai_client.PurchaseStatus.SUCCESS
    assert [f.credits_granted for f in accounts.get_purchase(bought.id).features] == [20, 1]
    assert [p.id for p in accounts.list_account_purchases("GLOBEX-US").data] == [bought.id]
    offered = accounts.create_proposal("GLOBEX-US", togai_client.CreateProposalRequest(
        price_plan_id=plan_id, type=togai_client.PurchaseType.ENTITLEMENT_GRANT, payment_mode="PREPAID"))
    assert accounts.get_proposal(offered.id).status == togai_client.PurchaseStatus.PROPOSAL_ACTIVE
    declined = accounts.update_proposal_status(offered.id, togai_client.UpdateProposalStatus(status="DECLINE"))
    assert declined.status == togai_client.PurchaseStatus.PROPOSAL_DECLINED
    assert len(accounts.list_account_proposals("GLOBEX-US").data) == 2  # the demo one and this
