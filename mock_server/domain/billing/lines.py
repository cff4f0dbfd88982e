"""What one closed (or open) pricing cycle of an account bills, as invoice lines.

The lines of a cycle hang under one ``PRICE_PLAN_AMOUNT`` line (the plan),
as in Togai's own invoice example: a ``USAGE_RATE_CARD_AMOUNT`` per usage
rate card (its slabs as ``USAGE_RATE_CARD_SLAB_AMOUNT`` leaves) and a
``FIXED_FEE_RATE_CARD_AMOUNT`` per fixed fee due in the cycle (its
``recurrenceConfig`` says which cycles), and a ``TRUE_UP_AMOUNT`` when
they add up to less than the plan's minimum commitment. Usage comes
from the usage cube (one total per account and meter over the cycle, whole
hours), never from the events. Every leaf is rounded to the currency's minor
unit and every total adds the rounded lines below it.

A ``LICENSE_RATE_CARD_AMOUNT`` per licence rate card prices the licences
the account held in the cycle (:func:`_license_line`), and a
``CREDIT_GRANT_RATE_CARD_AMOUNT`` per credit grant due in the cycle (its
price; :mod:`.settle` grants the credits once the invoice is due).
An ``ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT`` per entitlement overage rate
card prices the overage of its feature the account used in the cycle
(:func:`_overage_line`). The plan's pricing rules (:mod:`.rules`) run on
those lines before the true-up (Togai's order: pricing rules, then
commitments and credits); credits are applied when the invoice is due
(:mod:`.settle`).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from ..core.money import exact, rounded, to_json
from ..core.store import Store
from ..core.times import parse_time, stamp_seconds
from ..ledger import entitlements, licenses
from ..pricing import engine as pricing
from ..pricing import schedules
from ..usage import aggregates as usage
from . import rules

PLAN_LINE = "PRICE_PLAN_AMOUNT"
USAGE_LINE = "USAGE_RATE_CARD_AMOUNT"
SLAB_LINE = "USAGE_RATE_CARD_SLAB_AMOUNT"
FIXED_LINE = "FIXED_FEE_RATE_CARD_AMOUNT"
TRUE_UP_LINE = "TRUE_UP_AMOUNT"
LICENSE_LINE = "LICENSE_RATE_CARD_AMOUNT"
GRANT_LINE = "CREDIT_GRANT_RATE_CARD_AMOUNT"
LICENSE_SLAB_LINE = "LICENSE_RATE_CARD_SLAB_AMOUNT"
OVERAGE_LINE = "ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT"
OVERAGE_SLAB_LINE = "ENTITLEMENT_OVERAGE_RATE_CARD_SLAB_AMOUNT"
DAY = timedelta(days=1)
ZERO = Decimal(0)


class KeysByAccount:
    """The usage cube's key ids by account and meter, kept up to date incrementally.

    The cube only ever appends keys, so each look-up reads the keys added since
    the last one; a cube replaced by an import is noticed by identity.
    """

    __slots__ = ("cube", "seen", "by_account")

    def __init__(self) -> None:
        self.cube: usage.Cube | None = None
        self.seen = 0
        self.by_account: dict[str, dict[str, list[int]]] = {}

    def of(self, store: Store, account_id: str) -> tuple[usage.Cube, dict[str, list[int]]]:
        """The cube and the account's key ids by meter."""
        cube = usage.aggregates(store).usage
        if cube is not self.cube:
            self.cube, self.seen, self.by_account = cube, 0, {}
        keys = cube.keys
        for kid in range(self.seen, len(keys)):
            account, _, meter = keys[kid]
            self.by_account.setdefault(account, {}).setdefault(meter, []).append(kid)
        self.seen = len(keys)
        return cube, self.by_account.get(account_id, {})


def metered(store: Store, keys: KeysByAccount, account_id: str, start: datetime, end: datetime) -> dict[str, Decimal]:
    """Each meter's units for the account over ``[start, end)`` (midnight bounds: whole hours)."""
    cube, meters = keys.of(store, account_id)
    begin, stop = int(start.timestamp()), int(end.timestamp())
    unit = Decimal(10) ** -cube.scale
    out: dict[str, Decimal] = {}
    for meter, kids in meters.items():
        total = sum(cube.key_total(kid, begin, stop) for kid in kids)
        if total:
            out[meter] = Decimal(total) * unit
    return out


def full_cycle(found: pricing.ScheduleAt) -> tuple[datetime, datetime]:
    """The plan's whole cycle around ``found``'s (which the association may clip at either end)."""
    details = found.details
    config = details.get("pricingCycleConfig") or pricing.DEFAULT_CYCLE
    anchor = parse_time(found.schedule["startDate"])
    return pricing.cycle_at(config, found.cycle_start, anchor, found.zone)


def cycle_index(found: pricing.ScheduleAt) -> int:
    """Which cycle of its association ``found``'s is: 0 for the one the association starts in.

    Counted on the plan's whole cycles (the first may be clipped by the start date), in weeks for
    a WEEKLY cycle and in the interval's months otherwise.
    """
    config = found.details.get("pricingCycleConfig") or pricing.DEFAULT_CYCLE
    anchor = parse_start(found)
    first = pricing.cycle_at(config, anchor, anchor, found.zone)[0]
    return pricing.cycles_between(config, first, full_cycle(found)[0], found.zone)


def recurs(card: dict[str, Any], index: int) -> bool:
    """Whether a recurring card is charged in cycle ``index`` of its association (see :func:`cycle_index`).

    ``recurrenceConfig``: charged every ``interval`` cycles ("the number of pricing cycles after which the
    rate card will be charged", Togai's contract) from cycle ``offset`` on. Decision where Togai is
    silent: cycles count from 0 (the association's first); a missing, null or non-positive ``interval``
    is every cycle, a missing, null or negative ``offset`` is 0.
    """
    config = card.get("recurrenceConfig") or {}
    interval = config.get("interval") or 1
    offset = config.get("offset") or 0
    interval, offset = max(int(interval), 1), max(int(offset), 0)
    return index >= offset and (index - offset) % interval == 0


def _usage_line(card: dict[str, Any], quantity: Decimal, currency: str, name: str) -> dict[str, Any]:
    """A usage rate card's line; ``metadata.usageMeterId`` names the entity a credit may be restricted to."""
    priced = pricing.price_usage(quantity, card, currency)
    rates = {r["order"]: r for r in (pricing.rate_value(card, currency) or {}).get("slabRates", [])}
    per_unit = {s["order"] for s in card["ratePlan"]["slabs"] if s["priceType"] == "PER_UNIT"}
    slabs: list[dict[str, Any]] = []
    total = ZERO
    for slab in priced.slabs:
        if not slab.usage and not slab.revenue:
            continue
        value = rounded(slab.revenue, currency)
        total += value
        leaf: dict[str, Any] = {"description": f"Slab {slab.order}", "type": SLAB_LINE,
                                "quantity": to_json(slab.usage), "value": to_json(value)}
        if slab.order in per_unit and slab.order in rates:
            leaf["valuePerQuantity"] = to_json(exact(rates[slab.order]["rate"]))
        slabs.append(leaf)
    line: dict[str, Any] = {"description": name, "type": USAGE_LINE, "quantity": to_json(quantity),
                            "value": to_json(total), "metadata": {"usageMeterId": card["usageMeterId"]}}
    if slabs:
        line["lineItems"] = slabs
    return line


def _repricer(card: dict[str, Any], currency: str, name: str) -> Callable[[Decimal], dict[str, Any]]:
    """How a pricing rule's new usage of the card is priced: through its slabs, as the cycle's usage is."""
    return lambda quantity: _usage_line(card, quantity, currency, name)


def _fixed_line(card: dict[str, Any], found: pricing.ScheduleAt, first: bool, index: int) -> dict[str, Any] | None:
    """A fixed fee due in the cycle (ONE_TIME only in the association's first; a recurring one in the
    cycles its ``recurrenceConfig`` names), prorated when enabled."""
    value = pricing.rate_value(card, found.currency)
    if value is None or (card.get("type") == "ONE_TIME" and not first):
        return None
    if card.get("type") != "ONE_TIME" and not recurs(card, index):
        return None
    fee = exact(value["rate"])
    # rateCardId: the fee's add-on, the entity a credit's applicableEntityIds may name.
    meta: dict[str, Any] = {"invoiceTiming": card.get("invoiceTiming", "IN_ARREARS"), "rateCardId": card["id"]}
    begin, end = full_cycle(found)
    if card.get("enableProration") and card.get("type") != "ONE_TIME" and (begin, end) != (found.cycle_start,
                                                                                           found.cycle_end):
        days, whole = (found.cycle_end - found.cycle_start).days, (end - begin).days
        fee = fee * days / whole
        meta["proratedDays"], meta["cycleDays"] = days, whole
    return {"description": card.get("displayName") or card["id"], "type": FIXED_LINE,
            "value": to_json(rounded(fee, found.currency)), "metadata": meta}


def held(store: Store, license_id: str, account_id: str, start: datetime, end: datetime,
         ) -> list[tuple[datetime, Decimal]]:
    """The licence's quantity over ``[start, end)``: (from, quantity) pairs, the first at ``start``."""
    entries = licenses.timeline(store, license_id, account_id)
    current = ZERO
    changes: list[tuple[datetime, Decimal]] = []
    for entry, quantity in zip(entries, licenses.replay(entries), strict=True):
        at = parse_time(entry["effectiveFrom"])
        if at <= start:
            current = exact(quantity)
        elif at < end:
            changes.append((at, exact(quantity)))
    return [(start, current), *changes]


def _license_line(store: Store, card: dict[str, Any], found: pricing.ScheduleAt) -> dict[str, Any]:
    """What a licence rate card bills for the cycle, from the account's licence updates.

    Togai's rate-cards page: a licence card's "granularity ... is per day" (several changes in a day
    make one quantity for that day). Decisions where it says no more: the quantity of a day is the
    most held at any moment of it (never below 0); without proration the cycle bills its peak day
    through the card's slabs; with ``enableProration`` each day of the cycle bills the price of its
    own quantity times 1/(days of the plan's whole cycle), so a month at 10 seats and a month at 10
    seats for half of it then 20 differ by half a month of 10 more seats.
    """
    currency = found.currency
    start, end = found.cycle_start, found.cycle_end
    points = held(store, card["id"], found.account_id, start, end)
    days: list[Decimal] = []
    day, i = start, 0
    while day < end:  # per day: the most held at any moment of it
        stop = min(day + DAY, end)
        while i + 1 < len(points) and points[i + 1][0] <= day:
            i += 1
        most, j = points[i][1], i + 1
        while j < len(points) and points[j][0] < stop:
            most = max(most, points[j][1])
            j += 1
        days.append(max(most, ZERO))
        day = stop
    peak = max(days, default=ZERO)
    meta: dict[str, Any] = {"rateCardId": card["id"], "invoiceTiming": card.get("invoiceTiming", "IN_ARREARS")}
    name = card.get("displayName") or card["id"]
    if not card.get("enableProration"):
        line = _usage_line({**card, "usageMeterId": card["id"]}, peak, currency, name)
        line["type"], line["metadata"] = LICENSE_LINE, meta
        for leaf in line.get("lineItems", []):
            leaf["type"] = LICENSE_SLAB_LINE
        return line
    begin, finish = full_cycle(found)
    whole = Decimal((finish - begin).days)
    value = sum((pricing.price_usage(q, card, currency).total for q in days), ZERO) / whole
    meta["proratedDays"], meta["cycleDays"] = len(days), int(whole)
    return {"description": name, "type": LICENSE_LINE, "quantity": to_json(peak),
            "value": to_json(rounded(value, currency)), "metadata": meta}


def _overage_priced(card: dict[str, Any], quantity: Decimal, *, currency: str) -> dict[str, Any]:
    """An overage quantity of the card's feature priced through its slabs, as an overage line."""
    line = _usage_line({**card, "usageMeterId": card["featureId"]}, quantity, currency,
                       card.get("displayName") or card["featureId"])
    line["type"], line["metadata"] = OVERAGE_LINE, {"featureId": card["featureId"]}
    for leaf in line.get("lineItems", []):
        leaf["type"] = OVERAGE_SLAB_LINE
    return line


def _overage_line(store: Store, card: dict[str, Any], found: pricing.ScheduleAt) -> dict[str, Any]:
    """What an entitlement overage rate card bills for the cycle: the overage of its feature the account used
    in it (the cycle's ``OVERAGE`` feature credit entries), priced through the card's slabs."""
    used = entitlements.overage_used(store, found.account_id, card["featureId"], found.cycle_start, found.cycle_end)
    return _overage_priced(card, used, currency=found.currency)


def _grant_line(card: dict[str, Any], found: pricing.ScheduleAt, first: bool, index: int) -> dict[str, Any] | None:
    """A credit grant due in the cycle: the price of its ``creditAmount`` through its slabs, in the account's
    currency; what to grant rides in the line's metadata for :func:`.settle.grant_credits`.

    Due as a fixed fee is: ONE_TIME in the association's first cycle, else in the cycles its
    ``recurrenceConfig`` names. None when it has no rates in the currency.
    """
    if card.get("type") == "ONE_TIME" and not first:
        return None
    if card.get("type") != "ONE_TIME" and not recurs(card, index):
        return None
    currency = found.currency
    rates = card["rateDetails"]
    detail = next((d for d in rates.get("currencySlabRateDetails", []) if d["currency"] == currency), None)
    if detail is None:
        return None
    amount = exact(detail["creditAmount"])
    slabs = detail.get("slabDetails", [])
    price = ZERO
    if slabs:  # priced as a usage card would price a quantity of creditAmount
        card_rates = {
            "ratePlan": {"pricingModel": rates["pricingModel"], "slabs": [
                {"order": i + 1, "startAfter": s["startAfter"], "priceType": s["priceType"],
                 "slabConfig": s.get("slabConfig", {})} for i, s in enumerate(slabs)]},
            "rateValues": [{"currency": currency, "slabRates": [
                {"order": i + 1, "rate": s["rate"], "slabRateConfig": s.get("slabRateConfig", {})}
                for i, s in enumerate(slabs)]}]}
        price = pricing.price_usage(amount, card_rates, currency).total
    grant = card["grantDetails"]
    meta: dict[str, Any] = {"rateCardId": card["id"], "invoiceTiming": card.get("invoiceTiming", "IN_ARREARS"),
                            "creditAmount": to_json(amount), "priority": grant["priority"],
                            "expiryType": grant["expiryType"]}
    if grant.get("expiryDuration"):
        meta["expiryDuration"] = grant["expiryDuration"]
    if grant.get("applicableEntityIds"):
        meta["applicableEntityIds"] = list(grant["applicableEntityIds"])
    return {"description": card.get("displayName") or card["id"], "type": GRANT_LINE, "quantity": to_json(amount),
            "value": to_json(rounded(price, currency)), "metadata": meta}


def plan_line(store: Store, keys: KeysByAccount, found: pricing.ScheduleAt) -> dict[str, Any]:
    """The cycle ``found`` holds, priced by its plan: one ``PRICE_PLAN_AMOUNT`` line with its rate cards."""
    currency = found.currency
    used = metered(store, keys, found.account_id, found.cycle_start, found.cycle_end)
    meters = store.collections["usageMeters"]
    children: list[dict[str, Any]] = []
    targets: list[rules.Target] = []  # what the plan's pricing rules may read and update
    for card in found.details.get("usageRateCards", []):
        if pricing.rate_value(card, currency) is None:
            continue
        record = meters.get(card["usageMeterId"])
        name = card.get("displayName") or (record["name"] if record is not None else card["usageMeterId"])
        children.append(_usage_line(card, used.get(card["usageMeterId"], ZERO), currency, name))
        targets.append(rules.Target(children[-1], f"usage.urc.{card['usageMeterId']}",
                                    f"revenue.urc.{card['usageMeterId']}", _repricer(card, currency, name)))
    for card in found.details.get("licenseRateCards", []):
        if pricing.rate_value(card, currency) is not None:
            children.append(_license_line(store, card, found))
            if card.get("invoiceTiming", "IN_ARREARS") != "IN_ADVANCE":
                targets.append(rules.Target(children[-1], f"usage.lrc.{card['id']}", f"revenue.lrc.{card['id']}",
                                            None))
    first = found.cycle_start == parse_start(found)
    index = cycle_index(found)
    for card in found.details.get("fixedFeeRateCards", []):
        line = _fixed_line(card, found, first, index)
        if line is not None:
            children.append(line)
            if card.get("invoiceTiming", "IN_ARREARS") != "IN_ADVANCE":
                targets.append(rules.Target(line, None, f"revenue.ff.{card['id']}", None))
    for card in found.details.get("entitlementOverageRateCards", []):
        if pricing.rate_value(card, currency) is not None:
            children.append(_overage_line(store, card, found))
            targets.append(rules.Target(children[-1], f"usage.eorc.{card['featureId']}",
                                        f"revenue.eorc.{card['featureId']}",
                                        partial(_overage_priced, card, currency=currency)))
    for card in found.details.get("creditGrantRateCards", []):
        grant = _grant_line(card, found, first, index)
        if grant is not None:
            children.append(grant)
    plan_rules = schedules.details_of(store, dict(found.schedule))[2]
    logs: list[dict[str, Any]] = []
    if plan_rules:  # Togai's order: pricing rules, then commitments and credits
        additions, logs = rules.apply(plan_rules, targets, currency)
        if additions is not None:
            children.append(additions)
    total = sum((exact(c["value"]) for c in children), ZERO)
    true_up = _true_up(found, total)
    if true_up is not None:
        children.append(true_up)
        total += exact(true_up["value"])
    out: dict[str, Any] = {"description": found.plan["name"], "type": PLAN_LINE, "value": to_json(total),
                           "metadata": {"pricePlanId": found.plan["id"], "cycleStart": stamp_seconds(found.cycle_start),
                                        "cycleEnd": stamp_seconds(found.cycle_end)}}
    if logs:
        out["metadata"][rules.LOGS] = logs
    if children:
        out["lineItems"] = children
    return out


def _true_up(found: pricing.ScheduleAt, total: Decimal) -> dict[str, Any] | None:
    """The ``TRUE_UP_AMOUNT`` line that brings the cycle's rate cards up to the plan's minimum commitment.

    Decision where Togai's documents are silent: the commitment is per cycle, in the account's currency
    (no line when the plan has none in it), compared with the cycle's rate-card total before credits,
    and not prorated for a cycle the association clips.
    """
    commitment = found.details.get("minimumCommitment")
    if not commitment:
        return None
    rate = next((v["rate"] for v in commitment.get("rateValues", []) if v["currency"] == found.currency), None)
    if rate is None:
        return None
    floor = rounded(exact(rate), found.currency)
    if total >= floor:
        return None
    return {"description": commitment.get("displayName") or "Minimum commitment", "type": TRUE_UP_LINE,
            "value": to_json(floor - total), "metadata": {"minimumCommitment": to_json(floor)}}


def parse_start(found: pricing.ScheduleAt) -> datetime:
    """When the association ``found`` is on started."""
    return parse_time(found.schedule["startDate"])
