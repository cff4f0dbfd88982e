"""Togai's newer contract for price plans (v2) and the revenue calculator v2: requests into rule calls.

The plans are the v1 plans' records (:mod:`mock_server.domain.pricing.plans_v2`
says how a draft lives beside them); these handlers read the validated
request, call a rule and render ``PricePlanV2``, ``RateCard`` and
``ValidatedEntityError`` shapes.
"""
from __future__ import annotations

from typing import Any

from ..domain.core.cursors import page_of, paginate
from ..domain.core.money import to_json
from ..domain.core.store import Record, Store
from ..domain.pricing import plans, plans_v2, rate_cards, revenue
from .call import Call, Handler


def _version(call: Call) -> int | None:
    text = call.params.get("version")
    return None if text is None else int(text)


def _cards(plan: Record, entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [rate_cards.render(n, plan["id"], entry["id"]) for n in rate_cards.cards_of(entry["pricePlanDetails"])]


def _page(items: list[dict[str, Any]], key: str, call: Call) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of a short rendered list, its tokens keyed by each item's ``key``."""
    keyed = [{"id": item[key], "item": item} for item in items]
    page, extra = page_of(keyed, call.params.get("nextToken"), call.params.get("pageSize"))
    return [k["item"] for k in page], extra


def list_plans(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/price_plans``: oldest first, each at its newest version; archived plans left out."""
    records, extra = paginate(store.collections[plans.NAME], call.params.get("nextToken"),
                              call.params.get("pageSize"), context=False,
                              keep=lambda p: p["status"] != "ARCHIVED")
    return {"data": [plans_v2.render(p, plans_v2.version_entry(p, None)) for p in records], **extra}


def create_plan(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/price_plans``: a draft at version 1."""
    plan = plans_v2.create(store, call.body)
    return plans_v2.render(plan, plans_v2.version_entry(plan, None))


def read_plan(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/price_plans/{id}``: the newest version (a draft when there is one) or ``version``."""
    plan = plans_v2.require(store, call.params[plans.PARAM])
    return plans_v2.render(plan, plans_v2.version_entry(plan, _version(call)))


def update_plan(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /v2/price_plans/{id}``: the draft changed (made when the plan is finalized)."""
    plan, entry = plans_v2.update(store, call.params[plans.PARAM], call.body)
    return plans_v2.render(plan, entry)


def discard_plan(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /v2/price_plans/{id}/discard``."""
    plans_v2.discard(store, call.params[plans.PARAM])
    return {"success": True}


def list_errors(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/price_plans/{id}/errors``: what keeps the draft from being finalized."""
    return {"data": plans_v2.errors(store, plans_v2.require(store, call.params[plans.PARAM]))}


def finalize_plan(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/price_plans/{id}/finalize``: the draft becomes the newest ACTIVE version."""
    plans_v2.finalize(store, call.params[plans.PARAM], call.body.get("migrationMode", "NONE"),
                      call.body.get("versionsToMigrate", "LATEST_VERSION"))
    return {"success": True}


def list_rules(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/price_plans/{id}/pricing_rules``."""
    plan = plans_v2.require(store, call.params[plans.PARAM])
    return {"data": plans_v2.version_entry(plan, _version(call)).get("pricingRules", [])}


def update_rules(store: Store, call: Call) -> dict[str, Any]:
    """``PUT /v2/price_plans/{id}/pricing_rules``: the draft's rules replaced."""
    return {"data": plans_v2.set_rules(store, call.params[plans.PARAM], call.body["pricingRules"])["pricingRules"]}


def list_rate_cards(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/price_plans/{id}/rate_cards``: the newest version's cards, paged."""
    plan = plans_v2.require(store, call.params[plans.PARAM])
    page, extra = _page(_cards(plan, plans_v2.version_entry(plan, None)), "name", call)
    return {"data": page, **extra}


def bulk_rate_cards(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/price_plans/{id}/rate_cards``: all operations or none."""
    plan, entry = plans_v2.bulk_rate_cards(store, call.params[plans.PARAM], call.body["operations"])
    return {"rateCards": _cards(plan, entry)}


def list_versions(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/price_plans/{id}/versions``: oldest first, a draft last."""
    plan = plans_v2.require(store, call.params[plans.PARAM])
    page, extra = _page([plans_v2.render(plan, e) for e in plans_v2.versions(plan)], "referenceId", call)
    return {"data": page, **extra}


def migrate(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/price_plans/migration``: a migration job, as v1's."""
    plans_v2.migrate(store, call.body)
    return {"success": True}


def calculate_revenue(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/revenue_calculator``: the v1 calculator's revenue, each line naming its rate card."""
    body = call.body
    result = revenue.calculate(store, body["currencyConfig"], body["pricePlanDetailsConfig"], body["usageConfig"],
                               body["licenseEntriesConfig"], body.get("entitlementOverageConfig"))
    config = body["pricePlanDetailsConfig"]
    plan_id = str(config.get("pricePlanId", "")) if config["mode"] == "PRICE_PLAN" else ""
    account_id = config.get("accountId") if config["mode"] == "ACCOUNT" else None
    named = {id(n.card): n for n in rate_cards.cards_of(result.details)}
    lines = []
    for line in result.cards:
        card = rate_cards.render(named[id(line.card)], plan_id, plan_id, account_id)
        out: dict[str, Any] = {"rateCard": card}
        out["usages"] = {} if line.key is None else {line.key: to_json(line.quantity)}
        slabs = [s.to_json() for s in line.priced.slabs]
        if line.kind == revenue.USAGE:
            out["slabRevenueSummaries"] = slabs
        elif line.kind == revenue.FIXED_FEE:
            out["fixedFeeRevenueSummary"] = {"revenue": to_json(line.priced.total)}
        elif line.kind == revenue.LICENSE:
            out["licenseRevenueSummary"] = slabs
        else:
            out["entitlementOverageRevenueSummary"] = {"revenue": to_json(line.priced.total)}
            out["slabRevenueSummaries"] = slabs
        lines.append(out)
    return {"currency": result.currency, "revenueInfo": lines}


HANDLERS: dict[str, Handler] = {
    "listPricePlansV2": list_plans,
    "createPricePlanV2": create_plan,
    "getPricePlanV2": read_plan,
    "updatePricePlanV2": update_plan,
    "discardPricePlan": discard_plan,
    "listPricePlanErrors": list_errors,
    "finalizePricePlan": finalize_plan,
    "listPricePlanPricingRules": list_rules,
    "updatePricePlanPricingRules": update_rules,
    "listPricePlanRateCards": list_rate_cards,
    "bulkPricePlanRateCardOperations": bulk_rate_cards,
    "listPricePlanVersions": list_versions,
    "pricePlanMigrationV2": migrate,
    "calculateRevenueV2": calculate_revenue,
}
"""The v2 price-plan operations and the revenue calculator v2, by operationId (the plans' resource is v1's)."""
