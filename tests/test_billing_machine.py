"""A Hypothesis state machine for the billing engine: clock moves interleaved with rides and plan changes.

Its oracle is its own: the cycles of a calendar-month plan are the calendar
months, a ride costs the rate of the plan in effect when the ride happened
(each plan has its own rate), so the usage of a closed month is the rides of
that month priced by hand. Invariants: each (account, cycle) is billed once;
a billed cycle's usage lines are its metered rides priced by its plan;
nothing is finalized for a cycle that has not ended by the clock.

Money that moves (issue 19, second half): credits, top-ups and payments are
interleaved too. The oracle: a credit balance is granted - consumed -
expired; what credits took from an invoice is its TOTAL_CREDITS line, and all
of it is what the credits consumed; a wallet's balance is its top-ups (the
model's) - its debits; an invoice's ``paidAmount`` is the payments the model
made to it plus the wallet debits naming it, never above ``totalAmount``.
"""
from __future__ import annotations

import os
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
        self.granted: dict[str, Decimal] = {a: Decimal(0) for a in ACCOUNTS}
        self.topped: dict[str, Decimal] = {a: Decimal(0) for a in ACCOUNTS}
        self.paid: dict[str, Decimal] = {}  # invoice id -> what the model's payments paid to it

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

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(1, 20), priority=st.integers(0, 2),
          days=st.none() | st.integers(1, 60))
    def grant(self, account: str, amount: int, priority: int, days: int | None) -> None:
        """A credit from today, for ``days`` (or for ever)."""
        request: dict[str, object] = {"accountId": account, "purpose": "machine", "priority": priority,
                                      "effectiveFrom": self.now.date().isoformat(), "creditAmount": amount}
        if days is not None:
            request["effectiveUntil"] = (self.now + timedelta(days=days)).date().isoformat()
        assert self.api.post("/credits", json={"creditRequests": [request]}).status_code in (200, 201)
        self.granted[account] += amount

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(1, 30))
    def top_up(self, account: str, amount: int) -> None:
        assert self.api.post(f"/accounts/{account}/wallet_topup", json={"topupAmount": amount}).status_code == 200
        self.topped[account] += amount

    @rule(account=st.sampled_from(ACCOUNTS), share=st.sampled_from((Decimal("0.5"), Decimal(1))),
          wallet=st.booleans())
    def pay(self, account: str, share: Decimal, wallet: bool) -> None:
        """Pay half or all of what the account's first unpaid invoice owes (and maybe 5 into the wallet)."""
        owing = [i for i in self._invoices(account) if i["status"] in ("DUE", "PARTIALLY_PAID")
                 and Decimal(str(i["totalAmount"])) > Decimal(str(i["paidAmount"]))]
        records: list[dict[str, object]] = []
        if owing:
            invoice = owing[0]
            owed = Decimal(str(invoice["totalAmount"])) - Decimal(str(invoice["paidAmount"]))
            amount = max((owed * share).quantize(Decimal("0.01")), Decimal("0.01"))
            records.append({"type": "INVOICE", "togaiId": invoice["id"], "amount": float(amount), "order": 1})
            self.paid[invoice["id"]] = self.paid.get(invoice["id"], Decimal(0)) + amount
        if wallet or not records:
            records.append({"type": "WALLET_CREDIT", "amount": 5, "order": 2})
            self.topped[account] += 5
        total = sum(Decimal(str(r["amount"])) for r in records)
        r = self.api.post("/payments", json={"accountId": account, "currency": "USD", "totalAmount": float(total),
                                             "externalPaymentReference": {"sourceName": "m", "sourceType": "CASH",
                                                                          "transactionNumber": "t"},
                                             "lineItemRecords": records})
        assert r.status_code == 201, r.text

    def _invoices(self, account: str) -> list[dict[str, object]]:
        return [self.api.get(f"/invoices/{s['id']}").json()
                for s in self.api.get("/invoices", params={"owner_id": account, "pageSize": 50}).json()["data"]]

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
                # Changed with issue 19: a DUE invoice consumes credits (its TOTAL_CREDITS line) and the wallet
                # nets it (Togai's payments and wallet page), so it may be PARTIALLY_PAID or PAID.
                assert invoice["status"] in ("DUE", "PARTIALLY_PAID", "PAID")  # no grace period: never a DRAFT
                assert Decimal(str(invoice["totalAmount"])) - _credited(invoice) == used * RATES[plan], (
                    start, end, used, plan)
            self._money(account, invoices)

    def _money(self, account: str, invoices: list[dict[str, object]]) -> None:
        """Credits: granted - consumed - expired; wallet: top-ups - debits; paidAmount: payments + debits."""
        credits = self.api.get("/credits", params={"account_id": account, "pageSize": 50}).json()["data"]
        consumed = sum((Decimal(str(c["consumedAmount"])) for c in credits), Decimal(0))
        expired = sum((Decimal(str(c["creditAmount"])) - Decimal(str(c["consumedAmount"]))
                       for c in credits if c["status"] == "EXPIRED"), Decimal(0))
        balance = self.api.get(f"/accounts/{account}/credit_balance").json()
        assert Decimal(str(balance["runningBalance"])) == self.granted[account] - consumed - expired
        assert consumed == -sum((_credited(i) for i in invoices), Decimal(0))
        debits: dict[str, Decimal] = {}
        if self.topped[account]:
            wallet = self.api.get(f"/accounts/{account}/wallet").json()
            entries = self.api.get(f"/accounts/{account}/wallet/entries", params={"pageSize": 50}).json()["data"]
            for e in entries:
                if e["transactionType"] == "DEBITED":
                    debits[e["entityId"]] = debits.get(e["entityId"], Decimal(0)) + Decimal(str(e["amount"]))
            assert Decimal(str(wallet["balance"])) == self.topped[account] - sum(debits.values(), Decimal(0))
        for invoice in invoices:
            paid, total = Decimal(str(invoice["paidAmount"])), Decimal(str(invoice["totalAmount"]))
            assert paid <= max(total, Decimal(0))
            assert paid == self.paid.get(str(invoice["id"]), Decimal(0)) + debits.get(str(invoice["id"]), Decimal(0))


def _credited(invoice: dict[str, object]) -> Decimal:
    """What credits took from the invoice: its TOTAL_CREDITS line (negative), else 0."""
    tree = invoice["revenueInfo"]
    assert isinstance(tree, dict)
    return sum((Decimal(str(x["value"])) for x in tree.get("lineItems", []) if x["type"] == "TOTAL_CREDITS"),
               Decimal(0))


TestBilling = Billing.TestCase
# Short under make test; MOCK_TEST_PROFILE=ci (make conformance, in CI) and deep run longer.
_PROFILE = os.environ.get("MOCK_TEST_PROFILE", "quick")
TestBilling.settings = settings(max_examples={"deep": 100, "ci": 15}.get(_PROFILE, 6),
                                stateful_step_count=30 if _PROFILE == "deep" else 12, deadline=None,
                                suppress_health_check=[HealthCheck.too_slow])
