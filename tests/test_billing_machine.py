"""A Hypothesis state machine for the billing engine: clock moves interleaved with rides and plan changes.

Its oracle is its own: the cycles of a calendar-month plan are the calendar
months, a ride costs the rate of the plan in effect when the ride happened
(each plan has its own rate), so the usage of a closed month is the rides of
that month priced by hand. Invariants: each (account, cycle) is billed once;
a billed cycle's usage lines are its metered rides priced by its plan;
nothing is finalized for a cycle that has not ended by the clock.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from conftest import Api, make_api
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

START = datetime(2024, 1, 1, tzinfo=UTC)
RATES = (Decimal("1.5"), Decimal("2.25"))  # plan 0 and plan 1: a ride's price
ACCOUNTS = ("M-0", "M-1")
MONTHLY = {"interval": "MONTHLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0}

_APP: list[Api] = []


def _api() -> Api:
    if not _APP:
        _APP.append(next(make_api(clock=START)))
    return _APP[0]


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    return (_month_start(moment) + timedelta(days=32)).replace(day=1)


class Billing(RuleBasedStateMachine):
    """Two accounts, two plans, a test clock; rides, plan switches at day starts, clock moves."""

    @initialize()
    def setup(self) -> None:
        self.api = _api()
        self.api.app.state.control.reset()
        self.now = START
        meter = next(m["id"] for m in self.api.get("/usage_meters").json()["data"] if m["name"] == "Ride count")
        self.plans = []
        for i, rate in enumerate(RATES):
            details = {"supportedCurrencies": ["USD"], "pricingCycleConfig": MONTHLY, "usageRateCards": [{
                "usageMeterId": meter, "ratePlan": {"pricingModel": "TIERED", "slabs": [
                    {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
                "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": float(rate)}]}]}]}
            plan = self.api.post("/price_plans", json={"name": f"Machine {i}", "pricePlanDetails": details}).json()
            assert self.api.post(f"/price_plans/{plan['id']}/activate", json={"currencies": ["USD"]}).status_code == 200
            self.plans.append(plan["id"])
        # The model: per account, plan switches (day, plan index) and rides (instants).
        self.switches: dict[str, list[tuple[datetime, int]]] = {}
        self.rides: dict[str, list[datetime]] = {a: [] for a in ACCOUNTS}
        for account in ACCOUNTS:
            r = self.api.post("/accounts", json={"id": account, "customerId": "ACME", "name": f"Machine {account}",
                                                 "invoiceCurrency": "USD"})
            assert r.status_code == 201, r.text
            self._associate(account, START, 0)
        self.count = 0

    def _associate(self, account: str, day: datetime, plan: int) -> None:
        r = self.api.post(f"/accounts/{account}/price_plans", json={
            "mode": "ASSOCIATE", "pricePlanId": self.plans[plan], "effectiveFrom": day.date().isoformat(),
            "effectiveUntil": "2099-01-01"})
        assert r.status_code == 200, r.text
        kept = [s for s in self.switches.get(account, []) if s[0] < day]
        self.switches[account] = [*kept, (day, plan)]

    def _plan_at(self, account: str, moment: datetime) -> int:
        return [p for day, p in self.switches[account] if day <= moment][-1]

    @rule(account=st.sampled_from(ACCOUNTS), hours=st.integers(0, 24 * 40), count=st.integers(1, 3))
    def ride(self, account: str, hours: int, count: int) -> None:
        """Rides from now up to 40 days ahead (never in a closed cycle: late events are the second half)."""
        at = self.now + timedelta(hours=hours)
        events = []
        for _ in range(count):
            self.count += 1
            events.append({"id": f"m-{self.count}", "schemaName": "rides", "accountId": account,
                           "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "attributes": [{"name": "distance", "value": "1"}], "dimensions": {"city": "x"}})
            self.rides[account].append(at)
        assert self.api.post("/ingestBatch", json={"events": events}).status_code == 202

    @rule(account=st.sampled_from(ACCOUNTS), days=st.integers(1, 45), plan=st.integers(0, 1))
    def switch(self, account: str, days: int, plan: int) -> None:
        """Another plan from a day ahead (a change mid-cycle ends the old plan's cycle there)."""
        day = (self.now + timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
        self._associate(account, day, plan)

    @rule(hours=st.integers(1, 24 * 50))
    def move(self, hours: int) -> None:
        target = self.now + timedelta(hours=hours)
        r = self.api.post("/__mock/clock", json={"by": f"PT{hours}H"})
        assert r.status_code == 200, r.text
        self.now = target

    @rule()
    def bill_run(self) -> None:
        assert self.api.post("/invoices/bill_runs").status_code == 200

    def _cycles(self, account: str) -> list[tuple[datetime, datetime, int]]:
        """The model's closed cycles: calendar months cut at each plan switch, ended by now."""
        cuts = sorted({day for day, _ in self.switches[account]})
        out, at = [], START
        while True:
            end = min([_next_month(at), *[c for c in cuts if c > at]])
            if end > self.now:
                return out
            out.append((at, end, self._plan_at(account, at)))
            at = end

    @invariant()
    def billed_once_and_priced_by_hand(self) -> None:
        if not hasattr(self, "api"):
            return
        for account in ACCOUNTS:
            invoices = [self.api.get(f"/invoices/{s['id']}").json()
                        for s in self.api.get("/invoices", params={"owner_id": account, "pageSize": 50}).json()["data"]]
            closed = [i for i in invoices if i.get("finalizingStatus")]
            starts = [i["startDate"] for i in closed]
            assert len(starts) == len(set(starts)), f"a cycle billed twice: {starts}"
            for invoice in invoices:
                if invoice["status"] != "DRAFT":
                    end = datetime.fromisoformat(invoice["endDate"].replace("Z", "+00:00"))
                    assert end <= self.now, "an open cycle was finalized"
            expected = self._cycles(account)
            assert [(i["startDate"], i["endDate"]) for i in closed] == [
                (s.strftime("%Y-%m-%dT%H:%M:%S.000Z"), e.strftime("%Y-%m-%dT%H:%M:%S.000Z")) for s, e, _ in expected]
            for invoice, (start, end, plan) in zip(closed, expected, strict=True):
                used = sum(1 for r in self.rides[account] if start <= r < end)
                assert invoice["status"] == "DUE"  # no grace period
                assert Decimal(str(invoice["totalAmount"])) == used * RATES[plan], (start, end, used, plan)


TestBilling = Billing.TestCase
TestBilling.settings = settings(max_examples=15, stateful_step_count=12, deadline=None,
                                suppress_health_check=[HealthCheck.too_slow])
