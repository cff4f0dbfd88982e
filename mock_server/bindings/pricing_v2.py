"""Togai's newer contract for price plans, account schedules and the revenue calculator (v2): requests into rules.

The plans are the v1 plans' records (:mod:`mock_server.domain.pricing.plans_v2`
says how a draft lives beside them); these handlers read the validated
request, call a rule and render ``PricePlanV2``, ``RateCard`` and
``ValidatedEntityError`` shapes.
"""
from __future__ import annotations

from typing import Any

from ..domain.core.cursors import page_of, paginate
from ..domain.core.store import Record, Store
from ..domain.pricing import plans, plans_v2, rate_cards, revenue, schedules, schedules_v2
from .call import Call, Handler
from .pricing import revenue_info


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
        lines.append(revenue_info(line, {"rateCard": card}))
    return {"currency": result.currency, "revenueInfo": lines}


# -- Account schedules v2 -------------------------------------------------------------------------


def _schedules_page(store: Store, account_id: str, listed: list[dict[str, Any]], call: Call) -> dict[str, Any]:
    page, extra = page_of(listed, call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": [schedules_v2.render(store, s, account_id) for s in page], **extra}


def list_account_schedules(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/accounts/{id}/schedules``: ACTIVE or DRAFT, oldest first."""
    account_id = call.params[schedules.PARAM]
    return _schedules_page(store, account_id, schedules_v2.shown(store, account_id, call.params["mode"]), call)


def edit_account_schedules(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/accounts/{id}/edit_schedules``: the draft edited, all or none."""
    account_id = call.params[schedules.PARAM]
    draft = schedules_v2.edit(store, account_id, call.body["edits"], bool(call.params.get("discard")))
    return schedules.render(store, account_id, draft)


def finalize_account_schedules(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/accounts/{id}/finalize_schedules``: the draft billed from now on."""
    account_id = call.params[schedules.PARAM]
    return _schedules_page(store, account_id, schedules_v2.finalize(store, account_id), call)


def discard_account_schedules(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /v2/accounts/{id}/discard_schedules``."""
    schedules_v2.discard(store, call.params[schedules.PARAM])
    return {"success": True}


def list_schedule_errors(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/schedules/{id}/errors``."""
    return {"data": schedules_v2.errors(store, call.params[schedules_v2.SCHEDULE_PARAM])}


def list_schedule_rules(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/schedules/{id}/pricing_rules``: of the active or the draft schedule (``mode``)."""
    schedule, _ = schedules_v2.find(store, call.params[schedules_v2.SCHEDULE_PARAM], call.params["mode"])
    return {"data": schedules.details_of(store, schedule)[2]}


def update_schedule_rules(store: Store, call: Call) -> dict[str, Any]:
    """``PUT /v2/schedules/{id}/pricing_rules``: the draft schedule's rules replaced."""
    return {"data": schedules_v2.set_rules(store, call.params[schedules_v2.SCHEDULE_PARAM],
                                           call.body["pricingRules"])}


def _schedule_cards(store: Store, schedule: dict[str, Any], details: dict[str, Any],
                    account_id: str) -> list[dict[str, Any]]:
    return [rate_cards.render(n, schedule["pricePlanId"], schedule["id"], account_id)
            for n in rate_cards.cards_of(details)]


def list_schedule_rate_cards(store: Store, call: Call) -> dict[str, Any]:
    """``GET /v2/schedules/{id}/rate_cards``: the cards the schedule prices with (``mode``), paged."""
    schedule, owner = schedules_v2.find(store, call.params[schedules_v2.SCHEDULE_PARAM], call.params["mode"])
    details = schedules.details_of(store, schedule)[1]
    page, extra = _page(_schedule_cards(store, schedule, details, owner), "name", call)
    return {"data": page, **extra}


def bulk_schedule_rate_cards(store: Store, call: Call) -> dict[str, Any]:
    """``POST /v2/schedules/{id}/rate_cards``: the draft schedule's cards, all operations or none."""
    schedule, details, owner = schedules_v2.bulk_rate_cards(store, call.params[schedules_v2.SCHEDULE_PARAM],
                                                            call.body["operations"])
    return {"rateCards": _schedule_cards(store, schedule, details, owner)}


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
    "listaccountSchedules": list_account_schedules,
    "bulkEditSchedules": edit_account_schedules,
    "finalizeAccountSchedules": finalize_account_schedules,
    "discardAccountSchedules": discard_account_schedules,
    "listScheduleErrors": list_schedule_errors,
    "listPricingRules": list_schedule_rules,
    "updatePricingRules": update_schedule_rules,
    "listScheduleRateCards": list_schedule_rate_cards,
    "bulkRateCardOperationsOnSchedule": bulk_schedule_rate_cards,
}
"""The v2 operations by operationId (their resources, plans and account schedules, are v1's)."""
