"""Which operation reaches which rule, and the handlers that turn requests into rule calls.

The area: price plans, their associations (schedules), migration jobs and the revenue calculator.
Each handler reads the validated request, calls a rule of :mod:`mock_server.domain.pricing`
with typed arguments and renders what it returns in the API's shapes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.billing import engine as billing
from ..domain.core.cursors import page_of, paginate
from ..domain.core.errors import DomainError, Invalid
from ..domain.core.money import to_json
from ..domain.core.store import Store
from ..domain.core.times import parse_time
from ..domain.pricing import jobs, plans, revenue, schedules
from .binding import Binding, FixtureShape
from .call import Call

# -- Price plans --------------------------------------------------------------------------------


def create_plan(store: Store, call: Call) -> dict[str, Any]:
    """``POST /price_plans`` (``dry_run``: the plan it would create, kept nowhere)."""
    plan = plans.create(store, call.body, call.params.get("status"), bool(call.params.get("dry_run")))
    return plans.render(plan)


def read_plan(store: Store, call: Call) -> dict[str, Any]:
    """``GET /price_plans/{id}``: the latest version, or the one ``version`` asks for."""
    version = call.params.get("version")
    return plans.render(plans.require_version(store, call.params[plans.PARAM], version), version)


def list_plans(store: Store, call: Call) -> dict[str, Any]:
    """``GET /price_plans``: oldest first, each at its latest version."""
    records, extra = paginate(store.collections[plans.NAME], call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": [plans.list_item(r) for r in records], **extra}


_MIGRATION = ("migrationMode", "versionsToMigrate")


def update_plan(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /price_plans/{id}``: a new version of an ACTIVE plan, migrating associations if asked."""
    changes = {k: v for k, v in call.body.items() if k not in _MIGRATION}
    plan = jobs.update_plan(store, call.params[plans.PARAM], changes, call.body.get("migrationMode", "NONE"),
                            call.body.get("versionsToMigrate", "LATEST_VERSION"))
    return plans.render(plan)


def archive_plan(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /price_plans/{id}``: archives."""
    schedules.archive_plan(store, call.params[plans.PARAM])
    return {"success": True}


def activate_plan(store: Store, call: Call) -> dict[str, Any]:
    """``POST /price_plans/{id}/activate``."""
    return plans.render(plans.activate(store, call.params[plans.PARAM], call.body["currencies"]))


def add_currency(store: Store, call: Call) -> dict[str, Any]:
    """``POST /price_plans/{id}/currencies``."""
    rates = {k: v for k, v in call.body.items() if k != "currency"}
    return plans.render(plans.add_currency(store, call.params[plans.PARAM], call.body["currency"], rates))


def remove_currency(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /price_plans/{id}/currencies/{currency}``."""
    return plans.render(plans.remove_currency(store, call.params[plans.PARAM], call.params["currency_id"]))


def calculate_revenue(store: Store, call: Call) -> dict[str, Any]:
    """``POST /revenue_calculator``: ``RevenueCalculatorResponse``."""
    body = call.body
    result = revenue.calculate(store, body["currencyConfig"], body["pricePlanDetailsConfig"], body["usageConfig"],
                               body["licenseEntriesConfig"], body.get("entitlementOverageConfig"))
    return {"currency": result.currency, "pricePlanDetails": result.details,
            "revenueInfo": [revenue_info(card, {card.kind: card.card}) for card in result.cards]}


def revenue_info(line: revenue.CardRevenue, card: dict[str, Any]) -> dict[str, Any]:
    """One priced rate card as ``RevenueInfo`` (v1: ``{kind: card}``) or ``RevenueInfoV2`` (``{"rateCard": ...}``):
    ``card`` first, then what it priced."""
    out: dict[str, Any] = dict(card)
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
    return out


# -- Associations (pricing schedules) -------------------------------------------------------------


def update_schedule(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/price_plans``: associate or disassociate one window."""
    body = call.body
    if "plan" in call.params:  # a fixture names the plan by name (it cannot know the generated id)
        body = {**body, "pricePlanId": plans.named(store, call.params["plan"]) or call.params["plan"]}
    schedules.associate(store, call.params[schedules.PARAM], body)
    return schedules.render(store, call.params[schedules.PARAM])


def edit_schedules(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{id}/edit_schedules``: all edits or none; ``dry_run`` keeps nothing."""
    account_id = call.params[schedules.PARAM]
    timeline = schedules.edit_timeline(store, account_id, call.body["edits"], bool(call.params.get("dry_run")))
    return schedules.render(store, account_id, timeline)


def _date_param(call: Call, name: str) -> datetime | None:
    text = call.params.get(name)
    if text is None:
        return None
    try:
        return parse_time(text, name)
    except DomainError:
        raise Invalid.at(name, "must be a date (YYYY-MM-DD) or an RFC 3339 date-time") from None


def list_schedules(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{id}/pricing_schedules``: oldest first, those overlapping ``start_date``..``end_date``."""
    since, until = _date_param(call, "start_date"), _date_param(call, "end_date")
    shown = schedules.overlapping(store, call.params[schedules.PARAM], since, until)
    page, extra = page_of(shown, call.params.get("nextToken"), call.params.get("pageSize"))
    compact, info = call.params.get("compact"), call.params.get("include_price_plan_info")
    data = []
    for schedule in page:
        plan, details, rules = schedules.details_of(store, schedule)
        item: dict[str, Any] = {"id": schedule["id"]}
        if not compact:
            item |= {"pricePlanDetails": details, "pricingRules": rules}
        item |= {"startDate": schedule["startDate"], "endDate": schedule["endDate"], "version": schedule["version"],
                 "isOverriden": "pricePlanDetailsOverride" in schedule or "pricingRulesOverride" in schedule,
                 "pricePlanId": plan["id"], "pricePlanName": plan["name"]}
        if info:
            item["pricePlanInfo"] = {"name": plan["name"]}
        data.append(item)
    return {"data": data, **extra}


def list_rules(store: Store, call: Call) -> dict[str, Any]:
    """``GET /price_plans/{id}/pricing_schedules/{id}/pricing_rules``."""
    rules = schedules.rules_of(store, call.params[plans.PARAM], call.params["pricing_schedule_id"],
                               call.params.get("invoice_timing"))
    return {"data": rules}


# -- Migration jobs -------------------------------------------------------------------------------


def create_migration(store: Store, call: Call) -> dict[str, Any]:
    """``POST /price_plans/migration``: a job; answers ``{"success": true}``.

    A fixture entry with ``by: name`` names its plans by name: it cannot know their ids.
    """
    body = call.body
    if call.params.get("by") == "name":
        body = {**body, **{k: plans.named(store, body[k]) or body[k] for k in ("sourceId", "targetId") if k in body}}
    jobs.migrate(store, body)
    return {"success": True}


def read_job(store: Store, call: Call) -> dict[str, Any]:
    """``GET /jobs/{id}``."""
    return jobs.render(store, jobs.require(store, call.params[jobs.PARAM]))


def list_jobs(store: Store, call: Call) -> dict[str, Any]:
    """``GET /jobs``: oldest first, without counts."""
    records, extra = paginate(store.collections[jobs.NAME], call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": [{k: job[k] for k in ("id", "type", "status", "updatedAt")} for job in records], **extra}


def confirm_job(store: Store, call: Call) -> dict[str, Any]:
    """``POST /jobs/{id}/confirm``: runs a waiting job (a migration, or a bill run)."""
    return jobs.render(store, jobs.confirm(store, call.params[jobs.PARAM], billing.JOB_RUNNERS))


def reject_job(store: Store, call: Call) -> dict[str, Any]:
    """``POST /jobs/{id}/reject``: cancels a waiting job."""
    return jobs.render(store, jobs.reject(store, call.params[jobs.PARAM]))


def list_job_entries(store: Store, call: Call) -> dict[str, Any]:
    """``GET /jobs/{id}/entries``: the job's entries in order (the operation takes no paging parameters)."""
    job = jobs.require(store, call.params[jobs.PARAM])
    return {"data": [jobs.render_entry(e) for e in jobs.entries_of(store, job["id"])]}


# -- Declarations ---------------------------------------------------------------------------------

JOBS = Binding(
    resource=jobs.NAME,
    path_param=jobs.PARAM,
    read="getJobStatus",  # made by pricePlanMigration (and PATCH of an ACTIVE plan with a migrationMode)
    list="getJobs",
    fixtures=FixtureShape(
        op="pricePlanMigration",
        params=("by",),  # a fixture entry {by: name, sourceId: <plan name>, ...} names the plans
    ),
    handlers={
        "pricePlanMigration": create_migration,
        "getJobStatus": read_job,
        "getJobs": list_jobs,
        "confirmJob": confirm_job,
        "rejectJob": reject_job,
    },
)

JOB_ENTRIES = Binding(
    resource=jobs.ENTRIES,
    path_param=jobs.PARAM,
    list="getJobEntries",
    handlers={"getJobEntries": list_job_entries},
)

PLANS = Binding(
    resource=plans.NAME,
    path_param=plans.PARAM,
    create="createPricePlan",
    read="getPricePlan",
    list="getPricePlans",
    update="updatePricePlan",
    delete="archivePricePlan",  # archives
    fixtures=FixtureShape(
        params=("status",),  # a fixture entry says whether the demo plan is ACTIVE
    ),
    handlers={
        "createPricePlan": create_plan,
        "getPricePlan": read_plan,
        "getPricePlans": list_plans,
        "updatePricePlan": update_plan,
        "archivePricePlan": archive_plan,
        "activatePricePlan": activate_plan,
        "addCurrencyToPricePlan": add_currency,
        "removeCurrencyFromPricePlan": remove_currency,
        "calculateRevenue": calculate_revenue,
    },
)

SCHEDULES = Binding(
    resource=schedules.NAME,
    path_param=schedules.PARAM,
    path_field="accountId",
    list="getPricingSchedules",  # made by updatePricingSchedule / updatePricingScheduleBatch
    fixtures=FixtureShape(
        op="updatePricingSchedule",
        params=("account_id", "plan"),  # a fixture entry: {account_id: ..., plan: <plan name>, effectiveFrom: ...}
    ),
    handlers={
        "updatePricingSchedule": update_schedule,
        "updatePricingScheduleBatch": edit_schedules,
        "getPricingSchedules": list_schedules,
        "listPricingRulesByScheduleId": list_rules,
    },
)
