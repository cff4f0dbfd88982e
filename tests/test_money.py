"""Money that moves (issue 19, second half): credits, the wallet, payments, late events.

Every expected amount is worked by hand in the row's comment from the plan's
rates, the rides, the credits and the top-ups; nothing calls the code under
test to compute an expectation. Each account is fresh (no demo credits or
wallet), on a calendar-month plan priced per ride, on a test clock from
2024-01-01; January closes on 1 February.
"""
from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from test_billing import MONTHLY, move, ride, setup_account

REFERENCE = {"sourceName": "Bank", "sourceType": "BANK_TRANSFER", "transactionNumber": "T-1"}



def grant(api: Api, account: str, amount: Any, priority: int, start: str = "2024-01-01", until: str | None = None,
          ids: list[str] | None = None) -> str:
    request: dict[str, Any] = {"accountId": account, "purpose": f"p{priority}", "effectiveFrom": start,
                               "creditAmount": amount, "priority": priority}
    if until is not None:
        request["effectiveUntil"] = until
    if ids is not None:
        request["applicableEntityIds"] = ids
    r = api.post("/credits", json={"creditRequests": [request]})
    assert r.status_code in (200, 201), r.text
    credit: str = r.json()["credits"][0]["id"]
    return credit


def january(api: Api, account: str) -> dict[str, Any]:
    """The account's invoice of January, as shown."""
    (summary,) = [i for i in api.get("/invoices", params={"owner_id": account}).json()["data"]
                  if i["startDate"].startswith("2024-01-01")]
    invoice: dict[str, Any] = api.get(f"/invoices/{summary['id']}").json()
    return invoice


def credited(invoice: dict[str, Any]) -> list[Any]:
    """The values of the invoice's SUB_CREDITS lines, in order (empty without a TOTAL_CREDITS line)."""
    found = [x for x in invoice["revenueInfo"].get("lineItems", []) if x["type"] == "TOTAL_CREDITS"]
    return [leaf["value"] for line in found for leaf in line["lineItems"]]


def consumed(api: Api, credit: str) -> tuple[str, Any, list[tuple[str, Any]]]:
    shown = api.get(f"/credits/{credit}").json()
    return shown["status"], shown["consumedAmount"], [(t["transactionType"], t["amount"]) for t in shown["transactions"]]


def pay(api: Api, account: str, *records: dict[str, Any], currency: str = "USD") -> Any:
    items = [{**r, "order": i + 1} for i, r in enumerate(records)]
    return api.post("/payments", json={"accountId": account, "externalPaymentReference": REFERENCE,
                                       "lineItemRecords": items, "currency": currency,
                                       "totalAmount": sum(r.get("amount", 0) for r in records) or 1})


def top_up(api: Api, account: str, amount: Any) -> None:
    assert api.post(f"/accounts/{account}/wallet_topup", json={"topupAmount": amount}).status_code == 200


def fee_card(api: Api, account: str) -> str:
    """The add-on id of the account's plan's first fixed fee (the entity a credit may name)."""
    plan = api.get(f"/accounts/{account}/pricing_schedules").json()["data"][0]
    card: str = plan["pricePlanDetails"]["fixedFeeRateCards"][0]["id"]
    return card


def meter(api: Api) -> str:
    found: str = next(m["id"] for m in api.get("/usage_meters").json()["data"] if m["name"] == "Ride count")
    return found


# ---- credits -------------------------------------------------------------------------------------------


def test_credits_by_priority(capi: Api) -> None:
    # 10 rides x 1 = 10 USD. The priority-1 credit (6) goes first and is used up; the priority-2 one (8)
    # gives the other 4 and keeps 4. The invoice totals 10 - 10 = 0.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1)
    second, first = grant(capi, account, 8, priority=2), grant(capi, account, 6, priority=1)
    ride(capi, account, *["2024-01-10T00:00:00Z"] * 10)
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert (invoice["status"], invoice["totalAmount"], credited(invoice)) == ("DUE", 0, [-6, -4])
    assert consumed(capi, first) == ("CONSUMED", 6, [("CREDITED", 6), ("DEBITED", 6)])
    assert consumed(capi, second) == ("ACTIVE", 4, [("CREDITED", 8), ("DEBITED", 4)])
    assert capi.get(f"/accounts/{account}/credit_balance").json()["runningBalance"] == 4


def test_credits_of_one_priority_by_earliest_expiry_and_only_in_effect(capi: Api) -> None:
    # 7 rides x 1 = 7. Same priority: the credit ending 1 March (5) before the one ending 1 June (5 -> 2 used).
    # One starting 1 March is not in effect on 1 February; one that ended 15 January has expired (and the
    # clock move reports it): neither is touched. 7 - 5 - 2 = 0.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1)
    june = grant(capi, account, 5, priority=1, until="2024-06-01")
    march = grant(capi, account, 5, priority=1, until="2024-03-01")
    later = grant(capi, account, 50, priority=0, start="2024-03-01")
    gone = grant(capi, account, 50, priority=0, until="2024-01-15")
    ride(capi, account, *["2024-01-20T00:00:00Z"] * 7)
    moved = move(capi, to="2024-02-01T00:00:00Z")
    assert moved["summary"]["creditsExpired"] == {"count": 1, "ids": [gone]}
    assert credited(january(capi, account)) == [-5, -2]
    assert [consumed(capi, c)[:2] for c in (march, june, later, gone)] == [
        ("CONSUMED", 5), ("ACTIVE", 2), ("ACTIVE", 0), ("EXPIRED", 0)]
    # Granted 110, consumed 7, expired 50: the balance is the 3 left of June's and the 50 from March.
    balance = capi.get(f"/accounts/{account}/credit_balance").json()
    assert (balance["runningBalance"], balance["availableBalance"], balance["inapplicableCredits"]) == (53, 3, 50)


def test_credits_only_for_their_applicable_entities(capi: Api) -> None:
    # 10 rides x 1 = 10 USD of usage, a 30 USD fixed fee. A credit of 50 for ALL_FIXED_FEE_RATE_CARDS takes
    # the fee's 30 only; one of 4 for the ride meter takes 4 of the usage; one of 100 for another entity takes
    # nothing. 40 - 34 = 6.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 30}])
    fees = grant(capi, account, 50, priority=1, ids=["ALL_FIXED_FEE_RATE_CARDS"])
    rides = grant(capi, account, 4, priority=2, ids=[meter(capi)])
    other = grant(capi, account, 100, priority=3, ids=["addon.elsewhere"])
    ride(capi, account, *["2024-01-10T00:00:00Z"] * 10)
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert (invoice["totalAmount"], credited(invoice)) == (6, [-30, -4])
    assert [consumed(capi, c)[1] for c in (fees, rides, other)] == [30, 4, 0]


def test_a_credit_of_one_named_fee(capi: Api) -> None:
    # Two fees, 30 and 12: a credit naming the second fee's add-on takes its 12 and nothing of the first.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 30}, {"rate": 12}])
    plan = capi.get(f"/accounts/{account}/pricing_schedules").json()["data"][0]
    second = plan["pricePlanDetails"]["fixedFeeRateCards"][1]["id"]
    grant(capi, account, 100, priority=1, ids=[second])
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert (invoice["totalAmount"], credited(invoice)) == (30, [-12])


def test_credits_in_the_currencys_minor_unit(capi: Api) -> None:
    # JPY has no decimals: 3 rides x 0.5 = 1.5 -> 2 JPY. A credit of 1.7 JPY gives 1 (taken down to the yen,
    # never more than it holds): the invoice is 1.
    account = setup_account(capi, "JPY", MONTHLY, "2024-01-01", "2099-01-01", 0.5)
    credit = grant(capi, account, 1.7, priority=1)
    ride(capi, account, *["2024-01-09T00:00:00Z"] * 3)
    move(capi, to="2024-02-01T00:00:00Z")
    assert (january(capi, account)["totalAmount"], consumed(capi, credit)[:2]) == (1, ("ACTIVE", 1))


# ---- the wallet ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("wallet", "credit", "status", "total", "paid", "left"), [
    # A 40 USD fee, a wallet of 100: netted whole, 60 left.
    (100, None, "PAID", 40, 40, 60),
    # A wallet of 25 pays what it holds: 25 of 40, nothing left.
    (25, None, "PARTIALLY_PAID", 40, 25, 0),
    # A credit of 10 first (40 - 10 = 30), then the wallet nets the 30: 70 left.
    (100, 10, "PAID", 30, 30, 70),
])
def test_the_wallet_nets_a_due_invoice(capi: Api, wallet: int, credit: int | None, status: str, total: int,
                                       paid: int, left: int) -> None:
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 40}])
    top_up(capi, account, wallet)
    if credit is not None:
        grant(capi, account, credit, priority=1)
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)
    assert (invoice["status"], invoice["totalAmount"], invoice["paidAmount"]) == (status, total, paid)
    assert capi.get(f"/accounts/{account}/wallet").json()["balance"] == left
    entries = capi.get(f"/accounts/{account}/wallet/entries").json()["data"]
    assert [(e["transactionType"], e["amount"], e["closingBalance"], e.get("entityId")) for e in entries] == [
        ("CREDITED", wallet, wallet, None), ("DEBITED", paid, left, invoice["id"])]


def test_the_wallet_waits_for_the_grace_period(capi: Api) -> None:
    # With a 3-day grace period January is a DRAFT on 1 February: the wallet nets it when it is DUE, on the 4th.
    account = setup_account(capi, "USD", {**MONTHLY, "gracePeriod": 3}, "2024-01-01", "2099-01-01", 1,
                            [{"rate": 40}])
    top_up(capi, account, 100)
    move(capi, to="2024-02-01T00:00:00Z")
    assert (january(capi, account)["status"], capi.get(f"/accounts/{account}/wallet").json()["balance"]) == (
        "DRAFT", 100)
    move(capi, to="2024-02-04T00:00:00Z")
    assert (january(capi, account)["status"], capi.get(f"/accounts/{account}/wallet").json()["balance"]) == (
        "PAID", 60)


# ---- payments --------------------------------------------------------------------------------------------


def test_partial_then_full_payment(capi: Api) -> None:
    # A 40 USD invoice: 15 paid (PARTIALLY_PAID, 15), then 25 with a 5 USD wallet top-up (PAID, 40; wallet 5).
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 40}])
    move(capi, to="2024-02-01T00:00:00Z")
    invoice = january(capi, account)["id"]
    assert pay(capi, account, {"type": "INVOICE", "togaiId": invoice, "amount": 15}).status_code == 201
    shown = capi.get(f"/invoices/{invoice}").json()
    assert (shown["status"], shown["paidAmount"]) == ("PARTIALLY_PAID", 15)
    r = pay(capi, account, {"type": "INVOICE", "togaiId": invoice, "amount": 25}, {"type": "WALLET_CREDIT", "amount": 5})
    assert r.status_code == 201, r.text
    shown = capi.get(f"/invoices/{invoice}").json()
    assert (shown["status"], shown["paidAmount"], shown["totalAmount"]) == ("PAID", 40, 40)
    assert capi.get(f"/accounts/{account}/wallet").json()["balance"] == 5
    (entry,) = capi.get(f"/accounts/{account}/wallet/entries").json()["data"]
    assert (entry["transactionType"], entry["entityId"]) == ("CREDITED", r.json()["id"])


def test_a_payment_that_cannot_settle_is_refused_whole(capi: Api) -> None:
    # January: 40 USD DUE. February's invoice is still a DRAFT (the open cycle); another account's invoice.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 40}])
    other = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 7}])
    move(capi, to="2024-02-01T00:00:00Z")
    due, theirs = january(capi, account)["id"], january(capi, other)["id"]
    (draft,) = [i["id"] for i in capi.get("/invoices/bill_runs").json()["data"] if i["ownerId"] == account]
    cases = [
        # 30 + 20 = 50 of an invoice owing 40: the second record is named.
        ([{"type": "INVOICE", "togaiId": due, "amount": 30}, {"type": "WALLET_CREDIT", "amount": 10},
          {"type": "INVOICE", "togaiId": due, "amount": 20}],
         f"lineItemRecords[2].amount: is more than invoice '{due}' owes (40) with the records before it"),
        ([{"type": "INVOICE", "togaiId": "inv.nope", "amount": 1}],
         "lineItemRecords[0].togaiId: no invoice with id 'inv.nope'"),
        ([{"type": "WALLET_CREDIT", "amount": 1}, {"type": "INVOICE", "togaiId": draft, "amount": 1}],
         f"lineItemRecords[1].togaiId: invoice '{draft}' is DRAFT; a payment settles a DUE or PARTIALLY_PAID invoice"),
        ([{"type": "INVOICE", "togaiId": theirs, "amount": 1}],
         f"lineItemRecords[0].togaiId: invoice '{theirs}' is not an invoice of account '{account}'"),
        ([{"type": "INVOICE", "togaiId": due, "amount": 10.005}],
         "lineItemRecords[0].amount: has more decimals than USD has (2)"),
        ([{"type": "INVOICE", "togaiId": due}], "lineItemRecords[0].amount: is required to apply a INVOICE record"),
    ]
    for records, message in cases:
        before = capi.state()
        r = pay(capi, account, *records)
        assert (r.status_code, r.json()["message"]) == (400, message), r.text
        assert capi.state() == before  # nothing applied: no payment, no wallet, the invoice as it was
    assert capi.request("PATCH", f"/invoices/{due}", json={"status": "VOID"}).status_code == 200
    r = pay(capi, account, {"type": "INVOICE", "togaiId": due, "amount": 1})
    assert r.json()["message"].startswith(f"lineItemRecords[0].togaiId: invoice '{due}' is VOID")


# ---- late events -----------------------------------------------------------------------------------------


def status(api: Api, event_id: str) -> str:
    found: str = api.get(f"/events/{event_id}").json()["events"][0]["ingestionStatus"]["status"]
    return found


def test_an_event_past_the_grace_period_is_refused(capi: Api) -> None:
    # A 5-day grace period: January's invoice is DUE on 6 February (1 ride x 3 = 3). On 10 February a ride
    # dated 20 January is past the grace period: not metered, the invoice still 3. One dated 5 February (the
    # open cycle) counts.
    account = setup_account(capi, "USD", {**MONTHLY, "gracePeriod": 5}, "2024-01-01", "2099-01-01", 3)
    ride(capi, account, "2024-01-10T00:00:00Z")
    move(capi, to="2024-02-10T00:00:00Z")
    ride(capi, account, "2024-01-20T00:00:00Z", "2024-02-05T00:00:00Z")
    late, on_time = f"r-{account}-0-2024-01-20T00:00:00Z", f"r-{account}-1-2024-02-05T00:00:00Z"
    assert (status(capi, late), status(capi, on_time)) == (
        "INGESTION_FAILED_PAST_GRACE_PERIOD", "INGESTION_COMPLETED_EVENT_METERED")
    assert (january(capi, account)["status"], january(capi, account)["totalAmount"]) == ("DUE", 3)
    (ongoing,) = [i for i in capi.get("/invoices/bill_runs").json()["data"] if i["ownerId"] == account]
    assert ongoing["totalAmount"] == 3  # February: the one ride of 5 February


def test_one_batch_mixes_late_and_on_time_events_of_an_account(capi: Api) -> None:
    # A 5-day grace period, a plan from 1 January: on 10 February January is past its grace period. One batch:
    # January's events are late (the plan is looked up once per cycle in a batch: each must still be), the open
    # February cycle's are on time from its first instant, and one before the association has no plan: metered.
    account = setup_account(capi, "USD", {**MONTHLY, "gracePeriod": 5}, "2024-01-01", "2099-01-01", 3)
    move(capi, to="2024-02-10T00:00:00Z")
    stamps = ("2024-01-20T00:00:00Z", "2024-02-05T00:00:00Z", "2024-01-25T00:00:00Z", "2023-12-15T00:00:00Z",
              "2024-01-31T23:59:59Z", "2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z")
    ride(capi, account, *stamps)
    late, metered = "INGESTION_FAILED_PAST_GRACE_PERIOD", "INGESTION_COMPLETED_EVENT_METERED"
    assert [status(capi, f"r-{account}-{i}-{s}") for i, s in enumerate(stamps)] == [
        late, metered, late, metered, late, metered, late, metered]


def test_an_event_within_the_grace_period_updates_the_draft(capi: Api) -> None:
    # The same plan, a wallet of 10: on 3 February January is a DRAFT (3); a ride dated 20 January lands: the
    # DRAFT shows 6, and on 6 February it is DUE at 6, which the wallet nets (PAID, 4 left).
    account = setup_account(capi, "USD", {**MONTHLY, "gracePeriod": 5}, "2024-01-01", "2099-01-01", 3)
    top_up(capi, account, 10)
    ride(capi, account, "2024-01-10T00:00:00Z")
    move(capi, to="2024-02-03T00:00:00Z")
    ride(capi, account, "2024-01-20T00:00:00Z")
    assert status(capi, f"r-{account}-0-2024-01-20T00:00:00Z") == "INGESTION_COMPLETED_EVENT_METERED"
    assert (january(capi, account)["status"], january(capi, account)["totalAmount"]) == ("DRAFT", 6)
    move(capi, to="2024-02-06T00:00:00Z")
    invoice = january(capi, account)
    assert (invoice["status"], invoice["totalAmount"], invoice["paidAmount"]) == ("PAID", 6, 6)
    assert capi.get(f"/accounts/{account}/wallet").json()["balance"] == 4


def test_an_event_without_a_grace_period_is_late_once_its_cycle_closed(capi: Api) -> None:
    # No grace period: on 1 February, 00:00, January is DUE; a ride dated 31 January is late.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1)
    move(capi, to="2024-02-01T00:00:00Z")
    ride(capi, account, "2024-01-31T23:00:00Z")
    assert status(capi, f"r-{account}-0-2024-01-31T23:00:00Z") == "INGESTION_FAILED_PAST_GRACE_PERIOD"
