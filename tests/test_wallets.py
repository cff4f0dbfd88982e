"""Wallets: top-ups open and fill a wallet; balance and entries are derived -- over HTTP and with Togai's client."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import togai_client
from conftest import Api

from mock_server import Config, create_app
from mock_server.fixtures import FixtureError

# The control API wants a JSON content type (see test_control.py).
CONTROL = {"Content-Type": "application/json"}


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


def test_160_top_ups_of_a_tenth_make_exactly_16(api: Api) -> None:
    # 160 x 0.1 = 16, exactly (summed in floats it is 15.99999999999996).
    for _ in range(160):
        top_up(api, 0.1)
    assert api.get("/accounts/GLOBEX-UK/wallet").json()["balance"] == 16
    page = api.get("/accounts/GLOBEX-UK/wallet/entries", params={"pageSize": 50}).json()
    assert [e["closingBalance"] for e in page["data"][:3]] == [0.1, 0.2, 0.3]
    while "nextToken" in page:
        last = page["data"][-1]
        page = api.get("/accounts/GLOBEX-UK/wallet/entries", params={"nextToken": page["nextToken"]}).json()
    assert (last if not page["data"] else page["data"][-1])["closingBalance"] == 16


def _wallet_import(state: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    wallet = {"id": "wallet.uk", "accountId": "GLOBEX-UK", "customerId": "GLOBEX", "creditUnit": "GBP",
              "status": "ACTIVE", "effectiveFrom": "2024-01-01T00:00:00.000Z", "createdAt": "2024-01-01T00:00:00.000Z",
              "updatedAt": "2024-01-01T00:00:00.000Z"}
    return {**state, "wallets": [*state["wallets"], wallet], "walletEntries": [*state["walletEntries"], *entries]}


def test_a_completed_debit_lowers_the_balance(api: Api) -> None:
    # Hand-computed: 100 credited, then 30 debited (completed): 100, then 70.
    state = api.get("/__mock/state").json()
    entry = {"walletId": "wallet.uk", "status": "COMPLETED", "createdAt": "2024-01-01T00:00:00.000Z"}
    entries = [{**entry, "id": "wallet_entry.in", "transactionType": "CREDITED", "amount": 100},
               {**entry, "id": "wallet_entry.out", "transactionType": "DEBITED", "amount": 30}]
    r = api.request("PUT", "/__mock/state", json=_wallet_import(state, entries))
    assert r.status_code == 200, r.text
    assert api.get("/accounts/GLOBEX-UK/wallet").json()["balance"] == 70
    shown = api.get("/accounts/GLOBEX-UK/wallet/entries").json()["data"]
    assert [(e["id"], e["closingBalance"]) for e in shown] == [("wallet_entry.in", 100), ("wallet_entry.out", 70)]
    # The import indexed the entries: a top-up adds to them, and the other wallets' are not mixed in.
    assert top_up(api, 5).json()["balance"] == 75
    assert [e["closingBalance"] for e in api.get("/accounts/GLOBEX-UK/wallet/entries").json()["data"]] == [100, 70, 75]
    assert len(api.get("/accounts/ACME-US/wallet/entries").json()["data"]) == 2


def test_a_held_debit_is_on_hold_not_off_the_balance(api: Api) -> None:
    state = api.get("/__mock/state").json()
    entry = {"walletId": "wallet.uk", "createdAt": "2024-01-01T00:00:00.000Z"}
    entries = [{**entry, "id": "wallet_entry.in", "transactionType": "CREDITED", "status": "COMPLETED", "amount": 100},
               {**entry, "id": "wallet_entry.held", "transactionType": "DEBITED", "status": "ON_HOLD", "amount": 0.3}]
    assert api.request("PUT", "/__mock/state", json=_wallet_import(state, entries)).status_code == 200
    wallet = api.get("/accounts/GLOBEX-UK/wallet").json()
    assert (wallet["balance"], wallet["holdAmount"]) == (100, 0.3)


def test_a_reset_forgets_the_entries_index(api: Api) -> None:
    top_up(api, 7)
    assert api.post("/__mock/reset", headers=CONTROL).json() == {"success": True}
    assert api.get("/accounts/GLOBEX-UK/wallet/entries").status_code == 404
    top_up(api, 3)
    assert [e["closingBalance"] for e in api.get("/accounts/GLOBEX-UK/wallet/entries").json()["data"]] == [3]
