"""Customers: create (with an account), read, list, update, archive."""
from __future__ import annotations

from conftest import Api, new_account, new_customer


def test_create_customer_answers_201_with_togai_ids(empty_api: Api) -> None:
    body = new_customer(empty_api, "C1", address={"line1": "1 Main St", "city": "Austin", "country": "US"})
    assert body["id"] == "C1"
    assert body["togaiCustomerId"].startswith("customer.")
    assert body["billingAddress"] == "1 Main St, Austin, US"
    assert "account" not in body
    got = empty_api.get("/customers/C1").json()
    assert got["status"] == "ACTIVE"
    assert got["createdAt"] == got["updatedAt"]
    assert got["togaiCustomerId"] == body["togaiCustomerId"]


def test_create_customer_with_account_creates_both(empty_api: Api) -> None:
    body = new_customer(
        empty_api, "C1",
        settings=[{"id": "s", "value": "INR", "namespace": "USER", "name": "Currency", "dataType": "STRING"}],
        account={"id": "A1", "name": "First account", "invoiceCurrency": "EUR", "aliases": ["first"], "tags": ["B", "b"]},
    )
    account = body["account"]
    assert account["customerId"] == "C1"
    assert account["togaiCustomerId"] == body["togaiCustomerId"]
    assert account["aliases"] == [{"alias": "first"}]
    assert account["tags"] == ["b"]
    assert body["settings"][0]["value"] == "INR"
    assert empty_api.get("/accounts/A1").json() == account


def test_duplicate_customer_id_is_400(api: Api) -> None:
    r = api.post("/customers", json={"id": "ACME", "name": "Again", "primaryEmail": "a@b.c", "address": {}})
    assert r.status_code == 400
    assert r.json() == {"message": "id: a customer with id 'ACME' already exists"}


def test_customer_whose_account_is_rejected_is_not_created(api: Api) -> None:
    r = api.post("/customers", json={"id": "NEW", "name": "New one", "primaryEmail": "a@b.c", "address": {},
                                     "account": {"id": "X1", "name": "Xaccount", "aliases": ["acme-us"]}})
    assert r.status_code == 400
    assert r.json() == {"message": "account.aliases: alias 'acme-us' already belongs to account 'ACME-US'"}
    assert api.get("/customers/NEW").status_code == 404


def test_missing_customer_is_404(api: Api) -> None:
    r = api.get("/customers/NOPE")
    assert r.status_code == 404
    assert r.json() == {"message": "customer_id: no customer with id 'NOPE'"}


def test_update_customer_changes_only_what_is_sent(api: Api) -> None:
    before = api.get("/customers/ACME").json()
    r = api.patch("/customers/ACME", json={"name": "ACME Renamed", "address": {"city": "Boston"}})
    assert r.status_code == 200
    after = r.json()
    assert after["name"] == "ACME Renamed"
    assert after["primaryEmail"] == before["primaryEmail"]
    assert after["address"] == {"city": "Boston"}
    assert after["billingAddress"] == "Boston"
    assert after["updatedAt"] > before["updatedAt"]
    assert api.get("/customers/ACME").json() == after


def test_delete_customer_archives_it_and_its_accounts(api: Api) -> None:
    r = api.delete("/customers/ACME")
    assert r.status_code == 200
    assert r.json() == {"success": True}
    assert api.get("/customers/ACME").json()["status"] == "ARCHIVED"
    assert api.get("/accounts/ACME-US").json()["status"] == "ARCHIVED"
    eu = api.get("/accounts/ACME-EU?includeGroupDetails=true").json()
    assert eu["status"] == "ARCHIVED" and "invoiceGroupDetails" not in eu
    assert api.delete("/customers/ACME").status_code == 400
    assert api.patch("/customers/ACME", json={"name": "Back again"}).status_code == 400
    r = api.post("/accounts", json={"id": "ACME-NEW", "customerId": "ACME", "name": "New account"})
    assert r.status_code == 400
    assert r.json() == {"message": "customerId: customer 'ACME' is archived"}


def test_list_customers_pages_with_next_token(empty_api: Api) -> None:
    for i in range(5):
        new_customer(empty_api, f"C{i}")
    seen, token, pages = [], None, 0
    while True:
        query = "pageSize=2" + (f"&nextToken={token}" if token else "")
        page = empty_api.get(f"/customers?{query}").json()
        seen += [c["id"] for c in page["data"]]
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == [f"C{i}" for i in range(5)]
    assert pages == 3


def test_next_token_keeps_its_page_size(empty_api: Api) -> None:
    for i in range(5):
        new_customer(empty_api, f"C{i}")
    first = empty_api.get("/customers?pageSize=3").json()
    rest = empty_api.get(f"/customers?nextToken={first['nextToken']}").json()
    assert [c["id"] for c in rest["data"]] == ["C3", "C4"]
    assert "nextToken" not in rest


def test_default_page_size_is_10(empty_api: Api) -> None:
    new_customer(empty_api, "OWNER")
    for i in range(12):
        new_account(empty_api, f"A{i:02d}", customer="OWNER")
    page = empty_api.get("/accounts").json()
    assert len(page["data"]) == 10
    assert page["context"] == {"pageSize": 10, "sortOrder": "ASC"}
    assert "nextToken" in page
