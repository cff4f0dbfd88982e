"""Accounts: create, read, PATCH semantics, aliases, archive."""
from __future__ import annotations

from conftest import Api, group_body, new_account


def test_create_account_answers_201(api: Api) -> None:
    body = new_account(api, "ACME-NEW", currency="EUR", netTermDays=15, metadata={"k": "v"})
    assert body["togaiAccountId"].startswith("account.")
    assert body["customerId"] == "ACME"
    assert body["status"] == "ACTIVE"
    assert body["invoiceCurrency"] == "EUR"
    assert api.get("/accounts/ACME-NEW").json() == body


def test_account_currency_defaults_to_usd_and_status_may_be_draft(api: Api) -> None:
    r = api.post("/accounts", json={"id": "D1", "customerId": "ACME", "name": "Draft one", "status": "DRAFT"})
    assert r.status_code == 201
    assert r.json()["invoiceCurrency"] == "USD"
    assert r.json()["status"] == "DRAFT"


def test_create_account_for_unknown_customer_is_400(api: Api) -> None:
    r = api.post("/accounts", json={"id": "X", "customerId": "NOPE", "name": "Nobody's"})
    assert r.status_code == 400
    assert r.json() == {"message": "customerId: no customer with id 'NOPE'"}


def test_duplicate_account_id_is_400(api: Api) -> None:
    r = api.post("/accounts", json={"id": "ACME-US", "customerId": "ACME", "name": "Again"})
    assert r.status_code == 400
    assert r.json() == {"message": "id: an account with id 'ACME-US' already exists"}


def test_patch_changes_only_the_fields_sent(api: Api) -> None:
    before = api.get("/accounts/ACME-US").json()
    r = api.patch("/accounts/ACME-US", json={"name": "Renamed account"})
    assert r.status_code == 200
    assert r.json() == {**before, "name": "Renamed account"}
    assert api.get("/accounts/ACME-US").json() == r.json()


def test_patch_replaces_metadata_and_empty_object_clears_it(api: Api) -> None:
    api.patch("/accounts/ACME-EU", json={"metadata": {"gstn": "1", "vatn": "2"}})
    assert api.get("/accounts/ACME-EU").json()["metadata"] == {"gstn": "1", "vatn": "2"}
    api.patch("/accounts/ACME-EU", json={"metadata": {"vatn": "3"}})
    assert api.get("/accounts/ACME-EU").json()["metadata"] == {"vatn": "3"}
    api.patch("/accounts/ACME-EU", json={"metadata": {}})
    assert api.get("/accounts/ACME-EU").json()["metadata"] == {}
    api.patch("/accounts/ACME-EU", json={"name": "Keeps metadata"})
    assert api.get("/accounts/ACME-EU").json()["metadata"] == {}


def test_patch_tags_are_lowercase_and_unique(api: Api) -> None:
    r = api.patch("/accounts/ACME-US", json={"tags": ["VIP", "vip", "Gold"]})
    assert r.json()["tags"] == ["vip", "gold"]


def test_patch_billing_information_from_the_seed(api: Api) -> None:
    info = {"emailRecipients": ["admin@example.com", "acme@acme.com"], "additionalEmailRecipients": ["admin@acme.com"]}
    r = api.patch("/accounts/ACME-US", json={"billingInformation": info})
    assert r.status_code == 200
    assert r.json()["billingInformation"] == info


def test_patch_unknown_account_is_404(api: Api) -> None:
    r = api.patch("/accounts/NOPE", json={"name": "Nobody"})
    assert r.status_code == 404
    assert r.json() == {"message": "account_id: no account with id 'NOPE'"}


def test_patch_archived_account_is_400(api: Api) -> None:
    assert api.delete("/accounts/GLOBEX-UK").status_code == 200
    r = api.patch("/accounts/GLOBEX-UK", json={"name": "Revived"})
    assert r.status_code == 400
    assert r.json() == {"message": "account_id: account 'GLOBEX-UK' is archived and cannot be changed"}


def test_grouped_account_cannot_change_currency(api: Api) -> None:
    r = api.patch("/accounts/ACME-EU", json={"invoiceCurrency": "USD"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("invoiceCurrency: cannot change while the account is in invoice group")
    assert api.patch("/accounts/ACME-EU", json={"invoiceCurrency": "EUR"}).status_code == 200
    assert api.patch("/accounts/ACME-US", json={"invoiceCurrency": "CAD"}).json()["invoiceCurrency"] == "CAD"


def test_status_can_move_between_active_and_draft(api: Api) -> None:
    assert api.patch("/accounts/UMBRELLA-US", json={"status": "ACTIVE"}).json()["status"] == "ACTIVE"
    assert api.patch("/accounts/UMBRELLA-US", json={"status": "DRAFT"}).json()["status"] == "DRAFT"


def test_delete_archives_and_leaves_the_group(api: Api) -> None:
    group = api.get("/invoice_groups").json()["data"][0]
    assert api.delete("/accounts/ACME-EU").json() == {"success": True}
    account = api.get("/accounts/ACME-EU?includeGroupDetails=true").json()
    assert account["status"] == "ARCHIVED"
    assert "invoiceGroupDetails" not in account
    after = api.get(f"/invoice_groups/{group['id']}").json()
    assert after["accounts"] == ["UMBRELLA-EU"] and after["accountsCount"] == 1
    r = api.delete("/accounts/ACME-EU")
    assert r.status_code == 400
    assert r.json() == {"message": "account_id: account 'ACME-EU' is already archived"}


def test_include_group_details(api: Api) -> None:
    plain = api.get("/accounts/ACME-EU").json()
    assert "invoiceGroupDetails" not in plain
    assert "invoiceGroupDetails" not in api.get("/accounts/ACME-EU?includeGroupDetails=false").json()
    details = api.get("/accounts/ACME-EU?includeGroupDetails=true").json()["invoiceGroupDetails"]
    assert details["name"] == "Europe"
    assert details["invoiceCurrency"] == "EUR"
    assert set(details) == {"id", "name", "email", "dailyInvoiceConsolidation", "netTermDays", "invoiceCurrency", "billingAddress"}
    assert "invoiceGroupDetails" not in api.get("/accounts/ACME-US?includeGroupDetails=true").json()


def test_add_and_remove_aliases(api: Api) -> None:
    r = api.post("/accounts/ACME-US/add_aliases", json={"aliases": ["acme-main", "acme-us"], "accountAliases": [{"value": "+1234567890"}]})
    assert r.status_code == 200
    assert r.json()["aliases"] == [{"alias": "acme-us"}, {"alias": "acme-main"}, {"alias": "+1234567890"}]
    r = api.post("/accounts/ACME-US/remove_aliases", json={"aliases": ["acme-main"], "accountAliases": [{"id": "+1234567890"}]})
    assert r.json()["aliases"] == [{"alias": "acme-us"}]
    r = api.post("/accounts/ACME-US/remove_aliases", json={"aliases": ["never-there"]})
    assert r.status_code == 400
    assert r.json() == {"message": "aliases[0]: alias 'never-there' is not an alias of account 'ACME-US'"}


def test_an_alias_names_one_account(api: Api) -> None:
    r = api.post("/accounts/GLOBEX-US/add_aliases", json={"aliases": ["acme-us"]})
    assert r.status_code == 400
    assert r.json() == {"message": "aliases: alias 'acme-us' already belongs to account 'ACME-US'"}
    # Once removed, the alias is free again.
    api.post("/accounts/ACME-US/remove_aliases", json={"aliases": ["acme-us"]})
    assert api.post("/accounts/GLOBEX-US/add_aliases", json={"aliases": ["acme-us"]}).status_code == 200


def test_an_account_holds_at_most_ten_aliases(api: Api) -> None:
    r = api.post("/accounts/ACME-US/add_aliases", json={"aliases": [f"alias-{i}" for i in range(9)]})
    assert r.status_code == 200 and len(r.json()["aliases"]) == 10
    r = api.post("/accounts/ACME-US/add_aliases", json={"aliases": ["one-more"]})
    assert r.status_code == 400
    assert r.json() == {"message": "aliases: an account holds at most 10 aliases (10 already)"}


def test_list_accounts_shows_no_group_details(api: Api) -> None:
    page = api.get("/accounts?pageSize=100").json()
    assert [a["id"] for a in page["data"]] == ["ACME-US", "GLOBEX-US", "UMBRELLA-EU", "ACME-EU", "GLOBEX-UK", "UMBRELLA-US"]
    assert all("invoiceGroupDetails" not in a for a in page["data"])
    assert "nextToken" not in page


def test_group_body_helper_is_valid(api: Api) -> None:
    assert api.post("/invoice_groups", json=group_body("ACME-US")).status_code == 200
