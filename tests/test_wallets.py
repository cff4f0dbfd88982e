"""Wallets: top-ups open and fill a wallet; balance and entries are derived -- over HTTP and with Togai's client."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import togai_client
from conftest import Api

from mock_server import Config, create_app
from mock_server.fixtures import FixtureError


def top_up(api: Api, amount: float, account: str = "GLOBEX-UK") -> Any:
    return api.post(f"/accounts/{account}/wallet_topup", json={"topupAmount": amount})


def test_the_first_top_up_opens_the_wallet(api: Api) -> None:
    assert api.get("/accounts/GLOBEX-UK/wallet").status_code == 404
    r = top_up(api, 100)
    assert r.status_code == 200, r.text
    wallet = r.json()
    assert wallet["id"].startswith("wallet.")
    assert (wallet["accountId"], wallet["customerId"], wallet["creditUnit"]) == ("GLOBEX-UK", "GLOBEX", "GBP")
    assert (wallet["status"], wallet["balance"], wallet["holdAmount"]) == ("ACTIVE", 100, 0)
    assert api.get("/accounts/GLOBEX-UK/wallet").json() == wallet


def test_the_balance_and_closing_balances_add_up_the_top_ups(api: Api) -> None:
    top_up(api, 100)
    wallet = top_up(api, 20.5).json()
    assert wallet["balance"] == 120.5
    entries = api.get("/accounts/GLOBEX-UK/wallet/entries").json()
    assert [(e["transactionType"], e["status"], e["amount"], e["closingBalance"]) for e in entries["data"]] == [
        ("CREDITED", "COMPLETED", 100, 100),
        ("CREDITED", "COMPLETED", 20.5, 120.5),
    ]
    assert {e["walletId"] for e in entries["data"]} == {wallet["id"]}
    assert "context" not in entries


def test_entries_page_over_one_wallet_only(api: Api) -> None:
    for amount in (1, 2, 3):
        top_up(api, amount)
        top_up(api, 10, account="GLOBEX-US")  # interleaved with another wallet's
    seen, query = [], {"pageSize": 2}
    while True:
        page = api.get("/accounts/GLOBEX-UK/wallet/entries", params=query).json()
        assert page["data"]
        seen += [e["amount"] for e in page["data"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"]}
    assert seen == [1, 2, 3]


@pytest.mark.parametrize(
    ("account", "amount", "status", "message"),
    [
        ("GLOBEX-UK", 0, 400, "topupAmount: must be greater than 0"),
        ("NO-SUCH", 5, 404, "account_id: no account with id 'NO-SUCH'"),
    ],
)
def test_rejected_top_ups_change_nothing(api: Api, account: str, amount: float, status: int, message: str) -> None:
    before = api.state()
    r = top_up(api, amount, account)
    assert (r.status_code, r.json()) == (status, {"message": message})
    assert api.state() == before


def test_an_inactive_wallet_takes_no_top_up_until_reactivated(api: Api) -> None:
    top_up(api, 10)
    r = api.patch("/accounts/GLOBEX-UK/wallet", json={"status": "INACTIVE", "effectiveFrom": "2024-02-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["status"] == "INACTIVE"
    assert r.json()["effectiveFrom"] == "2024-02-01T00:00:00Z"
    before = api.state()
    refused = top_up(api, 5)
    assert refused.status_code == 400 and "INACTIVE" in refused.json()["message"]
    assert api.state() == before
    api.patch("/accounts/GLOBEX-UK/wallet", json={"status": "ACTIVE"})
    assert top_up(api, 5).json()["balance"] == 15


def test_an_archived_accounts_wallet_is_frozen(api: Api) -> None:
    top_up(api, 10)
    api.delete("/accounts/GLOBEX-UK")
    assert top_up(api, 5).status_code == 400
    assert api.patch("/accounts/GLOBEX-UK/wallet", json={"status": "INACTIVE"}).status_code == 400
    assert api.get("/accounts/GLOBEX-UK/wallet").json()["balance"] == 10


def test_no_wallet_no_entries(api: Api) -> None:
    r = api.get("/accounts/GLOBEX-UK/wallet/entries")
    assert r.status_code == 404 and "has no wallet" in r.json()["message"]
    assert api.patch("/accounts/GLOBEX-UK/wallet", json={"status": "ACTIVE"}).status_code == 404


def test_the_demo_tenant_has_a_wallet_with_entries(api: Api) -> None:
    assert api.get("/accounts/ACME-US/wallet").json()["balance"] == 1250
    assert len(api.get("/accounts/ACME-US/wallet/entries").json()["data"]) == 2


def test_imports_keep_wallets_consistent(api: Api) -> None:
    state = api.get("/__mock/state").json()
    other_customer = {**state, "wallets": [{**state["wallets"][0], "customerId": "GLOBEX"}, state["wallets"][1]]}
    r = api.request("PUT", "/__mock/state", json=other_customer)
    assert (r.status_code, r.json()["message"]) == (400, "wallets[0].customerId: is not its account's customer")
    twice = {**state, "wallets": [state["wallets"][0], {**state["wallets"][0], "id": "wallet.other"}]}
    r = api.request("PUT", "/__mock/state", json=twice)
    assert (r.status_code, r.json()["message"]) == (400, "wallets[1].accountId: also has wallets[0] (and 1 more)")
    debit = {**state["walletEntries"][0], "id": "wallet_entry.x", "transactionType": "DEBITED", "amount": 10_000}
    overdrawn = {**state, "walletEntries": [*state["walletEntries"], debit]}
    r = api.request("PUT", "/__mock/state", json=overdrawn)
    assert (r.status_code, r.json()["message"]) == (400, "walletEntries[3].amount: takes the wallet below zero")
    assert api.get("/__mock/state").json() == state


def test_wallets_with_togais_client(sdk: togai_client.ApiClient) -> None:
    wallets = togai_client.WalletApi(sdk)
    opened = wallets.top_up_wallet_for_account("GLOBEX-US", togai_client.TopupWalletRequest(topup_amount=300))
    assert opened.balance == 300 and opened.credit_unit == "USD"
    paused = wallets.update_wallet_for_account(
        "GLOBEX-US", togai_client.UpdateWalletRequest(status=togai_client.WalletStatus.INACTIVE)
    )
    assert paused.status == togai_client.WalletStatus.INACTIVE
    assert wallets.wallet_balance_for_account("GLOBEX-US").balance == 300
    entries = wallets.wallet_entries_for_account("GLOBEX-US", page_size=1)
    assert [e.closing_balance for e in entries.data] == [300]


def test_a_fixture_top_up_must_name_its_account(tmp_path: Path) -> None:
    (tmp_path / "tenant.yaml").write_text("wallets:\n  - {topupAmount: 5}\n", encoding="utf-8")
    with pytest.raises(FixtureError, match=r"wallets\[0\]: needs account_id \(a string\) beside the request body"):
        create_app(Config(fixtures=tmp_path))
