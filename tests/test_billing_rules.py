"""The billing engine's last rules (issue 19): pricing rules on invoices, bill-run jobs.

Every expected amount is worked by hand in the row's comment from the plan's
rates, the rides ingested and Togai's documented rule; nothing calls the code
under test to compute an expectation.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Api
from test_billing import MONTHLY, _addon, _meter, move, ride

START = datetime(2024, 1, 1, tzinfo=UTC)



def _expr(logic: Any, meter: str, fee: str) -> str:
    """A JSON-logic expression with ``M`` (the rides meter) and ``F`` (the fee's add-on) filled in."""
    return json.dumps(logic).replace("<M>", meter).replace("<F>", fee)


def rules_account(api: Api, rules: list[dict[str, Any]], rate: Any = 2, fee: Any = 10,
                  commitment: Any = None, fee_timing: str = "IN_ARREARS",
                  overage: list[dict[str, Any]] = ()) -> tuple[str, str, str]:  # type: ignore[assignment]
    """An account on a monthly USD plan: each ride at ``rate``, a ``fee``, and ``rules`` (their condition and
    computation as JSON-logic trees, ``<M>``/``<F>`` standing for the meter and fee ids). Answers the account,
    the meter and the fee's add-on."""
    n = len(api.get("/accounts", params={"pageSize": 50}).json()["data"])
    account = f"RULES-{n}"
    r = api.post("/accounts", json={"id": account, "customerId": "ACME", "name": f"Rules {account}",
                                    "invoiceCurrency": "USD"})
    assert r.status_code == 201, r.text
    meter, addon = _meter(api), _addon(api, f"Platform {account}")
    stored = []
    for rule in rules:
        item = {**rule, "computation": _expr(rule["computation"], meter, addon)}
        if "condition" in rule:
            item["condition"] = _expr(rule["condition"], meter, addon)
        if "target" in item["action"]:
            item["action"] = {**item["action"], "target": item["action"]["target"].replace("<M>", meter)
                              .replace("<F>", addon)}
        stored.append(item)
    details: dict[str, Any] = {
        "supportedCurrencies": ["USD"], "pricingCycleConfig": MONTHLY,
        "usageRateCards": [{"usageMeterId": meter, "ratePlan": {
            "pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
            "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": rate}]}]}],
        "fixedFeeRateCards": [{"id": addon, "displayName": "Platform", "rateValues": [{"currency": "USD", "rate": fee}],
                               "enableProration": False, "invoiceTiming": fee_timing, "type": "RECURRING"}]}
    if overage:
        details["entitlementOverageRateCards"] = list(overage)
    if commitment is not None:
        details["minimumCommitment"] = {"displayName": "Commitment", "rateValues": [{"currency": "USD",
                                                                                     "rate": commitment}]}
    r = api.post("/price_plans", json={"name": f"Plan {account}", "pricePlanDetails": details,
                                       "pricingRules": stored})
    assert r.status_code in (200, 201), r.text
    plan = r.json()["id"]
    assert api.post(f"/price_plans/{plan}/activate", json={"currencies": ["USD"]}).status_code == 200
    r = api.post(f"/accounts/{account}/price_plans", json={"mode": "ASSOCIATE", "pricePlanId": plan,
                                                           "effectiveFrom": "2024-01-01",
                                                           "effectiveUntil": "2099-01-01"})
    assert r.status_code == 200, r.text
    return account, meter, addon


def january(api: Api, account: str) -> dict[str, Any]:
    """The account's invoice of January 2024 (DUE), read whole."""
    (summary,) = [i for i in api.get("/invoices", params={"owner_id": account}).json()["data"]
                  if i["startDate"].startswith("2024-01-01") and i["status"] != "DRAFT"]
    invoice: dict[str, Any] = api.get(f"/invoices/{summary['id']}").json()
    return invoice


def plan_line(invoice: dict[str, Any]) -> dict[str, Any]:
    (plan,) = [x for x in invoice["revenueInfo"]["lineItems"] if x["type"] == "PRICE_PLAN_AMOUNT"]
    return plan


def lines(invoice: dict[str, Any]) -> list[tuple[str, Any]]:
    """(type, value) of the lines under the plan's line."""
    return [(x["type"], x["value"]) for x in plan_line(invoice).get("lineItems", [])]


TEN = ["2024-01-10T10:00:00Z"] * 10
USAGE, FEE, ADD = "USAGE_RATE_CARD_AMOUNT", "FIXED_FEE_RATE_CARD_AMOUNT", "TOTAL_PRICING_RULE_ADDITION_AMOUNT"
U, R, FF = {"var": "usage.urc.<M>"}, {"var": "revenue.urc.<M>"}, {"var": "revenue.ff.<F>"}

# (row, rules, rides, commitment, expected total, expected plan lines, expected log types in order)
TABLE: list[tuple[str, list[dict[str, Any]], list[str], Any, Any, list[tuple[str, Any]], list[str]]] = [
    # 10 rides at 2 = 20; usage 10 > 5, so revenue becomes 20 x 0.9 = 18; + the 10 fee = 28.
    ("update revenue when the condition holds",
     [{"name": "Bulk", "order": 1, "condition": {">": [U, 5]}, "computation": {"*": [R, 0.9]},
       "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}}],
     TEN, None, 28, [(USAGE, 18), (FEE, 10)], ["CONDITION_TRUE"]),
    # 3 rides at 2 = 6; usage 3 > 5 is false: nothing changes; 6 + 10 = 16.
    ("condition false: skipped",
     [{"name": "Bulk", "order": 1, "condition": {">": [U, 5]}, "computation": {"*": [R, 0.9]},
       "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}}],
     TEN[:3], None, 16, [(USAGE, 6), (FEE, 10)], ["CONDITION_FALSE"]),
    # ADD a discount of -5 when revenue 20 > 10: 20 + 10 - 5 = 25.
    ("add a discount line",
     [{"name": "Loyalty", "order": 1, "condition": {">": [R, 10]}, "computation": {"-": [0, 5]},
       "action": {"type": "ADD", "id": "loyalty", "description": "Loyalty discount"}}],
     TEN, None, 25, [(USAGE, 20), (FEE, 10), (ADD, -5)], ["CONDITION_TRUE"]),
    # UPDATE the usage: 2 free rides, 10 - 2 = 8 priced through the slab at 2 = 16; + 10 = 26.
    ("update usage, priced again through the slabs",
     [{"name": "Two free", "order": 1, "computation": {"-": [U, 2]},
       "action": {"type": "UPDATE", "target": "usage.urc.<M>"}}],
     TEN, None, 26, [(USAGE, 16), (FEE, 10)], ["CONDITION_TRUE"]),
    # The fee is waived when usage 10 > 5: 20 + 0 = 20.
    ("update a fixed fee's revenue",
     [{"name": "Waive", "order": 1, "condition": {">": [U, 5]}, "computation": 0,
       "action": {"type": "UPDATE", "target": "revenue.ff.<F>"}}],
     TEN, None, 20, [(USAGE, 20), (FEE, 0)], ["CONDITION_TRUE"]),
    # A variable no rate card has: the computation gives no number, the rule is skipped: 20 + 10 = 30.
    ("computation error: skipped, recorded",
     [{"name": "Broken", "order": 1, "computation": {"+": [{"var": "revenue.urc.nope"}, 1]},
       "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}},
      {"name": "Divide", "order": 2, "computation": {"/": [R, 0]},
       "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}}],
     TEN, None, 30, [(USAGE, 20), (FEE, 10)], ["COMPUTATION_ERROR", "COMPUTATION_ERROR"]),
    # 3 rides at 1 = 3; x 0.3333 = 0.9999 -> 1.00 (USD, half up); + 10 = 11.
    ("rounded to the minor unit",
     [{"name": "Third", "order": 1, "computation": {"*": [R, 0.3333]},
       "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}}],
     TEN[:3], None, 11, [(USAGE, 1), (FEE, 10)], ["CONDITION_TRUE"]),
    # Rules run by order, not as listed: order 1 halves 20 -> 10, then order 2's condition 10 > 15 is false;
    # 10 + 10 = 20 (the other way round: 20 > 15 would add 100).
    ("rules run in their order",
     [{"name": "Surcharge", "order": 2, "condition": {">": [R, 15]}, "computation": 100,
       "action": {"type": "ADD", "description": "Surcharge"}},
      {"name": "Half", "order": 1, "computation": {"*": [R, 0.5]},
       "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}}],
     TEN, None, 20, [(USAGE, 10), (FEE, 10)], ["CONDITION_TRUE", "CONDITION_FALSE"]),
    # Togai's order (invoices overview): pricing rules, then commitments. 20 halved = 10, + 10 fee = 20,
    # the commitment of 50 trues it up by 30: 50. (Commitment first would give 30 -> 50, then halved: 40.)
    ("pricing rules before the minimum commitment",
     [{"name": "Half", "order": 1, "computation": {"*": [R, 0.5]},
       "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}}],
     TEN, 50, 50, [(USAGE, 10), (FEE, 10), ("TRUE_UP_AMOUNT", 30)], ["CONDITION_TRUE"]),
]


@pytest.mark.parametrize("row", TABLE, ids=[r[0] for r in TABLE])
def test_pricing_rules_on_the_invoice(capi: Api, row: Any) -> None:
    _, rules, rides, commitment, total, expected_lines, kinds = row
    account, _, _ = rules_account(capi, rules, rate=1 if "rounded" in row[0] else 2, commitment=commitment)
    ride(capi, account, *rides)
    # The ongoing invoice shows the rules' effect before the cycle closes (the preview agrees with the bill).
    capi.request("PUT", f"/accounts/{account}/miscellaneous_charges", json={"items": []})  # opens the ongoing one
    (ongoing,) = [i for i in capi.get("/invoices/bill_runs").json()["data"] if i["ownerId"] == account]
    assert capi.get(f"/invoices/{ongoing['id']}").json()["totalAmount"] == total
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert (invoice["status"], invoice["totalAmount"]) == ("DUE", total)
    assert lines(invoice) == expected_lines
    logs = capi.get(f"/invoice/{invoice['id']}/pricing_rules_logs").json()["data"]
    assert [log["type"] for log in logs] == kinds


def test_logs_say_what_changed(capi: Api) -> None:
    # 10 rides at 2 = 20, UPDATE to 18: the log holds the old and new revenue and the variables read.
    rules = [{"name": "Bulk", "order": 1, "condition": {">": [U, 5]}, "computation": {"*": [R, 0.9]},
              "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}},
             {"name": "Broken", "order": 2, "computation": {"/": [R, 0]},
              "action": {"type": "UPDATE", "target": "revenue.urc.<M>"}}]
    account, meter, _ = rules_account(capi, rules)
    ride(capi, account, *TEN)
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    first, second = capi.get(f"/invoice/{invoice['id']}/pricing_rules_logs").json()["data"]
    assert first["changes"]["key"] == f"revenue.urc.{meter}"
    assert (first["changes"]["oldRevenue"], first["changes"]["newRevenue"]) == (20, 18)
    assert first["variablesValue"][f"usage.urc.{meter}"]["value"] == "10"
    assert first["rule"]["name"] == "Bulk"
    assert second["type"] == "COMPUTATION_ERROR" and second["changes"]["errorMessage"]
    # The usage line's slab (20) and the rule's change (-2) add up to it (18).
    (usage,) = [x for x in plan_line(invoice)["lineItems"] if x["type"] == USAGE]
    assert [(x["type"], x["value"]) for x in usage["lineItems"]] == [
        ("USAGE_RATE_CARD_SLAB_AMOUNT", 20), ("PRICING_RULE_REVENUE_UPDATE_AMOUNT", -2)]


def test_a_discount_limits_what_credits_pay(capi: Api) -> None:
    # 10 rides = 20, + 10 fee = 30, a rule adds -25: the invoice is 5. A 100 credit pays 5 of it, not 30.
    rules = [{"name": "Deal", "order": 1, "computation": -25, "action": {"type": "ADD", "description": "Deal"}}]
    account, _, _ = rules_account(capi, rules)
    r = capi.post("/credits", json={"creditRequests": [{"accountId": account, "creditAmount": 100, "priority": 1,
                                                        "purpose": "deal", "effectiveFrom": "2024-01-01"}]})
    assert r.status_code in (200, 201), r.text
    credit = r.json()["credits"][0]["id"]
    ride(capi, account, *TEN)
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert invoice["totalAmount"] == 0
    assert capi.get(f"/credits/{credit}").json()["consumedAmount"] == 5


def test_no_rules_no_logs(capi: Api) -> None:
    account, _, _ = rules_account(capi, [])
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert invoice["totalAmount"] == 10
    assert capi.get(f"/invoice/{invoice['id']}/pricing_rules_logs").json() == {"data": []}


# ---- bill runs that wait for confirmation --------------------------------------------------------------------


def _jobs(api: Api, kind: str = "BILL_RUN") -> list[dict[str, Any]]:
    return [j for j in api.get("/jobs", params={"pageSize": 50}).json()["data"] if j["type"] == kind]


def test_bill_run_with_confirmation_makes_a_job(capi: Api) -> None:
    # January (10 rides at 2 + the 10 fee = 30) closes when the clock passes 1 February; a bill run asked
    # for with require_confirmation waits as a BILL_RUN job and bills nothing until confirmed.
    account, _, _ = rules_account(capi, [])
    ride(capi, account, *TEN)
    move(capi, to="2024-02-01T00:00:00Z")
    before = capi.get("/invoices", params={"owner_id": account}).json()
    assert capi.post("/invoices/bill_runs", params={"require_confirmation": "true"}).json() == {"success": True}
    (job,) = _jobs(capi)
    assert job["status"] == "WAITING_FOR_CONFIRMATION"
    shown = capi.get(f"/jobs/{job['id']}").json()
    assert (shown["totalJobEntries"], shown["pendingJobEntries"]) == (0, 0)
    assert capi.get("/invoices", params={"owner_id": account}).json() == before
    # Confirmed, it runs the bill run: January was billed once when it closed, so nothing more is billed.
    done = capi.post(f"/jobs/{job['id']}/confirm")
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["totalJobEntries"]) == ("COMPLETED", 0)
    assert capi.get("/invoices", params={"owner_id": account}).json() == before
    assert january(capi, account)["totalAmount"] == 30
    # A settled job cannot be confirmed again (400 naming job_id); a second job, rejected, bills nothing.
    again = capi.post(f"/jobs/{job['id']}/confirm")
    assert again.status_code == 400 and "job_id" in again.text
    capi.post("/invoices/bill_runs", params={"require_confirmation": "true"})
    second = next(j for j in _jobs(capi) if j["id"] != job["id"])
    assert capi.post(f"/jobs/{second['id']}/reject").json()["status"] == "CANCELLED"
    assert capi.get("/invoices", params={"owner_id": account}).json() == before


def test_bill_run_without_confirmation_makes_no_job(capi: Api) -> None:
    assert capi.post("/invoices/bill_runs").status_code == 200
    assert capi.post("/invoices/bill_runs", params={"require_confirmation": "false"}).status_code == 200
    assert _jobs(capi) == []


# ---- entitlement overage ------------------------------------------------------------------------------------


def _rides_feature(api: Api) -> str:
    return next(f["id"] for f in api.get("/features").json()["data"] if f["name"] == "Rides")


def _entitled(api: Api, account: str, distance: str) -> int:
    """An entitled ride of ``distance`` (the demo's Rides feature consumes rides.distance)."""
    body = {"event": {"schemaName": "rides", "timestamp": "2024-01-02T00:00:00Z", "accountId": account,
                      "attributes": [{"name": "distance", "value": distance}], "dimensions": {}}}
    status: int = api.post("/entitled", json=body).status_code
    return status


def test_entitlement_overage_is_billed_through_its_rate_card(capi: Api) -> None:
    rides = _rides_feature(capi)
    card = {"featureId": rides, "displayName": "Extra rides", "maxQuantity": 20,
            "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"},
                                                             {"order": 2, "startAfter": 10, "priceType": "PER_UNIT"}]},
            "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 0.5}, {"order": 2, "rate": 0.25}]}]}
    account, _, _ = rules_account(capi, [], overage=[card])
    pack = next(p["id"] for p in capi.get("/price_plans", params={"pageSize": 50}).json()["data"]
                if p["name"] == "Ride pack")
    r = capi.post(f"/accounts/{account}/purchases", json={"pricePlanId": pack, "quantity": 1})
    assert r.status_code in (200, 201), r.text  # 10 Rides credits
    # 12: 10 from the credits, 2 of overage; 15 more: overage 17; 4 more would be 21 > the limit of 20: refused.
    assert _entitled(capi, account, "12") == 200
    assert _entitled(capi, account, "15") == 200
    assert _entitled(capi, account, "4") == 400
    shown = capi.get(f"/accounts/{account}/features/{rides}").json()
    assert (shown["granted"], shown["balance"], shown["overageLimit"], shown["usedOverage"]) == (10, 0, 20, 17)
    (overage,) = [e for e in capi.get(f"/accounts/{account}/features/{rides}/entries").json()["data"]
                  if e["source"] == "OVERAGE"]
    assert (overage["used"], overage["effectiveFrom"][:10], overage["effectiveUntil"][:10]) == (
        17, "2024-01-01", "2024-02-01")
    # January: no rides metered (0), the 10 fee, and 17 of overage through the tiers: 10 x 0.5 + 7 x 0.25 = 6.75.
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert lines(invoice) == [(USAGE, 0), (FEE, 10), ("ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT", 6.75)]
    assert invoice["totalAmount"] == 16.75
    (extra,) = [x for x in plan_line(invoice)["lineItems"] if x["type"] == "ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT"]
    assert (extra["quantity"], [x["value"] for x in extra["lineItems"]]) == (17, [5, 1.75])
    # February is a new cycle: its overage starts at 0 (3 of it now), and January's invoice is unchanged.
    assert _entitled(capi, account, "3") == 200
    assert capi.get(f"/accounts/{account}/features/{rides}").json()["usedOverage"] == 3
    assert january(capi, account)["totalAmount"] == 16.75
    # An export with OVERAGE entries imports back as it was.
    state = capi.get("/__mock/state").json()
    r = capi.request("PUT", "/__mock/state", json=state)
    assert r.status_code in (200, 204), r.text
    again = capi.get("/__mock/state").json()
    assert [e for e in again["featureCreditEntries"] if e["source"] == "OVERAGE"] == [
        e for e in state["featureCreditEntries"] if e["source"] == "OVERAGE"]


def test_without_an_overage_card_an_event_past_the_credits_is_refused(capi: Api) -> None:
    account, _, _ = rules_account(capi, [])
    assert _entitled(capi, account, "1") == 400
    shown = capi.get(f"/accounts/{account}/features/{_rides_feature(capi)}").json()
    assert (shown["usedOverage"], "overageLimit" in shown) == (0, False)


def test_pricing_rules_read_and_update_the_overage(capi: Api) -> None:
    # 12 of overage (no credits) at 0.5 = 6; a rule frees 2 of it when it is above 10: 10 x 0.5 = 5; + 10 fee = 15.
    rides = _rides_feature(capi)
    card = {"featureId": rides, "ratePlan": {"pricingModel": "TIERED", "slabs": [
        {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
        "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 0.5}]}]}
    usage = {"var": f"usage.eorc.{rides}"}
    rule = {"name": "Two free", "order": 1, "condition": {">": [usage, 10]}, "computation": {"-": [usage, 2]},
            "action": {"type": "UPDATE", "target": f"usage.eorc.{rides}"}}
    account, _, _ = rules_account(capi, [rule], overage=[card])
    assert _entitled(capi, account, "12") == 200  # no credits, no maxQuantity: all of it is overage
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert lines(invoice) == [(USAGE, 0), (FEE, 10), ("ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT", 5)]
    assert invoice["totalAmount"] == 15


def test_an_ingested_event_past_the_credits_takes_the_overage_its_plan_allows(capi: Api) -> None:
    # /ingest consumes feature credits as /entitled does (issue 20), and beyond them the overage (issue 19):
    # 10 credits, a limit of 20 a cycle. 12 = 10 + 2 of overage; 15 more: 17; 4 more would be 21: refused.
    rides = _rides_feature(capi)
    card = {"featureId": rides, "maxQuantity": 20, "ratePlan": {"pricingModel": "TIERED", "slabs": [
        {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
        "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 0.5}]}]}
    account, _, _ = rules_account(capi, [], overage=[card])
    pack = next(p["id"] for p in capi.get("/price_plans", params={"pageSize": 50}).json()["data"]
                if p["name"] == "Ride pack")
    assert capi.post(f"/accounts/{account}/purchases", json={"pricePlanId": pack, "quantity": 1}).status_code in (200, 201)

    def ride(event_id: str, distance: str) -> str:
        body = {"id": event_id, "schemaName": "rides", "accountId": account, "timestamp": "2024-01-02T10:00:00Z",
                "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}
        assert capi.post("/ingest", json={"event": body}).status_code == 202
        status: str = capi.get(f"/events/{event_id}").json()["events"][0]["ingestionStatus"]["status"]
        return status

    assert ride("o1", "12") == "INGESTION_COMPLETED_EVENT_METERED"
    assert ride("o2", "15") == "INGESTION_COMPLETED_EVENT_METERED"
    assert ride("o3", "4") == "INGESTION_FAILED_INSUFFICIENT_CREDITS"
    shown = capi.get(f"/accounts/{account}/features/{rides}").json()
    assert (shown["balance"], shown["usedOverage"]) == (0, 17)
