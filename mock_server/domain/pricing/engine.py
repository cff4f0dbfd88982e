"""Togai's pricing engine, as pure functions: rate cards, slabs and pricing cycles.

What other modules call:

- :func:`price_usage` prices a usage quantity with a usage rate card in one
  currency (``TIERED``/``VOLUME`` with ``PER_UNIT``, ``FLAT`` and ``PACKAGE``
  slabs), exactly, in :class:`~decimal.Decimal`.
- :func:`cycle_at` gives the pricing cycle of a pricing-cycle config that
  holds an instant.
- :class:`ScheduleAt` is what prices an account at an instant (its
  association, plan version, effective details and cycle);
  :func:`~mock_server.domain.pricing.schedules.schedule_at` finds it.
- :func:`price_meter` prices a meter's usage with a :class:`ScheduleAt`
  (the usage rate card of that meter, in the account's currency).
- :func:`rate_card_problems` checks a rate card's slabs and rates (the
  price-plan and association rules use it).

Decisions where Togai's documents are silent (README, "Price plans"): a slab
holds the units *after* its ``startAfter`` up to and including the next
slab's ``startAfter``; a ``PACKAGE`` slab charges whole packages (the units
in it divided by ``slabConfig.packageSize``, rounded up); a ``FLAT`` slab
charges its rate once when it holds any unit; ``VOLUME`` prices every unit
with the one slab the whole quantity falls in; zero units cost nothing.
``slabRateConfig.minimumRate``/``maximumRate`` bound what a slab that holds
units charges. Nothing is rounded.
"""
from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from datetime import date as date_type
from decimal import ROUND_CEILING, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..core.errors import Violation
from ..core.money import decimal_problem, exact, to_json

# Where Togai's schedules end when they have no end.
FOREVER = "9999-01-01T00:00:00Z"
PERIOD_MONTHS = {"MONTHLY": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "ANNUALLY": 12}
DEFAULT_CYCLE: dict[str, Any] = {
    "interval": "MONTHLY",
    "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
    "gracePeriod": 0,
    "anniversaryCycle": False,
}


@dataclass(frozen=True, slots=True)
class SlabRevenue:
    """What one slab charged: the units it held and their price."""

    order: int
    usage: Decimal
    revenue: Decimal
    package_quantity: int | None = None  # PACKAGE slabs: whole packages charged
    minimum_applied: bool = False
    maximum_applied: bool = False

    def to_json(self) -> dict[str, Any]:
        """The slab as Togai's ``SlabRevenueSummary``."""
        out: dict[str, Any] = {"order": self.order, "usage": to_json(self.usage), "revenue": to_json(self.revenue)}
        meta: dict[str, Any] = {}
        if self.package_quantity is not None:
            meta["packageQuantity"] = self.package_quantity
        if self.minimum_applied:
            meta["minimumRateApplied"] = True
        if self.maximum_applied:
            meta["maximumRateApplied"] = True
        if meta:
            out["metadata"] = meta
        return out


@dataclass(frozen=True, slots=True)
class PricedUsage:
    """A quantity priced with a rate card: the total and each slab's share."""

    total: Decimal
    slabs: list[SlabRevenue] = field(default_factory=list)


def rate_value(card: Mapping[str, Any], currency: str) -> Mapping[str, Any] | None:
    """The rate card's rates in ``currency``, if it has them."""
    return next((v for v in card.get("rateValues", []) if v["currency"] == currency), None)


def price_usage(quantity: Any, card: Mapping[str, Any], currency: str) -> PricedUsage:
    """Price ``quantity`` units with a usage (or license) rate card in ``currency``.

    Raises ``KeyError`` when the card has no rates in ``currency`` (callers
    check :func:`rate_value` first and name the field).
    """
    value = rate_value(card, currency)
    if value is None:
        raise KeyError(currency)
    return price_slabs(exact(quantity), card["ratePlan"], value)


def price_slabs(quantity: Decimal, plan: Mapping[str, Any], value: Mapping[str, Any]) -> PricedUsage:
    """Price ``quantity`` with a rate plan (model and slabs) and one currency's slab rates."""
    slabs = sorted(plan["slabs"], key=lambda s: s["order"])
    rates = {r["order"]: r for r in value["slabRates"]}
    bounds = [exact(s["startAfter"]) for s in slabs]
    tops: list[Decimal | None] = [*bounds[1:], None]
    out: list[SlabRevenue] = []
    volume = plan["pricingModel"] == "VOLUME"
    for slab, start, top in zip(slabs, bounds, tops, strict=True):
        if volume:
            holds = quantity > start and (top is None or quantity <= top)
            units = quantity if holds else Decimal(0)
        else:
            units = max(Decimal(0), (quantity if top is None else min(quantity, top)) - start)
        out.append(_charge(slab, rates[slab["order"]], units))
    return PricedUsage(sum((s.revenue for s in out), Decimal(0)), out)


def _charge(slab: Mapping[str, Any], rate: Mapping[str, Any], units: Decimal) -> SlabRevenue:
    price = exact(rate["rate"])
    packages: int | None = None
    if units <= 0:
        revenue = Decimal(0)
        if slab["priceType"] == "PACKAGE":
            packages = 0
    elif slab["priceType"] == "PER_UNIT":
        revenue = units * price
    elif slab["priceType"] == "FLAT":
        revenue = price
    else:
        packages = int((units / package_size(slab)).to_integral_value(ROUND_CEILING))
        revenue = packages * price
    config = rate.get("slabRateConfig") or {}
    low, high = _bound(config.get("minimumRate")), _bound(config.get("maximumRate"))
    minimum = units > 0 and low is not None and revenue < low
    maximum = units > 0 and high is not None and revenue > high
    if minimum:
        revenue = low  # type: ignore[assignment]
    elif maximum:
        revenue = high  # type: ignore[assignment]
    return SlabRevenue(slab["order"], units, revenue, packages, minimum, maximum)


def _bound(text: Any) -> Decimal | None:
    # Checked when the plan was written (rate_card_problems); a stored one that is not usable is ignored.
    return None if text is None or decimal_problem(text) is not None else exact(text)


def package_size(slab: Mapping[str, Any]) -> Decimal:
    """A PACKAGE slab's ``slabConfig.packageSize`` (checked positive when the plan was written)."""
    return exact((slab.get("slabConfig") or {})["packageSize"])


def rate_card_problems(card: Mapping[str, Any], where: str, currencies: Sequence[str]) -> list[Violation]:
    """Why a rate card with a ``ratePlan`` and ``rateValues`` cannot be priced.

    Slab orders are unique; ``startAfter`` starts at 0 and rises strictly with
    the order; a PACKAGE slab has a positive ``packageSize``; each currency
    has one rate value, among ``currencies``, with one non-negative rate per
    slab and no other.
    """
    out: list[Violation] = []
    slabs = card["ratePlan"]["slabs"]
    orders = [s["order"] for s in slabs]
    if len(set(orders)) != len(orders):
        out.append(Violation(f"{where}.ratePlan.slabs", "two slabs have the same order"))
    ranked = sorted(enumerate(slabs), key=lambda pair: pair[1]["order"])
    previous: Decimal | None = None
    for i, slab in ranked:
        here = f"{where}.ratePlan.slabs[{i}]"
        problem = decimal_problem(slab["startAfter"])
        if problem is not None:
            out.append(Violation(f"{here}.startAfter", problem))
            continue
        start = exact(slab["startAfter"])
        if previous is None and start != 0:
            out.append(Violation(f"{here}.startAfter", "must be 0 for the first slab"))
        elif previous is not None and start <= previous:
            out.append(Violation(f"{here}.startAfter", "must be greater than the previous slab's (slabs ascend)"))
        previous = start
        if slab["priceType"] == "PACKAGE":
            size = (slab.get("slabConfig") or {}).get("packageSize")
            problem = "must be a number above 0 for a PACKAGE slab" if size is None else decimal_problem(size)
            if problem is None and exact(size) <= 0:
                problem = "must be a number above 0 for a PACKAGE slab"
            if problem is not None:
                out.append(Violation(f"{here}.slabConfig.packageSize", problem))
    seen: set[str] = set()
    for j, value in enumerate(card.get("rateValues", [])):
        here = f"{where}.rateValues[{j}]"
        if value["currency"] not in currencies:
            out.append(Violation(f"{here}.currency", f"{value['currency']!r} is not a supported currency of the plan"))
        if value["currency"] in seen:
            out.append(Violation(f"{here}.currency", f"{value['currency']!r} has rates twice"))
        seen.add(value["currency"])
        given = [r["order"] for r in value["slabRates"]]
        if sorted(given) != sorted(set(orders)) or len(given) != len(set(given)):
            out.append(Violation(f"{here}.slabRates", f"must give one rate for each slab order {sorted(set(orders))}"))
        for k, rate in enumerate(value["slabRates"]):
            out.extend(_rate_problems(rate, f"{here}.slabRates[{k}]"))
    return out


def _rate_problems(rate: Mapping[str, Any], here: str) -> list[Violation]:
    """A slab's rate and its ``slabRateConfig`` bounds: usable decimals, not negative, minimum <= maximum."""
    problem = decimal_problem(rate["rate"])
    if problem is None and exact(rate["rate"]) < 0:
        problem = "must not be negative"
    out = [] if problem is None else [Violation(f"{here}.rate", problem)]
    config = rate.get("slabRateConfig") or {}
    bounds: dict[str, Decimal] = {}
    for key in ("minimumRate", "maximumRate"):
        if key in config:
            problem = decimal_problem(config[key])
            if problem is None and exact(config[key]) < 0:
                problem = "must not be negative"
            if problem is None:
                bounds[key] = exact(config[key])
            else:
                out.append(Violation(f"{here}.slabRateConfig.{key}", problem))
    if len(bounds) == 2 and bounds["minimumRate"] > bounds["maximumRate"]:
        out.append(Violation(f"{here}.slabRateConfig.minimumRate", "must not be above maximumRate"))
    return out


# -- Pricing cycles -----------------------------------------------------------------------------


def _day(offset: str, year: int, month: int) -> int:
    last = calendar.monthrange(year, month)[1]
    return last if offset == "LAST" else min(int(offset), last)


def _month(offset: str, period: int) -> int:
    if offset in ("NIL", "FIRST"):
        return 1
    return period if offset == "LAST" else int(offset)


def anniversary_offsets(config: Mapping[str, Any], start: datetime) -> dict[str, str]:
    """The ``startOffset`` an anniversary cycle takes from the association's start date."""
    if config["interval"] == "WEEKLY":
        return {"dayOffset": str(start.isoweekday()), "monthOffset": "NIL"}
    last = calendar.monthrange(start.year, start.month)[1]
    day = "LAST" if start.day == last and start.day > 28 else str(start.day)
    period = PERIOD_MONTHS[config["interval"]]
    month = "NIL" if period == 1 else str((start.month - 1) % period + 1)
    return {"dayOffset": day, "monthOffset": month}


def cycle_at(config: Mapping[str, Any], instant: datetime, anchor: datetime | None = None,
             zone: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """The pricing cycle ``[start, end)`` of ``config`` that holds ``instant``, as UTC instants.

    A calendar cycle starts at midnight of its first day in the organisation's time zone ``zone``
    (None: UTC), so a month in Europe/Paris starts at 23:00Z or 22:00Z of the day before (the
    offset of that date: a cycle across a DST change is an hour shorter or longer). ``anchor`` (the
    schedule's start) gives the offsets of an anniversary cycle, taken from its local date, whose
    cycles start at the anchor's local time of day (its wall time, kept across DST).
    """
    tz = zone or UTC
    offsets = config.get("startOffset") or DEFAULT_CYCLE["startOffset"]
    at = time(0)
    if config.get("anniversaryCycle") and anchor is not None:
        local_anchor = anchor.astimezone(tz)
        offsets = anniversary_offsets(config, local_anchor)
        at = local_anchor.time()  # naive: the wall time, whatever the offset of each cycle's first day
    day_offset, month_offset = str(offsets["dayOffset"]), str(offsets.get("monthOffset", "NIL"))
    local = instant.astimezone(tz)

    def begins(day: date_type) -> datetime:  # the instant a cycle starting on local ``day`` starts
        return datetime.combine(day, at, tz).astimezone(UTC)

    if config["interval"] == "WEEKLY":
        weekday = 7 if day_offset == "LAST" else int(day_offset)
        today = local.date()
        first = today - timedelta(days=(today.isoweekday() - weekday) % 7)
        if begins(first) > instant:  # before the anchor's wall time on the cycle's first day
            first -= timedelta(days=7)
        return begins(first), begins(first + timedelta(days=7))
    period = PERIOD_MONTHS[config["interval"]]

    def start_of(index: int) -> datetime:  # index: months since year 0, at a period boundary
        year, month0 = divmod(index + _month(month_offset, period) - 1, 12)
        return begins(date_type(year, month0 + 1, _day(day_offset, year, month0 + 1)))

    index = (local.year * 12 + local.month - 1) // period * period
    if start_of(index) > instant:
        index -= period
    return start_of(index), start_of(index + period)


def cycles_between(config: Mapping[str, Any], first: datetime, this: datetime, zone: ZoneInfo | None = None) -> int:
    """How many whole cycles of ``config`` separate the cycle starting at ``first`` from the one starting at
    ``this`` (both from :func:`cycle_at` with ``zone``): counted on local dates, so a DST change between
    them (a week of 167 hours) changes nothing."""
    tz = zone or UTC
    a, b = first.astimezone(tz), this.astimezone(tz)
    if config["interval"] == "WEEKLY":
        return (b.date() - a.date()).days // 7
    months = (b.year * 12 + b.month) - (a.year * 12 + a.month)
    return months // PERIOD_MONTHS[config["interval"]]


def valid_offsets(config: Mapping[str, Any], where: str) -> list[Violation]:
    """Why a ``pricingCycleConfig`` has offsets Togai refuses (day 1-7 weekly, 1-31 else; months by interval)."""
    out: list[Violation] = []
    if config.get("gracePeriod", 0) < 0:
        out.append(Violation(f"{where}.gracePeriod", "must not be negative"))
    offsets = config.get("startOffset")
    if offsets is None:
        return out
    weekly = config["interval"] == "WEEKLY"
    day = str(offsets["dayOffset"])
    if not (day == "LAST" or (day.isdigit() and 1 <= int(day) <= (7 if weekly else 31))):
        out.append(Violation(f"{where}.startOffset.dayOffset", f"must be LAST or 1 to {7 if weekly else 31}"))
    month = str(offsets["monthOffset"])
    period = 1 if weekly else PERIOD_MONTHS[config["interval"]]
    if period == 1 and month != "NIL":
        out.append(Violation(f"{where}.startOffset.monthOffset", f"must be NIL for a {config['interval']} cycle"))
    elif period > 1 and not (month in ("FIRST", "LAST") or (month.isdigit() and 1 <= int(month) <= period)):
        out.append(Violation(f"{where}.startOffset.monthOffset", f"must be FIRST, LAST or 1 to {period}"))
    return out


@dataclass(frozen=True, slots=True)
class ScheduleAt:
    """What prices an account at an instant: its schedule, the plan version and the cycle."""

    account_id: str
    schedule: Mapping[str, Any]  # the account's association (PlanOverride shape, with its version)
    plan: Mapping[str, Any]  # the price plan record
    version: int
    details: dict[str, Any]  # the plan version's details with the association's overrides applied
    currency: str  # the account's invoice currency, the one its usage is priced in
    cycle_start: datetime
    cycle_end: datetime
    zone: ZoneInfo | None = None  # the organisation's time zone the cycle was cut in (None: UTC)


def price_meter(found: ScheduleAt, meter_id: str, quantity: Any) -> PricedUsage | None:
    """``quantity`` of ``meter_id`` priced by the account's plan at that instant, in its invoice currency.

    None when the plan has no usage rate card for the meter, or no rates in the currency.
    """
    card = next((c for c in found.details.get("usageRateCards", []) if c["usageMeterId"] == meter_id), None)
    if card is None or rate_value(card, found.currency) is None:
        return None
    return price_usage(quantity, card, found.currency)
