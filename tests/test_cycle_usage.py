"""USAGE_FOR_CYCLE follows each account's own pricing cycle (issue 19 item 7).

Every expected series is worked by hand from the plan's ``pricingCycleConfig``
(Togai: "USAGE_FOR_CYCLE: usage of the current pricing cycle", the running
total since the cycle holding each bucket's last hour started). Events are
counted straight into the aggregates with ``usage.count_event`` (as ingestion
does), on meter "Ride distance" of the demo tenant, whose own events are in
January 2024 (nothing here looks at January).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conftest import Api
from plans import associate, new_plan

from mock_server.domain.alerts import watch
from mock_server.domain.usage import aggregates as usage

COMPLETED = "INGESTION_COMPLETED_EVENT_METERED"
ANNIVERSARY = {"interval": "MONTHLY", "anniversaryCycle": True, "gracePeriod": 0}
WEEKLY_WEDNESDAY = {"interval": "WEEKLY", "startOffset": {"dayOffset": "3", "monthOffset": "NIL"}, "gracePeriod": 0}
FIFTEENTH = {"interval": "MONTHLY", "startOffset": {"dayOffset": "15", "monthOffset": "NIL"}, "gracePeriod": 0}


@dataclass
class Stored:
    """An event as ingestion keeps it (the attributes ``usage.count_event`` reads)."""

    timestamp: str
    account_id: str
    account: str
    customer_id: str
    schema_name: str
    status: str
    meter_ids: tuple[str, ...]
    units: tuple[str | None, ...]


def distance(api: Api) -> str:
    return next(m["id"] for m in api.app.state.store.collections["usageMeters"].items.values()
                if m["name"] == "Ride distance")


def rides(api: Api, account: str, *moments: tuple[str, int], customer: str = "GLOBEX") -> None:
    """Count a processed ride of ``units`` km at each (timestamp, units)."""
    meter = distance(api)
    for ts, units in moments:
        usage.count_event(api.app.state.store,
                          Stored(ts, account, account, customer, "rides", COMPLETED, (meter,), (str(units),)), +1)


def account_on(api: Api, account: str, config: dict[str, Any] | None, start: str = "2024-01-15",
               end: str = "2025-01-01") -> None:
    """A new account of customer GLOBEX, on a new plan with ``config`` from ``start`` (none when None)."""
    r = api.post("/accounts", json={"id": account, "customerId": "GLOBEX", "name": f"Account {account}",
                                    "invoiceCurrency": "USD"})
    assert r.status_code in (200, 201), r.text
    if config is not None:
        plan = new_plan(api, f"Plan of {account}", pricingCycleConfig=config)
        r = associate(api, account, plan["id"], start, end)
        assert r.status_code == 200, r.text


def cycle(api: Api, start: str, end: str, period: str = "DAY", **extra: Any) -> list[dict[str, Any]]:
    query = {"id": "c", "name": "USAGE_FOR_CYCLE", "aggregationPeriod": period, **extra}
    r = api.post("/metrics", json={"startTime": start, "endTime": end, "metricQueries": [query]})
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["results"][0]["data"]
    return data


def only(account: str) -> dict[str, Any]:
    return {"filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": [account]}]}


def test_an_anniversary_cycle_restarts_on_the_association_day(api: Api) -> None:
    # Associated on 2024-01-15, anniversary monthly: cycles Feb 15 - Mar 15, Mar 15 - Apr 15, Apr 15 - May 15.
    account_on(api, "A1", ANNIVERSARY)
    rides(api, "A1", ("2024-03-10T10:00:00Z", 2), ("2024-03-14T23:00:00Z", 3), ("2024-03-15T00:00:00Z", 5),
          ("2024-03-16T08:00:00Z", 7), ("2024-04-14T12:00:00Z", 1), ("2024-04-15T01:00:00Z", 4))
    [days] = cycle(api, "2024-03-13T00:00:00Z", "2024-03-17T00:00:00Z", **only("A1"))
    assert days["timestamps"] == ["2024-03-13T00:00:00Z", "2024-03-14T00:00:00Z", "2024-03-15T00:00:00Z",
                                  "2024-03-16T00:00:00Z"]
    assert days["metricValues"] == [2, 5, 5, 12]  # the 10th's 2 belong to the cycle from Feb 15; the 15th restarts
    # A month bucket: the cycle holding its last hour (March 31: from Mar 15; April 30: from Apr 15).
    [months] = cycle(api, "2024-03-01T00:00:00Z", "2024-05-01T00:00:00Z", "MONTH", **only("A1"))
    assert months["metricValues"] == [12, 4]
    # Unfiltered: the demo accounts (calendar months, nothing in March) add nothing.
    [everything] = cycle(api, "2024-03-13T00:00:00Z", "2024-03-17T00:00:00Z")
    assert everything["metricValues"] == [2, 5, 5, 12]


def test_a_weekly_cycle_from_wednesday(api: Api) -> None:
    # 2024-03-06 and 2024-03-13 are Wednesdays: cycles Feb 28 - Mar 6, Mar 6 - Mar 13, Mar 13 - Mar 20.
    account_on(api, "W1", WEEKLY_WEDNESDAY, start="2024-01-01")
    rides(api, "W1", ("2024-03-01T10:00:00Z", 1000), ("2024-03-05T10:00:00Z", 1), ("2024-03-06T10:00:00Z", 10),
          ("2024-03-12T10:00:00Z", 100), ("2024-03-13T00:00:00Z", 20))
    [days] = cycle(api, "2024-03-05T00:00:00Z", "2024-03-14T00:00:00Z", **only("W1"))
    assert days["metricValues"] == [1001, 10, 10, 10, 10, 10, 10, 110, 20]
    # ISO weeks (Monday): the week of Mar 4 ends in the cycle from Mar 6, that of Mar 11 in the one from Mar 13.
    [weeks] = cycle(api, "2024-03-04T00:00:00Z", "2024-03-18T00:00:00Z", "WEEK", **only("W1"))
    assert weeks["timestamps"] == ["2024-03-04T00:00:00Z", "2024-03-11T00:00:00Z"]
    assert weeks["metricValues"] == [10, 20]


def test_without_a_plan_the_calendar_month_between_associations(api: Api) -> None:
    # GLOBEX-US never has a plan: calendar months. N1's anniversary plan ends on Mar 15: from then on no plan,
    # so its cycle is the rest of March (from Mar 15), then calendar April.
    account_on(api, "N1", ANNIVERSARY, end="2024-03-15")
    rides(api, "GLOBEX-US", ("2024-02-29T12:00:00Z", 1), ("2024-03-01T00:00:00Z", 2), ("2024-03-14T09:00:00Z", 4))
    rides(api, "N1", ("2024-03-10T10:00:00Z", 10), ("2024-03-16T10:00:00Z", 20), ("2024-04-02T10:00:00Z", 40))
    series = {s["groupedBy"]["fieldValue"]: s["metricValues"]
              for s in cycle(api, "2024-03-13T00:00:00Z", "2024-03-17T00:00:00Z", groupBy="ACCOUNT_ID")}
    assert series == {"GLOBEX-US": [2, 6, 6, 6], "N1": [10, 10, 0, 20]}
    months = {s["groupedBy"]["fieldValue"]: s["metricValues"]
              for s in cycle(api, "2024-02-01T00:00:00Z", "2024-05-01T00:00:00Z", "MONTH", groupBy="ACCOUNT_ID")}
    assert months == {"GLOBEX-US": [1, 6, 0], "N1": [0, 20, 40]}


def test_a_customer_sums_its_accounts_own_cycles(api: Api) -> None:
    # Customer GLOBEX: GLOBEX-US (no plan: from Mar 1) and A1 (anniversary: from Feb 15, then Mar 15).
    account_on(api, "A1", ANNIVERSARY)
    rides(api, "GLOBEX-US", ("2024-02-20T00:00:00Z", 1000), ("2024-03-01T00:00:00Z", 100),
          ("2024-03-14T05:00:00Z", 200))
    rides(api, "A1", ("2024-02-20T00:00:00Z", 1), ("2024-03-10T10:00:00Z", 2), ("2024-03-15T00:00:00Z", 5),
          ("2024-03-16T08:00:00Z", 7))
    [grouped] = cycle(api, "2024-03-13T00:00:00Z", "2024-03-17T00:00:00Z", groupBy="CUSTOMER_ID")
    assert grouped["groupedBy"] == {"fieldName": "CUSTOMER_ID", "fieldValue": "GLOBEX"}
    # GLOBEX-US: 100, 300, 300, 300; A1: 3, 3, 5, 12.
    assert grouped["metricValues"] == [103, 303, 305, 312]
    [filtered] = cycle(api, "2024-03-13T00:00:00Z", "2024-03-17T00:00:00Z",
                       filters=[{"fieldName": "CUSTOMER_ID", "fieldValues": ["GLOBEX"]}])
    assert filtered["metricValues"] == [103, 303, 305, 312]


def test_a_cycle_starts_at_local_midnight_in_the_organisations_zone(api: Api) -> None:
    # Europe/Paris (UTC+1 in March before the 31st): the plan's cycle from the 15th starts at 2024-03-14T23:00Z.
    r = api.patch("/settings/setting.togai.time_zone.ORGANIZATION.demo-org", json={"value": "Europe/Paris"})
    assert r.status_code in (200, 201), r.text
    account_on(api, "P1", FIFTEENTH, start="2024-01-01")
    rides(api, "P1", ("2024-03-14T22:30:00Z", 1), ("2024-03-14T23:30:00Z", 2), ("2024-03-15T12:00:00Z", 4))
    [days] = cycle(api, "2024-03-13T23:00:00Z", "2024-03-15T23:00:00Z", **only("P1"))
    assert days["timestamps"] == ["2024-03-14T00:00:00+01:00", "2024-03-15T00:00:00+01:00"]
    assert days["metricValues"] == [1, 6]  # 23:30 Paris on the 14th is the old cycle; 00:30 on the 15th the new


def test_a_plan_starting_mid_cycle_starts_its_first_cycle_then(api: Api) -> None:
    # The plan's cycles run from the 15th; associated from Mar 1, its first cycle is Mar 1 - Mar 15 (clipped,
    # as REVENUE_FOR_CYCLE takes it): February's usage (no plan: calendar February) is not carried into it.
    account_on(api, "M1", FIFTEENTH, start="2024-03-01")
    rides(api, "M1", ("2024-02-20T10:00:00Z", 1), ("2024-03-02T10:00:00Z", 2), ("2024-03-15T10:00:00Z", 4))
    [days] = cycle(api, "2024-02-29T00:00:00Z", "2024-03-03T00:00:00Z", **only("M1"))
    assert days["metricValues"] == [1, 0, 2]
    [months] = cycle(api, "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", "MONTH", **only("M1"))
    assert months["metricValues"] == [4]  # March 31 is in the cycle from Mar 15


def test_a_usage_alert_watches_the_same_cycle(api: Api) -> None:
    # The usage_breach alert measures the window USAGE_FOR_CYCLE shows: on an anniversary cycle from the
    # 15th, 2 + 3 km before Mar 15 are the previous cycle's; on Mar 20 only the 5 km since count.
    account_on(api, "A9", ANNIVERSARY)
    rides(api, "A9", ("2024-03-10T10:00:00Z", 2), ("2024-03-14T23:00:00Z", 3), ("2024-03-15T00:00:00Z", 5))
    store, meter = api.app.state.store, distance(api)
    assert watch.usage_this_cycle(store, "A9", meter, datetime(2024, 3, 14, 23, 30, tzinfo=UTC)) == 5
    assert watch.usage_this_cycle(store, "A9", meter, datetime(2024, 3, 20, tzinfo=UTC)) == 5
    # Without a plan: the calendar month (all 10 in March).
    account_on(api, "A10", None)
    rides(api, "A10", ("2024-03-10T10:00:00Z", 2), ("2024-03-14T23:00:00Z", 3), ("2024-03-15T00:00:00Z", 5))
    assert watch.usage_this_cycle(store, "A10", meter, datetime(2024, 3, 20, tzinfo=UTC)) == 10
