"""``POST /revenue_calculator``: what a price plan would charge, computed with :mod:`.pricing`.

The plan comes from the request (CUSTOM), a stored plan (PRICE_PLAN, the
version in effect at ``effectiveOn``) or an account's association at
``effectiveOn`` (ACCOUNT); the currency from the request or the account's
invoice currency. Usage, license and entitlement-overage quantities are
taken from the request (CUSTOM). The LOOKUP modes (usage and license
quantities read from the state) are not implemented yet: they are a 400 when
the plan has rate cards that need them. Fixed fees are charged whole (no
proration); billing-entitlement and credit-grant rate cards are not priced.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from ...bindings.call import Call  # TEMPORARY: handlers move to mock_server/bindings
from ..core.errors import Invalid
from ..core.store import Store
from . import plans as price_plans
from . import schedules
from .engine import number, parse_instant, price_usage, rate_value, to_json


def _currency(store: Store, config: dict[str, Any]) -> str:
    if config["mode"] == "CUSTOM":
        if "currency" not in config:
            raise Invalid.at("currencyConfig.currency", "is required when mode is CUSTOM")
        return str(config["currency"])
    account = _account(store, config, "currencyConfig.accountId")
    return str(account["invoiceCurrency"])


def _account(store: Store, config: dict[str, Any], where: str) -> Any:
    if "accountId" not in config:
        raise Invalid.at(where, "is required for this mode")
    account = store.collections["accounts"].get(config["accountId"])
    if account is None:
        raise Invalid.at(where, f"no account with id {config['accountId']!r}")
    return account


def _details(store: Store, config: dict[str, Any]) -> dict[str, Any]:
    where = "pricePlanDetailsConfig"
    moment = parse_instant(config["effectiveOn"]) if "effectiveOn" in config else parse_instant(store.clock.now())
    if config["mode"] == "CUSTOM":
        if "pricePlanDetails" not in config:
            raise Invalid.at(f"{where}.pricePlanDetails", "is required when mode is CUSTOM")
        details = dict(config["pricePlanDetails"])
        problems = price_plans.details_problems(store, details, f"{where}.pricePlanDetails")
        if problems:
            raise Invalid(problems)
        return {**details, "activeCurrencies": []}  # a plan of the request is active nowhere
    if config["mode"] == "PRICE_PLAN":
        if "pricePlanId" not in config:
            raise Invalid.at(f"{where}.pricePlanId", "is required when mode is PRICE_PLAN")
        plan = price_plans.require(store, config["pricePlanId"], f"{where}.pricePlanId")
        version = next((v for v in plan["pricingSchedule"]
                        if parse_instant(v["startDate"]) <= moment < parse_instant(v["endDate"])), None)
        chosen = version or price_plans.version_of(plan)
        assert chosen is not None
        return dict(chosen["pricePlanDetails"])
    account = _account(store, config, f"{where}.accountId")
    found = schedules.effective(store, account["id"], moment)
    if found is None:
        raise Invalid.at(f"{where}.effectiveOn", f"account {account['id']!r} has no price plan then")
    return dict(found[3])


def _quantities(config: dict[str, Any] | None, where: str, needed: bool, key: str, field: str) -> dict[str, Decimal]:
    """Quantities by id from a CUSTOM config; a LOOKUP mode is a 400 when rate cards need it."""
    if config is None or config["mode"] == "CUSTOM":
        totals: dict[str, Decimal] = defaultdict(Decimal)
        if config is not None and key == "usageMap":
            for ident, quantity in config.get("usageMap", {}).items():
                totals[ident] += number(quantity)
        elif config is not None:
            for entry in config.get("custom", []):
                totals[entry[field]] += number(entry["quantity"])
        return totals
    if needed:
        raise Invalid.at(f"{where}.mode", f"{config['mode']} needs recorded usage, which the mock does not keep; "
                                          "give the quantities with mode CUSTOM")
    return {}


def calculate(store: Store, call: Call) -> dict[str, Any]:
    """The revenue of each priced rate card of the plan, in the chosen currency."""
    body = call.body
    currency = _currency(store, body["currencyConfig"])
    details = _details(store, body["pricePlanDetailsConfig"])
    if currency not in details["supportedCurrencies"]:
        raise Invalid.at("currencyConfig", f"the price plan does not support {currency}")
    usage_cards = details.get("usageRateCards", [])
    license_cards = details.get("licenseRateCards", [])
    overage_cards = details.get("entitlementOverageRateCards", [])
    usages = _quantities(body["usageConfig"], "usageConfig", bool(usage_cards), "usageMap", "")
    licenses = _quantities(body["licenseEntriesConfig"], "licenseEntriesConfig", bool(license_cards), "custom",
                           "licenseId")
    overages = _quantities(body.get("entitlementOverageConfig"), "entitlementOverageConfig", bool(overage_cards),
                           "custom", "featureId")
    missing = [f"{kind}[{i}]" for kind in ("usageRateCards", "licenseRateCards", "entitlementOverageRateCards")
               for i, card in enumerate(details.get(kind, [])) if rate_value(card, currency) is None]
    missing += [f"fixedFeeRateCards[{i}]" for i, card in enumerate(details.get("fixedFeeRateCards", []))
                if all(v["currency"] != currency for v in card["rateValues"])]
    if missing:
        raise Invalid.at(f"pricePlanDetailsConfig.{missing[0]}", f"has no rates in {currency}")
    info: list[dict[str, Any]] = []
    for card in usage_cards:
        quantity = usages.get(card["usageMeterId"], Decimal(0))
        priced = price_usage(quantity, card, currency)
        info.append({"usageRateCard": card, "usages": {card["usageMeterId"]: to_json(quantity)},
                     "slabRevenueSummaries": [s.to_json() for s in priced.slabs]})
    for card in details.get("fixedFeeRateCards", []):
        rate = next(v["rate"] for v in card["rateValues"] if v["currency"] == currency)
        info.append({"fixedFeeRateCard": card, "usages": {}, "fixedFeeRevenueSummary": {"revenue": rate}})
    for card in license_cards:
        quantity = licenses.get(card["id"], Decimal(0))
        priced = price_usage(quantity, card, currency)
        info.append({"licenseRateCard": card, "usages": {card["id"]: to_json(quantity)},
                     "licenseRevenueSummary": [s.to_json() for s in priced.slabs]})
    for card in overage_cards:
        quantity = overages.get(card["featureId"], Decimal(0))
        priced = price_usage(quantity, card, currency)
        info.append({"entitlementOverageRateCard": card, "usages": {card["featureId"]: to_json(quantity)},
                     "entitlementOverageRevenueSummary": {"revenue": to_json(priced.total)},
                     "slabRevenueSummaries": [s.to_json() for s in priced.slabs]})
    return {"currency": currency, "pricePlanDetails": details, "revenueInfo": info}
