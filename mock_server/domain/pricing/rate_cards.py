"""Named rate cards: the v2 view of a plan version's (or an account schedule's) ``pricePlanDetails``.

Togai's v2 operations handle rate cards one at a time, each under a name
unique in its version, with its ``type`` naming the kind (``USAGE``,
``FIXED_FEE`` ...) and ``rateCardDetails`` holding the v1 card itself. The
mock keeps one store: a v2 rate card *is* an entry of the version's v1 lists
(``usageRateCards``, ``fixedFeeRateCards`` ...), its name the card's
``name`` (which the newer contract added to every v1 card); a card without
one (made through v1) is named after what it prices (its meter, add-on or
feature id). The minimum commitment has no ``name`` field: it is always
named ``minimumCommitment``.

Bulk operations (:func:`apply`) change a copy of the details and answer all
or none. What is *wrong* with a card (an unknown meter, a rate in a
currency the plan does not support, a broken slab) refuses the operation;
what is *missing* (no rates yet in a supported currency) is listed by
:func:`errors` and keeps the draft from being finalized.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..core.errors import Invalid, Violation
from ..core.store import Store
from . import plans as price_plans


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of rate card: its member in ``rateCardDetails``, its v1 list and the field naming what it prices."""

    type: str
    member: str  # in RateCardDetails
    field: str  # in pricePlanDetails (a list, but the minimum commitment)
    billable: str | None  # the card's field naming what it prices (None: the minimum commitment)
    timing: bool  # whether the v1 card carries its own invoiceTiming


KINDS = (
    Kind("USAGE", "usageRateCard", "usageRateCards", "usageMeterId", False),
    Kind("FIXED_FEE", "fixedFeeRateCard", "fixedFeeRateCards", "id", True),
    Kind("LICENSE", "licenseRateCard", "licenseRateCards", "id", True),
    Kind("CREDIT_GRANT", "creditGrantRateCard", "creditGrantRateCards", "id", True),
    Kind("BILLING_ENTITLEMENT", "billingEntitlementRateCard", "billingEntitlementRateCards", "featureId", True),
    Kind("ENTITLEMENT_OVERAGE", "entitlementOverageRateCard", "entitlementOverageRateCards", "featureId", False),
    Kind("MINIMUM_COMMITMENT", "minimumCommitmentRateCard", "minimumCommitment", None, False),
)
BY_TYPE = {k.type: k for k in KINDS}
BY_FIELD = {k.field: k for k in KINDS}
MINIMUM = "minimumCommitment"  # the minimum commitment's name
# Where plans.details_problems puts a card: "<prefix>.<field>[<i>]..." or "<prefix>.minimumCommitment...".
_PREFIX = "pricePlanDetails"


@dataclass(frozen=True, slots=True)
class Named:
    """A rate card of a version: its name, kind, the v1 card and its place in its list (None: the minimum)."""

    name: str
    kind: Kind
    card: dict[str, Any]
    index: int | None


def name_of(kind: Kind, card: dict[str, Any]) -> str:
    """The card's name: its own, else what it prices (the minimum commitment: ``minimumCommitment``)."""
    if kind.billable is None:
        return MINIMUM
    return str(card.get("name") or card[kind.billable])


def cards_of(details: dict[str, Any]) -> list[Named]:
    """The version's rate cards, kind by kind, each list in its order."""
    out: list[Named] = []
    for kind in KINDS:
        if kind.billable is None:
            if kind.field in details:
                out.append(Named(MINIMUM, kind, details[kind.field], None))
            continue
        out += [Named(name_of(kind, card), kind, card, i) for i, card in enumerate(details.get(kind.field, []))]
    return out


def _currencies(kind: Kind, card: dict[str, Any]) -> list[str]:
    if kind.type == "CREDIT_GRANT":
        return [v["currency"] for v in card["rateDetails"]["currencySlabRateDetails"]]
    return [v["currency"] for v in card.get("rateValues", [])]


def render(named: Named, plan_id: str, reference_id: str, account_id: str | None = None) -> dict[str, Any]:
    """One card as ``RateCard``, of the plan version (or account schedule) ``reference_id``."""
    card, kind = named.card, named.kind
    timing = card.get("invoiceTiming", "IN_ARREARS") if kind.timing else "IN_ARREARS"
    out: dict[str, Any] = {
        "billableId": str(card[kind.billable]) if kind.billable else MINIMUM,
        "type": kind.type,
        "displayName": str(card.get("displayName") or named.name)[:255],
        "invoiceTiming": timing,
        "rateCardDetails": {kind.member: card},
    }
    if "tag" in card:
        out["tag"] = card["tag"]
    out |= {"name": named.name, "referenceId": reference_id,
            "referenceType": "PRICE_PLAN" if account_id is None else "ACCOUNT_SCHEDULE",
            "currencies": _currencies(kind, card), "pricePlanId": plan_id}
    if account_id is not None:
        out["accountId"] = account_id
    return out


def _card_from(data: dict[str, Any], name: str, where: str) -> tuple[Kind, dict[str, Any]]:
    """The v1 card a ``RateCardData`` describes (named ``name``), or the violations of its shape."""
    kind = BY_TYPE[data["type"]]
    members = list(data["rateCardDetails"])
    if members != [kind.member]:
        raise Invalid.at(f"{where}.rateCardDetails", f"must hold exactly {kind.member} for a {kind.type} rate card "
                                                     f"(it holds {', '.join(members) or 'nothing'})")
    card = copy.deepcopy(data["rateCardDetails"][kind.member])
    problems: list[Violation] = []
    if kind.billable is None:
        if name != MINIMUM:
            problems.append(Violation(f"{where[:-len('.rateCard')]}.rateCardName",
                                      f"a minimum commitment is always named {MINIMUM!r}"))
    else:
        card["name"] = name
        if card[kind.billable] != data["billableId"]:
            problems.append(Violation(f"{where}.billableId", f"must be the card's {kind.billable} "
                                                             f"{card[kind.billable]!r}"))
    if kind.timing:
        if card.setdefault("invoiceTiming", data["invoiceTiming"]) != data["invoiceTiming"]:
            problems.append(Violation(f"{where}.invoiceTiming", f"must be the card's own invoiceTiming "
                                                                f"{card['invoiceTiming']}"))
    elif data["invoiceTiming"] != "IN_ARREARS":
        problems.append(Violation(f"{where}.invoiceTiming", f"a {kind.type} rate card is invoiced IN_ARREARS"))
    for key in ("displayName", "tag"):
        if key in data and (key != "tag" or kind.billable is not None):
            card.setdefault(key, data[key])
    if problems:
        raise Invalid(problems)
    return kind, card


def _put(details: dict[str, Any], kind: Kind, card: dict[str, Any], at: int | None = None) -> None:
    if kind.billable is None:
        details[kind.field] = card
        return
    cards = details.setdefault(kind.field, [])
    if at is None:
        cards.append(card)
    else:
        cards.insert(at, card)


def _drop(details: dict[str, Any], named: Named) -> None:
    if named.index is None:
        del details[named.kind.field]
        return
    cards = details[named.kind.field]
    del cards[named.index]
    if not cards:
        del details[named.kind.field]


def apply(store: Store, details: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """The details after the ``RateCardOperation``s, in order; :class:`Invalid` naming every refused one.

    ``details`` is not changed. A card a CREATE or UPDATE of this batch
    leaves wrong (see the module) refuses the batch; problems of cards the
    batch does not touch stay for :func:`errors`.
    """
    out = copy.deepcopy(details)
    problems: list[Violation] = []
    touched: dict[str, int] = {}
    for i, op in enumerate(operations):
        where, name = f"operations[{i}]", op["rateCardName"]
        current = {n.name: n for n in cards_of(out)}
        found = current.get(name)
        if op["actionType"] == "DELETE":
            if found is None:
                problems.append(Violation(f"{where}.rateCardName", f"no rate card named {name!r} to delete"))
                continue
            _drop(out, found)
            touched.pop(name, None)
            continue
        if "rateCard" not in op:
            problems.append(Violation(f"{where}.rateCard", f"is required to {op['actionType']} a rate card"))
            continue
        if op["actionType"] == "CREATE" and found is not None:
            problems.append(Violation(f"{where}.rateCardName", f"a rate card named {name!r} already exists"))
            continue
        if op["actionType"] == "UPDATE" and found is None:
            problems.append(Violation(f"{where}.rateCardName", f"no rate card named {name!r} to update"))
            continue
        try:
            kind, card = _card_from(op["rateCard"], name, f"{where}.rateCard")
        except Invalid as wrong:
            problems += wrong.violations
            continue
        if kind.billable is None and found is None and kind.field in out:
            problems.append(Violation(f"{where}.rateCardName", "the version already has a minimum commitment"))
            continue
        at = None
        if found is not None:
            at = found.index if found.kind == kind else None
            _drop(out, found)
        _put(out, kind, card, at)
        touched[name] = i
    if problems:
        raise Invalid(problems)
    mine = [_mine(v, out, touched) for v in price_plans.details_problems(store, out, _PREFIX)]
    refused = [v for v in mine if v is not None]
    if refused:
        raise Invalid(refused)
    return out


def _owner(field: str, details: dict[str, Any]) -> tuple[Named | None, str]:
    """The card a field path of :func:`plans.details_problems` is about, and the rest of the path."""
    rest = field[len(_PREFIX) + 1:] if field.startswith(_PREFIX + ".") else field
    named = cards_of(details)
    for item in named:
        head = item.kind.field if item.index is None else f"{item.kind.field}[{item.index}]"
        if rest == head or rest.startswith(head + ".") or rest.startswith(head + "["):
            return item, rest[len(head):]
    return None, rest


def _mine(violation: Violation, details: dict[str, Any], touched: dict[str, int]) -> Violation | None:
    """A problem of a card this batch made, renamed to its operation's field; None for any other."""
    item, rest = _owner(violation.field, details)
    if item is None or item.name not in touched:
        return None
    return Violation(f"operations[{touched[item.name]}].rateCard.rateCardDetails.{item.kind.member}{rest}",
                     violation.rule)


def errors(store: Store, details: dict[str, Any], rules: list[dict[str, Any]], reference_id: str,
           owner_id: str, currencies: list[str] | None = None) -> list[dict[str, Any]]:
    """What keeps a version (or schedule) from being finalized, as ``ValidatedEntityError``s.

    No rate card at all; a card without rates in one of ``currencies`` (the
    supported ones when not given); anything :func:`plans.details_problems`
    finds (a meter archived since, a rate in a currency no longer
    supported ...); a pricing rule that is not JSON-logic.
    """
    out: list[dict[str, Any]] = []

    def add(entity_id: str, entity_type: str, message: str) -> None:
        out.append({"referenceId": reference_id, "entityId": entity_id, "entityType": entity_type,
                    "errorMessage": message})

    named = cards_of(details)
    if not named:
        add(owner_id, "PRICE_PLAN", "has no rate card")
    by_path = {(n.kind.field if n.index is None else f"{n.kind.field}[{n.index}]"): n for n in named}
    for currency in details.get("supportedCurrencies", []) if currencies is None else currencies:
        for path in price_plans.missing_rates(details, currency):
            add(by_path[path].name, "RATE_CARD", f"rate card {by_path[path].name} has no rates in {currency}, "
                                                 "a supported currency of the plan")
    for violation in price_plans.details_problems(store, details, _PREFIX):
        item, rest = _owner(violation.field, details)
        if item is None:
            add(owner_id, "PRICE_PLAN", f"{rest}: {violation.rule}")
        else:
            add(item.name, "RATE_CARD", f"rate card {item.name}{rest}: {violation.rule}")
    for violation in price_plans.rules_problems(rules, "pricingRules"):
        index = int(violation.field.split("[")[1].split("]")[0])
        add(str(rules[index].get("id", index)), "PRICING_RULE", f"{violation.field}: {violation.rule}")
    return out
