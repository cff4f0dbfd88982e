"""A Hypothesis state machine over customers, accounts, invoice groups, credits, payments, wallets and licenses.

Any sequence of creates, patches, deletes and group moves keeps Togai's
invariants, and a rejected request leaves the state exactly as it was.
"""
from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from starlette.testclient import TestClient

from mock_server import Config, create_app

DEEP = os.environ.get("MOCK_TEST_PROFILE") == "deep"
AUTH = {"Authorization": "Bearer machine"}

customer_ids = st.sampled_from(["C0", "C1"])
account_ids = st.sampled_from([f"A{i}" for i in range(5)])
currencies = st.sampled_from(["USD", "EUR"])
aliases = st.sampled_from(["alpha", "beta", "gamma", "delta"])
months = st.sampled_from([f"2024-0{m}-01T00:00:00Z" for m in range(1, 5)])


class Machine(RuleBasedStateMachine):
    """An empty seeded server, and a client that checks a rejected request changed nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.app = create_app(Config(fixtures=None, seed=11, self_check=True, log="quiet"))
        self.client = TestClient(self.app)
        self.store = self.app.state.store
        self.group_ids: list[str] = []
        self.credit_ids: list[str] = []
        self.addon_ids: list[str] = []
        # (license, account) -> the updates accepted, as asked: (instant, order of arrival, type, quantity).
        self.license_model: dict[tuple[str, str], list[tuple[str, int, str, float]]] = {}

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

    def teardown(self) -> None:
        # Whatever the API made, an import accepts and keeps as it was (once per run: imports are slow).
        state = self.store.export()
        self.app.state.control.import_state(state)  # what PUT /__mock/state does; raises on a refusal
        assert self.store.export() == state


class LicenseRules(Machine):
    """License add-ons, license updates and their PATCH, portal tokens; quantities replay the updates."""

    @rule(kind=st.sampled_from(["LICENSE", "LICENSE", "FIXED_FEE"]))
    def create_addon(self, kind: str) -> None:
        r = self.send("POST", "/addons", {"name": f"Add-on {len(self.addon_ids)}", "type": kind})
        self.addon_ids.append(r.json()["id"])

    @precondition(lambda self: self.addon_ids)
    @rule(data=st.data())
    def archive_addon(self, data: st.DataObject) -> None:
        self.send("DELETE", f"/addons/{data.draw(st.sampled_from(self.addon_ids))}")

    @precondition(lambda self: self.addon_ids and len(self.store.collections["accounts"]))
    @rule(data=st.data(), updates=st.lists(st.tuples(st.sampled_from(["ABSOLUTE", "RELATIVE"]),
                                                     st.sampled_from([-4, -1, 0, 2, 5]), months),
                                           min_size=1, max_size=4))
    def update_license(self, data: st.DataObject, updates: list[tuple[str, float, str]]) -> None:
        license_id = data.draw(st.sampled_from(self.addon_ids))
        aid = data.draw(st.sampled_from(sorted(self.store.collections["accounts"].items)))
        for kind, quantity, at in updates:  # a few at once: later ones land before and after earlier ones
            r = self.send("POST", "/license_updates", {"licenseId": license_id, "accountId": aid,
                                                       "updateType": kind, "quantity": quantity, "effectiveFrom": at})
            if r.status_code == 200:
                line = self.license_model.setdefault((license_id, aid), [])
                line.append((at, len(line), kind, quantity))

    @precondition(lambda self: self.license_model)
    @rule(data=st.data(), at=months)
    def patch_license(self, data: st.DataObject, at: str) -> None:
        license_id, aid = data.draw(st.sampled_from(sorted(self.license_model)))
        r = self.send("PATCH", f"/license_updates/{license_id}",
                      {"accountId": aid, "effectiveFrom": at, "metadata": {"at": at}})
        assert r.status_code in (200, 400, 404)
        if r.status_code == 200:
            assert r.json()["metadata"] == {"at": at}

    @rule(cid=customer_ids, aid=account_ids)
    def portal_token(self, cid: str, aid: str) -> None:
        before = self.snapshot()
        self.send("POST", "/portal/token", {"customerId": cid, "accountIds": [aid]})
        assert self.snapshot() == before  # computed: nothing stored, also when it answers

    @invariant()
    def license_quantities_replay_the_updates(self) -> None:
        shown: dict[tuple[str, str, str], float] = {}
        query: dict[str, Any] = {"pageSize": 100}
        while True:
            page = self.client.get("/license_updates", params=query, headers=AUTH).json()
            shown.update({(e["licenseId"], e["accountId"], e["effectiveFrom"]): e["quantity"] for e in page["data"]})
            if "nextToken" not in page:
                break
            query = {"nextToken": page["nextToken"]}
        expected: dict[tuple[str, str, str], float] = {}
        for (license_id, aid), updates in self.license_model.items():
            current: float = 0
            for at, _, kind, quantity in sorted(updates):
                current = quantity if kind == "ABSOLUTE" else current + quantity
                assert current >= 0, f"{license_id} of {aid} below zero on {at}"
                expected[(license_id, aid, at)] = current
        assert shown == expected
        # The timeline index holds each entry once, in effective order.
        timelines = self.store.indexes["license_timeline"]
        assert sum(len(keys) for keys in timelines.values()) == len(self.store.collections["licenseUpdates"])
        for keys in timelines.values():
            moments = [k.rsplit("/", 1)[1] for k in keys]
            assert moments == sorted(moments)


class StoreMachine(LicenseRules):
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

    # -- invariants ------------------------------------------------------------------
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


def run_settings(examples: int, steps: int) -> settings:
    """Derandomized runs of ``examples`` examples of ``steps`` steps (more with MOCK_TEST_PROFILE=deep)."""
    return settings(
        max_examples=examples * 8 if DEEP else examples,
        stateful_step_count=40 if DEEP else steps,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = run_settings(40, 25)


class LicenseMachine(LicenseRules):
    """Only the license rules, from two licensed accounts: the general machine rarely has an
    account and a license add-on together, so it seldom reaches them."""

    @initialize()
    def licensed_accounts(self) -> None:
        self.send("POST", "/customers", {"id": "C0", "name": "Licensee", "primaryEmail": "l@x.io", "address": {},
                                         "account": {"id": "A0", "name": "Licensed account"}})
        self.send("POST", "/accounts", {"id": "A1", "customerId": "C0", "name": "Second account"})
        self.create_addon("LICENSE")

    @rule(aid=st.sampled_from(["A0", "A1"]))
    def archive_account(self, aid: str) -> None:
        self.send("DELETE", f"/accounts/{aid}")


TestLicenseMachine = LicenseMachine.TestCase
TestLicenseMachine.settings = run_settings(15, 20)
