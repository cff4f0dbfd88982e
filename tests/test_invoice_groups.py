"""Invoice groups: Togai's rules for creating them and moving accounts in and out."""
from __future__ import annotations

from conftest import Api, group_body, new_account


def _europe(api: Api) -> dict:
    return api.get("/invoice_groups").json()["data"][0]


def test_create_group_takes_currency_address_and_counts_accounts(api: Api) -> None:
    body = group_body("ACME-US", "GLOBEX-US", netTermDays=30, address={"line1": "2281 Broadway Street", "country": "US"})
    r = api.post("/invoice_groups", json=body)
    assert r.status_code == 200
    group = r.json()
    assert group["id"].startswith("inv_group.")
    assert group["invoiceCurrency"] == "USD"
    assert group["billingAddress"] == body["address"]
    assert group["accountsCount"] == 2
    assert group["netTermDays"] == 30
    assert group["createdAt"] == group["updatedAt"]
    got = api.get(f"/invoice_groups/{group['id']}").json()
    assert got == {**group, "accounts": ["ACME-US", "GLOBEX-US"]}
    details = api.get("/accounts/GLOBEX-US?includeGroupDetails=true").json()["invoiceGroupDetails"]
    assert details["id"] == group["id"]


def test_repeated_account_ids_count_once(api: Api) -> None:
    group = api.post("/invoice_groups", json=group_body("ACME-US", "ACME-US")).json()
    assert group["accountsCount"] == 1


def test_accounts_must_share_one_currency(api: Api) -> None:
    r = api.post("/invoice_groups", json=group_body("ACME-US", "GLOBEX-UK"))
    assert r.status_code == 400
    assert r.json() == {"message": "accountIds: accounts must share one invoice currency, found GBP, USD"}


def test_unknown_account_is_400_and_names_its_index(api: Api) -> None:
    # 404 is for the resource in the path; an unknown account named in the body is a bad request.
    r = api.post("/invoice_groups", json=group_body("ACME-US", "NOPE"))
    assert r.status_code == 400
    assert r.json() == {"message": "accountIds[1]: no account with id 'NOPE'"}


def test_archived_account_cannot_join(api: Api) -> None:
    api.delete("/accounts/GLOBEX-US")
    r = api.post("/invoice_groups", json=group_body("GLOBEX-US"))
    assert r.status_code == 400
    assert r.json() == {"message": "accountIds[0]: account 'GLOBEX-US' is archived"}


def test_draft_account_can_join(api: Api) -> None:
    assert api.post("/invoice_groups", json=group_body("UMBRELLA-US")).status_code == 200


def test_an_account_belongs_to_at_most_one_group(api: Api) -> None:
    europe = _europe(api)
    r = api.post("/invoice_groups", json=group_body("ACME-EU"))
    assert r.status_code == 400
    assert r.json() == {"message": f"accountIds[0]: account 'ACME-EU' already belongs to invoice group '{europe['id']}'"}


def test_at_most_100_accounts(api: Api) -> None:
    r = api.post("/invoice_groups", json=group_body(*[f"A{i}" for i in range(101)]))
    assert r.status_code == 400
    assert r.json() == {"message": "accountIds: must have at most 100 items"}


def test_add_accounts_keeps_the_rules(api: Api) -> None:
    europe = _europe(api)
    new_account(api, "ACME-FR", currency="EUR")
    r = api.post(f"/invoice_groups/{europe['id']}/add_accounts", json={"accountIds": ["ACME-FR", "ACME-EU"]})
    assert r.status_code == 200
    assert r.json()["accountsCount"] == 3
    assert r.json()["updatedAt"] > europe["updatedAt"]
    r = api.post(f"/invoice_groups/{europe['id']}/add_accounts", json={"accountIds": ["ACME-US"]})
    assert r.status_code == 400
    assert r.json() == {"message": "accountIds[0]: account 'ACME-US' is invoiced in USD, the group in EUR"}
    other = api.post("/invoice_groups", json=group_body("ACME-US")).json()
    r = api.post(f"/invoice_groups/{other['id']}/add_accounts", json={"accountIds": ["GLOBEX-US", "ACME-EU"]})
    assert r.status_code == 400
    assert "already belongs to invoice group" in r.json()["message"]
    assert api.get(f"/invoice_groups/{other['id']}").json()["accounts"] == ["ACME-US"]


def test_remove_accounts_and_the_last_one_deletes_the_group(api: Api) -> None:
    europe = _europe(api)
    url = f"/invoice_groups/{europe['id']}"
    r = api.post(f"{url}/remove_accounts", json={"accountIds": ["ACME-US"]})
    assert r.status_code == 400
    assert r.json() == {"message": f"accountIds[0]: account 'ACME-US' is not in invoice group '{europe['id']}'"}
    assert api.post(f"{url}/remove_accounts", json={"accountIds": ["ACME-EU"]}).json() == {"success": True}
    assert api.get(url).json()["accountsCount"] == 1
    assert "invoiceGroupDetails" not in api.get("/accounts/ACME-EU?includeGroupDetails=true").json()
    assert api.post(f"{url}/remove_accounts", json={"accountIds": ["UMBRELLA-EU"]}).status_code == 200
    r = api.get(url)
    assert r.status_code == 404
    assert r.json() == {"message": f"invoice_group_id: no invoice group with id '{europe['id']}'"}
    assert api.get("/invoice_groups").json()["data"] == []
    # Freed accounts may form a new group.
    assert api.post("/invoice_groups", json=group_body("ACME-EU", "UMBRELLA-EU")).status_code == 200


def test_unknown_group_is_404(api: Api) -> None:
    for r in (
        api.get("/invoice_groups/inv_group.nope.nope"),
        api.post("/invoice_groups/inv_group.nope.nope/add_accounts", json={"accountIds": ["ACME-US"]}),
        api.post("/invoice_groups/inv_group.nope.nope/remove_accounts", json={"accountIds": ["ACME-US"]}),
    ):
        assert r.status_code == 404
        assert r.json() == {"message": "invoice_group_id: no invoice group with id 'inv_group.nope.nope'"}


def test_list_groups_pages(api: Api) -> None:
    for aid in ("ACME-US", "GLOBEX-US", "GLOBEX-UK"):
        api.post("/invoice_groups", json=group_body(aid, name=aid))
    first = api.get("/invoice_groups?pageSize=3").json()
    assert [g["name"] for g in first["data"]] == ["Europe", "ACME-US", "GLOBEX-US"]
    rest = api.get(f"/invoice_groups?pageSize=3&nextToken={first['nextToken']}").json()
    assert [g["name"] for g in rest["data"]] == ["GLOBEX-UK"]


def test_page_token_survives_the_deletion_of_its_group(api: Api) -> None:
    a = api.post("/invoice_groups", json=group_body("ACME-US", name="A")).json()
    api.post("/invoice_groups", json=group_body("GLOBEX-US", name="B"))
    page = api.get("/invoice_groups?pageSize=2").json()
    assert [g["name"] for g in page["data"]] == ["Europe", "A"]
    api.post(f"/invoice_groups/{a['id']}/remove_accounts", json={"accountIds": ["ACME-US"]})
    rest = api.get(f"/invoice_groups?nextToken={page['nextToken']}").json()
    assert [g["name"] for g in rest["data"]] == ["B"]
