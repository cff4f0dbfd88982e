"""Aliases: the tenant's aliases (``/aliases``) and each account's alias history -- over HTTP and with Togai's client."""
from __future__ import annotations

import togai_client
from conftest import Api

from mock_server.domain.parties.aliases import OPEN_UNTIL


def history(api: Api, account: str) -> list[tuple[str, bool]]:
    """(value, still held) of each record of the account's alias history, oldest first."""
    data = api.get(f"/accounts/{account}/account_aliases").json()["data"]
    return [(r["value"], r["effectiveUntil"] == OPEN_UNTIL) for r in data]


def test_an_alias_is_created_before_any_account_holds_it(api: Api) -> None:
    r = api.post("/aliases", json={"aliases": [{"value": "spare-1"}, {"value": "spare-2"}]})
    assert r.status_code == 201, r.text
    assert [a["value"] for a in r.json()["data"]] == ["spare-1", "spare-2"]
    assert api.get("/aliases/spare-1").json() == r.json()["data"][0]
    assert "spare-1" not in {a["alias"] for a in api.get("/accounts/GLOBEX-UK").json()["aliases"]}
    # Attaching it opens a record of the account's history; the tenant alias is the same one.
    assert api.post("/accounts/GLOBEX-UK/add_aliases", json={"aliases": ["spare-1"]}).status_code == 200
    assert history(api, "GLOBEX-UK") == [("spare-1", True)]
    assert api.get("/aliases/spare-1").json() == r.json()["data"][0]


def test_an_alias_given_twice_or_existing_is_refused_and_nothing_is_created(api: Api) -> None:
    before = api.get("/__mock/state").json()["aliases"]
    r = api.post("/aliases", json={"aliases": [{"value": "new-1"}, {"value": "new-1"}]})
    assert (r.status_code, r.json()["message"]) == (400, "aliases[1].value: is also aliases[0].value")
    r = api.post("/aliases", json={"aliases": [{"value": "new-2"}, {"value": "acme-us"}]})
    assert (r.status_code, r.json()["message"]) == (400, "aliases[1].value: alias 'acme-us' already exists")
    r = api.post("/aliases", json={"aliases": [{"value": ""}]})
    assert r.status_code == 400 and r.json()["message"].startswith("aliases[0].value: must not be empty")
    assert api.get("/__mock/state").json()["aliases"] == before


def test_adding_an_alias_to_an_account_registers_it(api: Api) -> None:
    assert api.get("/aliases/brand-new").status_code == 404
    api.post("/accounts/GLOBEX-UK/add_aliases", json={"aliases": ["brand-new"]})
    assert api.get("/aliases/brand-new").json()["value"] == "brand-new"


def test_the_history_opens_and_closes_with_add_and_remove(api: Api) -> None:
    assert history(api, "ACME-US") == [("acme-us", True)]
    api.post("/accounts/ACME-US/add_aliases", json={"aliases": ["acme-2"]})
    api.post("/accounts/ACME-US/remove_aliases", json={"aliases": ["acme-us"]})
    assert history(api, "ACME-US") == [("acme-us", False), ("acme-2", True)]
    closed = api.get("/accounts/ACME-US/account_aliases").json()["data"][0]
    assert closed["effectiveFrom"] <= closed["effectiveUntil"] == closed["updatedAt"]
    # The removed alias stays the tenant's and another account can take it: both histories show it.
    assert api.get("/aliases/acme-us").status_code == 200
    api.post("/accounts/ACME-EU/add_aliases", json={"aliases": ["acme-us"]})
    assert history(api, "ACME-EU") == [("acme-eu", True), ("acme-us", True)]
    assert history(api, "ACME-US") == [("acme-us", False), ("acme-2", True)]


def test_an_account_created_with_aliases_has_them_in_its_history(api: Api) -> None:
    api.post("/accounts", json={"id": "NEW-1", "customerId": "ACME", "name": "New one", "aliases": ["n-1", "n-2"]})
    assert history(api, "NEW-1") == [("n-1", True), ("n-2", True)]
    assert history(api, "GLOBEX-UK") == []
    assert api.get("/accounts/NOPE/account_aliases").status_code == 404


def test_deleting_an_alias_takes_it_from_its_account(api: Api) -> None:
    assert api.delete("/aliases/acme-us").json() == {"success": True}
    assert api.get("/aliases/acme-us").status_code == 404
    assert api.get("/accounts/ACME-US").json()["aliases"] == []
    assert history(api, "ACME-US") == [("acme-us", False)]
    # Free again: another account may take it, and it is the tenant's again.
    assert api.post("/accounts/GLOBEX-UK/add_aliases", json={"aliases": ["acme-us"]}).status_code == 200
    assert api.get("/aliases/acme-us").status_code == 200
    assert api.delete("/aliases/acme-us").status_code == 200
    assert api.delete("/aliases/acme-us").status_code == 404


def test_aliases_are_paged(api: Api) -> None:
    seen: list[str] = []
    query: dict[str, object] = {"pageSize": 2}
    while True:
        page = api.get("/aliases", params=query).json()
        assert "context" not in page
        seen += [a["value"] for a in page["data"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"]}
    assert seen == [a["value"] for a in api.get("/__mock/state").json()["aliases"]]
    assert len(seen) == len(set(seen)) > 2


def test_an_import_keeps_history_and_aliases_consistent_with_the_accounts(api: Api) -> None:
    state = api.get("/__mock/state").json()
    # Left out, the tenant's aliases and the open history are filled in from the accounts ...
    bare = {k: v for k, v in state.items() if k not in ("aliases", "accountAliases")}
    assert api.request("PUT", "/__mock/state", json=bare).status_code == 200
    assert {a["value"] for a in api.get("/__mock/state").json()["aliases"]} >= {"acme-us", "globex-us"}
    assert history(api, "ACME-US") == [("acme-us", True)]
    # ... but an open record of an alias the account does not hold, or no tenant alias for one it holds, is refused.
    broken = {**state, "accountAliases": [{**state["accountAliases"][0], "accountId": "GLOBEX-UK"}, *state["accountAliases"][1:]]}
    r = api.request("PUT", "/__mock/state", json=broken)
    assert r.status_code == 400 and "does not hold 'acme-us'" in r.json()["message"]


def test_aliases_with_togais_client(sdk: togai_client.ApiClient) -> None:
    aliases = togai_client.AliasesApi(sdk)
    accounts = togai_client.AccountsApi(sdk)
    made = aliases.create_alias(togai_client.CreateBulkAliasRequest(aliases=[togai_client.CreateAliasRequest(value="sdk-1")]))
    assert [a.value for a in made.data] == ["sdk-1"]
    assert aliases.get_alias("sdk-1").value == "sdk-1"
    first = aliases.list_aliases(page_size=1)
    assert len(first.data) == 1 and first.next_token
    accounts.add_aliases("GLOBEX-UK", togai_client.AddAccountAliasesRequest(aliases=["sdk-1"]))
    accounts.remove_aliases("GLOBEX-UK", togai_client.RemoveAccountAliasesRequest(aliases=["sdk-1"]))
    held = accounts.list_account_aliases("GLOBEX-UK").data
    assert [(a.value, a.effective_until.year) for a in held] == [("sdk-1", held[0].effective_from.year)]
    assert aliases.delete_alias("sdk-1").success


def test_the_dashboard_pages_records_keyed_by_another_field(api: Api) -> None:
    """Aliases are keyed by value, contacts by username: their page tokens name the collection's key."""
    for name in ("aliases", "customerContacts"):
        seen: list[object] = []
        query: dict[str, object] = {"pageSize": 1}
        while True:
            page = api.get(f"/__mock/records/{name}", params=query, auth=False).json()
            seen += page["data"]
            if "nextToken" not in page:
                break
            query = {"nextToken": page["nextToken"]}
        assert seen == api.get("/__mock/state").json()[name]


def test_account_aliases_are_three_to_fifty_characters_as_the_history_shows_them(api: Api) -> None:
    r = api.post("/accounts/GLOBEX-UK/add_aliases", json={"accountAliases": [{"value": "ab"}]})
    assert r.status_code == 400
    assert api.post("/accounts/GLOBEX-UK/add_aliases", json={"accountAliases": [{"value": "abc"}]}).status_code == 200
    assert history(api, "GLOBEX-UK") == [("abc", True)]
