"""The pricing engine (mock_server.domain.pricing.engine): slabs, models and cycles, with worked numbers."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from mock_server.domain.pricing.engine import cycle_at, price_usage, rate_card_problems


def card(model: str, rates: list[Any] | None = None, **slab_rate_config: str) -> dict[str, Any]:
    """0.5 per unit up to 100, a flat 20 for anything in 100..200, then 3 per started package of 10."""
    slab_rates: list[dict[str, Any]] = [{"order": 1, "rate": 0.5}, {"order": 2, "rate": 20}, {"order": 3, "rate": 3}]
    if slab_rate_config:
        slab_rates[0]["slabRateConfig"] = slab_rate_config
    return {
        "usageMeterId": "um.x",
        "ratePlan": {"pricingModel": model, "slabs": [
            {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"},
            {"order": 2, "startAfter": 100, "priceType": "FLAT"},
            {"order": 3, "startAfter": 200, "priceType": "PACKAGE", "slabConfig": {"packageSize": "10"}},
        ]},
        "rateValues": [{"currency": "USD", "slabRates": rates or slab_rates}],
    }


# quantity -> (total, units per slab): TIERED fills each slab in turn.
TIERED = [
    (0, 0, [0, 0, 0]),
    (50, 25, [50, 0, 0]),
    (100, 50, [100, 0, 0]),  # a slab holds the units up to and including the next slab's startAfter
    (100.5, 70, [100, 0.5, 0]),  # any unit in a FLAT slab charges it once
    (200, 70, [100, 100, 0]),
    (201, 73, [100, 100, 1]),  # a started package is a whole package
    (230, 79, [100, 100, 30]),
    (231, 82, [100, 100, 31]),
]
# VOLUME prices every unit with the slab the whole quantity falls in.
VOLUME = [
    (0, 0, [0, 0, 0]),
    (50, 25, [50, 0, 0]),
    (100, 50, [100, 0, 0]),
    (150, 20, [0, 150, 0]),
    (200, 20, [0, 200, 0]),
    (230, 69, [0, 0, 230]),
    (231, 72, [0, 0, 231]),
]


@pytest.mark.parametrize(("quantity", "total", "units"), TIERED)
def test_tiered(quantity: float, total: int, units: list[float]) -> None:
    priced = price_usage(quantity, card("TIERED"), "USD")
    assert priced.total == Decimal(total)
    assert [s.usage for s in priced.slabs] == [Decimal(str(u)) for u in units]
    assert sum(s.revenue for s in priced.slabs) == priced.total


@pytest.mark.parametrize(("quantity", "total", "units"), VOLUME)
def test_volume(quantity: float, total: int, units: list[float]) -> None:
    priced = price_usage(quantity, card("VOLUME"), "USD")
    assert priced.total == Decimal(total)
    assert [s.usage for s in priced.slabs] == [Decimal(str(u)) for u in units]


def test_packages_are_counted_in_the_answer() -> None:
    priced = price_usage(231, card("TIERED"), "USD")
    assert priced.slabs[2].to_json() == {"order": 3, "usage": 31, "revenue": 12, "metadata": {"packageQuantity": 4}}
    assert priced.slabs[0].to_json() == {"order": 1, "usage": 100, "revenue": 50}


def test_amounts_are_exact_decimals() -> None:
    rates = [{"order": 1, "rate": 0.1}, {"order": 2, "rate": 0}, {"order": 3, "rate": 0}]
    assert price_usage(3, card("TIERED", rates), "USD").total == Decimal("0.3")  # not 0.30000000000000004
    assert price_usage("12.5", card("TIERED", rates), "USD").total == Decimal("1.25")


@pytest.mark.parametrize(("quantity", "revenue", "minimum", "maximum"), [
    (2, 5, True, False),  # 1.00 raised to the minimum
    (20, 10, False, False),
    (100, 30, False, True),  # 50 capped at the maximum
    (0, 0, False, False),  # an empty slab charges nothing, minimum or not
])
def test_minimum_and_maximum_rates_bound_a_slab(quantity: int, revenue: int, minimum: bool, maximum: bool) -> None:
    slab = price_usage(quantity, card("TIERED", minimumRate="5", maximumRate="30"), "USD").slabs[0]
    assert (slab.revenue, slab.minimum_applied, slab.maximum_applied) == (Decimal(revenue), minimum, maximum)


def test_a_currency_without_rates_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        price_usage(1, card("TIERED"), "EUR")


def test_rate_card_rules() -> None:
    good = card("TIERED")
    assert rate_card_problems(good, "c", ["USD"]) == []
    bad = card("TIERED")
    bad["ratePlan"]["slabs"][0]["startAfter"] = 5
    bad["ratePlan"]["slabs"][2]["startAfter"] = 100
    del bad["ratePlan"]["slabs"][2]["slabConfig"]
    bad["rateValues"][0]["slabRates"] = bad["rateValues"][0]["slabRates"][:2]
    bad["rateValues"].append({"currency": "EUR", "slabRates": [{"order": 1, "rate": -1}, {"order": 2, "rate": 1},
                                                              {"order": 3, "rate": 1}]})
    found = {str(v) for v in rate_card_problems(bad, "c", ["USD"])}
    assert found == {
        "c.ratePlan.slabs[0].startAfter: must be 0 for the first slab",
        "c.ratePlan.slabs[2].startAfter: must be greater than the previous slab's (slabs ascend)",
        "c.ratePlan.slabs[2].slabConfig.packageSize: must be a number above 0 for a PACKAGE slab",
        "c.rateValues[0].slabRates: must give one rate for each slab order [1, 2, 3]",
        "c.rateValues[1].currency: 'EUR' is not a supported currency of the plan",
        "c.rateValues[1].slabRates[0].rate: must not be negative",
    }


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def monthly(day: str) -> dict[str, Any]:
    return {"interval": "MONTHLY", "startOffset": {"dayOffset": day, "monthOffset": "NIL"}, "gracePeriod": 0}


@pytest.mark.parametrize(("config", "instant", "start", "end"), [
    (monthly("1"), "2024-02-15T10:00:00", "2024-02-01", "2024-03-01"),
    (monthly("1"), "2024-03-01T00:00:00", "2024-03-01", "2024-04-01"),  # a cycle starts at its first instant
    (monthly("31"), "2024-02-15T00:00:00", "2024-01-31", "2024-02-29"),  # a missing day is the month's last
    (monthly("31"), "2024-02-29T12:00:00", "2024-02-29", "2024-03-31"),
    (monthly("LAST"), "2023-02-28T00:00:00", "2023-02-28", "2023-03-31"),
    ({"interval": "WEEKLY", "startOffset": {"dayOffset": "3", "monthOffset": "NIL"}, "gracePeriod": 0},
     "2024-01-01T08:00:00", "2023-12-27", "2024-01-03"),  # 2024-01-01 is a Monday; cycles start on Wednesdays
    ({"interval": "QUARTERLY", "startOffset": {"dayOffset": "15", "monthOffset": "2"}, "gracePeriod": 0},
     "2024-01-10T00:00:00", "2023-11-15", "2024-02-15"),
    ({"interval": "HALF_YEARLY", "startOffset": {"dayOffset": "15", "monthOffset": "LAST"}, "gracePeriod": 0},
     "2024-07-01T00:00:00", "2024-06-15", "2024-12-15"),
    ({"interval": "ANNUALLY", "startOffset": {"dayOffset": "LAST", "monthOffset": "2"}, "gracePeriod": 0},
     "2024-03-01T00:00:00", "2024-02-29", "2025-02-28"),
])
def test_cycles(config: dict[str, Any], instant: str, start: str, end: str) -> None:
    assert cycle_at(config, at(instant)) == (at(f"{start}T00:00:00"), at(f"{end}T00:00:00"))


def test_an_anniversary_cycle_starts_on_the_association_day() -> None:
    config = {**monthly("1"), "anniversaryCycle": True}
    assert cycle_at(config, at("2024-02-10T00:00:00"), at("2024-01-31T00:00:00")) == (
        at("2024-01-31T00:00:00"), at("2024-02-29T00:00:00"))
    assert cycle_at(config, at("2024-02-10T00:00:00"), at("2024-01-05T00:00:00")) == (
        at("2024-02-05T00:00:00"), at("2024-03-05T00:00:00"))
