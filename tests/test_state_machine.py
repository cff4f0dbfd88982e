"""A Hypothesis state machine over customers, accounts, invoice groups, credits, payments, wallets,
price plans, their associations with accounts and migration jobs, events, aliases, contacts, features,
settings, purchase plans, purchases, proposals, feature credits, invoices
and licenses.

Any sequence of creates, patches, deletes and group moves keeps Togai's
invariants, and a rejected request leaves the state exactly as it was.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from starlette.testclient import TestClient

from mock_server import Config, create_app

# Profiles: unset (make test) runs short machines; "ci" (make conformance, in CI) the runs make test
# used to make; "deep" (make conformance-deep) ten times more.
PROFILE = os.environ.get("MOCK_TEST_PROFILE", "quick")
DEEP = PROFILE == "deep"
CI = PROFILE == "ci"


def _count(deep: int, ci: int, quick: int) -> int:
    return deep if DEEP else ci if CI else quick
AUTH = {"Authorization": "Bearer machine"}

# -- the machines' own oracles, written from Togai's documentation, never imported from the code they judge --
# How far an invoice has moved: a status never goes back to a lower rank (Togai's invoice lifecycle:
# DRAFT -> DUE -> PARTIALLY_PAID -> PAID, or VOID / UN_COLLECTIBLE; MERGED into a composite; refunds last).
RANK = {"DRAFT": 0, "DUE": 1, "PARTIALLY_PAID": 2, "UN_COLLECTIBLE": 3, "PAID": 4, "VOID": 4, "MERGED": 4,
        "REFUND_INITIATED": 5, "REFUND_COMPLETED": 6}
# Togai's "open-ended" effectiveUntil of an alias an account still holds.
OPEN_UNTIL = "9999-12-31T23:59:59.999Z"


def setting_id(setting: dict[str, Any]) -> str:
    """The id Togai gives a setting: ``setting.<namespace>.<id>.<entityType>.<entityId>``."""
    return f"setting.{setting['namespace']}.{setting['id']}.{setting['entityType']}.{setting['entityId']}"


def value_fits(value: str, data_type: str) -> bool:
    """Whether a setting's value is of its dataType: a decimal number, or a JSON document."""
    if data_type == "NUMERIC":
        try:
            return Decimal(value).is_finite()
        except ArithmeticError:
            return False
    if data_type in ("JSON", "JSON_LOGIC"):
        try:
            json.loads(value)
        except ValueError:
            return False
    return True


def instant(text: str) -> datetime:
    """An RFC 3339 date-time (``Z`` or an offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def entry_in_effect(entry: dict[str, Any], now: str) -> bool:
    """A feature credit entry counts while ACTIVE, from effectiveFrom (included) to effectiveUntil (excluded)."""
    return entry["status"] == "ACTIVE" and instant(entry["effectiveFrom"]) <= instant(now) < instant(entry["effectiveUntil"])

customer_ids = st.sampled_from(["C0", "C1"])
account_ids = st.sampled_from([f"A{i}" for i in range(5)])
currencies = st.sampled_from(["USD", "EUR"])
aliases = st.sampled_from(["alpha", "beta", "gamma", "delta"])
instants = st.sampled_from([f"2024-0{m}-01T00:00:00Z" for m in range(1, 5)])  # license updates
months = st.integers(min_value=1, max_value=12)  # schedule bounds: the first of a month of 2024 (13: 2025-01)
event_ids = st.none() | st.sampled_from([f"E{i}" for i in range(4)])
ingested = st.fixed_dictionaries({
    "id": event_ids,
    "accountId": account_ids | aliases,
    "schemaName": st.sampled_from(["s", "unknown"]),
    "value": st.sampled_from(["1", "2.5", "-0.5"]),
    "twice": st.booleans() | st.just(False),  # an attribute given twice: refused at the door
})


def event_body(spec: dict[str, Any]) -> dict[str, Any]:
    """An ingestion payload from a drawn description."""
    attributes = [{"name": "n", "value": spec["value"]}] * (2 if spec["twice"] else 1)
    body = {"schemaName": spec["schemaName"], "accountId": spec["accountId"], "timestamp": "2024-01-05T00:00:00Z",
            "attributes": attributes, "dimensions": {}}
    return body if spec["id"] is None else {**body, "id": spec["id"]}


class InvoiceRules:
    """Rules and invariants of invoices, for any machine with ``send``, ``store`` and ``client``."""

    store: Any
    client: Any
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
        # Changed with the billing engine (issue 19): a bill run closes only the cycles that ended by the
        # clock (Togai generates an invoice once the billing cycle is completed), so the ongoing invoices of
        # open cycles stay listed; a second run changes nothing.
        assert self.send("POST", "/invoices/bill_runs").status_code == 200
        listed = self.client.get("/invoices/bill_runs", headers=AUTH).json()
        now = self.store.clock.instant()
        assert all(datetime.fromisoformat(i["endDate"].replace("Z", "+00:00")) > now for i in listed["data"])
        assert self.send("POST", "/invoices/bill_runs").status_code == 200
        assert self.client.get("/invoices/bill_runs", headers=AUTH).json() == listed

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
        for invoice in self.exported()["invoices"]:
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
            if invoice["invoiceType"] == "STANDARD" and invoice["status"] == "DRAFT" and not invoice.get(
                    "finalizingStatus"):  # a closed cycle's DRAFT in its grace period is not ongoing
                assert invoice["ownerId"] not in ongoing, "two ongoing invoices for one account"
                ongoing.add(invoice["ownerId"])
        assert ongoing == set(self.store.indexes["ongoing_invoice"])

    # -- invariants ------------------------------------------------------------------


class LicenseRules:
    """License add-ons, license updates and their PATCH, portal tokens; quantities replay the updates.

    Rules for any machine with ``send``, ``snapshot``, ``store``, ``client``, ``addon_ids`` and ``license_model``.
    """

    store: Any
    client: Any
    addon_ids: list[str]
    license_model: dict[tuple[str, str], list[tuple[str, int, str, float]]]

    def send(self, method: str, path: str, body: Any = None) -> Any:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError


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
                                                     st.sampled_from([-4, -1, 0, 2, 5]), instants),
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
    @rule(data=st.data(), at=instants)
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


_APPS: dict[tuple[bool, int], Any] = {}


class _Client:
    """A TestClient that tells its machine when a request may have changed the state (anything but a read)."""

    def __init__(self, client: TestClient, machine: Machine) -> None:
        self._client = client
        self._machine = machine

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            self._machine.changed()
        return self._client.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)


class Machine(RuleBasedStateMachine):
    """A seeded server (empty, or the demo tenant with ``demo``), and a client that checks a rejected
    request changed nothing. Rules come from the mixins; this class comes first so its helpers win."""

    demo = False
    seed = 11

    def __init__(self) -> None:
        super().__init__()
        # One app per (tenant, seed) and process, reset for each run: a reset restores exactly what a new
        # app starts with (tests/test_control.py::test_shared_app_is_as_new), at a fiftieth of the cost.
        key = (self.demo, self.seed)
        self.app = _APPS.get(key)
        if self.app is None:
            fixtures = {} if self.demo else {"fixtures": None}
            self.app = _APPS[key] = create_app(Config(**fixtures, seed=self.seed, self_check=True, log="quiet"))  # type: ignore[arg-type]
        else:
            self.app.state.control.reset()
        self.client = _Client(TestClient(self.app), self)
        self.store = self.app.state.store
        self._exported: Any = None
        self.addon_ids: list[str] = []
        # (license, account) -> the updates accepted, as asked: (instant, order of arrival, type, quantity).
        self.license_model: dict[tuple[str, str], list[tuple[str, int, str, float]]] = {}
        self.invoice_ids: list[str] = []
        self.invoice_ranks: dict[str, int] = {}  # the furthest status each invoice reached

    # -- helpers -------------------------------------------------------------------
    def exported(self) -> Any:
        """The store's export, made once per state: a step's invariants share it (read it, never change it)."""
        if self._exported is None:
            self._exported = self.store.export()
        return self._exported

    def changed(self) -> None:
        """Forget the cached export: a request may have changed the state."""
        self._exported = None

    def snapshot(self) -> Any:
        return self.exported(), self.store.rng.getstate()

    def send(self, method: str, path: str, body: Any = None) -> Any:
        before = self.snapshot()
        r = self.client.request(method, path, json=body, headers=AUTH)  # forgets the cached export
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert set(r.json()) == {"message"}
            assert self.snapshot() == before, f"rejected {method} {path} changed the state"
        return r

    def teardown(self) -> None:
        # Whatever the API made, an import accepts and keeps as it was (once per run: imports are slow).
        state = self.store.export()
        self.app.state.control.import_state(state)  # what PUT /__mock/state does; raises on a refusal
        self.changed()
        assert self.store.export() == state


class StoreMachine(Machine, InvoiceRules, LicenseRules):
    def __init__(self) -> None:
        super().__init__()
        self.group_ids: list[str] = []
        self.credit_ids: list[str] = []
        self.plan_ids: list[str] = []
        self.job_ids: list[str] = []
        self.feature_ids: list[str] = []
        self.purchase_plan_ids: list[str] = []
        self.proposal_ids: list[str] = []
        self.setting_ids: list[str] = []

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

    @rule(supported=st.lists(currencies, min_size=1, unique=True))
    def create_plan(self, supported: list[str]) -> None:
        r = self.send("POST", "/price_plans", {"name": "P", "pricePlanDetails": {"supportedCurrencies": supported}})
        if r.status_code == 200:
            self.plan_ids.append(r.json()["id"])

    @precondition(lambda self: self.plan_ids)
    @rule(data=st.data(), wanted=st.lists(currencies, min_size=1, unique=True))
    def activate_plan(self, data: st.DataObject, wanted: list[str]) -> None:
        self.send("POST", f"/price_plans/{data.draw(st.sampled_from(self.plan_ids))}/activate", {"currencies": wanted})

    @precondition(lambda self: self.plan_ids)
    @rule(data=st.data(), mode=st.sampled_from(["NONE", "IMMEDIATE", "NEXT_CYCLE_IGNORE_OVERRIDE"]))
    def patch_plan(self, data: st.DataObject, mode: str) -> None:
        plan = data.draw(st.sampled_from(self.plan_ids))
        self.send("PATCH", f"/price_plans/{plan}", {"description": "changed", "migrationMode": mode})

    @precondition(lambda self: self.plan_ids)
    @rule(data=st.data())
    def archive_plan(self, data: st.DataObject) -> None:
        self.send("DELETE", f"/price_plans/{data.draw(st.sampled_from(self.plan_ids))}")

    @precondition(lambda self: self.plan_ids)
    @rule(data=st.data(), aid=account_ids, start=months, length=months, leave=st.booleans())
    def edit_schedule(self, data: st.DataObject, aid: str, start: int, length: int, leave: bool) -> None:
        end = min(start + length, 13)
        body: dict[str, Any] = {"mode": "DISASSOCIATE" if leave else "ASSOCIATE",
                                "pricePlanId": data.draw(st.sampled_from(self.plan_ids)),
                                "effectiveFrom": f"2024-{start:02d}-01",
                                "effectiveUntil": "2025-01-01" if end == 13 else f"2024-{end:02d}-01"}
        self.send("POST", f"/accounts/{aid}/price_plans", body)

    @precondition(lambda self: self.plan_ids)
    @rule(data=st.data(), wait=st.booleans())
    def migrate(self, data: st.DataObject, wait: bool) -> None:
        source, target = data.draw(st.sampled_from(self.plan_ids)), data.draw(st.sampled_from(self.plan_ids))
        r = self.send("POST", "/price_plans/migration", {"sourceId": source, "sourceVersion": 1, "targetId": target,
                                                          "migrationMode": "IMMEDIATE", "requireConfirmation": wait})
        if r.status_code == 201:
            self.job_ids.append(self.exported()["jobs"][-1]["id"])

    @precondition(lambda self: self.job_ids)
    @rule(data=st.data(), verb=st.sampled_from(["confirm", "reject"]))
    def settle_job(self, data: st.DataObject, verb: str) -> None:
        self.send("POST", f"/jobs/{data.draw(st.sampled_from(self.job_ids))}/{verb}")

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
            self.purchase_plan_ids.append(r.json()["id"])
            if activate:
                self.send("POST", f"/price_plans/{r.json()['id']}/activate", {"currencies": ["USD"]})

    @precondition(lambda self: self.purchase_plan_ids)
    @rule(data=st.data(), aid=account_ids, quantity=st.sampled_from([0, 1, 3]), key=st.none() | st.just("k"))
    def purchase(self, data: st.DataObject, aid: str, quantity: int, key: str | None) -> None:
        body: dict[str, Any] = {"pricePlanId": data.draw(st.sampled_from(self.purchase_plan_ids)), "quantity": quantity,
                                "effectiveFrom": "2024-01-01"}
        if key:
            body["idempotencyKey"] = key
        self.send("POST", f"/accounts/{aid}/purchases", body)

    @precondition(lambda self: self.purchase_plan_ids)
    @rule(data=st.data(), aid=account_ids)
    def propose(self, data: st.DataObject, aid: str) -> None:
        r = self.send("POST", f"/accounts/{aid}/purchase_proposals", {
            "pricePlanId": data.draw(st.sampled_from(self.purchase_plan_ids)), "type": "ENTITLEMENT_GRANT",
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
        entries = self.exported()["featureCreditEntries"]
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
    def plans_and_schedules_keep_togais_rules(self) -> None:
        state = self.exported()
        plans = {p["id"]: p for p in state["pricePlans"]}
        for plan in plans.values():
            assert [v["version"] for v in plan["pricingSchedule"]] == list(range(1, len(plan["pricingSchedule"]) + 1))
            details = plan["pricingSchedule"][-1]["pricePlanDetails"]
            assert set(details["activeCurrencies"]) <= set(details["supportedCurrencies"])
            if plan["status"] != "ARCHIVED":
                assert (plan["status"] == "DRAFT") == (not details["activeCurrencies"])
        for timeline in state["accountSchedules"]:
            shown = self.client.get(f"/accounts/{timeline['accountId']}/pricing_schedules?pageSize=100",
                                    headers=AUTH).json()["data"]
            assert [s["id"] for s in shown] == [s["id"] for s in timeline["pricingSchedules"]]
            for before, after in zip(shown, shown[1:], strict=False):
                assert before["endDate"] <= after["startDate"], "two schedules overlap"
            for schedule in shown:
                assert schedule["startDate"] < schedule["endDate"]
                assert plans[schedule["pricePlanId"]]["status"] != "DRAFT"
        for job in state["jobs"]:
            entries = [e for e in state["jobEntries"] if e["jobId"] == job["id"]]
            assert job["totalJobEntries"] == len(entries)
            assert job["pendingJobEntries"] == sum(e["status"] == "PENDING" for e in entries)
            assert (job["status"] == "WAITING_FOR_CONFIRMATION") == ("settledAt" not in job)
    @rule(active=st.booleans())
    def define_pipeline(self, active: bool) -> None:
        """The event schema ``s`` with a SUM meter over ``n`` (once), ACTIVE or DRAFT."""
        self.send("POST", "/event_schema", {"name": "s", "attributes": [{"name": "n"}], "dimensions": []})
        r = self.send("POST", "/usage_meters", {"name": "N", "type": "COUNTER", "aggregation": "SUM",
                                                "eventSchemaName": "s", "computations": [
                                                    {"order": 1, "computation": '{"var": "attribute.n"}'}]})
        if active and r.status_code == 201:
            self.send("POST", "/event_schema/s/activate")
            self.send("POST", f"/usage_meters/{r.json()['id']}/activate")

    @rule(batch=st.lists(ingested, min_size=1, max_size=3))
    def ingest(self, batch: list[dict[str, Any]]) -> None:
        if len(batch) == 1:
            r = self.send("POST", "/ingest", {"event": event_body(batch[0])})
        else:
            r = self.send("POST", "/ingestBatch", {"events": [event_body(e) for e in batch]})
        refused = sum(e["twice"] for e in batch)
        assert r.status_code == (400 if refused == len(batch) else 207 if refused else 202), r.text

    @rule(spec=ingested.filter(lambda e: e["id"] is not None and not e["twice"]),
          action=st.sampled_from(["UNDO", "REDO", "REDO_EVENT"]))
    def correct(self, spec: dict[str, Any], action: str) -> None:
        self.send("POST", f"/events/correction?action={action}", {"event": event_body(spec)})

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def a_duplicate_never_counts_twice(self) -> None:
        state = self.exported()
        counted = [e for e in state["events"] if e["ingestionStatus"]["status"].startswith("INGESTION_COMPLETED")]
        ids = [e["eventPayload"]["id"] for e in counted if "id" in e["eventPayload"]]  # (an entitled one may have none)
        assert len(ids) == len(set(ids)), f"{ids} counts an id twice"
        for e in counted:  # the one meter sums n, exactly
            computed = [m for m in e["eventPipelineInfo"].get("usageMeters", [])
                        if m["status"] == "PROCESSED_UNITS_COMPUTED"]
            assert [m["units"] for m in computed] in ([], [float(e["eventPayload"]["attributes"][0]["value"])])
        for e in state["events"]:
            status = e["ingestionStatus"]["status"]
            # /entitled takes an event without id (it is keyed by its referenceId); /ingest fails one.
            no_id = "id" not in e["eventPayload"] and not e.get("entitled")
            assert (status == "INGESTION_FAILED_NO_EVENT_ID") == no_id
            if status == "INGESTION_FAILED_DUPLICATE_EVENT":
                assert e["eventPayload"]["id"] in {o["eventPayload"].get("id") for o in state["events"] if o is not e}

    @invariant()
    def balances_are_derived_from_records(self) -> None:
        state = self.exported()
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

    @invariant()
    def groups_keep_togais_rules(self) -> None:
        state = self.exported()
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
        state = self.exported()
        tenant = {a["value"] for a in state["aliases"]}
        held = {a["alias"]: account["id"] for account in state["accounts"] for a in account["aliases"]}
        opened = {r["value"]: r["accountId"] for r in state["accountAliases"] if r["effectiveUntil"] == OPEN_UNTIL}
        assert opened == held
        assert set(held) <= tenant
        assert all(r["effectiveFrom"] <= r["effectiveUntil"] for r in state["accountAliases"])

    @invariant()
    def features_settings_and_contacts_keep_their_rules(self) -> None:
        state = self.exported()
        for feature in state["features"]:
            assert feature["displayName"] == (feature.get("billableName") or feature["name"])
        for setting in state["settings"]:
            key = setting["id"].split(".")[2]  # stored under setting.<namespace>.<key>.<entityType>.<entityId>
            assert setting["id"] == setting_id({**setting, "id": key})
            assert value_fits(setting["value"], setting["dataType"])
        emails = [(c["customerId"], c["email"]) for c in state["customerContacts"]]
        assert len(emails) == len(set(emails))
        assert all("password" not in c for c in state["customerContacts"])

    @invariant()
    def feature_credits_are_derived_from_entries(self) -> None:
        state = self.exported()
        now = self.store.clock.last()
        owners = {(e["accountId"], e["featureId"]) for e in state["featureCreditEntries"]}
        for account_id, feature_id in owners:
            mine = [e for e in state["featureCreditEntries"] if (e["accountId"], e["featureId"]) == (account_id, feature_id)]
            assert all(0 <= e["used"] <= e["granted"] for e in mine)
            shown = self.client.get(f"/accounts/{account_id}/features/{feature_id}", headers=AUTH).json()
            live = [e for e in mine if entry_in_effect(e, now)]
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
        for account in self.exported()["accounts"]:
            for alias in account["aliases"]:
                assert alias["alias"] not in seen
                seen.add(alias["alias"])


class InvoiceMachine(Machine, InvoiceRules):
    """Invoices alone, on the demo tenant (six accounts, one group, three invoices): the moves of
    one invoice are rare among the store machine's many rules, so they get a machine of their own."""

    demo = True
    seed = 13

    def __init__(self) -> None:
        super().__init__()
        self.invoice_ids = list(self.store.collections["invoices"].items)

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
TestInvoiceMachine.settings = machine_settings(_count(150, 20, 6), 30 if DEEP else 20)

TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = machine_settings(_count(300, 40, 8), 40 if DEEP else 25)


class UsageMachine(RuleBasedStateMachine):
    """Ingestion, corrections and import over the demo tenant: every metric equals a count of the events."""

    def __init__(self) -> None:
        super().__init__()
        self.app = create_app(Config(seed=5, self_check=True, log="quiet"))
        self.client = TestClient(self.app, base_url="http://localhost")
        self.store = self.app.state.store
        self.ids: list[str] = []
        self.meters = {m["id"]: m["name"] for m in self.store.collections["usageMeters"].items.values()}

    def post(self, path: str, body: Any, **params: Any) -> Any:
        r = self.client.post(path, json=body, params=params, headers=AUTH)
        assert r.status_code < 500, r.text
        return r

    @staticmethod
    def ride(event_id: str, account: str, day: int, hour: int, distance: str) -> dict[str, Any]:
        return {"id": event_id, "schemaName": "rides", "accountId": account,
                "timestamp": f"2024-{'02' if day <= 29 else '03'}-{(day - 1) % 29 + 1:02d}T{hour:02d}:30:00Z",
                "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}

    @rule(events=st.lists(st.tuples(st.sampled_from(["ACME-US", "acme-eu", "GLOBEX-US", "NOBODY"]),
                                    st.integers(1, 58), st.integers(0, 23),
                                    st.sampled_from(["0", "1.5", "2.25", "10"])), min_size=1, max_size=4))
    def ingest(self, events: list[tuple[str, int, int, str]]) -> None:
        batch = []
        for account, day, hour, distance in events:
            event_id = f"e{len(self.ids)}"
            self.ids.append(event_id)
            batch.append(self.ride(event_id, account, day, hour, distance))
        self.post("/ingestBatch", {"events": batch})

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), action=st.sampled_from(["UNDO", "REDO"]))
    def correct(self, data: st.DataObject, action: str) -> None:
        event_id = data.draw(st.sampled_from(self.ids))
        self.post("/events/correction", {"event": self.ride(event_id, "ACME-US", 1, 0, "1")}, action=action)

    @rule()
    def export_and_import(self) -> None:
        state = self.client.get("/__mock/state", headers=AUTH).json()
        r = self.client.put("/__mock/state", json=state, headers=AUTH)
        assert r.status_code == 200, r.text

    @invariant()
    def metrics_count_the_events(self) -> None:
        from mock_server.domain.usage import aggregates as usage
        from mock_server.domain.usage import events as events_module

        by_meter: dict[str, dict[int, Any]] = {m: {} for m in self.meters}
        by_day: dict[int, int] = {}
        for event in self.store.collections[events_module.NAME].items.values():
            if event.status in (usage.REVERTED, usage.IN_PROGRESS):  # EVENTS counts the others by default
                continue
            day = (usage.epoch(event.timestamp) - 1706745600) // 86400  # days since 2024-02-01
            by_day[day] = by_day.get(day, 0) + 1
            for meter, units in zip(event.meter_ids, event.units, strict=True):
                if units is not None:
                    by_meter[meter][day] = by_meter[meter].get(day, 0) + Decimal(units)
        body = {"startTime": "2024-02-01T00:00:00Z", "endTime": "2024-04-01T00:00:00Z", "metricQueries": [
            {"id": "u", "name": "METER_USAGE", "aggregationPeriod": "DAY", "groupBy": "USAGE_METER_ID"},
            {"id": "e", "name": "EVENTS", "aggregationPeriod": "DAY"},
            {"id": "c", "name": "USAGE_FOR_CYCLE", "aggregationPeriod": "WEEK", "groupBy": "USAGE_METER_ID"}]}
        r = self.post("/metrics", body)
        assert r.status_code == 200, r.text
        used, counted, cycles = r.json()["results"]
        got = {d["groupedBy"]["fieldValue"]: d["metricValues"] for d in used["data"]}
        for meter, days in by_meter.items():
            expected = [float(days.get(day, 0)) for day in range(60)]
            assert [float(v) for v in got.get(meter, [0] * 60)] == expected, self.meters[meter]
        [events_series] = counted["data"]
        assert events_series["metricValues"] == [by_day.get(day, 0) for day in range(60)]
        # The running total of the month at each week's end (weeks from Monday 2024-01-29).
        for data in cycles["data"]:
            days = by_meter[data["groupedBy"]["fieldValue"]]
            for n, value in enumerate(data["metricValues"]):
                end = min(n * 7 + 4, 60)  # days since Feb 1 at the week's end, clipped to the range
                start = 0 if end <= 29 else 29
                assert float(value) == float(sum(days.get(d, 0) for d in range(start, end))), (n, data)

    @invariant()
    def aggregates_equal_a_recount(self) -> None:
        from mock_server.domain.usage import aggregates as usage

        kept = usage.aggregates(self.store)
        usage.rebuild(self.store)
        fresh = usage.aggregates(self.store)
        for mine, recount in ((kept.events, fresh.events), (kept.usage, fresh.usage)):
            def named(cube: usage.Cube) -> Any:
                unit = 10 ** cube.scale
                return ({d: {cube.keys[k]: [v / unit for v in h] for k, h in t.items()} for d, t in cube.hours.items()},
                        {d: {cube.keys[k]: v / unit for k, v in t.items()} for d, t in cube.days.items()},
                        {m: {cube.keys[k]: v / unit for k, v in t.items()} for m, t in cube.months.items()},
                        [{b: v / unit for b, v in t.items()} for t in cube.totals])
            a, b = named(mine), named(recount)
            assert a[1:] == b[1:]
            assert a[0] == b[0]  # hourly totals by value, not only by key


TestUsageMachine = UsageMachine.TestCase
TestUsageMachine.settings = machine_settings(_count(100, 15, 8), 30 if DEEP else 15)


class LicenseMachine(Machine, LicenseRules):
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
TestLicenseMachine.settings = machine_settings(_count(120, 15, 6), 40 if DEEP else 20)
