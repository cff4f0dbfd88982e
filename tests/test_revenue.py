"""POST /revenue_calculator: revenue per rate card, computed with the pricing module (worked numbers)."""
from __future__ import annotations

from typing import Any

import pytest
import togai_client
from conftest import Api
from plans import meter_ids, usage_card


def rides_pro(api: Api) -> str:
    return next(p["id"] for p in api.get("/price_plans").json()["data"] if p["name"] == "Rides Pro")


def request(usage: dict[str, Any], plan: dict[str, Any], currency: dict[str, Any] | None = None,
            licenses: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"currencyConfig": currency or {"mode": "CUSTOM", "currency": "USD"}, "pricePlanDetailsConfig": plan,
            "usageConfig": usage, "licenseEntriesConfig": licenses or {"mode": "CUSTOM", "custom": []}}


def test_a_stored_plan_priced_with_given_usage(api: Api) -> None:
    meters = meter_ids(api)
    usage = {"mode": "CUSTOM", "usageMap": {meters["Ride count"]: 150, meters["Ride distance"]: 1250.5}}
    r = api.post("/revenue_calculator", json=request(usage, {"mode": "PRICE_PLAN", "pricePlanId": rides_pro(api)}))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["currency"] == "USD" and answer["pricePlanDetails"]["activeCurrencies"] == ["USD", "EUR"]
    count, distance = answer["revenueInfo"]
    # Rides: a flat 49 for the first 100, then 0.4 each: 49 + 50 * 0.4 = 69.
    assert count["usages"] == {meters["Ride count"]: 150}
    assert count["slabRevenueSummaries"] == [{"order": 1, "usage": 100, "revenue": 49},
                                             {"order": 2, "usage": 50, "revenue": 20}]
    # Distance: 0.2 per km up to 1000 (200), then 15 per started 100 km: 250.5 km are 3 packages (45).
    assert distance["slabRevenueSummaries"] == [
        {"order": 1, "usage": 1000, "revenue": 200},
        {"order": 2, "usage": 250.5, "revenue": 45, "metadata": {"packageQuantity": 3}},
    ]


def test_an_accounts_plan_in_its_invoice_currency(api: Api) -> None:
    usage = {"mode": "CUSTOM", "usageMap": {meter_ids(api)["Ride count"]: 150}}
    body = request(usage, {"mode": "ACCOUNT", "accountId": "UMBRELLA-EU", "effectiveOn": "2024-05-01T00:00:00Z"},
                   {"mode": "ACCOUNT_INVOICE", "accountId": "UMBRELLA-EU"})
    answer = api.post("/revenue_calculator", json=body).json()
    assert answer["currency"] == "EUR"
    # 45 flat, then 50 * 0.35 = 17.5: exact, not 17.499999.
    assert [s["revenue"] for s in answer["revenueInfo"][0]["slabRevenueSummaries"]] == [45, 17.5]
    assert answer["revenueInfo"][1]["slabRevenueSummaries"][0] == {"order": 1, "usage": 0, "revenue": 0}


def test_a_plan_of_the_request_with_fixed_fees_and_licenses(api: Api) -> None:
    add_ons = {a["type"]: a["id"] for a in api.get("/addons").json()["data"]}
    license_card = {**usage_card("x"), "id": add_ons["LICENSE"], "enableProration": False}
    del license_card["usageMeterId"]
    details = {"supportedCurrencies": ["USD"],
               "fixedFeeRateCards": [{"id": add_ons["FIXED_FEE"], "enableProration": False,
                                      "rateValues": [{"currency": "USD", "rate": 99}]}],
               "licenseRateCards": [license_card]}
    licenses = {"mode": "CUSTOM", "custom": [
        {"licenseId": add_ons["LICENSE"], "quantity": 8, "effectiveFrom": "2024-01-01T00:00:00Z"},
        {"licenseId": add_ons["LICENSE"], "quantity": 4, "effectiveFrom": "2024-01-10T00:00:00Z"}]}
    body = request({"mode": "LOOKUP_RANGE", "lookupRange": {"start": "2024-01-01T00:00:00Z",
                                                            "end": "2024-02-01T00:00:00Z", "accountId": "ACME-US"}},
                   {"mode": "CUSTOM", "pricePlanDetails": details}, licenses=licenses)
    r = api.post("/revenue_calculator", json=body)  # no usage rate card needs the lookup
    assert r.status_code == 200, r.text
    fixed, seats = r.json()["revenueInfo"]
    assert fixed["fixedFeeRevenueSummary"] == {"revenue": 99}
    # 12 seats: 10 at 1, 2 at 0.5.
    assert seats["usages"] == {add_ons["LICENSE"]: 12}
    assert [s["revenue"] for s in seats["licenseRevenueSummary"]] == [10, 1]


@pytest.mark.parametrize(("change", "message"), [
    ({"usageConfig": {"mode": "LOOKUP_CYCLE", "lookupCycle": {"accountId": "ACME-US"}}},
     "usageConfig.mode: LOOKUP_CYCLE needs recorded usage"),
    ({"currencyConfig": {"mode": "CUSTOM", "currency": "JPY"}}, "currencyConfig: the price plan does not support JPY"),
    ({"currencyConfig": {"mode": "CUSTOM"}}, "currencyConfig.currency: is required when mode is CUSTOM"),
    ({"pricePlanDetailsConfig": {"mode": "PRICE_PLAN", "pricePlanId": "pp.nope"}},
     "pricePlanDetailsConfig.pricePlanId: no price plan with id 'pp.nope'"),
    ({"pricePlanDetailsConfig": {"mode": "ACCOUNT", "accountId": "GLOBEX-US"}},
     "pricePlanDetailsConfig.effectiveOn: account 'GLOBEX-US' has no price plan then"),
])
def test_what_cannot_be_priced_is_a_400(api: Api, change: dict[str, Any], message: str) -> None:
    body = {**request({"mode": "CUSTOM", "usageMap": {}}, {"mode": "PRICE_PLAN", "pricePlanId": rides_pro(api)}),
            **change}
    r = api.post("/revenue_calculator", json=body)
    assert r.status_code == 400 and r.json()["message"].startswith(message), r.text


def test_togai_client_reads_the_revenue(sdk: togai_client.ApiClient) -> None:
    plan = next(p for p in togai_client.PricePlansApi(sdk).get_price_plans().data if p.name == "Rides Pro")
    meter = plan.usage_meters[0]
    body = togai_client.CalculateRevenueRequest.from_dict(
        request({"mode": "CUSTOM", "usageMap": {meter: 101}}, {"mode": "PRICE_PLAN", "pricePlanId": plan.id}))
    answer = togai_client.PriceExperimentationApi(sdk).calculate_revenue(body)
    assert [s.revenue for s in answer.revenue_info[0].slab_revenue_summaries] == [49, 0.4]
