"""Price plans v2: drafts, finalize and discard, versions, named rate cards, pricing rules, errors.

One store serves v1 and v2 (:mod:`.plans`): a v2 plan is a ``pricePlans``
record like any other. What v2 adds is the *draft*:

- a plan never finalized (status DRAFT) is its own draft, at version 1:
  v2 edits change it in place, as a v1 PATCH does;
- a finalized plan (ACTIVE) keeps its versions untouched; the first v2 edit
  makes a draft of the next version (a copy of the latest), kept beside the
  record in ``draft`` (hidden from v1 answers, carried by exports), which
  every later edit changes until ``finalize`` publishes it as the newest
  version or ``discard`` throws it away.

``finalize`` is refused while :func:`errors` lists anything (no rate card,
a card without rates in a supported currency, ...); it makes the version
active in every supported currency and, with a ``migrationMode`` other than
NONE, moves the accounts on the previous version (or on every earlier one)
to it through a migration job. ``discard`` of a plan never finalized deletes
it; of a finalized plan without a draft it is refused (409).

A v1 read of a v2 plan shows its finalized versions (a plan never finalized:
its version 1, status DRAFT), never a pending draft; a v1 PATCH of a plan
with a pending v2 draft is refused (the draft holds the next version
number). Archived plans are not v2 plans: v2 answers 404 for them (``PricePlanV2``
has no ARCHIVED status) and leaves them out of its list.
"""
from __future__ import annotations

import copy
from typing import Any

from ..core.errors import Conflict, Invalid, NotFound, Violation
from ..core.store import Record, Store
from . import jobs, rate_cards
from . import plans as price_plans
from .engine import DEFAULT_CYCLE, FOREVER, valid_offsets

PARAM = price_plans.PARAM
DRAFT = price_plans.DRAFT  # the hidden field holding a finalized plan's pending draft


def require(store: Store, plan_id: str) -> Record:
    """The plan, unless unknown or archived (404 naming the path's plan)."""
    plan = price_plans.require(store, plan_id)
    if plan["status"] == "ARCHIVED":
        raise NotFound.at(PARAM, f"price plan {plan['id']!r} is archived; the v2 operations serve DRAFT and "
                                 "ACTIVE plans")
    return plan


def pending(plan: Record) -> dict[str, Any] | None:
    """The plan's draft version: the plan itself at version 1 before its first finalize, else its ``draft``."""
    if plan["status"] == "DRAFT":
        return plan["pricingSchedule"][-1]  # type: ignore[no-any-return]
    return plan.get(DRAFT)


def versions(plan: Record) -> list[dict[str, Any]]:
    """Every version, oldest first: the finalized ones, then a pending draft."""
    out = list(plan["pricingSchedule"])
    if plan.get(DRAFT) is not None:
        out.append(plan[DRAFT])
    return out


def version_entry(plan: Record, version: int | None) -> dict[str, Any]:
    """The version asked for (the newest, draft included, when None); ``version`` is a query parameter: 400."""
    entries = versions(plan)
    if version is None:
        return entries[-1]
    found = next((e for e in entries if e["version"] == version), None)
    if found is None:
        raise Invalid.at("version", f"price plan {plan['id']!r} has no version {version}")
    return found


def _is_draft(plan: Record, entry: dict[str, Any]) -> bool:
    return entry is pending(plan)


def render(plan: Record, entry: dict[str, Any]) -> dict[str, Any]:
    """One version of the plan as ``PricePlanV2``."""
    details = entry["pricePlanDetails"]
    out: dict[str, Any] = {"name": plan["name"]}
    if "description" in plan:
        out["description"] = plan["description"]
    out |= {"type": plan["type"], "pricingCycleConfig": details.get("pricingCycleConfig", DEFAULT_CYCLE),
            "supportedCurrencies": details["supportedCurrencies"],
            "deferredRevenue": bool(details.get("deferredRevenue", False)),
            "allowOngoingCycleUpdates": bool(details.get("allow_ongoing_cycle_updates", False)),
            "id": plan["id"], "referenceId": entry["id"], "version": entry["version"],
            "status": "DRAFT" if _is_draft(plan, entry) else "ACTIVE"}
    newest = entry is versions(plan)[-1]
    if "createdAt" in entry:  # a draft keeps its own times
        out |= {"createdAt": entry["createdAt"], "updatedAt": entry["updatedAt"]}
    else:
        out |= {"createdAt": entry["startDate"] if entry["version"] > 1 else plan["createdAt"],
                "updatedAt": plan["updatedAt"] if newest else entry["startDate"]}
    return out


def create(store: Store, body: dict[str, Any]) -> Record:
    """A plan in DRAFT at version 1, without rate cards (``body``: a ``CreatePricePlanV2Request``)."""
    details: dict[str, Any] = {"supportedCurrencies": body["supportedCurrencies"]}
    for key, field in (("pricingCycleConfig", "pricingCycleConfig"), ("deferredRevenue", "deferredRevenue"),
                       ("allowOngoingCycleUpdates", "allow_ongoing_cycle_updates")):
        if key in body:
            details[field] = body[key]
    request: dict[str, Any] = {"name": body["name"], "type": body["type"], "pricePlanDetails": details}
    if "description" in body:
        request["description"] = body["description"]
    return price_plans.create(store, request)


def _working(store: Store, plan: Record) -> dict[str, Any]:
    """A copy of the version v2 edits change: the pending draft, or a new one made from the latest version.

    Nothing is drawn from the store (no id) until :func:`_commit`: a refused edit leaves no trace.
    """
    draft = pending(plan)
    if draft is not None:
        return copy.deepcopy(draft)
    latest = price_plans.version_of(plan)
    assert latest is not None
    return {"id": None, "version": latest["version"] + 1,
            "pricePlanDetails": copy.deepcopy(latest["pricePlanDetails"]),
            "pricingRules": copy.deepcopy(latest.get("pricingRules", []))}


def _commit(store: Store, plan: Record, working: dict[str, Any]) -> dict[str, Any]:
    """Write the edited draft back (the plan's own version 1, or its ``draft``)."""
    now = store.clock.now()
    plan["updatedAt"] = now
    if plan["status"] == "DRAFT":
        entry = plan["pricingSchedule"][-1]
        entry["pricePlanDetails"], entry["pricingRules"] = working["pricePlanDetails"], working["pricingRules"]
        return entry  # type: ignore[no-any-return]
    if working["id"] is None:
        working |= {"id": store.new_id(price_plans.SCHEDULE_IDS), "createdAt": now}
    working["updatedAt"] = now
    plan[DRAFT] = working
    return working


def update(store: Store, plan_id: str, changes: dict[str, Any]) -> tuple[Record, dict[str, Any]]:
    """``UpdatePricePlanV2Request``: the description (the plan's, at once) and the draft's cycle and currencies."""
    plan = require(store, plan_id)
    working = _working(store, plan)
    details = working["pricePlanDetails"]
    problems: list[Violation] = []
    if "pricingCycleConfig" in changes:
        problems += valid_offsets(changes["pricingCycleConfig"], "pricingCycleConfig")
        details["pricingCycleConfig"] = changes["pricingCycleConfig"]
    if "supportedCurrencies" in changes:
        kept = [c for c in details.get("activeCurrencies", []) if c not in changes["supportedCurrencies"]]
        problems += [Violation("supportedCurrencies", f"must keep {currency}, a currency accounts are billed in")
                     for currency in kept]
        details["supportedCurrencies"] = changes["supportedCurrencies"]
    if problems:
        raise Invalid(problems)
    if "description" in changes:
        plan["description"] = changes["description"]
    return plan, _commit(store, plan, working)


def bulk_rate_cards(store: Store, plan_id: str, operations: list[dict[str, Any]]) -> tuple[Record, dict[str, Any]]:
    """The ``RateCardOperation``s on the draft, all or none (:func:`.rate_cards.apply`)."""
    plan = require(store, plan_id)
    working = _working(store, plan)
    working["pricePlanDetails"] = rate_cards.apply(store, working["pricePlanDetails"], operations)
    return plan, _commit(store, plan, working)


def set_rules(store: Store, plan_id: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The draft's pricing rules replaced by ``rules`` (``CreatePricingRule``s); returns the draft."""
    plan = require(store, plan_id)
    problems = price_plans.rules_problems(rules, "pricingRules")
    if problems:
        raise Invalid(problems)
    working = _working(store, plan)
    working["pricingRules"] = price_plans.make_rules(store, rules)
    return _commit(store, plan, working)


def errors(store: Store, plan: Record) -> list[dict[str, Any]]:
    """What keeps the plan's draft from being finalized (none without a draft)."""
    draft = pending(plan)
    if draft is None:
        return []
    return rate_cards.errors(store, draft["pricePlanDetails"], draft.get("pricingRules", []), draft["id"], plan["id"])


def finalize(store: Store, plan_id: str, mode: str = "NONE", versions_to_migrate: str = "LATEST_VERSION") -> Record:
    """Publish the draft as the plan's newest ACTIVE version; move accounts to it if ``mode`` asks.

    409 without a draft, 400 while it has errors (each named) or when a
    plan never finalized is asked to migrate (it has no accounts).
    """
    plan = require(store, plan_id)
    draft = pending(plan)
    if draft is None:
        raise Conflict.at(PARAM, f"price plan {plan['id']!r} has no draft to finalize")
    found = errors(store, plan)
    if found:
        raise Invalid([Violation(_error_field(e), e["errorMessage"]) for e in found])
    now = store.clock.now()
    details = draft["pricePlanDetails"]
    details["activeCurrencies"] = list(details["supportedCurrencies"])
    if plan["status"] == "DRAFT":
        if mode != "NONE":
            raise Invalid.at("migrationMode", "a plan never finalized has no accounts to migrate")
        plan["status"] = "ACTIVE"
        plan["updatedAt"] = now
        return plan
    latest = price_plans.version_of(plan)
    assert latest is not None
    latest["endDate"] = now
    plan["pricingSchedule"].append({"id": draft["id"], "startDate": now, "endDate": FOREVER,
                                    "version": draft["version"], "isOverriden": False,
                                    "pricePlanDetails": details, "pricingRules": draft["pricingRules"]})
    del plan[DRAFT]
    plan["updatedAt"] = now
    if mode != "NONE":
        earlier = [v["version"] for v in plan["pricingSchedule"][:-1]]
        if versions_to_migrate == "LATEST_VERSION":
            earlier = earlier[-1:]
        for version in earlier:
            jobs.start_migration(store, {"sourceId": plan["id"], "sourceVersion": version, "targetId": plan["id"],
                                         "targetVersion": draft["version"], "migrationMode": mode})
    return plan


def _error_field(error: dict[str, Any]) -> str:
    kind = {"RATE_CARD": "rateCards", "PRICING_RULE": "pricingRules"}.get(error["entityType"])
    return "pricePlan" if kind is None else f"{kind}.{error['entityId']}"


def discard(store: Store, plan_id: str) -> None:
    """Throw the draft away: a finalized plan keeps its versions; a plan never finalized is deleted."""
    plan = require(store, plan_id)
    if plan["status"] == "DRAFT":
        store.collections[price_plans.NAME].remove(plan["id"])
        return
    if plan.get(DRAFT) is None:
        raise Conflict.at(PARAM, f"price plan {plan['id']!r} is finalized and has no draft to discard")
    del plan[DRAFT]
    plan["updatedAt"] = store.clock.now()


def migrate(store: Store, body: dict[str, Any]) -> Record:
    """``POST /v2/price_plans/migration``: the v1 migration (one store); ``isPricePlanV2Migration`` changes nothing."""
    request = {k: v for k, v in body.items() if k != "isPricePlanV2Migration"}
    return jobs.migrate(store, request)
