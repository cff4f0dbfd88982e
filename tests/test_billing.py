"""The billing engine (issue 19, first half): a test clock, and one invoice per account and closed cycle.

Every expected amount below is worked by hand in the row's comment, from
the plan's rates and the rides ingested; nothing calls the code under test
to compute an expectation.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Api

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday



def _meter(api: Api) -> str:
    return next(m["id"] for m in api.get("/usage_meters").json()["data"] if m["name"] == "Ride count")


def _addon(api: Api, name: str, kind: str = "FIXED_FEE") -> str:
    r = api.post("/addons", json={"name": name, "type": kind})
    assert r.status_code in (200, 201), r.text
    addon: str = r.json()["id"]
    return addon


def setup_account(api: Api, currency: str, cycle: dict[str, Any], start: str, end: str, rate: Any,
                  fees: list[dict[str, Any]] = (), net_terms: int = 0, name: str = "Billed",  # type: ignore[assignment]
                  commitment: Any = None, licenses: list[dict[str, Any]] = (),  # type: ignore[assignment]
                  grants: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
    """An account in ``currency`` on a plan pricing each ride at ``rate``, with ``fees`` (rate, timing, ...)
    and a minimum ``commitment`` per cycle."""
    account = f"BILL-{currency}-{len(api.get('/accounts', params={'pageSize': 50}).json()['data'])}"
    r = api.post("/accounts", json={"id": account, "customerId": "ACME", "name": f"{name} {account}",
                                    "invoiceCurrency": currency, "netTermDays": net_terms})
    assert r.status_code == 201, r.text
    cards = []
    for fee in fees:
        cards.append({"id": _addon(api, f"Fee {len(cards)} {account}"), "displayName": fee.get("name", "Fee"),
                      "rateValues": [{"currency": currency, "rate": fee["rate"]}],
                      "enableProration": fee.get("prorate", False),
                      "invoiceTiming": fee.get("timing", "IN_ARREARS"), "type": fee.get("type", "RECURRING")})
        if "recurrence" in fee:
            cards[-1]["recurrenceConfig"] = fee["recurrence"]
    details: dict[str, Any] = {
        "supportedCurrencies": [currency], "pricingCycleConfig": cycle,
        "usageRateCards": [{"usageMeterId": _meter(api), "ratePlan": {
            "pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
            "rateValues": [{"currency": currency, "slabRates": [{"order": 1, "rate": rate}]}]}]}
    if cards:
        details["fixedFeeRateCards"] = cards
    seats = []
    for lic in licenses:
        r = api.post("/addons", json={"name": f"Seats {len(seats)} {account}", "type": "LICENSE"})
        assert r.status_code in (200, 201), r.text
        seats.append({"id": r.json()["id"], "displayName": "Seats", "enableProration": lic.get("prorate", False),
                      "ratePlan": {"pricingModel": "TIERED",
                                   "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
                      "rateValues": [{"currency": currency, "slabRates": [{"order": 1, "rate": lic["rate"]}]}]})
    if seats:
        details["licenseRateCards"] = seats
    if grants:
        details["creditGrantRateCards"] = [
            {"id": _addon(api, f"Grant {i} {account}", "CREDIT_GRANT"), "displayName": "Credit pack", "type": g.get("type", "RECURRING"),
             "grantDetails": {"priority": 1, "expiryType": g.get("expiry", "PRICING_CYCLE")},
             "rateDetails": {"pricingModel": "TIERED", "currencySlabRateDetails": [
                 {"currency": currency, "creditAmount": g["amount"],
                  "slabDetails": [{"startAfter": 0, "priceType": "PER_UNIT", "rate": g["rate"]}]}]}}
            for i, g in enumerate(grants)]
    if commitment is not None:
        details["minimumCommitment"] = {"displayName": "Commitment",
                                        "rateValues": [{"currency": currency, "rate": commitment}]}
    r = api.post("/price_plans", json={"name": f"Plan {account}", "pricePlanDetails": details})
    assert r.status_code in (200, 201), r.text
    plan = r.json()["id"]
    assert api.post(f"/price_plans/{plan}/activate", json={"currencies": [currency]}).status_code == 200
    r = api.post(f"/accounts/{account}/price_plans", json={"mode": "ASSOCIATE", "pricePlanId": plan,
                                                           "effectiveFrom": start, "effectiveUntil": end})
    assert r.status_code == 200, r.text
    return account


def ride(api: Api, account: str, *stamps: str) -> None:
    """One counted ride (city x) per timestamp."""
    events = [{"id": f"r-{account}-{i}-{s}", "schemaName": "rides", "accountId": account, "timestamp": s,
               "attributes": [{"name": "distance", "value": "1"}], "dimensions": {"city": "x"}}
              for i, s in enumerate(stamps)]
    r = api.post("/ingestBatch", json={"events": events})
    assert r.status_code == 202, r.text


def move(api: Api, **body: str) -> dict[str, Any]:
    r = api.post("/__mock/clock", json=body)
    assert r.status_code == 200, r.text
    moved: dict[str, Any] = r.json()
    return moved


def billed(api: Api, account: str) -> list[tuple[str, str, str, Any]]:
    """The account's closed-cycle invoices as (start day, end day, status, total), oldest first."""
    out = []
    for summary in api.get("/invoices", params={"owner_id": account}).json()["data"]:
        invoice = api.get(f"/invoices/{summary['id']}").json()
        if invoice.get("finalizingStatus") is not None:
            out.append((invoice["startDate"][:10], invoice["endDate"][:10], invoice["status"],
                        invoice["totalAmount"]))
    return out


def plan_lines(invoice: dict[str, Any]) -> list[tuple[str, Any]]:
    """(type, value) of the lines under the invoice's PRICE_PLAN_AMOUNT."""
    (plan,) = [x for x in invoice["revenueInfo"]["lineItems"] if x["type"] == "PRICE_PLAN_AMOUNT"]
    return [(x["type"], x["value"]) for x in plan.get("lineItems", [])]


MONTHLY = {"interval": "MONTHLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0}


# ---- the table of worked invoices -------------------------------------------------------------------------

# (row, currency, cycle config, association, rate per ride, fees, ride stamps, move to, expected invoices)
TABLE: list[tuple[str, str, dict[str, Any], tuple[str, str], Any, list[dict[str, Any]], list[str], str,
                  list[tuple[str, str, str, Any]]]] = [
    # USD has 2 decimals: 3 rides x 0.333 = 0.999 -> 1.00; + a 10 USD fee in arrears = 11.
    ("usd rounding, calendar month, in arrears", "USD", MONTHLY, ("2024-01-01", "2099-01-01"), 0.333,
     [{"rate": 10}], ["2024-01-05T10:00:00Z"] * 3, "2024-02-01T00:00:00Z",
     [("2024-01-01", "2024-02-01", "DUE", 11)]),
    # JPY has 0 decimals: 3 x 0.5 = 1.5 -> 2 (half up); + 1000 in advance = 1002.
    ("jpy rounding, in advance", "JPY", MONTHLY, ("2024-01-01", "2099-01-01"), 0.5,
     [{"rate": 1000, "timing": "IN_ADVANCE"}], ["2024-01-09T00:00:00Z"] * 3, "2024-02-01T00:00:00Z",
     [("2024-01-01", "2024-02-01", "DUE", 1002)]),
    # BHD has 3 decimals: 3 x 0.3333 = 0.9999 -> 1.000; fee 1.2345 -> 1.235 (half up); total 2.235.
    ("bhd rounding (3 decimals)", "BHD", MONTHLY, ("2024-01-01", "2099-01-01"), 0.3333,
     [{"rate": 1.2345}], ["2024-01-20T00:00:00Z"] * 3, "2024-02-01T00:00:00Z",
     [("2024-01-01", "2024-02-01", "DUE", 2.235)]),
    # WEEKLY from Monday; the plan starts on Wednesday 3 January: the first cycle [3, 8) has 5 of 7 days,
    # the prorated fee 70 x 5/7 = 50; one ride at 2 = 2 -> 52. The next week [8, 15) is whole: 70.
    ("weekly, prorated start", "USD",
     {"interval": "WEEKLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0},
     ("2024-01-03", "2099-01-01"), 2, [{"rate": 70, "prorate": True}], ["2024-01-04T00:00:00Z"],
     "2024-01-15T00:00:00Z", [("2024-01-03", "2024-01-08", "DUE", 52), ("2024-01-08", "2024-01-15", "DUE", 70)]),
    # Anniversary from 31 January: the 31st becomes each month's last day, [Jan 31, Feb 29), [Feb 29, Mar 31).
    # A ONE_TIME fee of 25 is billed once, with the first cycle's 10 recurring: 35, then 10.
    ("anniversary 31st, one-time fee", "USD", {**MONTHLY, "anniversaryCycle": True}, ("2024-01-31", "2099-01-01"),
     1, [{"rate": 10}, {"rate": 25, "type": "ONE_TIME", "name": "Setup"}], [], "2024-03-31T00:00:00Z",
     [("2024-01-31", "2024-02-29", "DUE", 35), ("2024-02-29", "2024-03-31", "DUE", 10)]),
    # QUARTERLY from January; the plan runs 15 Feb to 15 May. Q1 [Jan 1, Apr 1) has 91 days (2024 is a
    # leap year), the plan 46 of them: 91 x 46/91 = 46. Q2 [Apr 1, Jul 1) has 91, the plan 44 (30 + 14): 44;
    # the cycle closes when the plan ends, on 15 May.
    ("quarterly, prorated both ends", "USD",
     {"interval": "QUARTERLY", "startOffset": {"dayOffset": "1", "monthOffset": "FIRST"}, "gracePeriod": 0},
     ("2024-02-15", "2024-05-15"), 1, [{"rate": 91, "prorate": True}], [], "2024-07-01T00:00:00Z",
     [("2024-02-15", "2024-04-01", "DUE", 46), ("2024-04-01", "2024-05-15", "DUE", 44)]),
    # ANNUALLY from January: 3 rides at 1 = 3, + 120 in advance = 123; the cycle closes on 1 January 2025.
    ("annually", "USD",
     {"interval": "ANNUALLY", "startOffset": {"dayOffset": "1", "monthOffset": "FIRST"}, "gracePeriod": 0},
     ("2024-01-01", "2099-01-01"), 1, [{"rate": 120, "timing": "IN_ADVANCE"}],
     ["2024-03-01T00:00:00Z", "2024-07-01T00:00:00Z", "2024-12-31T23:00:00Z"], "2025-01-01T00:00:00Z",
     [("2024-01-01", "2025-01-01", "DUE", 123)]),
]


@pytest.mark.parametrize("row", TABLE, ids=[r[0] for r in TABLE])
def test_worked_invoices(capi: Api, row: Any) -> None:
    _, currency, cycle, (start, end), rate, fees, rides, to, expected = row
    account = setup_account(capi, currency, cycle, start, end, rate, fees)
    if rides:
        ride(capi, account, *rides)
    move(capi, to=to)
    assert billed(capi, account) == expected
    # A bill run (twice) after the move changes nothing: each cycle is billed once.
    before = capi.get("/invoices", params={"owner_id": account}).json()
    for _ in range(2):
        assert capi.post("/invoices/bill_runs").status_code == 200
    assert capi.get("/invoices", params={"owner_id": account}).json() == before


def test_line_items_nest_as_togais_example(capi: Api) -> None:
    # 3 rides x 0.333 = 0.999 -> 1 (the slab, rounded); 10 USD fee: PRICE_PLAN_AMOUNT 11 = 1 + 10.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 0.333, [{"rate": 10}])
    ride(capi, account, *["2024-01-05T10:00:00Z"] * 3)
    move(capi, by="P1M")
    (summary,) = [i for i in capi.get("/invoices", params={"owner_id": account}).json()["data"]
                  if i["status"] == "DUE"]
    invoice = capi.get(f"/invoices/{summary['id']}").json()
    assert plan_lines(invoice) == [("USAGE_RATE_CARD_AMOUNT", 1), ("FIXED_FEE_RATE_CARD_AMOUNT", 10)]
    usage = invoice["revenueInfo"]["lineItems"][0]["lineItems"][0]
    assert (usage["quantity"], usage["lineItems"][0]["type"], usage["lineItems"][0]["valuePerQuantity"]) == (
        3, "USAGE_RATE_CARD_SLAB_AMOUNT", 0.333)
    assert (invoice["revenueInfo"]["type"], invoice["revenueInfo"]["value"], invoice["totalAmount"]) == (
        "TOTAL_AMOUNT", 11, 11)


def test_grace_period_draft_then_due_with_net_terms(capi: Api) -> None:
    # A 5-day grace period: January closes on 1 February as a DRAFT dated 6 February; a ride dated in
    # January that lands during the grace period still counts (2 rides x 3 = 6); DUE on 6 February, due
    # 15 net-term days later, on 21 February.
    account = setup_account(capi, "USD", {**MONTHLY, "gracePeriod": 5}, "2024-01-01", "2099-01-01", 3,
                            net_terms=15)
    ride(capi, account, "2024-01-10T00:00:00Z")
    moved = move(capi, to="2024-02-01T00:00:00Z")
    assert billed(capi, account) == [("2024-01-01", "2024-02-01", "DRAFT", 3)]
    (draft,) = [i for i in moved["summary"]["invoicesDrafted"]["ids"]
                if capi.get(f"/invoices/{i}").json()["ownerId"] == account]
    assert capi.get(f"/invoices/{draft}").json()["invoiceDate"] == "2024-02-06T00:00:00.000Z"
    ride(capi, account, "2024-01-31T12:00:00Z")
    assert capi.post("/invoices/bill_runs").status_code == 200  # the grace period runs: still a DRAFT
    assert billed(capi, account) == [("2024-01-01", "2024-02-01", "DRAFT", 6)]
    moved = move(capi, by="P5D")
    assert draft in moved["summary"]["invoicesFinalized"]["ids"]
    invoice = capi.get(f"/invoices/{draft}").json()
    assert (invoice["status"], invoice["totalAmount"], invoice["invoiceDate"], invoice["dueDate"]) == (
        "DUE", 6, "2024-02-06T00:00:00.000Z", "2024-02-21T00:00:00.000Z")


def test_ongoing_preview_and_final_agree(capi: Api) -> None:
    # 2 rides x 1.25 = 2.5 and a 10 fee: the ongoing invoice, the bill-run preview and the final invoice
    # all say 12.5.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1.25, [{"rate": 10}])
    move(capi, to="2024-01-01T00:00:00Z")  # not earlier: allowed, nothing due
    capi.request("PUT", f"/accounts/{account}/miscellaneous_charges", json={"items": []})  # opens the ongoing one
    ride(capi, account, "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z")
    (preview,) = [i for i in capi.get("/invoices/bill_runs").json()["data"] if i["ownerId"] == account]
    ongoing = capi.get(f"/invoices/{preview['id']}").json()
    assert (preview["totalAmount"], ongoing["totalAmount"], ongoing["status"]) == (12.5, 12.5, "DRAFT")
    move(capi, by="P1M")
    final = capi.get(f"/invoices/{preview['id']}").json()
    assert (final["status"], final["totalAmount"]) == ("DUE", 12.5)


def test_a_plan_change_mid_cycle_ends_one_cycle_and_starts_the_next(capi: Api) -> None:
    # Plan A (ride 1, fee 31 prorated) from 1 January, plan B (ride 2) from 11 January: A's cycle ends on the
    # 11th, 10 of 31 days: 31 x 10/31 = 10, + 1 ride x 1 = 11; B's first cycle [11, Feb 1): 1 ride x 2 = 2.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 31, "prorate": True}])
    other = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 2)
    plan_b = capi.get(f"/accounts/{other}/pricing_schedules").json()["data"][0]["pricePlanId"]
    r = capi.post(f"/accounts/{account}/price_plans", json={"mode": "ASSOCIATE", "pricePlanId": plan_b,
                                                            "effectiveFrom": "2024-01-11", "effectiveUntil": "2099-01-01"})
    assert r.status_code == 200, r.text
    ride(capi, account, "2024-01-05T00:00:00Z", "2024-01-20T00:00:00Z")
    move(capi, to="2024-02-01T00:00:00Z")
    assert billed(capi, account) == [("2024-01-01", "2024-01-11", "DUE", 11), ("2024-01-11", "2024-02-01", "DUE", 2)]


# ---- the clock API ---------------------------------------------------------------------------------------


def test_clock_reads_and_moves(capi: Api) -> None:
    assert capi.get("/__mock/clock").json() == {"now": "2024-01-01T00:00:00.000Z", "kind": "test"}
    assert move(capi, by="PT6H")["now"] == "2024-01-01T06:00:00.000Z"
    assert move(capi, by="P1M")["now"] == "2024-02-01T06:00:00.000Z"
    assert move(capi, to="2024-03-31T00:00:00Z")["now"] == "2024-03-31T00:00:00.000Z"
    assert move(capi, by="P1M")["now"] == "2024-04-30T00:00:00.000Z"  # a 31st becomes the month's last day
    assert capi.get("/__mock/clock").json()["now"] == "2024-04-30T00:00:00.000Z"
    # A record made now is stamped with the test clock.
    r = capi.post("/addons", json={"name": "Stamped", "type": "FIXED_FEE"})
    assert r.json()["createdAt"] == "2024-04-30T00:00:00.000Z"


@pytest.mark.parametrize(("body", "field"), [
    ({"to": "2023-12-31T23:59:59Z"}, "to"),  # back in time
    ({"to": "not a date"}, "to"),
    ({"to": "2024-02-30T00:00:00Z"}, "to"),  # no such day
    ({"to": "9999-06-01T00:00:00Z"}, "to"),  # beyond where the calendar of cycles ends
    ({"by": "P1Q"}, "by"),
    ({"by": "-P1D"}, "by"),
    ({"by": "P8000Y"}, "by"),
])
def test_bad_clock_moves_change_nothing(capi: Api, body: dict[str, str], field: str) -> None:
    setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1)
    before = capi.state()
    r = capi.post("/__mock/clock", json=body)
    assert r.status_code == 400 and r.json()["message"].startswith(f"{field}:"), r.text
    assert capi.state() == before
    assert capi.get("/__mock/clock").json()["now"] == "2024-01-01T00:00:00.000Z"


def test_two_fields_or_none_are_refused(capi: Api) -> None:
    for body in ({}, {"to": "2024-02-01T00:00:00Z", "by": "P1D"}, {"at": "P1D"}):
        assert capi.post("/__mock/clock", json=body).status_code == 400
    assert capi.get("/__mock/clock").json()["now"] == "2024-01-01T00:00:00.000Z"


def test_a_real_time_clock_does_not_move() -> None:
    from starlette.testclient import TestClient

    from mock_server.app import create_app
    from mock_server.config import Config

    with TestClient(create_app(Config(fixtures=None, log="quiet")), base_url="http://localhost") as client:
        api = Api(client)
        assert api.get("/__mock/clock").json()["kind"] == "wall"
        r = api.post("/__mock/clock", json={"by": "P1D"})
        assert r.status_code == 400 and r.json()["message"].startswith("by: the clock is real time")


def test_the_clock_and_billing_survive_the_state_file(tmp_path: Any) -> None:
    from mock_server.app import create_app
    from mock_server.config import Config

    path = tmp_path / "state.json"
    app = create_app(Config(clock=START, state_file=path, log="quiet"))
    store = app.state.store
    from starlette.testclient import TestClient
    with TestClient(app, base_url="http://localhost") as client:
        api = Api(client)
        account = setup_account(api, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, [{"rate": 5}])
        move(api, to="2024-02-10T00:00:00Z")
        assert billed(api, account) == [("2024-01-01", "2024-02-01", "DUE", 5)]
    app.state.state_file.close() if hasattr(app.state.state_file, "close") else None
    del store
    again = create_app(Config(clock=START, state_file=path, log="quiet"))
    with TestClient(again, base_url="http://localhost") as client:
        api = Api(client)
        assert api.get("/__mock/clock").json()["now"] == "2024-02-10T00:00:00.000Z"
        move(api, to="2024-03-01T00:00:00Z")  # February is billed once, January not again
        assert billed(api, account) == [("2024-01-01", "2024-02-01", "DUE", 5), ("2024-02-01", "2024-03-01", "DUE", 5)]


# ---- recurrence and minimum commitments --------------------------------------------------------------------


def test_a_fee_recurs_every_interval_cycles_from_its_offset(capi: Api) -> None:
    # interval 2, offset 1, cycles counted from 0 (January): February and April bill the 10 USD fee,
    # January and March bill nothing (no rides); a fee without recurrenceConfig bills 3 USD every month.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1,
                            [{"rate": 10, "recurrence": {"interval": 2, "offset": 1}}, {"rate": 3}])
    move(capi, to="2024-05-01T00:00:00Z")
    assert billed(capi, account) == [("2024-01-01", "2024-02-01", "DUE", 3), ("2024-02-01", "2024-03-01", "DUE", 13),
                                     ("2024-03-01", "2024-04-01", "DUE", 3), ("2024-04-01", "2024-05-01", "DUE", 13)]


def test_a_cycle_below_the_minimum_commitment_is_trued_up(capi: Api) -> None:
    # Commitment 50 USD a cycle. January: 3 rides x 5 = 15 + fee 10 = 25 -> TRUE_UP 25, total 50.
    # February: 20 rides x 5 = 100 + fee 10 = 110 >= 50: no true-up, total 110.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 5, [{"rate": 10}], commitment=50)
    ride(capi, account, *["2024-01-10T00:00:00Z"] * 3)
    ride(capi, account, *[f"2024-02-{d:02d}T00:00:00Z" for d in range(1, 21)])
    move(capi, to="2024-03-01T00:00:00Z")
    assert billed(capi, account) == [("2024-01-01", "2024-02-01", "DUE", 50), ("2024-02-01", "2024-03-01", "DUE", 110)]
    january = next(i for i in capi.get("/invoices", params={"owner_id": account}).json()["data"]
                   if i["startDate"].startswith("2024-01-01"))
    lines = plan_lines(capi.get(f"/invoices/{january['id']}").json())
    assert ("TRUE_UP_AMOUNT", 25) in lines and sum(v for _, v in lines) == 50


def test_licences_bill_the_peak_day_or_each_day_prorated(capi: Api) -> None:
    # 10 USD a seat a cycle. Updates: 5 seats from Jan 1, 8 from Jan 16 12:00, -3 from Jan 20 00:00.
    # Days: Jan 1-15 hold 5, Jan 16 holds 8 (its most), Jan 17-19 hold 8, Jan 20-31 hold 5.
    # Not prorated: the peak, 8 seats = 80. Prorated: (27 days x 50 + 4 days x 80) / 31 = 1670 / 31 = 53.87.
    plain = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1, licenses=[{"rate": 10}])
    prorated = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1,
                             licenses=[{"rate": 10, "prorate": True}])
    for account in (plain, prorated):
        plan = capi.get(f"/accounts/{account}/pricing_schedules").json()["data"][0]["pricePlanId"]
        seat = capi.get(f"/price_plans/{plan}").json()["pricingSchedule"][0]["pricePlanDetails"][
            "licenseRateCards"][0]["id"]
        for kind, quantity, at in (("ABSOLUTE", 5, "2024-01-01T00:00:00Z"), ("ABSOLUTE", 8, "2024-01-16T12:00:00Z"),
                                   ("RELATIVE", -3, "2024-01-20T00:00:00Z")):
            r = capi.post("/license_updates", json={"licenseId": seat, "accountId": account, "updateType": kind,
                                                    "quantity": quantity, "effectiveFrom": at})
            assert r.status_code == 200, r.text
    move(capi, to="2024-02-01T00:00:00Z")
    assert billed(capi, plain) == [("2024-01-01", "2024-02-01", "DUE", 80)]
    assert billed(capi, prorated) == [("2024-01-01", "2024-02-01", "DUE", 53.87)]
    (summary,) = capi.get("/invoices", params={"owner_id": plain}).json()["data"][:1]
    lines = plan_lines(capi.get(f"/invoices/{summary['id']}").json())
    assert ("LICENSE_RATE_CARD_AMOUNT", 80) in lines


def test_a_credit_grant_is_sold_then_granted_and_never_pays_for_itself(capi: Api) -> None:
    # Rides at 5 USD; a monthly pack of 100 credits at 0.9 each = 90 USD, expiring with the cycle in progress.
    # January: 3 rides = 15 + pack 90 = 105 (no credit yet); at its close a credit of 100 (Feb 1 - Mar 1).
    # February: 4 rides = 20 + pack 90 = 110, the credit pays the rides only (-20): 90; a second credit (to Apr 1).
    # March: no rides, pack 90; the second credit cannot pay the pack: 90. The first credit: 20 used, 80 expired.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 5, grants=[{"amount": 100, "rate": 0.9}])
    ride(capi, account, *["2024-01-10T00:00:00Z"] * 3)
    ride(capi, account, *["2024-02-10T00:00:00Z"] * 4)
    move(capi, to="2024-04-01T00:00:00Z")
    assert billed(capi, account) == [("2024-01-01", "2024-02-01", "DUE", 105), ("2024-02-01", "2024-03-01", "DUE", 90),
                                     ("2024-03-01", "2024-04-01", "DUE", 90)]
    granted = sorted((c["effectiveFrom"], c.get("effectiveUntil"), c["creditAmount"], c["consumedAmount"])
                     for c in capi.get("/credits", params={"account_id": account}).json()["data"])
    assert granted == [("2024-02-01", "2024-03-01", 100, 20), ("2024-03-01", "2024-04-01", 100, 0),
                       ("2024-04-01", "2024-05-01", 100, 0)]


def test_an_ongoing_invoice_finalized_by_hand_bills_what_it_shows(capi: Api) -> None:
    # 2 rides x 1.25 = 2.5 and a 10 fee: the ongoing invoice shows 12.5; PATCHed to DUE by hand it bills
    # 12.5 (before: its custom lines only, 0), and the cycle's close bills nothing more.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1.25, [{"rate": 10}])
    capi.request("PUT", f"/accounts/{account}/miscellaneous_charges", json={"items": []})  # opens the ongoing one
    ride(capi, account, "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z")
    (ongoing,) = [i for i in capi.get("/invoices/bill_runs").json()["data"] if i["ownerId"] == account]
    r = capi.patch(f"/invoices/{ongoing['id']}", json={"status": "DUE"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["totalAmount"]) == ("DUE", 12.5)
    move(capi, to="2024-02-01T00:00:00Z")
    assert capi.get(f"/invoices/{ongoing['id']}").json()["totalAmount"] == 12.5
    state = capi.get("/__mock/state").json()
    stored = next(i for i in state["invoices"] if i["id"] == ongoing["id"])
    assert any(line["type"] == "PRICE_PLAN_AMOUNT" and line["id"] for line in stored["revenueInfo"]["lineItems"])
    assert capi.request("PUT", "/__mock/state", json=state).status_code == 200  # and it imports back


# -- issue 19 item 1: the test clock travels with export and import --------------------------------------


def test_export_and_import_carry_the_test_clock(capi: Api) -> None:
    move(capi, to="2024-02-10T00:00:00Z")
    exported = capi.get("/__mock/state").json()
    assert exported["testClock"] == {"now": "2024-02-10T00:00:00.000Z", "origin": "2024-01-01T00:00:00.000Z"}
    invoices = len(exported["invoices"])
    move(capi, by="P2M")
    assert len(capi.get("/__mock/state").json()["invoices"]) > invoices  # two more months billed
    assert capi.put("/__mock/state", json=exported).status_code == 200
    assert capi.get("/__mock/clock").json()["now"] == "2024-02-10T00:00:00.000Z"
    assert len(capi.get("/__mock/state").json()["invoices"]) == invoices
    # Without testClock the clock stays where it was.
    move(capi, by="P1D")
    assert capi.put("/__mock/state", json={k: v for k, v in exported.items() if k != "testClock"}).status_code == 200
    assert capi.get("/__mock/clock").json()["now"] == "2024-02-11T00:00:00.000Z"


def test_a_bad_test_clock_in_an_import_changes_nothing(capi: Api, api: Api) -> None:
    exported = capi.get("/__mock/state").json()
    move(capi, by="P1D")
    before = capi.get("/__mock/state").json()
    bad = capi.put("/__mock/state", json={**exported, "testClock": {"now": "yesterday", "origin": "2024-01-01T00:00:00Z"}})
    assert bad.status_code == 400 and "testClock.now" in bad.json()["message"], bad.text
    assert capi.get("/__mock/state").json() == before
    # A tenant whose clock is not a test clock has none to export, and refuses one.
    plain = api.get("/__mock/state").json()
    assert "testClock" not in plain
    refused = api.put("/__mock/state", json={**plain, "testClock": exported["testClock"]})
    assert refused.status_code == 400 and refused.json()["message"].startswith("testClock: "), refused.text
