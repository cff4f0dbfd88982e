"""PUT /__mock/state with documents written by hand: server-made fields may be left out."""
from __future__ import annotations

import re
from typing import Any

from conftest import Api, group_body

CONTROL = {"Content-Type": "application/json"}

# Only what a person would write: no togai ids, no timestamps, no status, no billingAddress.
HAND_WRITTEN: dict[str, Any] = {
    "customers": [
        {"id": "HW", "name": "Hand Written", "primaryEmail": "hw@example.com",
         "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"}},
        {"id": "OLD", "name": "Old Customer", "primaryEmail": "old@example.com", "address": {}, "status": "ARCHIVED"},
    ],
    "accounts": [
        {"id": "HW-1", "customerId": "HW", "name": "First", "invoiceCurrency": "EUR"},
        {"id": "HW-2", "customerId": "HW", "name": "Second", "invoiceCurrency": "EUR"},
        {"id": "OLD-1", "customerId": "OLD", "name": "Old one"},
    ],
    "invoiceGroups": [
        {"name": "Hand group", "email": "g@example.com", "dailyInvoiceConsolidation": True,
         "billingAddress": {"country": "FR"}, "accounts": ["HW-1", "HW-2"]},
    ],
    "addOns": [{"name": "Seats", "type": "LICENSE"}],
}


def test_hand_written_document_is_completed_as_creation_would(api: Api) -> None:
    r = api.request("PUT", "/__mock/state", json=HAND_WRITTEN)
    assert r.status_code == 200, r.text
    state = api.get("/__mock/state").json()
    hw, old = state["customers"]
    assert re.fullmatch(r"customer\.[a-z0-9]{8}\.[a-z0-9]{5}", hw["togaiCustomerId"])
    assert hw["billingAddress"] == "1 Main St, Springfield, US"
    assert hw["status"] == "ACTIVE" and hw["createdAt"] == hw["updatedAt"]
    assert old["status"] == "ARCHIVED"
    first, second, archived = state["accounts"]
    assert first["togaiCustomerId"] == hw["togaiCustomerId"] and first["status"] == "ACTIVE"
    assert first["togaiAccountId"] != second["togaiAccountId"]
    assert archived["status"] == "ARCHIVED"  # an archived customer's accounts are archived
    [group] = state["invoiceGroups"]
    assert group["id"].startswith("inv_group.") and group["invoiceCurrency"] == "EUR"
    [addon] = state["addOns"]
    assert addon["id"].startswith("addon.") and addon["status"] == "ACTIVE" and addon["displayName"] == "Seats"
    # The completed document is a full export: it imports back unchanged.
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert api.get("/__mock/state").json() == state
    # Ids made afterwards never repeat the filled ones.
    created = api.post("/invoice_groups", json=group_body("ACME-US") | {"accountIds": ["OLD-1"]})
    assert created.status_code == 400  # archived: the rules still apply to imported records
    customer = api.post("/customers", json={"id": "NEW", "name": "New one", "primaryEmail": "n@example.com",
                                            "address": {}, "account": {"id": "NEW-1", "name": "New acc"}}).json()
    assert customer["togaiCustomerId"] not in {c["togaiCustomerId"] for c in state["customers"]}
    assert customer["account"]["togaiAccountId"] not in {a["togaiAccountId"] for a in state["accounts"]}


def test_a_seeded_import_fills_the_same_values_every_time(api: Api) -> None:
    api.request("PUT", "/__mock/state", json=HAND_WRITTEN)
    once = api.get("/__mock/state").json()
    api.request("PUT", "/__mock/state", json=HAND_WRITTEN)
    assert api.get("/__mock/state").json() == once


def test_schema_errors_are_stage_body_and_rule_errors_stage_rule(api: Api) -> None:
    before = api.state()  # records and the id generator
    schema = {**HAND_WRITTEN, "customers": [{**HAND_WRITTEN["customers"][0], "address": "nowhere"}]}
    r = api.request("PUT", "/__mock/state", json=schema)
    assert r.status_code == 400 and r.headers["x-mock-rejected-by"] == "body"
    assert r.json()["message"].startswith("customers[0].address: ")
    missing = {**HAND_WRITTEN, "customers": [{"id": "HW", "name": "No email", "address": {}}]}
    r = api.request("PUT", "/__mock/state", json=missing)
    assert r.headers["x-mock-rejected-by"] == "body" and r.json()["message"].startswith("customers[0].primaryEmail: is required")
    rule = {**HAND_WRITTEN, "accounts": [*HAND_WRITTEN["accounts"], {"id": "X", "customerId": "NOPE", "name": "Nobody's"}]}
    r = api.request("PUT", "/__mock/state", json=rule)
    assert r.status_code == 400 and r.headers["x-mock-rejected-by"] == "rule"
    assert r.json()["message"] == "accounts[3].customerId: no customer 'NOPE'"
    mixed = {**HAND_WRITTEN, "invoiceGroups": [{**HAND_WRITTEN["invoiceGroups"][0], "accounts": ["HW-1", "OLD-1"]}]}
    r = api.request("PUT", "/__mock/state", json=mixed)
    assert r.headers["x-mock-rejected-by"] == "rule" and "OLD-1" in r.json()["message"]
    assert api.state() == before
