"""Invoices: custom invoices, status moves, miscellaneous charges, bill runs, pricing rule logs --
over HTTP and with Togai's client."""
from __future__ import annotations

import json
from typing import Any

import pytest
import togai_client
from conftest import Api


def custom(**changes: Any) -> dict[str, Any]:
    base = {"accountId": "GLOBEX-US", "startDate": "2024-05-01T00:00:00Z", "endDate": "2024-06-01T00:00:00Z",
            "status": "DRAFT", "lineItems": [{"id": "setup", "description": "Setup", "value": 100},
                                             {"description": "Seats", "quantity": 3, "valuePerQuantity": 12.5}]}
    return {**base, **changes}


def create(api: Api, **changes: Any) -> dict[str, Any]:
    r = api.post("/invoices", json=custom(**changes))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def put(api: Api, path: str, items: list[dict[str, Any]]) -> Any:
    return api.request("PUT", path, json={"items": items})


def lines(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    children: list[dict[str, Any]] = invoice["revenueInfo"].get("lineItems", [])
    return children


# ---- custom invoices ----------------------------------------------------------------


def test_a_custom_invoice_totals_its_lines(api: Api) -> None:
    invoice = create(api)
    assert (invoice["status"], invoice["invoiceType"], invoice["ownerId"], invoice["customerId"]) == (
        "DRAFT", "CUSTOM", "GLOBEX-US", "GLOBEX")
    assert [(line["description"], line["type"], line["value"]) for line in lines(invoice)] == [
        ("Setup", "CUSTOM_AMOUNT", 100), ("Seats", "CUSTOM_AMOUNT", 37.5)]
    assert invoice["totalAmount"] == invoice["revenueInfo"]["value"] == 137.5
    assert invoice["revenueInfo"]["units"] == "USD" and invoice["paidAmount"] == 0
    assert "dueDate" not in invoice
    assert api.get(f"/invoices/{invoice['id']}").json() == invoice


def test_decimal_amounts_add_up_exactly(api: Api) -> None:
    invoice = create(api, lineItems=[{"description": "a", "value": 0.1}, {"description": "b", "value": 0.2}])
    assert invoice["totalAmount"] == 0.3


def test_a_due_invoice_is_dated_and_due_after_its_net_terms(api: Api) -> None:
    invoice = create(api, accountId="GLOBEX-UK", status="DUE")  # GLOBEX-UK pays in 45 days
    assert invoice["status"] == "DUE" and invoice["finalizingStatus"] == "FINALIZED"
    assert invoice["invoiceDate"] == invoice["generatedAt"] and invoice["netTermDays"] == 45
    assert invoice["dueDate"][:10] == "2024-02-15"  # the seeded clock starts on 2024-01-01


def test_a_paid_invoice_is_paid_in_full(api: Api) -> None:
    invoice = create(api, status="PAID")
    assert invoice["paidAmount"] == invoice["totalAmount"] == 137.5


def test_an_invoice_group_owns_an_invoice_raised_for_it(api: Api) -> None:
    invoice = create(api, accountId="ACME-EU", ownerType="INVOICE_GROUP")
    group = api.get("/accounts/ACME-EU?includeGroupDetails=true").json()["invoiceGroupDetails"]
    assert invoice["ownerId"] == group["id"] == invoice["invoiceDetails"]["invoiceGroup"]["id"]
    assert invoice["revenueInfo"]["units"] == "EUR"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"accountId": "NO-SUCH"}, "accountId: no account with id 'NO-SUCH'"),
        ({"ownerType": "INVOICE_GROUP"}, "ownerType: account 'GLOBEX-US' belongs to no invoice group"),
        ({"endDate": "2024-04-01T00:00:00Z"}, "endDate: is before startDate"),
        ({"lineItems": [{"description": "x"}]}, "lineItems[0]: needs value, or quantity and valuePerQuantity"),
        ({"lineItems": [{"description": "x", "quantity": 2, "valuePerQuantity": 3, "value": 7}]},
         "lineItems[0].value: is not quantity x valuePerQuantity"),
        ({"lineItems": [{"id": "a", "description": "x", "value": 1}, {"id": "a", "description": "y", "value": 2}]},
         "lineItems[1].id: is also lineItems[0]'s"),
        ({"lineItems": [{"description": "x", "quantity": 1e308, "valuePerQuantity": 1e308}]},
         "lineItems[0].value: is beyond 1e+300"),
    ],
)
def test_a_custom_invoice_is_refused_whole(api: Api, changes: dict[str, Any], message: str) -> None:
    before = api.state()
    r = api.post("/invoices", json=custom(**changes))
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert api.state() == before


def test_an_archived_account_gets_no_invoice(api: Api) -> None:
    assert api.delete("/accounts/GLOBEX-US").status_code == 200
    r = api.post("/invoices", json=custom())
    assert (r.status_code, r.json()["message"]) == (400, "accountId: account 'GLOBEX-US' is archived")


def test_an_idempotency_key_answers_the_earlier_invoice(api: Api) -> None:
    first = create(api, idempotencyKey="k-1")
    again = create(api, idempotencyKey="k-1", lineItems=[{"description": "other", "value": 5}])
    assert again == first
    assert create(api, idempotencyKey="k-2")["id"] != first["id"]


# ---- listing -------------------------------------------------------------------------


def test_the_list_pages_summaries_and_filters(api: Api) -> None:
    mine = [create(api)["id"] for _ in range(3)]
    seen: list[str] = []
    query: dict[str, Any] = {"pageSize": 2, "owner_id": "GLOBEX-US"}
    while True:
        page = api.get("/invoices", params=query).json()
        assert all("revenueInfo" not in item and "totalAmount" in item for item in page["data"])
        seen += [item["id"] for item in page["data"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"]}
    fixture_due = [i["id"] for i in api.get("/invoices?status=DUE").json()["data"]]
    assert seen == fixture_due + mine  # the fixtures' GLOBEX-US invoice is DUE
    # ACME-US's plan ("Rides Pro", monthly) has its January cycle open: its ongoing STANDARD invoice is listed
    # first (opened at the cycle's start, 1 January), then the fixtures' custom invoices (issue 19, item 4).
    assert [i["ownerId"] for i in api.get("/invoices?customer_id=ACME").json()["data"]] == [
        "ACME-US", api.get("/accounts/ACME-EU?includeGroupDetails=true").json()["invoiceGroupDetails"]["id"],
        "ACME-US"]
    assert api.get("/invoices?status=VOID").json() == {"data": []}


def test_the_time_window_filters_on_the_invoice_date(api: Api) -> None:
    invoice = create(api)
    moment = invoice["invoiceDate"]
    from datetime import datetime
    ms = int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000)
    inside = api.get(f"/invoices?start_time={ms}&end_time={ms + 1}").json()["data"]
    assert [i["id"] for i in inside] == [invoice["id"]]
    # Later: only the ongoing invoices of the demo's open January cycles, dated at the cycle's end.
    later = api.get(f"/invoices?start_time={ms + 1}").json()["data"]
    assert [i["invoiceDate"] for i in later] == ["2024-02-01T00:00:00.000Z"] * 2
    r = api.get(f"/invoices?start_time={ms}&end_time={ms - 1}")
    assert (r.status_code, r.json()["message"]) == (400, "end_time: is before start_time")


# ---- updates and status --------------------------------------------------------------


def test_a_draft_custom_invoice_can_change_everything(api: Api) -> None:
    invoice = create(api)
    r = api.patch(f"/invoices/{invoice['id']}", json={"lineItems": [{"description": "Only", "value": 9}],
                                                      "endDate": "2024-07-01T00:00:00Z", "autoAdvance": True})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["totalAmount"], changed["endDate"], changed["autoAdvance"]) == (9, "2024-07-01T00:00:00Z", True)
    assert changed["status"] == "DRAFT"


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        (["DUE"], "DRAFT", None),  # DRAFT is not even in the request enum
        (["DUE"], "REFUND_INITIATED", "PAID, UN_COLLECTIBLE, VOID"),
        (["VOID"], "PAID", "none: it is final"),
        (["PAID"], "DUE", "REFUND_INITIATED"),
        (["DUE", "UN_COLLECTIBLE"], "DUE", "PAID, VOID"),
    ],
)
def test_status_only_moves_forward(api: Api, path: list[str], target: str, allowed: str | None) -> None:
    invoice = create(api)
    for status in path:
        assert api.patch(f"/invoices/{invoice['id']}", json={"status": status}).status_code == 200
    before = api.state()
    r = api.patch(f"/invoices/{invoice['id']}", json={"status": target})
    assert r.status_code == 400
    if allowed is not None:
        assert r.json()["message"] == f"status: cannot go from {path[-1]} to {target} (allowed: {allowed})"
    assert api.state() == before


def test_the_life_of_an_invoice(api: Api) -> None:
    invoice = create(api)
    due = api.patch(f"/invoices/{invoice['id']}", json={"status": "DUE"}).json()
    assert due["status"] == "DUE" and due["dueDate"] and due["finalizingStatus"] == "FINALIZED"
    assert api.patch(f"/invoices/{invoice['id']}", json={"status": "DUE"}).status_code == 200  # no change
    paid = api.patch(f"/invoices/{invoice['id']}", json={"status": "PAID"}).json()
    assert paid["paidAmount"] == paid["totalAmount"]
    assert api.patch(f"/invoices/{invoice['id']}", json={"status": "REFUND_INITIATED"}).json()["status"] == (
        "REFUND_INITIATED")


def test_only_a_draft_custom_invoice_changes_its_fields(api: Api) -> None:
    due = api.get("/invoices?status=DUE").json()["data"][0]
    before = api.state()
    r = api.patch(f"/invoices/{due['id']}", json={"autoAdvance": True, "status": "PAID"})
    assert (r.status_code, r.json()["message"]) == (
        400, "autoAdvance: only a CUSTOM invoice in DRAFT can change it (this one is CUSTOM, DUE)")
    assert api.state() == before


def test_only_a_draft_custom_invoice_is_deleted(api: Api) -> None:
    invoice = create(api)
    assert api.delete(f"/invoices/{invoice['id']}").json() == {"success": True}
    assert api.get(f"/invoices/{invoice['id']}").status_code == 404
    due = api.get("/invoices?status=DUE").json()["data"][0]
    r = api.delete(f"/invoices/{due['id']}")
    assert (r.status_code, r.json()["message"]) == (
        400, "invoice_id: only a CUSTOM invoice in DRAFT can be deleted (this one is CUSTOM, DUE)")
    assert api.delete("/invoices/inv.nope").status_code == 404


# ---- miscellaneous charges --------------------------------------------------------


def test_charges_add_to_the_total_and_follow_the_lines(api: Api) -> None:
    invoice = create(api)
    items = [{"name": "Fixed", "value": "10"}, {"name": "Rate", "rate": 2, "quantity": 5},
             {"name": "Tenth of setup", "value": json.dumps({"*": [{"var": "setup"}, 0.1]}),
              "considerForRevenue": True}]
    r = put(api, f"/invoices/{invoice['id']}/miscellaneous_charges", items)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [
        {"name": "Fixed", "value": "10", "considerForRevenue": False},
        {"name": "Rate", "rate": 2, "quantity": 5, "value": "10", "considerForRevenue": False},
        {**items[2]},
    ]
    shown = api.get(f"/invoices/{invoice['id']}").json()
    charges = lines(shown)[-1]
    assert (charges["type"], charges["value"]) == ("TOTAL_MISCELLANEOUS_CHARGES", 30)
    assert [c["value"] for c in charges["lineItems"]] == [10, 10, 10]
    assert shown["totalAmount"] == 137.5 + 30
    # The JSON-logic charge is worked out from the lines as they are now.
    r = api.patch(f"/invoices/{invoice['id']}", json={"lineItems": [{"id": "setup", "description": "S", "value": 500}]})
    assert r.json()["totalAmount"] == 500 + 10 + 10 + 50
    # PUT replaces the set; an empty one clears it.
    assert put(api, f"/invoices/{invoice['id']}/miscellaneous_charges", []).json() == {"data": []}
    assert api.get(f"/invoices/{invoice['id']}").json()["totalAmount"] == 500


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"name": "x"}], "items[0]: needs a value, or rate and quantity"),
        ([{"name": "x", "rate": 2}], "items[0]: needs both rate and quantity"),
        ([{"name": "x", "rate": 2, "quantity": 1, "value": "2"}],
         "items[0].value: must not be given with rate and quantity (it is their product)"),
        ([{"name": "x", "value": "ten"}], "items[0].value: is neither a number nor JSON logic"),
        ([{"name": "x", "value": '{"var": "nope"}'}], "items[0].value: names no line item of the invoice ('nope')"),
        ([{"name": "x", "value": '{"/": [1, 0]}'}], "items[0].value: '/' cannot be computed (division by zero?)"),
        ([{"name": "x", "value": "1"}, {"name": "x", "value": "2"}], "items[1].name: is also items[0]'s"),
        ([{"name": "x", "value": "Infinity"}], "items[0].value: is not a finite amount"),
        ([{"name": "x", "rate": 1e308, "quantity": 1e308}], "items[0].value: is beyond 1e+300"),
    ],
)
def test_bad_charges_change_nothing(api: Api, items: list[dict[str, Any]], message: str) -> None:
    invoice = create(api)
    before = api.state()
    r = put(api, f"/invoices/{invoice['id']}/miscellaneous_charges", items)
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert api.state() == before


def test_charges_need_a_draft_invoice(api: Api) -> None:
    due = api.get("/invoices?status=DUE").json()["data"][0]
    r = put(api, f"/invoices/{due['id']}/miscellaneous_charges", [{"name": "late", "value": "5"}])
    assert (r.status_code, r.json()["message"]) == (
        400, f"invoice_id: invoice {due['id']!r} is DUE; charges need a DRAFT one")
    assert put(api, "/invoices/inv.nope/miscellaneous_charges", []).status_code == 404


def test_lines_a_charge_names_cannot_go(api: Api) -> None:
    invoice = create(api)
    put(api, f"/invoices/{invoice['id']}/miscellaneous_charges", [{"name": "pct", "value": '{"var": "setup"}'}])
    r = api.patch(f"/invoices/{invoice['id']}", json={"lineItems": [{"description": "No id", "value": 1}]})
    assert (r.status_code, r.json()["message"]) == (
        400, "lineItems (charges)[0].value: names no line item of the invoice ('setup')")


def test_account_charges_go_on_its_upcoming_invoice(api: Api) -> None:
    r = put(api, "/accounts/GLOBEX-UK/miscellaneous_charges", [{"name": "Setup", "value": "50"}])
    assert r.json() == {"data": [{"name": "Setup", "value": "50", "considerForRevenue": False}]}
    (ongoing,) = [i for i in api.get("/invoices/bill_runs").json()["data"] if i["ownerId"] == "GLOBEX-UK"]
    assert (ongoing["ownerId"], ongoing["status"], ongoing["invoiceType"], ongoing["totalAmount"]) == (
        "GLOBEX-UK", "DRAFT", "STANDARD", 50)
    assert (ongoing["startDate"], ongoing["endDate"]) == ("2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z")
    # A second PUT replaces the charges on the same invoice.
    put(api, "/accounts/GLOBEX-UK/miscellaneous_charges", [{"name": "Setup", "value": "70"}])
    assert [i["totalAmount"] for i in api.get("/invoices/bill_runs").json()["data"]
            if i["ownerId"] == "GLOBEX-UK"] == [70]
    # The ongoing invoice is STANDARD: not editable field by field, not deletable.
    assert api.delete(f"/invoices/{ongoing['id']}").status_code == 400
    assert put(api, "/accounts/NO-SUCH/miscellaneous_charges", []).status_code == 404


# ---- bill runs -------------------------------------------------------------------


def test_a_bill_run_bills_only_closed_cycles(api: Api) -> None:
    # Changed with the billing engine (issue 19): Togai generates an invoice "once the billing cycle is
    # completed" and it becomes Due "as soon as the grace period ends" (docs.togai.com/docs/invoices-overview),
    # so a bill run in an open month changes nothing; the old expectation (every ongoing invoice DUE at once)
    # billed the open month again at each run.
    for account in ("GLOBEX-UK", "ACME-US"):
        put(api, f"/accounts/{account}/miscellaneous_charges", [{"name": "Fee", "value": "20"}])
    # The ongoing invoices: GLOBEX-UK's (opened by the charge), ACME-US's and UMBRELLA-EU's (their plans' open
    # January cycles). Both charges went on them.
    listed = {i["ownerId"]: i["id"] for i in api.get("/invoices/bill_runs").json()["data"]}
    assert sorted(listed) == ["ACME-US", "GLOBEX-UK", "UMBRELLA-EU"]
    eligible = [listed["GLOBEX-UK"], listed["ACME-US"]]
    assert api.post("/invoices/bill_runs?require_confirmation=false").json() == {"success": True}
    assert {i["ownerId"]: i["id"] for i in api.get("/invoices/bill_runs").json()["data"]} == listed  # nothing closed
    # The month ends: GLOBEX-UK (no plan) is DUE at once; ACME-US's "Rides Pro" has a 3-day grace period.
    assert api.post("/__mock/clock", json={"to": "2024-02-01T00:00:00Z"}).status_code == 200
    globex, acme = (api.get(f"/invoices/{i}").json() for i in eligible)
    assert (globex["status"], globex["finalizingStatus"], globex["totalAmount"]) == ("DUE", "FINALIZED", 20)
    assert (acme["status"], acme["finalizingStatus"], acme["invoiceDate"]) == (
        "DRAFT", "FINALIZING", "2024-02-04T00:00:00.000Z")
    assert api.post("/invoices/bill_runs").json() == {"success": True}  # twice: nothing new
    assert acme["id"] in api.post("/__mock/clock", json={"by": "P3D"}).json()["summary"]["invoicesFinalized"]["ids"]
    acme = api.get(f"/invoices/{acme['id']}").json()
    assert acme["dueDate"] == "2024-03-05T00:00:00.000Z"  # + 30 net term days
    usage = sum(line["value"] for line in lines(acme) if line["type"] == "PRICE_PLAN_AMOUNT")
    # Changed with issue 19, money that moves: the demo's 500 USD onboarding credit covers the plan's lines
    # (credits come before miscellaneous charges in Togai's order of an invoice), and the wallet (1 250 USD)
    # nets the 20 USD fee left "as the invoice becomes due" (Togai's payments and wallet page): PAID.
    credited = sum(line["value"] for line in lines(acme) if line["type"] == "TOTAL_CREDITS")
    assert usage > 0 and credited == -usage  # the demo rides of January, all credited
    assert (acme["status"], acme["totalAmount"], acme["paidAmount"]) == ("PAID", 20, 20)
    # The next charges go on February's ongoing invoice, opened when January closed.
    put(api, "/accounts/GLOBEX-UK/miscellaneous_charges", [{"name": "Fee", "value": "1"}])
    owners = {i["ownerId"]: i for i in api.get("/invoices/bill_runs").json()["data"]}
    assert owners["GLOBEX-UK"]["id"] not in eligible and owners["GLOBEX-UK"]["startDate"] == "2024-02-01T00:00:00.000Z"


def test_a_bill_run_prices_the_months_usage_with_the_accounts_plan(api: Api) -> None:
    # ACME-US is on the demo plan "Rides Pro": rides TIERED (the first 100 for a flat 49 USD, then 0.4
    # each), distance PER_UNIT 0.2 USD. Three rides this month of 12.5, 10 and 7.5: 49 + 30 x 0.2 = 55.
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json={**state, "events": []}).status_code == 200  # no demo rides
    now = api.app.state.store.clock.now()  # the seeded clock: the month billed
    rides = [{"id": f"bill-{i}", "schemaName": "rides", "accountId": "ACME-US", "timestamp": now,
              "attributes": [{"name": "distance", "value": km}], "dimensions": {"city": "x"}}
             for i, km in enumerate(["12.5", "10", "7.5"])]
    assert api.post("/ingestBatch", json={"events": rides}).status_code == 202
    # Changed with the billing engine: the month is billed when it has ended and its grace period is over
    # (Togai: "Wait till end of grace period for a billing cycle"), not by a bill run in the open month.
    assert api.post("/__mock/clock", json={"to": "2024-02-04T00:00:00Z"}).status_code == 200
    (invoice,) = api.get("/invoices?owner_id=ACME-US&status=DUE").json()["data"]
    shown = api.get(f"/invoices/{invoice['id']}").json()
    plan, credited = lines(shown)
    assert sorted((line["type"], line["quantity"], line["value"]) for line in plan["lineItems"]) == [
        ("USAGE_RATE_CARD_AMOUNT", 3, 49), ("USAGE_RATE_CARD_AMOUNT", 30, 6)]
    # Changed with issue 19: the demo's onboarding credit (500 USD, priority 1) is consumed when the invoice is
    # DUE (Togai's TOTAL_CREDITS/SUB_CREDITS lines): 55 of it, so the invoice totals 0.
    assert (credited["type"], credited["value"], credited["lineItems"][0]["value"]) == ("TOTAL_CREDITS", -55, -55)
    assert (plan["value"], shown["totalAmount"]) == (55, 0)
    exported = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get(f"/invoices/{invoice['id']}").json() == shown


def test_pricing_rule_logs_are_empty_for_an_invoice(api: Api) -> None:
    invoice = create(api)
    assert api.get(f"/invoice/{invoice['id']}/pricing_rules_logs").json() == {"data": []}
    assert api.get("/invoice/inv.nope/pricing_rules_logs").status_code == 404


# ---- export and import ------------------------------------------------------------


def test_an_export_with_charges_imports_back(api: Api) -> None:
    invoice = create(api)
    put(api, f"/invoices/{invoice['id']}/miscellaneous_charges",
        [{"name": "pct", "value": '{"*": [{"var": "setup"}, 0.5]}'}, {"name": "r", "rate": 1, "quantity": 2}])
    put(api, "/accounts/GLOBEX-UK/miscellaneous_charges", [{"name": "Setup", "value": "50"}])
    exported = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get("/__mock/state").json() == exported
    # The ongoing invoices are known again: GLOBEX-UK's, ACME-US's and UMBRELLA-EU's.
    assert len(api.get("/invoices/bill_runs").json()["data"]) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda i: i.update(totalAmount=1), "invoices[0].totalAmount: is not the sum of its lines (137.5)"),
        (lambda i: i["revenueInfo"].update(value=1), "invoices[0].revenueInfo: values do not add up as the API"),
        (lambda i: i.update(paidAmount=1000), "invoices[0].paidAmount: must be between 0 and totalAmount"),
        (lambda i: i.update(customerId="ACME"), "invoices[0].customerId: is not its account's customer"),
        (lambda i: i.update(status="DUE"), "invoices[0].dueDate: is required once an invoice left DRAFT"),
    ],
)
def test_an_import_refuses_invoices_the_api_cannot_make(api: Api, change: Any, message: str) -> None:
    create(api)
    state = api.get("/__mock/state").json()
    state["invoices"] = state["invoices"][-1:]
    change(state["invoices"][0])
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and r.json()["message"].startswith(message), r.text


# ---- Togai's client -----------------------------------------------------------------


def _raw(response: Any) -> dict[str, Any]:
    """An answer the client cannot parse itself (see DEVIATIONS #15), read as JSON."""
    assert response.status == 200 or response.status == 201, response.data
    body: dict[str, Any] = json.loads(response.data)
    return body


def test_invoices_with_togais_client(sdk: togai_client.ApiClient) -> None:
    api = togai_client.InvoicesApi(sdk)
    # The client cannot read an Invoice with revenueInfo (its InvoiceLineItem requires lineItems at every
    # depth), so those answers are read raw; requests and every other answer go through its models.
    request = togai_client.CreateCustomInvoiceRequest.from_dict(custom(lineItems=[
        {"id": "setup", "description": "Setup", "value": 100}]))
    created = _raw(api.create_custom_invoice_without_preload_content(create_custom_invoice_request=request))
    assert (created["status"], created["totalAmount"]) == ("DRAFT", 100)
    read = _raw(api.get_invoice_without_preload_content(created["id"]))
    assert read == created

    seen: list[str] = []
    page = api.list_invoices(page_size=2)
    while True:
        seen += [summary.id for summary in page.data]
        if not page.next_token:
            break
        page = api.list_invoices(next_token=page.next_token)
    assert created["id"] in seen and len(seen) == len(set(seen)) == 6  # + the 2 ongoing invoices of the demo

    update = togai_client.UpdateInvoiceRequest.from_dict({"lineItems": [{"id": "setup", "description": "S",
                                                                         "quantity": 2, "valuePerQuantity": 60}]})
    updated = _raw(api.update_invoice_without_preload_content(created["id"], update_invoice_request=update))
    assert updated["totalAmount"] == 120

    charges = togai_client.ManageMiscellaneousChargesRequest.from_dict(
        {"items": [{"name": "Tax", "value": '{"*": [{"var": "setup"}, 0.25]}'}]})
    answer = api.manage_miscellaneous_charges_in_invoice(created["id"], manage_miscellaneous_charges_request=charges)
    assert [(c.name, c.value) for c in answer.data] == [("Tax", '{"*": [{"var": "setup"}, 0.25]}')]
    assert _raw(api.get_invoice_without_preload_content(created["id"]))["totalAmount"] == 150
    assert api.list_pricing_rule_logs(created["id"]).data == []

    assert api.delete_custom_invoice(created["id"]).success is True
    with pytest.raises(togai_client.ApiException) as gone:
        api.get_invoice(created["id"])
    assert gone.value.status == 404

    # Account charges -> the upcoming invoice -> a bill run makes it DUE.
    upcoming = togai_client.ManageMiscellaneousChargesRequest.from_dict({"items": [{"name": "Fee", "rate": 5,
                                                                                    "quantity": 4}]})
    answer = api.manage_miscellaneous_charges_in_account("GLOBEX-UK", manage_miscellaneous_charges_request=upcoming)
    assert answer.data[0].value == "20"
    (eligible,) = [i for i in api.list_invoices_for_bill_run().data if i.owner_id == "GLOBEX-UK"]
    assert (eligible.owner_id, eligible.total_amount, eligible.status.value) == ("GLOBEX-UK", 20, "DRAFT")
    # Changed with the billing engine: a bill run closes only ended cycles (Togai generates the invoice once
    # the cycle is completed), so the month must end first; the clock is the mock's control API.
    assert api.create_invoice_bill_run(require_confirmation=False).success is True
    assert [i.id for i in api.list_invoices_for_bill_run().data if i.owner_id == "GLOBEX-UK"] == [eligible.id]
    assert api.api_client.rest_client.pool_manager.request(
        "POST", f"{api.api_client.configuration.host}/__mock/clock", body=b'{"to": "2024-02-01T00:00:00Z"}',
        headers={"Content-Type": "application/json"}).status == 200
    assert api.create_invoice_bill_run(require_confirmation=False).success is True
    assert [i.owner_id for i in api.list_invoices_for_bill_run().data if i.owner_id == "GLOBEX-UK"] == []
    (billed,) = api.list_invoices(owner_id="GLOBEX-UK").data
    assert (billed.id, billed.status.value, billed.total_amount) == (eligible.id, "DUE", 20)


# ---- indexes ------------------------------------------------------------------------


def _ids(api: Api, **query: Any) -> list[str]:
    """Every invoice id a filtered list shows, page by page (the filters on every page)."""
    seen: list[str] = []
    params: dict[str, Any] = {"pageSize": 1, **query}
    while True:
        page = api.get("/invoices", params=params).json()
        seen += [item["id"] for item in page["data"]]
        if "nextToken" not in page:
            return seen
        params = {**query, "nextToken": page["nextToken"]}


def test_a_deleted_invoice_forgets_its_idempotency_key(api: Api) -> None:
    first = create(api, idempotencyKey="k-del")
    api.delete(f"/invoices/{first['id']}")
    again = create(api, idempotencyKey="k-del")
    assert again["id"] != first["id"]
    assert create(api, idempotencyKey="k-del")["id"] == again["id"]


def test_filtered_lists_follow_creation_deletion_and_import(api: Api) -> None:
    before = _ids(api, owner_id="GLOBEX-US")
    a, b, c = (create(api)["id"] for _ in range(3))
    create(api, accountId="GLOBEX-UK")  # another owner's, same customer
    assert _ids(api, owner_id="GLOBEX-US") == [*before, a, b, c]
    api.delete(f"/invoices/{b}")
    assert _ids(api, owner_id="GLOBEX-US") == [*before, a, c]
    everything = _ids(api)
    by_customer = _ids(api, customer_id="GLOBEX")
    assert by_customer == [i for i in everything if api.get(f"/invoices/{i}").json()["customerId"] == "GLOBEX"]
    assert _ids(api, owner_id="GLOBEX-US", status="DRAFT") == [a, c]
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert _ids(api, owner_id="GLOBEX-US") == [*before, a, c]
    assert _ids(api, customer_id="GLOBEX") == by_customer
    assert _ids(api, owner_id="NO-SUCH") == []


def test_the_bill_run_list_pages_over_the_ongoing_invoices(api: Api) -> None:
    charge = [{"name": "Support", "value": "10"}]
    for account in ("GLOBEX-UK", "ACME-US", "GLOBEX-US"):
        assert put(api, f"/accounts/{account}/miscellaneous_charges", charge).status_code == 200
    owners = [i["ownerId"] for i in api.get("/invoices/bill_runs", params={"pageSize": 50}).json()["data"]]
    # ACME-US's and UMBRELLA-EU's ongoing invoices were opened with their plans' open January cycles, before
    # the charges opened GLOBEX-UK's and GLOBEX-US's.
    assert owners == ["ACME-US", "UMBRELLA-EU", "GLOBEX-UK", "GLOBEX-US"]
    page = api.get("/invoices/bill_runs", params={"pageSize": 2}).json()
    rest = api.get("/invoices/bill_runs", params={"nextToken": page["nextToken"]}).json()
    assert [i["ownerId"] for i in page["data"] + rest["data"]] == owners
