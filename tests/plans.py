"""Helpers for the price plan, association, job and revenue tests."""
from __future__ import annotations

from typing import Any

from conftest import Api


def meter_ids(api: Api) -> dict[str, str]:
    """The demo tenant's usage meters, by name."""
    return {m["name"]: m["id"] for m in api.get("/usage_meters").json()["data"]}


def usage_card(meter: str, currencies: tuple[str, ...] = ("USD",), model: str = "TIERED") -> dict[str, Any]:
    """1 per unit up to 10, then 0.5."""
    return {
        "usageMeterId": meter,
        "ratePlan": {"pricingModel": model, "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"},
                                                       {"order": 2, "startAfter": 10, "priceType": "PER_UNIT"}]},
        "rateValues": [{"currency": c, "slabRates": [{"order": 1, "rate": 1}, {"order": 2, "rate": 0.5}]}
                       for c in currencies],
    }


def plan_body(api: Api, name: str = "Plan", currencies: tuple[str, ...] = ("USD",), **details: Any) -> dict[str, Any]:
    """A plan pricing the demo ride count meter."""
    meter = meter_ids(api)["Ride count"]
    return {"name": name, "pricePlanDetails": {"supportedCurrencies": list(currencies),
                                               "usageRateCards": [usage_card(meter, currencies)], **details}}


def new_plan(api: Api, name: str = "Plan", active: tuple[str, ...] = ("USD",), **details: Any) -> dict[str, Any]:
    """A plan, activated in ``active`` (a DRAFT when empty)."""
    r = api.post("/price_plans", json=plan_body(api, name, tuple(dict.fromkeys(("USD", *active))), **details))
    assert r.status_code == 200, r.text
    plan: dict[str, Any] = r.json()
    if active:
        r = api.post(f"/price_plans/{plan['id']}/activate", json={"currencies": list(active)})
        assert r.status_code == 200, r.text
        plan = r.json()
    return plan


def associate(api: Api, account: str, plan_id: str, start: str, end: str, **extra: Any) -> Any:
    """``POST /accounts/{account}/price_plans`` (ASSOCIATE)."""
    body = {"mode": "ASSOCIATE", "pricePlanId": plan_id, "effectiveFrom": start, "effectiveUntil": end, **extra}
    return api.post(f"/accounts/{account}/price_plans", json=body)


def windows(api: Api, account: str) -> list[tuple[str, str, str]]:
    """The account's schedules as (plan name, start date, end date)."""
    data = api.get(f"/accounts/{account}/pricing_schedules", params={"pageSize": 100}).json()["data"]
    return [(s["pricePlanName"], s["startDate"][:10], s["endDate"][:10]) for s in data]
