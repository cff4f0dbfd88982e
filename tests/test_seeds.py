"""The example payloads of Togai's own documentation of the two seed operations."""
from __future__ import annotations

import re

import pytest
from conftest import ROOT, Api

SEEDS = ROOT.parent / "shared" / "seeds"

# The request of PATCH /accounts/{account_id}, as documented.
SEED_PATCH = {
    "name": "New Account Name",
    "primaryEmail": "admin@example.com",
    "address": {
        "phoneNumber": "+919876543210",
        "line1": "2281 Broadway Street",
        "line2": "G-31",
        "postalCode": "29501",
        "city": "Florence",
        "state": "South Carolina",
    },
}
# The documented response of that call: the keys a client may rely on.
SEED_ACCOUNT_KEYS = {
    "id", "togaiAccountId", "customerId", "togaiCustomerId", "name", "invoiceCurrency",
    "address", "primaryEmail", "billingInformation", "aliases", "status",
}
# The request of POST /invoice_groups, with its "<string>" placeholders filled in.
SEED_CREATE_GROUP = {
    "name": "<string>",
    "email": "<string>",
    "dailyInvoiceConsolidation": True,
    "accountIds": ["ACME-US"],
    "address": {
        "phoneNumber": "<string>", "line1": "<string>", "line2": "<string>", "postalCode": "<string>",
        "city": "<string>", "state": "<string>", "country": "<string>",
    },
    "netTermDays": 123,
}
SEED_GROUP_KEYS = {
    "id", "name", "email", "dailyInvoiceConsolidation", "invoiceCurrency", "billingAddress",
    "accountsCount", "createdAt", "updatedAt", "netTermDays",
}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside the checkout")
def test_the_payloads_above_are_the_seed_documents() -> None:
    text = "\n".join(p.read_text() for p in SEEDS.glob("*.txt"))
    for value in ("New Account Name", "+919876543210", "South Carolina", '"netTermDays": 123'):
        assert value in text
    assert re.search(r'"accountIds": \[\s*"<string>"\s*\]', text)


def test_seed_patch_account(api: Api) -> None:
    api.patch("/accounts/ACME-US", json={"billingInformation": {"emailRecipients": ["admin@example.com"]}})
    r = api.patch("/accounts/ACME-US", json=SEED_PATCH)
    assert r.status_code == 200
    body = r.json()
    assert SEED_ACCOUNT_KEYS <= set(body)
    assert body["name"] == "New Account Name"
    assert body["address"] == SEED_PATCH["address"]
    assert body["billingInformation"] == {"emailRecipients": ["admin@example.com"]}
    assert body["status"] == "ACTIVE"


def test_seed_create_invoice_group(api: Api) -> None:
    r = api.post("/invoice_groups", json=SEED_CREATE_GROUP)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == SEED_GROUP_KEYS
    assert body["billingAddress"] == SEED_CREATE_GROUP["address"]
    assert body["accountsCount"] == 1
    assert body["netTermDays"] == 123


def test_seed_create_invoice_group_with_its_placeholder_account(api: Api) -> None:
    r = api.post("/invoice_groups", json={**SEED_CREATE_GROUP, "accountIds": ["<string>"]})
    assert r.status_code == 400
    assert r.json() == {"message": "accountIds[0]: no account with id '<string>'"}


def test_seed_account_example_is_the_spec_example(api: Api) -> None:
    example = api.app.state.pipeline.spec.operation("updateAccount").success().examples["seed"]
    assert set(example) == SEED_ACCOUNT_KEYS
    assert example["billingInformation"]["additionalEmailRecipients"] == ["admin@acme.com"]
