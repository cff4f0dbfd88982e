"""A Hypothesis state machine over customers, accounts, invoice groups, credits, payments, wallets and invoices.

Any sequence of creates, patches, deletes and group moves keeps Togai's
invariants, and a rejected request leaves the state exactly as it was.
"""
from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server.store.invoices import RANK

DEEP = os.environ.get("MOCK_TEST_PROFILE") == "deep"
AUTH = {"Authorization": "Bearer machine"}

customer_ids = st.sampled_from(["C0", "C1"])
account_ids = st.sampled_from([f"A{i}" for i in range(5)])
currencies = st.sampled_from(["USD", "EUR"])
aliases = st.sampled_from(["alpha", "beta", "gamma", "delta"])


class InvoiceRules:
    """Rules and invariants of invoices, for any machine with ``send``, ``store`` and ``client``."""

    store: Any
    client: TestClient
    invoice_ids: list[str]
    invoice_ranks: dict[str, int]

    def send(self, method: str, path: str, body: Any = None) -> Any:
        raise NotImplementedError

    def existing_account(self, data: st.DataObject) -> str:
        """An account that exists (invoices need one: drawing from all ids would rarely hit one)."""
        return data.draw(st.sampled_from(sorted(self.store.collections["accounts"].items)))

    @precondition(lambda self: self.store.collections["accounts"].items)
    @rule(data=st.data(), status=st.sampled_from(["DRAFT", "DUE", "PAID"]), group=st.booleans(),
          values=st.lists(st.sampled_from([0, 1.5, 10, -2]), min_size=1, max_size=3))
    def create_invoice(self, data: st.DataObject, status: str, group: bool, values: list[float]) -> None:
        aid = self.existing_account(data)
        body: dict[str, Any] = {"accountId": aid, "startDate": "2024-01-01T00:00:00Z", "status": status,
                                "endDate": "2024-02-01T00:00:00Z",
                                "lineItems": [{"id": f"l{i}", "description": "L", "value": v} for i, v in enumerate(values)]}
        if group:
            body["ownerType"] = "INVOICE_GROUP"
        r = self.send("POST", "/invoices", body)
        if r.status_code == 201:
            self.invoice_ids.append(r.json()["id"])

    @precondition(lambda self: self.invoice_ids)
    @rule(data=st.data(), statuses=st.permutations(["DUE", "PAID", "VOID", "UN_COLLECTIBLE", "REFUND_INITIATED"]))
    def set_invoice_status(self, data: st.DataObject, statuses: list[str]) -> None:
        # Every status in turn on one invoice, so that moves back are tried from where it got to.
        invoice = data.draw(st.sampled_from(self.invoice_ids))
        for status in statuses:
            r = self.send("PATCH", f"/invoices/{invoice}", {"status": status})
            if r.status_code == 200:
                self.check_forward(invoice, r.json()["status"])

    @precondition(lambda self: self.invoice_ids)
    @rule(data=st.data(), values=st.lists(st.sampled_from([2, 3.25]), min_size=1, max_size=2))
    def change_invoice_lines(self, data: st.DataObject, values: list[float]) -> None:
        lines = [{"id": f"l{i}", "description": "L", "value": v} for i, v in enumerate(values)]
        self.send("PATCH", f"/invoices/{data.draw(st.sampled_from(self.invoice_ids))}", {"lineItems": lines})

    @precondition(lambda self: self.invoice_ids)
    @rule(data=st.data(), charges=st.lists(st.sampled_from([
        {"name": "fixed", "value": "4"}, {"name": "rate", "rate": 2, "quantity": 3},
        {"name": "logic", "value": '{"*": [{"var": "l1"}, 2]}'}]), unique_by=lambda c: c["name"], max_size=3))
    def set_invoice_charges(self, data: st.DataObject, charges: list[dict[str, Any]]) -> None:
        invoice = data.draw(st.sampled_from(self.invoice_ids))
        self.send("PUT", f"/invoices/{invoice}/miscellaneous_charges", {"items": charges})

    @precondition(lambda self: self.store.collections["accounts"].items)
    @rule(data=st.data(), value=st.sampled_from(["5", "12.5", "-1"]))
    def set_account_charges(self, data: st.DataObject, value: str) -> None:
        aid = self.existing_account(data)
        r = self.send("PUT", f"/accounts/{aid}/miscellaneous_charges", {"items": [{"name": "fee", "value": value}]})
        if r.status_code == 200:
            ongoing = self.store.indexes["ongoing_invoice"][aid]
            if ongoing not in self.invoice_ids:
                self.invoice_ids.append(ongoing)

    @rule()
    def bill_run(self) -> None:
        assert self.send("POST", "/invoices/bill_runs").status_code == 200
        assert self.client.get("/invoices/bill_runs", headers=AUTH).json() == {"data": []}

    @precondition(lambda self: self.invoice_ids)
    @rule(data=st.data())
    def delete_invoice(self, data: st.DataObject) -> None:
        invoice_id = data.draw(st.sampled_from(self.invoice_ids))
        before = self.store.collections["invoices"].get(invoice_id)
        r = self.send("DELETE", f"/invoices/{invoice_id}")
        if r.status_code == 200:
            assert before is not None and (before["invoiceType"], before["status"]) == ("CUSTOM", "DRAFT")
            self.invoice_ids.remove(invoice_id)

    def check_forward(self, invoice_id: str, status: str) -> None:
        """An invoice's status never goes back to an earlier stage of its life."""
        rank = RANK[status]
        assert rank >= self.invoice_ranks.get(invoice_id, 0), f"{invoice_id} went back to {status}"
        self.invoice_ranks[invoice_id] = rank

    @invariant()
    def invoices_add_up_and_move_forward(self) -> None:
        ongoing: set[str] = set()
        for invoice in self.store.export()["invoices"]:
            tree = invoice["revenueInfo"]
            parts = tree.get("lineItems", [])
            leaves = [leaf for part in parts for leaf in part.get("lineItems", [part])]
            assert invoice["totalAmount"] == tree["value"] == pytest.approx(sum(leaf["value"] for leaf in leaves))
            for part in parts:
                if "lineItems" in part:
                    assert part["value"] == pytest.approx(sum(leaf["value"] for leaf in part["lineItems"]))
            self.check_forward(invoice["id"], invoice["status"])
            if invoice["status"] == "PAID":
                assert invoice["paidAmount"] == max(invoice["totalAmount"], 0)
            if invoice["invoiceType"] == "STANDARD" and invoice["status"] == "DRAFT":
                assert invoice["ownerId"] not in ongoing, "two ongoing invoices for one account"
                ongoing.add(invoice["ownerId"])
        assert ongoing == set(self.store.indexes["ongoing_invoice"])

    # -- invariants ------------------------------------------------------------------


class StoreMachine(InvoiceRules, RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = create_app(Config(fixtures=None, seed=11, self_check=True, log="quiet"))
        self.client = TestClient(self.app)
        self.store = self.app.state.store
        self.group_ids: list[str] = []
        self.credit_ids: list[str] = []
        self.invoice_ids: list[str] = []
        self.invoice_ranks: dict[str, int] = {}  # the furthest status each invoice reached

    # -- helpers -------------------------------------------------------------------
    def snapshot(self) -> Any:
        return self.store.export(), self.store.rng.getstate()

    def send(self, method: str, path: str, body: Any = None) -> Any:
        before = self.snapshot()
        r = self.client.request(method, path, json=body, headers=AUTH)
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert set(r.json()) == {"message"}
            assert self.snapshot() == before, f"rejected {method} {path} changed the state"
        return r

    # -- rules ---------------------------------------------------------------------
    @rule(cid=customer_ids, account=st.none() | account_ids, currency=currencies)
    def create_customer(self, cid: str, account: str | None, currency: str) -> None:
        body: dict[str, Any] = {"id": cid, "name": f"Customer {cid}", "primaryEmail": "c@x.io", "address": {}}
        if account:
            body["account"] = {"id": account, "name": f"Account {account}", "invoiceCurrency": currency}
        self.send("POST", "/customers", body)

    @rule(cid=customer_ids, aid=account_ids, currency=currencies, status=st.sampled_from(["ACTIVE", "DRAFT"]))
    def create_account(self, cid: str, aid: str, currency: str, status: str) -> None:
        self.send("POST", "/accounts", {"id": aid, "customerId": cid, "name": f"Account {aid}",
                                        "invoiceCurrency": currency, "status": status})

    @rule(aid=account_ids, changes=st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["Renamed", "Other name"]),
        "invoiceCurrency": currencies,
        "tags": st.lists(st.sampled_from(["A", "a", "B"]), unique=True),
        "metadata": st.dictionaries(st.sampled_from(["k", "v"]), st.just("x"), max_size=2),
        "status": st.sampled_from(["ACTIVE", "DRAFT"]),
    }))
    def patch_account(self, aid: str, changes: dict[str, Any]) -> None:
        r = self.send("PATCH", f"/accounts/{aid}", changes)
        if r.status_code == 200:
            body = r.json()
            for key, value in changes.items():
                expected = list(dict.fromkeys(t.lower() for t in value)) if key == "tags" else value
                assert body[key] == expected

    @rule(aid=account_ids, alias=aliases)
    def add_alias(self, aid: str, alias: str) -> None:
        self.send("POST", f"/accounts/{aid}/add_aliases", {"aliases": [alias]})

    @rule(aid=account_ids)
    def delete_account(self, aid: str) -> None:
        self.send("DELETE", f"/accounts/{aid}")

    @rule(cid=customer_ids)
    def delete_customer(self, cid: str) -> None:
        self.send("DELETE", f"/customers/{cid}")

    @rule(members=st.lists(account_ids, min_size=1, max_size=4))
    def create_group(self, members: list[str]) -> None:
        r = self.send("POST", "/invoice_groups", {"name": "G", "email": "g@x.io", "dailyInvoiceConsolidation": False,
                                                  "accountIds": members, "address": {}})
        if r.status_code == 200:
            self.group_ids.append(r.json()["id"])

    @precondition(lambda self: self.group_ids)
    @rule(data=st.data(), members=st.lists(account_ids, min_size=1, max_size=3))
    def add_accounts(self, data: st.DataObject, members: list[str]) -> None:
        group = data.draw(st.sampled_from(self.group_ids))
        self.send("POST", f"/invoice_groups/{group}/add_accounts", {"accountIds": members})

    @precondition(lambda self: self.group_ids)
    @rule(data=st.data(), members=st.lists(account_ids, min_size=1, max_size=3))
    def remove_accounts(self, data: st.DataObject, members: list[str]) -> None:
        group = data.draw(st.sampled_from(self.group_ids))
        self.send("POST", f"/invoice_groups/{group}/remove_accounts", {"accountIds": members})

    @rule(aid=account_ids, amount=st.sampled_from([0, 10, 25.5]), until=st.sampled_from([None, "2023-12-31"]))
    def grant_credit(self, aid: str, amount: float, until: str | None) -> None:
        grant: dict[str, Any] = {"accountId": aid, "purpose": "P", "priority": 1, "effectiveFrom": "2024-01-01",
                                 "creditAmount": amount}
        if until:
            grant["effectiveUntil"] = until
        r = self.send("POST", "/credits", {"creditRequests": [grant]})
        if r.status_code == 200:
            self.credit_ids.append(r.json()["credits"][0]["id"])

    @precondition(lambda self: self.credit_ids)
    @rule(data=st.data())
    def void_credit(self, data: st.DataObject) -> None:
        self.send("POST", f"/credits/{data.draw(st.sampled_from(self.credit_ids))}/void")

    @rule(aid=account_ids, currency=currencies, amount=st.sampled_from([5, 50]))
    def pay(self, aid: str, currency: str, amount: float) -> None:
        self.send("POST", "/payments", {
            "accountId": aid, "currency": currency, "totalAmount": amount,
            "externalPaymentReference": {"sourceName": "S", "sourceType": "CASH", "transactionNumber": "1"},
            "lineItemRecords": [{"type": "WALLET_CREDIT", "amount": 10, "order": 1}],
        })

    @rule(aid=account_ids, amount=st.sampled_from([0, 7, 100]))
    def top_up(self, aid: str, amount: float) -> None:
        self.send("POST", f"/accounts/{aid}/wallet_topup", {"topupAmount": amount})

    @rule(aid=account_ids, status=st.sampled_from(["ACTIVE", "INACTIVE"]))
    def set_wallet_status(self, aid: str, status: str) -> None:
        self.send("PATCH", f"/accounts/{aid}/wallet", {"status": status})

    @invariant()
    def balances_are_derived_from_records(self) -> None:
        state = self.store.export()
        accounts = {a["id"]: a for a in state["accounts"]}
        for aid in accounts:
            shown = self.client.get(f"/accounts/{aid}/credit_balance", headers=AUTH).json()
            active = [c for c in state["credits"] if c["accountId"] == aid and c["status"] == "ACTIVE"]
            assert shown["activeCredits"] == len(active)
            assert shown["runningBalance"] == sum(c["creditAmount"] - c["consumedAmount"] for c in active)
            assert shown["unit"] == accounts[aid]["invoiceCurrency"]
        for wallet in state["wallets"]:
            entries = [e for e in state["walletEntries"] if e["walletId"] == wallet["id"]]
            assert wallet["balance"] == sum(e["amount"] for e in entries) >= 0
        for payment in state["payments"]:
            assert sum(i.get("amount", 0) for i in payment["lineItemRecords"]) <= payment["totalAmount"]
        assert len({w["accountId"] for w in state["wallets"]}) == len(state["wallets"])

    @initialize()
    def open_an_account_to_invoice(self) -> None:
        # Outside the ids the other rules draw, so invoices always have one account to bill.
        body = {"id": "C9", "name": "Billed", "primaryEmail": "b@x.io", "address": {},
                "account": {"id": "A9", "name": "Billed account", "invoiceCurrency": "USD"}}
        assert self.send("POST", "/customers", body).status_code == 201

    def teardown(self) -> None:
        # Whatever the API made, an import accepts and keeps as it was (once per run: imports are slow).
        state = self.store.export()
        self.app.state.control.import_state(state)  # what PUT /__mock/state does; raises on a refusal
        assert self.store.export() == state

    @invariant()
    def groups_keep_togais_rules(self) -> None:
        state = self.store.export()
        accounts = {a["id"]: a for a in state["accounts"]}
        owner: dict[str, str] = {}
        for group in state["invoiceGroups"]:
            shown = self.client.get(f"/invoice_groups/{group['id']}", headers=AUTH).json()
            assert shown["accountsCount"] == len(shown["accounts"]) == len(group["accounts"]) >= 1
            for account_id in group["accounts"]:
                assert account_id not in owner, f"{account_id} is in two groups"
                owner[account_id] = group["id"]
                assert accounts[account_id]["status"] != "ARCHIVED"
                assert accounts[account_id]["invoiceCurrency"] == group["invoiceCurrency"]
        for account_id in accounts:
            shown = self.client.get(f"/accounts/{account_id}?includeGroupDetails=true", headers=AUTH).json()
            details = shown.get("invoiceGroupDetails")
            assert (details or {}).get("id") == owner.get(account_id)

    @invariant()
    def aliases_name_one_account(self) -> None:
        seen: set[str] = set()
        for account in self.store.export()["accounts"]:
            for alias in account["aliases"]:
                assert alias["alias"] not in seen
                seen.add(alias["alias"])


class InvoiceMachine(InvoiceRules, RuleBasedStateMachine):
    """Invoices alone, on the demo tenant (six accounts, one group, three invoices): the moves of
    one invoice are rare among the store machine's many rules, so they get a machine of their own."""

    def __init__(self) -> None:
        super().__init__()
        self.app = create_app(Config(seed=13, self_check=True, log="quiet"))
        self.client = TestClient(self.app)
        self.store = self.app.state.store
        self.invoice_ids = list(self.store.collections["invoices"].items)
        self.invoice_ranks = {}

    send = StoreMachine.send
    snapshot = StoreMachine.snapshot
    teardown = StoreMachine.teardown

    @rule(aid=st.sampled_from(["GLOBEX-US", "ACME-EU"]))
    def archive_account(self, aid: str) -> None:
        self.send("DELETE", f"/accounts/{aid}")


def machine_settings(examples: int, steps: int) -> settings:
    """Repeatable runs of ``examples`` sequences of ``steps`` steps; the machine's load does not fail them."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


TestInvoiceMachine = InvoiceMachine.TestCase
TestInvoiceMachine.settings = machine_settings(150 if DEEP else 20, 30 if DEEP else 20)

TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = machine_settings(300 if DEEP else 40, 40 if DEEP else 25)
