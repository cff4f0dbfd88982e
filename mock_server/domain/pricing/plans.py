"""Price plans: versioned rate cards that accounts are associated with.

A plan is one record holding every version in ``pricingSchedule`` (one
entry per version, with its own ``sch.`` id, details and pricing rules; a
version's ``startDate`` is when it was made and its ``endDate`` when the
next one was). A plan is created DRAFT; ``activate`` makes currencies
active and the plan ACTIVE; a PATCH edits a DRAFT in place and gives an
ACTIVE plan a new version (the migration of its associations that may go
with it is :func:`.jobs.update_plan`'s); archiving checks associations, so it
is :func:`.schedules.archive_plan`. ``createdAt``/``updatedAt`` are kept beside the record (the
``PricePlan`` schema is closed without them) and shown in lists.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from ..core import lookup
from ..core.errors import Invalid, NotFound, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from .engine import DEFAULT_CYCLE, FOREVER, rate_card_problems, rate_value, valid_offsets

NAME = "pricePlans"
PARAM = "price_plan_id"
IDS = IdScheme("pp")
SCHEDULE_IDS = IdScheme("sch")
RULE_IDS = IdScheme("pr")
HIDDEN = ("createdAt", "updatedAt", "draft")
DRAFT = "draft"  # a finalized plan's pending v2 draft (:mod:`.plans_v2`): hidden from v1, exported
DRAFT_SCHEMA: dict[str, Any] = {  # the draft as exported and imported: the next version, with its own times
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "version", "pricePlanDetails", "pricingRules", "createdAt", "updatedAt"],
    "properties": {
        "id": {"type": "string", "maxLength": 50},
        "version": {"type": "integer", "minimum": 2},
        "pricePlanDetails": {"type": "object"},
        "pricingRules": {"type": "array", "items": {"type": "object"}},
        "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
    },
}
CURRENCY = re.compile(r"[A-Z]{3}\Z")  # \Z: "$" would let "USD\n" through
# Rate cards priced from slabs (a ratePlan and rateValues) and what their id field names.
SLAB_CARDS = ("usageRateCards", "licenseRateCards", "billingEntitlementRateCards", "entitlementOverageRateCards")
# Rate cards an add-on (by type) or a feature backs.
ADD_ON_CARDS = {"fixedFeeRateCards": ("FIXED_FEE",), "licenseRateCards": ("LICENSE", "NAMED_LICENSE"),
                "creditGrantRateCards": ("CREDIT_GRANT",)}
FEATURE_CARDS = ("billingEntitlementRateCards", "entitlementOverageRateCards")
# Not allowed under deferredRevenue (the contract lists them).
DEFERRED_FORBIDDEN = ("creditGrantRateCards", "billingEntitlementRateCards", "entitlementOverageRateCards")


def require(store: Store, plan_id: str, param: str = PARAM) -> Record:
    """The plan, or :class:`NotFound` naming the path's ``param`` (:class:`Invalid` when it is a body field)."""
    try:
        record: Record = lookup.require(store, NAME, plan_id, param, "price plan")
    except NotFound as missing:
        if param == PARAM:
            raise
        raise Invalid(missing.violations) from None
    return record


def named(store: Store, name: str) -> str | None:
    """The id of the first plan called ``name`` (fixtures name plans: they cannot know the made ids)."""
    return next((p["id"] for p in store.collections[NAME].items.values() if p["name"] == name), None)


def version_of(plan: Record, version: int | None = None) -> dict[str, Any] | None:
    """The plan's ``pricingSchedule`` entry of ``version`` (the latest when None)."""
    if version is None:
        return plan["pricingSchedule"][-1]  # type: ignore[no-any-return]
    return next((v for v in plan["pricingSchedule"] if v["version"] == version), None)


def latest_version(plan: Record) -> int:
    """The plan's newest version number."""
    return int(plan["pricingSchedule"][-1]["version"])


def render(plan: Record, version: int | None = None) -> dict[str, Any]:
    """The plan as ``PricePlan``: one version (the latest unless asked)."""
    out = {k: v for k, v in plan.items() if k not in HIDDEN and k != "pricingSchedule"}
    out["pricingSchedule"] = [version_of(plan, version)]
    return out


def export(store: Store, plan: Record) -> dict[str, Any]:
    """The plan with every version (and a pending v2 draft), as exported."""
    return {k: v for k, v in plan.items() if k not in HIDDEN or k == DRAFT}


def list_item(plan: Record) -> dict[str, Any]:
    """The plan as ``PricePlanListData``: its latest version flattened."""
    latest = version_of(plan)
    assert latest is not None
    details = latest["pricePlanDetails"]
    out: dict[str, Any] = {"id": plan["id"], "name": plan["name"], "version": latest["version"]}
    if "description" in plan:
        out["description"] = plan["description"]
    out |= {
        "status": plan["status"],
        "usageMeters": [card["usageMeterId"] for card in details.get("usageRateCards", [])],
        "pricePlanDetails": details,
        "pricingRules": latest.get("pricingRules", []),
        "createdAt": plan["createdAt"],
        "updatedAt": plan["updatedAt"],
        "type": plan["type"],
    }
    return out


def details_problems(store: Store, details: dict[str, Any], where: str) -> list[Violation]:
    """Why a plan's (or an association's) details cannot be priced: Togai's rules on rate cards."""
    out: list[Violation] = []
    currencies = details.get("supportedCurrencies", [])
    if "supportedCurrencies" in details and not currencies:
        out.append(Violation(f"{where}.supportedCurrencies", "must hold at least one currency"))
    for i, currency in enumerate(currencies):
        if not CURRENCY.match(currency):
            out.append(Violation(f"{where}.supportedCurrencies[{i}]", "must be an ISO 4217 code (three capitals)"))
    if "pricingCycleConfig" in details:
        out += valid_offsets(details["pricingCycleConfig"], f"{where}.pricingCycleConfig")
    meters = store.collections["usageMeters"]
    used: dict[str, int] = {}
    for i, card in enumerate(details.get("usageRateCards", [])):
        here = f"{where}.usageRateCards[{i}].usageMeterId"
        meter = meters.get(card["usageMeterId"])
        if meter is None:
            out.append(Violation(here, f"no usage meter with id {card['usageMeterId']!r}"))
        elif meter["status"] == "ARCHIVED":
            out.append(Violation(here, f"usage meter {card['usageMeterId']!r} is archived"))
        if used.setdefault(card["usageMeterId"], i) != i:
            out.append(Violation(here, f"usage meter is also priced by usageRateCards[{used[card['usageMeterId']]}]"))
    for kind in SLAB_CARDS:
        for i, card in enumerate(details.get(kind, [])):
            out += rate_card_problems(card, f"{where}.{kind}[{i}]", currencies)
    for kind, types in ADD_ON_CARDS.items():
        for i, card in enumerate(details.get(kind, [])):
            add_on = store.collections["addOns"].get(card["id"])
            here = f"{where}.{kind}[{i}].id"
            if add_on is None:
                out.append(Violation(here, f"no add-on with id {card['id']!r}"))
            elif add_on["status"] == "ARCHIVED":
                out.append(Violation(here, f"add-on {card['id']!r} is archived"))
            elif add_on["type"] not in types:
                out.append(Violation(here, f"add-on {card['id']!r} is a {add_on['type']} add-on, not {types[0]}"))
    for kind in FEATURE_CARDS:
        for i, card in enumerate(details.get(kind, [])):
            if store.collections["features"].get(card["featureId"]) is None:
                out.append(Violation(f"{where}.{kind}[{i}].featureId", f"no feature with id {card['featureId']!r}"))
    flat = [(f"fixedFeeRateCards[{i}]", c["rateValues"]) for i, c in enumerate(details.get("fixedFeeRateCards", []))]
    if "minimumCommitment" in details:
        flat.append(("minimumCommitment", details["minimumCommitment"]["rateValues"]))
    for here, values in flat:
        for j, value in enumerate(values):
            if value["currency"] not in currencies:
                out.append(Violation(f"{where}.{here}.rateValues[{j}].currency",
                                     f"{value['currency']!r} is not a supported currency of the plan"))
            if value["rate"] < 0:
                out.append(Violation(f"{where}.{here}.rateValues[{j}].rate", "must not be negative"))
    if details.get("deferredRevenue"):
        out += [Violation(f"{where}.{kind}", "is not allowed with deferredRevenue")
                for kind in DEFERRED_FORBIDDEN if details.get(kind)]
        for kind in ("fixedFeeRateCards", "licenseRateCards"):
            out += [Violation(f"{where}.{kind}[{i}].invoiceTiming", "IN_ADVANCE is not allowed with deferredRevenue")
                    for i, card in enumerate(details.get(kind, [])) if card.get("invoiceTiming") == "IN_ADVANCE"]
    return out


def rules_problems(rules: list[dict[str, Any]], where: str) -> list[Violation]:
    """Pricing rules: orders from 1, each once; condition and computation are JSON (JSON-logic)."""
    out: list[Violation] = []
    seen: dict[int, int] = {}
    for i, rule in enumerate(rules):
        if rule["order"] < 1:
            out.append(Violation(f"{where}[{i}].order", "must be at least 1"))
        if seen.setdefault(rule["order"], i) != i:
            out.append(Violation(f"{where}[{i}].order", f"is also {where}[{seen[rule['order']]}]'s"))
        for key in ("condition", "computation"):
            if key in rule:
                try:
                    json.loads(rule[key])
                except ValueError:
                    out.append(Violation(f"{where}[{i}].{key}", "is not a JSON-logic expression (not JSON)"))
    return out


def make_rules(store: Store, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored pricing rules: each with an id and version 1, by order."""
    return [{"id": store.new_id(RULE_IDS), "version": 1, **rule} for rule in sorted(rules, key=lambda r: r["order"])]


def missing_rates(details: dict[str, Any], currency: str) -> list[str]:
    """The rate cards (field paths) with no rates in ``currency``: it cannot be activated."""
    out = [f"{kind}[{i}]" for kind in SLAB_CARDS for i, card in enumerate(details.get(kind, []))
           if rate_value(card, currency) is None]
    out += [f"fixedFeeRateCards[{i}]" for i, card in enumerate(details.get("fixedFeeRateCards", []))
            if all(v["currency"] != currency for v in card["rateValues"])]
    out += [f"creditGrantRateCards[{i}]" for i, card in enumerate(details.get("creditGrantRateCards", []))
            if all(v["currency"] != currency for v in card["rateDetails"]["currencySlabRateDetails"])]
    if "minimumCommitment" in details and all(v["currency"] != currency
                                                for v in details["minimumCommitment"]["rateValues"]):
        out.append("minimumCommitment")
    return out


def _resolve_fixture_meters(store: Store, details: dict[str, Any]) -> None:
    """In fixtures, a usage rate card may name its meter by name (fixtures cannot know generated ids).

    A scan of the meters, left so on purpose: it runs once per fixture plan as
    the fixtures load, never for a request, and the usage area's
    ``meters_by_name`` index sits above pricing (read by its string name, it
    would tie pricing to usage's internals, and it orders a renamed meter
    apart from the collection order this picks the last of a name by).
    """
    by_name = {m["name"]: m["id"] for m in store.collections["usageMeters"].items.values()}
    for card in details.get("usageRateCards", []):
        card["usageMeterId"] = by_name.get(card["usageMeterId"], card["usageMeterId"])


def _new_version(store: Store, number: int, details: dict[str, Any], rules: list[dict[str, Any]],
                 now: str) -> dict[str, Any]:
    return {"id": store.new_id(SCHEDULE_IDS), "startDate": now, "endDate": FOREVER, "version": number,
            "isOverriden": False, "pricePlanDetails": details, "pricingRules": rules}


def create(store: Store, request: dict[str, Any], fixture_status: str | None = None,
           dry_run: bool = False) -> Record:
    """A DRAFT plan at version 1 (``request`` is a ``CreatePricePlanRequest``), once its rate cards check out.

    ``dry_run`` makes the plan it would create and keeps nothing. A
    fixture entry's ``status: ACTIVE`` activates its supported currencies.
    """
    body = copy.deepcopy(request)
    details = body["pricePlanDetails"]
    if fixture_status is not None:
        _resolve_fixture_meters(store, details)
    details.setdefault("pricingCycleConfig", dict(DEFAULT_CYCLE))
    problems = details_problems(store, details, "pricePlanDetails")
    problems += rules_problems(body.get("pricingRules", []), "pricingRules")
    if problems:
        raise Invalid(problems)
    plan_type = body.get("type", "BILLING")
    details["activeCurrencies"] = []
    details.setdefault("type", plan_type)
    maker = store.sibling() if dry_run else store  # a dry run draws no ids
    now = store.clock.now()
    record: dict[str, Any] = {"id": maker.new_id(IDS, store.collections[NAME]), "name": body["name"], "type": plan_type}
    if "description" in body:
        record["description"] = body["description"]
    record["status"] = "DRAFT"
    record["pricingSchedule"] = [_new_version(maker, 1, details, make_rules(maker, body.get("pricingRules", [])), now)]
    record["createdAt"] = record["updatedAt"] = now
    if fixture_status == "ACTIVE":
        _activate(record, details["supportedCurrencies"])
    elif fixture_status not in (None, "DRAFT"):
        raise Invalid.at("status", "must be DRAFT or ACTIVE")
    if not dry_run:
        store.collections[NAME].add(record["id"], record)
    return record


def require_version(store: Store, plan_id: str, version: int | None) -> Record:
    """The plan, checked to have ``version`` (any plan has its latest, None)."""
    plan = require(store, plan_id)
    if version is not None and version_of(plan, version) is None:
        raise Invalid.at("version", f"price plan {plan['id']!r} has no version {version}")
    return plan


def _refuse_archived(plan: Record) -> None:
    if plan["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"price plan {plan['id']!r} is archived and cannot be changed")


def update(store: Store, plan_id: str, changes: dict[str, Any], mode: str = "NONE",
           versions_to_migrate: str = "LATEST_VERSION") -> tuple[Record, list[dict[str, Any]]]:
    """A DRAFT changed in place; an ACTIVE plan gets a new version. Returns the plan and the migrations due.

    ``changes`` holds the ``description``, ``pricePlanDetails`` and
    ``pricingRules`` of an ``UpdatePricePlanRequest``. The new version keeps
    the active currencies (each must still be supported and priced). A
    ``mode`` other than NONE asks to move the associations of the previous
    version (``versions_to_migrate`` LATEST_VERSION) or of every version
    (ALL_VERSION) to it: the migration configs returned, which
    :func:`.jobs.update_plan` starts (a DRAFT has none).
    """
    plan = require(store, plan_id)
    _refuse_archived(plan)
    if plan.get(DRAFT) is not None:
        raise Invalid.at(PARAM, f"price plan {plan['id']!r} has a pending v2 draft of version "
                                f"{plan[DRAFT]['version']}; finalize or discard it first")
    body = copy.deepcopy(changes)
    latest = version_of(plan)
    assert latest is not None
    details = {**latest["pricePlanDetails"], **body.get("pricePlanDetails", {})}
    problems = details_problems(store, details, "pricePlanDetails")
    problems += rules_problems(body.get("pricingRules", []), "pricingRules")
    active = details["activeCurrencies"]
    for currency in active:
        if currency not in details["supportedCurrencies"]:
            problems.append(Violation("pricePlanDetails.supportedCurrencies", f"must keep active currency {currency}"))
        elif missing_rates(details, currency):
            where = missing_rates(details, currency)[0]
            problems.append(Violation(f"pricePlanDetails.{where}", f"needs rates in active currency {currency}"))
    if plan["status"] == "DRAFT" and mode != "NONE":
        problems.append(Violation("migrationMode", "a DRAFT plan has no associations to migrate"))
    if problems:
        raise Invalid(problems)
    now = store.clock.now()
    if "description" in body:
        plan["description"] = body["description"]
    rules = make_rules(store, body["pricingRules"]) if "pricingRules" in body else latest.get("pricingRules", [])
    migrations: list[dict[str, Any]] = []
    if plan["status"] == "DRAFT":
        latest["pricePlanDetails"], latest["pricingRules"] = details, rules
    else:
        latest["endDate"] = now
        fresh = _new_version(store, latest["version"] + 1, details, rules, now)
        plan["pricingSchedule"].append(fresh)
        if mode != "NONE":
            versions = [v["version"] for v in plan["pricingSchedule"][:-1]]
            if versions_to_migrate == "LATEST_VERSION":
                versions = versions[-1:]
            migrations = [{"sourceId": plan["id"], "sourceVersion": version, "targetId": plan["id"],
                           "targetVersion": fresh["version"], "migrationMode": mode} for version in versions]
    plan["updatedAt"] = now
    return plan, migrations


def _activate(plan: Record, currencies: list[str]) -> None:
    details = plan["pricingSchedule"][-1]["pricePlanDetails"]
    details["activeCurrencies"] = [*details["activeCurrencies"],
                                   *[c for c in currencies if c not in details["activeCurrencies"]]]
    plan["status"] = "ACTIVE"


def activate(store: Store, plan_id: str, currencies: list[str]) -> Record:
    """The ``currencies`` become active, the plan ACTIVE.

    Each must be supported, and every rate card must have rates in it.
    """
    plan = require(store, plan_id)
    _refuse_archived(plan)
    details = plan["pricingSchedule"][-1]["pricePlanDetails"]
    problems: list[Violation] = []
    for i, currency in enumerate(currencies):
        if currency not in details["supportedCurrencies"]:
            problems.append(Violation(f"currencies[{i}]", f"{currency!r} is not a supported currency of the plan"))
        else:
            problems += [Violation(f"currencies[{i}]", f"{where} has no rates in {currency}")
                         for where in missing_rates(details, currency)]
    if problems:
        raise Invalid(problems)
    _activate(plan, currencies)
    plan["updatedAt"] = store.clock.now()
    return plan


# addCurrencyToPricePlan: which rate cards each list of the request prices, and by which field.
_RATES = {"usageRates": ("usageRateCards", "usageMeterId"), "licenseRates": ("licenseRateCards", "id"),
          "billingEntitlementRates": ("billingEntitlementRateCards", "featureId"),
          "entitlementOverageRates": ("entitlementOverageRateCards", "featureId")}


def add_currency(store: Store, plan_id: str, currency: str, rates: dict[str, Any]) -> Record:
    """A supported (not yet active) ``currency`` with its rates (an ``AddCurrencyToPricePlanRequest``'s lists).

    Rates may be given for the plan's rate cards only; a rate card left
    without rates keeps the currency from being activated.
    """
    plan = require(store, plan_id)
    _refuse_archived(plan)
    body = rates
    details = copy.deepcopy(plan["pricingSchedule"][-1]["pricePlanDetails"])
    problems: list[Violation] = []
    if not CURRENCY.match(currency):
        problems.append(Violation("currency", "must be an ISO 4217 code (three capitals)"))
    elif currency in details["supportedCurrencies"]:
        problems.append(Violation("currency", f"{currency} is already a supported currency of the plan"))
    details["supportedCurrencies"] = [*details["supportedCurrencies"], currency]
    for field_name, (kind, key) in _RATES.items():
        cards = {card[key]: card for card in details.get(kind, [])}
        for i, rate in enumerate(body.get(field_name, [])):
            ident = rate.get("usageMeterId", rate.get("id"))
            card = cards.get(ident)
            if card is None:
                problems.append(Violation(f"{field_name}[{i}]", f"the plan has no {kind} entry for {ident!r}"))
                continue
            value: dict[str, Any] = {"currency": currency, "slabRates": rate["slabRates"]}
            if "rateConfig" in rate:
                value["rateConfig"] = rate["rateConfig"]
            card["rateValues"] = [*card["rateValues"], value]
    fixed = {card["id"]: card for card in details.get("fixedFeeRateCards", [])}
    for i, rate in enumerate(body.get("fixedFeeRates", [])):
        if rate["id"] not in fixed:
            problems.append(Violation(f"fixedFeeRates[{i}].id", f"the plan has no fixed fee rate card {rate['id']!r}"))
        else:
            fixed[rate["id"]]["rateValues"].append({"currency": currency, "rate": rate["rate"]})
    grants = {card["id"]: card for card in details.get("creditGrantRateCards", [])}
    for i, rate in enumerate(body.get("creditGrantRates", [])):
        if rate["id"] not in grants:
            problems.append(Violation(f"creditGrantRates[{i}].id", f"the plan has no credit grant {rate['id']!r}"))
        else:
            grants[rate["id"]]["rateDetails"]["currencySlabRateDetails"].append(
                {"currency": currency, "creditAmount": rate["creditAmount"], "slabDetails": rate["slabDetails"]})
    if "minimumCommitmentRate" in body:
        if "minimumCommitment" not in details:
            problems.append(Violation("minimumCommitmentRate", "the plan has no minimum commitment"))
        else:
            details["minimumCommitment"]["rateValues"].append({"currency": currency,
                                                                "rate": body["minimumCommitmentRate"]})
    problems += details_problems(store, details, "pricePlanDetails") if not problems else []
    if problems:
        raise Invalid(problems)
    plan["pricingSchedule"][-1]["pricePlanDetails"] = details
    plan["updatedAt"] = store.clock.now()
    return plan


def remove_currency(store: Store, plan_id: str, currency: str) -> Record:
    """Drop ``currency`` and its rates: only a supported, not active currency; not the last."""
    plan = require(store, plan_id)
    _refuse_archived(plan)
    details = copy.deepcopy(plan["pricingSchedule"][-1]["pricePlanDetails"])
    if currency not in details["supportedCurrencies"]:
        raise Invalid.at("currency_id", f"{currency!r} is not a supported currency of the plan")
    if currency in details["activeCurrencies"]:
        raise Invalid.at("currency_id", f"{currency} is active; only a draft currency can be removed")
    if len(details["supportedCurrencies"]) == 1:
        raise Invalid.at("currency_id", f"{currency} is the plan's only currency")
    details["supportedCurrencies"] = [c for c in details["supportedCurrencies"] if c != currency]
    for kind in (*SLAB_CARDS, "fixedFeeRateCards"):
        for card in details.get(kind, []):
            card["rateValues"] = [v for v in card["rateValues"] if v["currency"] != currency]
    for card in details.get("creditGrantRateCards", []):
        rates = card["rateDetails"]["currencySlabRateDetails"]
        card["rateDetails"]["currencySlabRateDetails"] = [v for v in rates if v["currency"] != currency]
    if "minimumCommitment" in details:
        values = [v for v in details["minimumCommitment"]["rateValues"] if v["currency"] != currency]
        if values:
            details["minimumCommitment"]["rateValues"] = values
        else:
            del details["minimumCommitment"]
    plan["pricingSchedule"][-1]["pricePlanDetails"] = details
    plan["updatedAt"] = store.clock.now()
    return plan


def check_import(ctx: ImportContext) -> None:
    """Versions count 1, 2, ...; active currencies are supported ones; rate cards name existing records."""
    targets = {"usageRateCards": ("usageMeterId", ctx.ids("usageMeters")),
               "fixedFeeRateCards": ("id", ctx.ids("addOns")), "licenseRateCards": ("id", ctx.ids("addOns")),
               "creditGrantRateCards": ("id", ctx.ids("addOns")),
               "billingEntitlementRateCards": ("featureId", ctx.ids("features")),
               "entitlementOverageRateCards": ("featureId", ctx.ids("features"))}
    for i, plan in enumerate(ctx.data[NAME]):
        draft = plan.get(DRAFT)
        if draft is not None and not isinstance(draft["pricePlanDetails"].get("supportedCurrencies"), list):
            ctx.problems.append(Violation(f"{NAME}[{i}].{DRAFT}.pricePlanDetails.supportedCurrencies",
                                          "is required (a list of currencies)"))
        for k, card in enumerate((draft or {}).get("pricePlanDetails", {}).get("usageRateCards", [])):
            if card.get("usageMeterId") not in targets["usageRateCards"][1]:
                ctx.problems.append(Violation(f"{NAME}[{i}].{DRAFT}.pricePlanDetails.usageRateCards[{k}].usageMeterId",
                                              f"no such record {card.get('usageMeterId')!r}"))
        for j, version in enumerate(plan.get("pricingSchedule", [])):
            for kind, (key, known) in targets.items():
                for k, card in enumerate(version.get("pricePlanDetails", {}).get(kind, [])):
                    if card.get(key) not in known:
                        ctx.problems.append(Violation(f"{NAME}[{i}].pricingSchedule[{j}].pricePlanDetails.{kind}[{k}]"
                                                      f".{key}", f"no such record {card.get(key)!r}"))
        versions = plan.get("pricingSchedule", [])
        if not versions:
            ctx.problems.append(Violation(f"{NAME}[{i}].pricingSchedule", "must hold version 1"))
        for j, version in enumerate(versions):
            where = f"{NAME}[{i}].pricingSchedule[{j}]"
            if version.get("version") != j + 1:
                ctx.problems.append(Violation(f"{where}.version", f"must be {j + 1}"))
            details = version.get("pricePlanDetails", {})
            for currency in details.get("activeCurrencies", []):
                if currency not in details.get("supportedCurrencies", []):
                    ctx.problems.append(Violation(f"{where}.pricePlanDetails.activeCurrencies",
                                                  f"{currency} is not supported"))
        draft = plan.get(DRAFT)
        if draft is not None and (plan.get("status") != "ACTIVE" or draft.get("version") != len(versions) + 1):
            ctx.problems.append(Violation(f"{NAME}[{i}].{DRAFT}.version", f"a draft is the next version "
                                                                         f"({len(versions) + 1}) of an ACTIVE plan"))
        if plan.get("status") == "ACTIVE" and versions and not versions[-1].get("pricePlanDetails", {}).get(
                "activeCurrencies"):
            ctx.problems.append(Violation(f"{NAME}[{i}].status", "an ACTIVE plan has an active currency"))


def restore(store: Store, plan: dict[str, Any]) -> None:
    """Insert an imported plan; its times are its first and last versions' starts."""
    record = {**plan, "createdAt": plan["pricingSchedule"][0]["startDate"],
              "updatedAt": plan["pricingSchedule"][-1]["startDate"]}
    store.collections[NAME].add(record["id"], record)
    store.reserved.add(record["id"])


RESOURCE = Resource(
    name=NAME,
    schema="PricePlan",
    ids=IDS,
    exchange=Exchange(
        export=export,
        check_import=check_import,
        restore=restore,
        hidden={DRAFT: DRAFT_SCHEMA},
    ),
)
