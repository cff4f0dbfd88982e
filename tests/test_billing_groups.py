"""Invoice groups (issue 19, item 8): the members' invoices consolidated into the group's COMPOSITE invoice.

Every expected amount is worked by hand in the comment from the plan's rates
and the rides; nothing calls the code under test to compute an expectation.
Each member account is on its own calendar-month plan pricing a ride at 2 USD
with a 10 USD fee in arrears, on a test clock from 2024-01-01; January closes
on 1 February.
"""
from __future__ import annotations

from typing import Any

from conftest import Api, group_body
from test_billing import MONTHLY, move, ride, setup_account

REFERENCE = {"sourceName": "Bank", "sourceType": "BANK_TRANSFER", "transactionNumber": "T-1"}



def member(api: Api, rides: int, grace: int = 0) -> str:
    """An account on a plan of 2 USD a ride and a 10 USD fee, with ``rides`` rides in January."""
    account = setup_account(api, "USD", {**MONTHLY, "gracePeriod": grace}, "2024-01-01", "2099-01-01", 2,
                            [{"rate": 10}])
    if rides:
        ride(api, account, *[f"2024-01-{10 + i:02d}T00:00:00Z" for i in range(rides)])
    return account


def new_group(api: Api, *accounts: str, net_terms: int = 7) -> str:
    r = api.post("/invoice_groups", json=group_body(*accounts, name="North America", netTermDays=net_terms))
    assert r.status_code == 200, r.text
    group: str = r.json()["id"]
    return group


def invoices_of(api: Api, owner: str, **filters: str) -> list[dict[str, Any]]:
    data = api.get("/invoices", params={"owner_id": owner, **filters}).json()["data"]
    return [api.get(f"/invoices/{s['id']}").json() for s in data]


def january(api: Api, account: str) -> dict[str, Any]:
    (invoice,) = [i for i in invoices_of(api, account) if i["startDate"].startswith("2024-01-01")]
    return invoice


def pay(api: Api, account: str, *records: dict[str, Any]) -> Any:
    items = [{**r, "order": i + 1} for i, r in enumerate(records)]
    return api.post("/payments", json={"accountId": account, "externalPaymentReference": REFERENCE,
                                       "lineItemRecords": items, "currency": "USD",
                                       "totalAmount": sum(r["amount"] for r in records)})


def test_two_members_make_one_composite_invoice(capi: Api) -> None:
    # 3 rides x 2 + 10 = 16 and 5 rides x 2 + 10 = 20: the group's COMPOSITE invoice of 1 February has a
    # GRAND_TOTAL_AMOUNT of 16 + 20 = 36, one TOTAL_AMOUNT line per member; due 7 days later (the group's
    # net terms), on 8 February; both members MERGED.
    a, b = member(capi, 3), member(capi, 5)
    group = new_group(capi, a, b)
    move(capi, to="2024-02-01T00:00:00Z")
    first, second = january(capi, a), january(capi, b)
    assert [(i["invoiceType"], i["status"], i["totalAmount"]) for i in (first, second)] == [
        ("STANDARD", "MERGED", 16), ("STANDARD", "MERGED", 20)]
    (composite,) = invoices_of(capi, group)
    assert (composite["invoiceType"], composite["status"], composite["ownerId"], composite["totalAmount"],
            composite["paidAmount"]) == ("COMPOSITE", "DUE", group, 36, 0)
    assert (composite["invoiceDate"], composite["dueDate"], composite["startDate"], composite["endDate"]) == (
        "2024-02-01T00:00:00.000Z", "2024-02-08T00:00:00.000Z", "2024-01-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z")
    root = composite["revenueInfo"]
    assert (root["type"], root["value"], root["units"]) == ("GRAND_TOTAL_AMOUNT", 36, "USD")
    assert [(x["type"], x["value"], x["metadata"]["invoiceId"]) for x in root["lineItems"]] == [
        ("TOTAL_AMOUNT", 16, first["id"]), ("TOTAL_AMOUNT", 20, second["id"])]
    # Every rate card of every member is a line of the group's invoice: 3 rides = 6, the fee 10.
    plan = root["lineItems"][0]["lineItems"][0]
    assert (plan["type"], [(x["type"], x["value"]) for x in plan["lineItems"]]) == (
        "PRICE_PLAN_AMOUNT", [("USAGE_RATE_CARD_AMOUNT", 6), ("FIXED_FEE_RATE_CARD_AMOUNT", 10)])
    assert composite["invoiceDetails"]["invoiceGroup"]["id"] == group
    # The lists: the group's owner filter finds the composite, MERGED finds the members.
    assert [i["id"] for i in capi.get("/invoices", params={"status": "MERGED", "owner_id": a}).json()["data"]] == [
        first["id"]]
    assert [i["invoiceType"] for i in capi.get("/invoices", params={"owner_id": group, "status": "DUE"}).json()[
        "data"]] == ["COMPOSITE"]
    # A merged invoice is final; a bill run bills nothing twice.
    r = capi.patch(f"/invoices/{first['id']}", json={"status": "DUE"})
    assert r.status_code == 400 and r.json()["message"].startswith("status: cannot go from MERGED")
    before = capi.get("/invoices", params={"owner_id": group}).json()
    assert capi.post("/invoices/bill_runs").status_code == 200
    assert capi.get("/invoices", params={"owner_id": group}).json() == before


def test_members_wallets_pay_first_and_the_rest_is_paid_on_the_composite(capi: Api) -> None:
    # A (16) has 10 USD in its wallet: netted as A's invoice becomes DUE, then merged: the composite of
    # 16 + 20 = 36 starts PARTIALLY_PAID with 10. B pays the 26 left on the composite: PAID.
    a, b = member(capi, 3), member(capi, 5)
    outsider = member(capi, 0)
    assert capi.post(f"/accounts/{a}/wallet_topup", json={"topupAmount": 10}).status_code == 200
    group = new_group(capi, a, b)
    move(capi, to="2024-02-01T00:00:00Z")
    (composite,) = invoices_of(capi, group)
    assert (composite["status"], composite["totalAmount"], composite["paidAmount"]) == ("PARTIALLY_PAID", 36, 10)
    assert (january(capi, a)["status"], january(capi, a)["paidAmount"]) == ("MERGED", 10)
    # Not the group's account, or more than is owed: refused whole, nothing paid.
    r = pay(capi, outsider, {"type": "INVOICE", "togaiId": composite["id"], "amount": 1})
    assert r.status_code == 400 and r.json()["message"].startswith("lineItemRecords[0].togaiId: ")
    r = pay(capi, b, {"type": "INVOICE", "togaiId": composite["id"], "amount": 27})
    assert r.status_code == 400 and r.json()["message"].startswith("lineItemRecords[0].amount: ")
    assert capi.get(f"/invoices/{composite['id']}").json()["paidAmount"] == 10
    # A member's own merged invoice is no longer what is paid.
    r = pay(capi, a, {"type": "INVOICE", "togaiId": january(capi, a)["id"], "amount": 1})
    assert r.status_code == 400 and "MERGED" in r.json()["message"]
    r = pay(capi, b, {"type": "INVOICE", "togaiId": composite["id"], "amount": 26})
    assert r.status_code in (200, 201), r.text
    assert (capi.get(f"/invoices/{composite['id']}").json()["status"],
            capi.get(f"/invoices/{composite['id']}").json()["paidAmount"]) == ("PAID", 36)


def test_members_due_on_other_days_make_other_composites(capi: Api) -> None:
    # A (16) is DUE on 1 February; B (20) has a 3-day grace period: DRAFT until 4 February, then DUE and
    # merged into that day's composite. C (1 ride: 12) left the group before January closed: billed alone.
    a, b, c = member(capi, 3), member(capi, 5, grace=3), member(capi, 1)
    group = new_group(capi, a, b, c)
    assert capi.post(f"/invoice_groups/{group}/remove_accounts", json={"accountIds": [c]}).status_code == 200
    move(capi, to="2024-02-01T00:00:00Z")
    assert [(i["totalAmount"], i["invoiceDate"][:10]) for i in invoices_of(capi, group)] == [(16, "2024-02-01")]
    assert january(capi, b)["status"] == "DRAFT"
    move(capi, to="2024-02-04T00:00:00Z")
    assert [(i["totalAmount"], i["invoiceDate"][:10], i["status"]) for i in invoices_of(capi, group)] == [
        (16, "2024-02-01", "DUE"), (20, "2024-02-04", "DUE")]
    assert (january(capi, b)["status"], january(capi, c)["status"], january(capi, c)["totalAmount"]) == (
        "MERGED", "DUE", 12)


def test_composites_survive_export_and_import(capi: Api) -> None:
    # The exported state imports back unchanged (the composite's tree is checked like any invoice's).
    a, b = member(capi, 3), member(capi, 5)
    new_group(capi, a, b)
    move(capi, to="2024-02-01T00:00:00Z")
    state = capi.get("/__mock/state").json()
    assert capi.request("PUT", "/__mock/state", json=state).status_code == 200
    assert capi.get("/__mock/state").json()["invoices"] == state["invoices"]
    # A composite whose lines do not add up is refused, naming the line.
    composite = next(i for i in state["invoices"] if i["invoiceType"] == "COMPOSITE")
    composite["revenueInfo"]["lineItems"][0]["value"] = 17
    r = capi.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and "revenueInfo.lineItems[0].value" in r.text


def test_a_member_invoice_made_due_by_hand_is_merged_too(capi: Api) -> None:
    # On 10 January A's ongoing invoice gets a 14 USD charge and is PATCHed to DUE: finalized as the engine
    # does it, with what it shows (the plan's 10 USD fee, no rides yet, and the charge), then merged into the
    # group's composite of 10 January (24, due at once: 0 net-term days).
    a, b = member(capi, 0), member(capi, 0)
    group = new_group(capi, a, b, net_terms=0)
    move(capi, to="2024-01-10T00:00:00Z")
    charge = {"items": [{"name": "Setup", "value": "14"}]}
    assert capi.request("PUT", f"/accounts/{a}/miscellaneous_charges", json=charge).status_code == 200
    (ongoing,) = invoices_of(capi, a)
    r = capi.patch(f"/invoices/{ongoing['id']}", json={"status": "DUE"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "MERGED"
    (composite,) = invoices_of(capi, group)
    assert (composite["invoiceType"], composite["status"], composite["totalAmount"], composite["invoiceDate"],
            composite["dueDate"]) == ("COMPOSITE", "DUE", 24, "2024-01-10T00:00:00.000Z", "2024-01-10T00:00:00.000Z")
    member_lines = {x["type"] for x in composite["revenueInfo"]["lineItems"][0]["lineItems"]}
    assert {"TOTAL_MISCELLANEOUS_CHARGES", "PRICE_PLAN_AMOUNT"} <= member_lines
