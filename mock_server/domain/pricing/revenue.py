"""The revenue calculator: what a price plan would charge, computed with :mod:`.engine`.

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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..core.errors import Invalid
from ..core.money import exact
from ..core.store import Store
from ..core.times import parse_time
from . import plans as price_plans
from . import schedules
from .engine import PricedUsage, price_usage, rate_value

# The rate cards priced, as the answer's RevenueInfo names them.
USAGE, FIXED_FEE, LICENSE = "usageRateCard", "fixedFeeRateCard", "licenseRateCard"
OVERAGE = "entitlementOverageRateCard"


@dataclass(frozen=True, slots=True)
class CardRevenue:
    """What one rate card charges: the quantity it was given (keyed by the card's id) and its price."""

    kind: str  # USAGE, FIXED_FEE, LICENSE or OVERAGE
    card: dict[str, Any]
    key: str | None  # the meter, license or feature the quantity is of; None for a fixed fee
    quantity: Decimal
    priced: PricedUsage  # a fixed fee: its rate, in one slab-less total


@dataclass(frozen=True, slots=True)
class Revenue:
    """The plan's details as priced, in ``currency``, and each priced rate card."""

    currency: str
    details: dict[str, Any]
    cards: list[CardRevenue]


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
    moment = parse_time(config["effectiveOn"] if "effectiveOn" in config else store.clock.now(), f"{where}.effectiveOn")
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
                        if parse_time(v["startDate"]) <= moment < parse_time(v["endDate"])), None)
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
                totals[ident] += exact(quantity)
        elif config is not None:
            for entry in config.get("custom", []):
                totals[entry[field]] += exact(entry["quantity"])
        return totals
    if needed:
        raise Invalid.at(f"{where}.mode", f"{config['mode']} needs recorded usage, which the mock does not keep; "
                                          "give the quantities with mode CUSTOM")
    return {}


def calculate(store: Store, currency_config: dict[str, Any], details_config: dict[str, Any],
              usage_config: dict[str, Any] | None, license_config: dict[str, Any] | None,
              overage_config: dict[str, Any] | None = None) -> Revenue:
    """The revenue of each priced rate card of the plan, in the chosen currency.

    The configs are the ``RevenueCalculatorRequest``'s ``currencyConfig``,
    ``pricePlanDetailsConfig``, ``usageConfig``, ``licenseEntriesConfig`` and
    ``entitlementOverageConfig``.
    """
    currency = _currency(store, currency_config)
    details = _details(store, details_config)
    if currency not in details["supportedCurrencies"]:
        raise Invalid.at("currencyConfig", f"the price plan does not support {currency}")
    usage_cards = details.get("usageRateCards", [])
    license_cards = details.get("licenseRateCards", [])
    overage_cards = details.get("entitlementOverageRateCards", [])
    usages = _quantities(usage_config, "usageConfig", bool(usage_cards), "usageMap", "")
    licenses = _quantities(license_config, "licenseEntriesConfig", bool(license_cards), "custom", "licenseId")
    overages = _quantities(overage_config, "entitlementOverageConfig", bool(overage_cards), "custom", "featureId")
    missing = [f"{kind}[{i}]" for kind in ("usageRateCards", "licenseRateCards", "entitlementOverageRateCards")
               for i, card in enumerate(details.get(kind, [])) if rate_value(card, currency) is None]
    missing += [f"fixedFeeRateCards[{i}]" for i, card in enumerate(details.get("fixedFeeRateCards", []))
                if all(v["currency"] != currency for v in card["rateValues"])]
    if missing:
        raise Invalid.at(f"pricePlanDetailsConfig.{missing[0]}", f"has no rates in {currency}")
    out: list[CardRevenue] = []
    for card in usage_cards:
        quantity = usages.get(card["usageMeterId"], Decimal(0))
        out.append(CardRevenue(USAGE, card, card["usageMeterId"], quantity, price_usage(quantity, card, currency)))
    for card in details.get("fixedFeeRateCards", []):
        rate = exact(next(v["rate"] for v in card["rateValues"] if v["currency"] == currency))
        out.append(CardRevenue(FIXED_FEE, card, None, Decimal(1), PricedUsage(rate)))  # charged whole
    for card in license_cards:
        quantity = licenses.get(card["id"], Decimal(0))
        out.append(CardRevenue(LICENSE, card, card["id"], quantity, price_usage(quantity, card, currency)))
    for card in overage_cards:
        quantity = overages.get(card["featureId"], Decimal(0))
        out.append(CardRevenue(OVERAGE, card, card["featureId"], quantity, price_usage(quantity, card, currency)))
    return Revenue(currency, details, out)
