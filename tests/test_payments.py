"""Payments: account and currency checks, allocations, versions, pages -- over HTTP and with Togai's client."""
from __future__ import annotations

from typing import Any

import pytest
import togai_client
from conftest import Api

REFERENCE = {"sourceName": "Stripe", "sourceType": "CARD", "transactionNumber": "ch_1"}


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "accountId": "GLOBEX-UK",
        "description": "Q1",
        "externalPaymentReference": REFERENCE,
        # Changed with issue 19: a payment's INVOICE records settle those invoices (Togai's payments and wallet
        # page), so one naming no invoice ("INV-1", as here before) is refused; a WALLET_CREDIT tops up the wallet.
        "lineItemRecords": [
            {"type": "WALLET_CREDIT", "amount": 70, "order": 1},
            {"type": "CREDIT", "togaiId": "CR-1", "amount": 30, "order": 2},
        ],
        "currency": "GBP",
        "totalAmount": 100,
    }
    return {**base, **changes}


def test_create_answers_the_payment_and_reads_back(api: Api) -> None:
    r = api.post("/payments", json=body())
    assert r.status_code == 201, r.text
    payment = r.json()
    assert payment["id"].startswith("payment.")
    assert payment["externalPaymentReferences"] == REFERENCE  # Togai's answer names it in the plural
    assert "externalPaymentReference" not in payment
    assert (payment["version"], payment["createdBy"], payment["totalAmount"]) == (1, "api", 100)
    assert api.get(f"/payments/{payment['id']}").json() == payment
    assert api.get(f"/payments/{payment['id']}", params={"version": 1}).json() == payment


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"accountId": "NO-SUCH"}, "accountId: no account with id 'NO-SUCH'"),
        ({"currency": "USD"}, "currency: account 'GLOBEX-UK' is invoiced in GBP"),
        ({"totalAmount": 0, "lineItemRecords": []}, "totalAmount: must be greater than 0"),
        ({"totalAmount": 90}, "lineItemRecords: allocate 100, more than the totalAmount 90"),
        (
            {"lineItemRecords": [{"type": "INVOICE", "amount": 1, "order": 1}, {"type": "CREDIT", "order": 1}]},
            "lineItemRecords[1].order: 1 is used twice",
        ),
    ],
)
def test_rejected_payments_change_nothing(api: Api, changes: dict[str, Any], message: str) -> None:
    before = api.state()
    r = api.post("/payments", json=body(**changes))
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert api.state() == before


def test_an_archived_account_takes_no_payment(api: Api) -> None:
    assert api.delete("/accounts/GLOBEX-UK").status_code == 200
    r = api.post("/payments", json=body())
    assert (r.status_code, r.json()["message"]) == (400, "accountId: account 'GLOBEX-UK' is archived")


def test_unknown_payment_or_version(api: Api) -> None:
    assert api.get("/payments/payment.nope").status_code == 404
    payment = api.post("/payments", json=body()).json()
    r = api.get(f"/payments/{payment['id']}", params={"version": 2})
    assert r.status_code == 400 and r.json()["message"].startswith("version: ")


def test_a_page_holds_at_most_fifty(empty_api: Api) -> None:
    account = {"id": "A", "name": "Account A"}
    r = empty_api.post(
        "/customers", json={"id": "C", "name": "Customer C", "primaryEmail": "c@x.io", "address": {}, "account": account}
    )
    assert r.status_code == 201, r.text
    one = body(accountId="A", currency="USD")
    for _ in range(55):
        assert empty_api.post("/payments", json=one).status_code == 201
    first = empty_api.get("/payments", params={"pageSize": 100}).json()
    assert len(first["data"]) == 50 and "context" not in first
    rest = empty_api.get("/payments", params={"nextToken": first["nextToken"]}).json()
    assert len(rest["data"]) == 5 and "nextToken" not in rest


def test_an_import_of_an_over_allocated_payment_is_refused(api: Api) -> None:
    state = api.get("/__mock/state").json()
    broken = {**state, "payments": [{**state["payments"][0], "totalAmount": 1}]}
    r = api.request("PUT", "/__mock/state", json=broken)
    assert (r.status_code, r.json()["message"]) == (
        400, "payments[0].lineItemRecords: allocate 1500, more than the totalAmount 1"
    )


def test_a_payment_survives_its_account_changing_currency(api: Api) -> None:
    assert api.patch("/accounts/ACME-US", json={"invoiceCurrency": "EUR"}).status_code == 200
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200


def test_payments_with_togais_client(sdk: togai_client.ApiClient) -> None:
    payments = togai_client.PaymentsApi(sdk)
    created = payments.create_payments(
        togai_client.CreatePaymentRequest(
            account_id="ACME-EU",
            external_payment_reference=togai_client.ExternalPaymentReference(
                source_name="SEPA", source_type="BANK_TRANSFER", transaction_number="SEPA-9"
            ),
            line_item_records=[togai_client.PaymentLineItemRecord(type="WALLET_CREDIT", amount=250, order=1)],
            currency="EUR",
            total_amount=250,
        )
    )
    assert created.account_id == "ACME-EU" and created.version == 1
    assert payments.get_payment(created.id).external_payment_references.transaction_number == "SEPA-9"
    seen, token = [], None
    while True:
        page = payments.list_payments(next_token=token, page_size=1)
        seen += [p.id for p in page.data]
        token = page.next_token
        if not token:
            break
    assert seen[-1] == created.id and len(seen) == 3  # the demo tenant's two, then this one
