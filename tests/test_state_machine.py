"""A Hypothesis state machine over customers, accounts, invoice groups, credits, payments, wallets,
aliases, contacts, features, settings, purchase plans, purchases, proposals and feature credits.

Any sequence of creates, patches, deletes and group moves keeps Togai's
invariants, and a rejected request leaves the state exactly as it was.
"""
from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server.store.aliases import OPEN_UNTIL
from mock_server.store.entitlements import in_effect
from mock_server.store.settings import full_id, value_problem

DEEP = os.environ.get("MOCK_TEST_PROFILE") == "deep"
AUTH = {"Authorization": "Bearer machine"}

customer_ids = st.sampled_from(["C0", "C1"])
account_ids = st.sampled_from([f"A{i}" for i in range(5)])
currencies = st.sampled_from(["USD", "EUR"])
aliases = st.sampled_from(["alpha", "beta", "gamma", "delta"])


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.app = create_app(Config(fixtures=None, seed=11, self_check=True, log="quiet"))
        self.client = TestClient(self.app)
        self.store = self.app.state.store
        self.group_ids: list[str] = []
        self.credit_ids: list[str] = []
        self.feature_ids: list[str] = []
        self.plan_ids: list[str] = []
        self.proposal_ids: list[str] = []
        self.setting_ids: list[str] = []

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

    @rule(alias=aliases)
    def create_alias(self, alias: str) -> None:
        self.send("POST", "/aliases", {"aliases": [{"value": alias}]})

    @rule(alias=aliases)
    def delete_alias(self, alias: str) -> None:
        self.send("DELETE", f"/aliases/{alias}")

    @rule(aid=account_ids, alias=aliases)
    def remove_alias(self, aid: str, alias: str) -> None:
        self.send("POST", f"/accounts/{aid}/remove_aliases", {"aliases": [alias]})

    @rule(cid=customer_ids, email=st.sampled_from(["a@x.io", "b@x.io"]), username=st.none() | st.just("same"))
    def create_contact(self, cid: str, email: str, username: str | None) -> None:
        body = {"name": "N", "email": email, **({"preferredUsername": username} if username else {})}
        self.send("POST", f"/customers/{cid}/contacts", body)

    @rule(name=st.sampled_from(["Rides", "Seats"]), billable=st.none() | st.just("Billed"))
    def create_feature(self, name: str, billable: str | None) -> None:
        body: dict[str, Any] = {"name": name, "schemaAssociations": [{"schemaName": "rides", "attributeName": "km"}]}
        if billable:
            body["billableName"] = billable
        r = self.send("POST", "/features", body)
        if r.status_code == 200:
            self.feature_ids.append(r.json()["id"])

    @precondition(lambda self: self.feature_ids)
    @rule(data=st.data(), billable=st.sampled_from(["Other", "Billed"]))
    def update_feature(self, data: st.DataObject, billable: str) -> None:
        self.send("PATCH", f"/features/{data.draw(st.sampled_from(self.feature_ids))}", {"billableName": billable})

    @rule(aid=account_ids, key=st.sampled_from(["limit", "mode"]), value=st.sampled_from(["1", "x"]),
          kind=st.sampled_from(["NUMERIC", "STRING"]))
    def insert_setting(self, aid: str, key: str, value: str, kind: str) -> None:
        r = self.send("POST", "/settings", {"id": key, "namespace": "USER", "name": key, "value": value,
                                            "dataType": kind, "entityType": "ACCOUNT", "entityId": aid})
        if r.status_code == 200 or r.status_code == 201:
            self.setting_ids.append(r.json()["id"])

    @precondition(lambda self: self.setting_ids)
    @rule(data=st.data(), value=st.sampled_from(["2", "y"]))
    def update_setting(self, data: st.DataObject, value: str) -> None:
        self.send("PATCH", f"/settings/{data.draw(st.sampled_from(self.setting_ids))}", {"value": value})

    @precondition(lambda self: self.feature_ids)
    @rule(data=st.data(), limit=st.sampled_from([5, 20]), until=st.sampled_from(["P1M", "P100Y"]),
          activate=st.booleans())
    def create_purchase_plan(self, data: st.DataObject, limit: float, until: str, activate: bool) -> None:
        card = {"featureId": data.draw(st.sampled_from(self.feature_ids)),
                "featureConfigs": [{"effectiveUntil": until, "featureCreditLimit": limit}],
                "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "FLAT"}]},
                "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 1}]}],
                "invoiceTiming": "IN_ADVANCE"}
        r = self.send("POST", "/price_plans", {"name": "Pack", "type": "PURCHASE", "pricePlanDetails": {
            "supportedCurrencies": ["USD"], "billingEntitlementRateCards": [card]}})
        if r.status_code == 201 or r.status_code == 200:
            self.plan_ids.append(r.json()["id"])
            if activate:
                self.send("POST", f"/price_plans/{r.json()['id']}/activate", {"currencies": ["USD"]})

    @precondition(lambda self: self.plan_ids)
    @rule(data=st.data(), aid=account_ids, quantity=st.sampled_from([0, 1, 3]), key=st.none() | st.just("k"))
    def purchase(self, data: st.DataObject, aid: str, quantity: int, key: str | None) -> None:
        body: dict[str, Any] = {"pricePlanId": data.draw(st.sampled_from(self.plan_ids)), "quantity": quantity,
                                "effectiveFrom": "2024-01-01"}
        if key:
            body["idempotencyKey"] = key
        self.send("POST", f"/accounts/{aid}/purchases", body)

    @precondition(lambda self: self.plan_ids)
    @rule(data=st.data(), aid=account_ids)
    def propose(self, data: st.DataObject, aid: str) -> None:
        r = self.send("POST", f"/accounts/{aid}/purchase_proposals", {
            "pricePlanId": data.draw(st.sampled_from(self.plan_ids)), "type": "ENTITLEMENT_GRANT",
            "paymentMode": "PREPAID", "effectiveFrom": "2024-01-01"})
        if r.status_code == 200:
            self.proposal_ids.append(r.json()["id"])

    @precondition(lambda self: self.proposal_ids)
    @rule(data=st.data(), answer=st.sampled_from(["APPROVE", "DECLINE"]))
    def answer_proposal(self, data: st.DataObject, answer: str) -> None:
        proposal = data.draw(st.sampled_from(self.proposal_ids))
        self.send("POST", f"/purchase_proposals/{proposal}/update_status", {"status": answer})

    @rule(aid=account_ids, km=st.sampled_from(["1", "7.5", "40"]))
    def entitled_event(self, aid: str, km: str) -> None:
        self.send("POST", "/entitled", {"event": {"schemaName": "rides", "timestamp": "2024-01-01T00:00:00Z",
                                                  "accountId": aid, "attributes": [{"name": "km", "value": km}],
                                                  "dimensions": {}}})

    def _entry(self, data: st.DataObject) -> dict[str, Any] | None:
        entries = self.store.export()["featureCreditEntries"]
        return data.draw(st.sampled_from(entries)) if entries else None

    @rule(data=st.data(), granted=st.sampled_from([0, 10, 100]))
    def update_entry(self, data: st.DataObject, granted: float) -> None:
        entry = self._entry(data)
        if entry is not None:
            path = f"/accounts/{entry['accountId']}/features/{entry['featureId']}/entries/{entry['id']}"
            self.send("PATCH", path, {"granted": granted})

    @rule(data=st.data())
    def void_entry(self, data: st.DataObject) -> None:
        entry = self._entry(data)
        if entry is not None:
            self.send("POST", f"/accounts/{entry['accountId']}/features/{entry['featureId']}/entries/{entry['id']}/void")

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
    def alias_history_matches_the_accounts(self) -> None:
        state = self.store.export()
        tenant = {a["value"] for a in state["aliases"]}
        held = {a["alias"]: account["id"] for account in state["accounts"] for a in account["aliases"]}
        opened = {r["value"]: r["accountId"] for r in state["accountAliases"] if r["effectiveUntil"] == OPEN_UNTIL}
        assert opened == held
        assert set(held) <= tenant
        assert all(r["effectiveFrom"] <= r["effectiveUntil"] for r in state["accountAliases"])

    @invariant()
    def features_settings_and_contacts_keep_their_rules(self) -> None:
        state = self.store.export()
        for feature in state["features"]:
            assert feature["displayName"] == (feature.get("billableName") or feature["name"])
        for setting in state["settings"]:
            key = setting["id"].split(".")[2]  # stored under setting.<namespace>.<key>.<entityType>.<entityId>
            assert setting["id"] == full_id({**setting, "id": key})
            assert value_problem(setting["value"], setting["dataType"]) is None
        emails = [(c["customerId"], c["email"]) for c in state["customerContacts"]]
        assert len(emails) == len(set(emails))
        assert all("password" not in c for c in state["customerContacts"])

    @invariant()
    def feature_credits_are_derived_from_entries(self) -> None:
        state = self.store.export()
        now = self.store.clock.last()
        owners = {(e["accountId"], e["featureId"]) for e in state["featureCreditEntries"]}
        for account_id, feature_id in owners:
            mine = [e for e in state["featureCreditEntries"] if (e["accountId"], e["featureId"]) == (account_id, feature_id)]
            assert all(0 <= e["used"] <= e["granted"] for e in mine)
            shown = self.client.get(f"/accounts/{account_id}/features/{feature_id}", headers=AUTH).json()
            live = [e for e in mine if in_effect(e, now)]
            assert shown["balance"] == sum(e["granted"] - e["used"] for e in live)
        purchases = {p["id"]: p for p in state["purchases"]}
        for entry in state["featureCreditEntries"]:
            assert purchases[entry["id"].rpartition("$")[0]]["accountId"] == entry["accountId"]
        for proposal in state["purchaseProposals"]:
            answered = proposal["status"] in ("PROPOSAL_APPROVED", "PROPOSAL_DECLINED")
            assert answered == ("proposalResponseDate" in proposal)

    @invariant()
    def aliases_name_one_account(self) -> None:
        seen: set[str] = set()
        for account in self.store.export()["accounts"]:
            for alias in account["aliases"]:
                assert alias["alias"] not in seen
                seen.add(alias["alias"])


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(
    max_examples=300 if DEEP else 40,
    stateful_step_count=40 if DEEP else 25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
