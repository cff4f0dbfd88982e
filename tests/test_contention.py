"""Many concurrent clients against the real server: no lost updates, no double claims."""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from serverproc import running_server

AUTH = {"Authorization": "Bearer race"}
CLIENTS = 24


@pytest.fixture
def server() -> Iterator[str]:
    with running_server("--log", "quiet", "--self-check") as (url, _):
        yield url


async def _all(requests: list[tuple[str, str, dict | None]], url: str) -> list[httpx.Response]:
    """Send every request at once, each on its own connection."""
    clients = [httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) for _ in requests]
    try:
        return await asyncio.gather(*(c.request(m, p, json=b) for c, (m, p, b) in zip(clients, requests, strict=False)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def _group(name: str, *accounts: str) -> dict:
    return {"name": name, "email": "g@x.io", "dailyInvoiceConsolidation": True, "accountIds": list(accounts), "address": {}}


def test_racing_group_creates_for_the_same_accounts_one_wins(server: str) -> None:
    requests = [("POST", "/invoice_groups", _group(f"G{i}", "ACME-US", "GLOBEX-US")) for i in range(CLIENTS)]
    statuses = Counter(r.status_code for r in asyncio.run(_all(requests, server)))
    assert statuses == {200: 1, 400: CLIENTS - 1}
    groups = httpx.get(f"{server}/invoice_groups", headers=AUTH).json()["data"]
    assert sorted(g["accountsCount"] for g in groups) == [2, 2]  # Europe and the winner


def test_racing_add_accounts_into_different_groups_one_wins(server: str) -> None:
    owners = [f"R{i}" for i in range(CLIENTS)]
    for owner in owners:
        httpx.post(f"{server}/accounts", headers=AUTH, json={"id": owner, "customerId": "ACME", "name": f"Owner {owner}"})
    group_ids = [httpx.post(f"{server}/invoice_groups", headers=AUTH, json=_group(o, o)).json()["id"] for o in owners]
    requests = [("POST", f"/invoice_groups/{g}/add_accounts", {"accountIds": ["GLOBEX-US"]}) for g in group_ids]
    statuses = Counter(r.status_code for r in asyncio.run(_all(requests, server)))
    assert statuses == {200: 1, 400: CLIENTS - 1}
    details = httpx.get(f"{server}/accounts/GLOBEX-US?includeGroupDetails=true", headers=AUTH).json()["invoiceGroupDetails"]
    counts = {g: httpx.get(f"{server}/invoice_groups/{g}", headers=AUTH).json()["accountsCount"] for g in group_ids}
    assert counts[details["id"]] == 2
    assert sum(counts.values()) == CLIENTS + 1


def test_racing_creates_of_one_customer_id_one_wins(server: str) -> None:
    body = {"id": "RACE", "name": "Race Inc", "primaryEmail": "r@x.io", "address": {}, "account": {"id": "RACE-1", "name": "Race one"}}
    statuses = Counter(r.status_code for r in asyncio.run(_all([("POST", "/customers", body)] * CLIENTS, server)))
    assert statuses == {201: 1, 400: CLIENTS - 1}


def test_concurrent_patches_of_different_fields_all_land(server: str) -> None:
    changes = {
        "name": "Concurrent name",
        "primaryEmail": "concurrent@acme.example",
        "netTermDays": 77,
        "metadata": {"race": "won"},
        "tags": ["fast"],
        "billingInformation": {"emailRecipients": ["a@acme.example"]},
        "address": {"city": "Race City"},
        "status": "DRAFT",
        "invoiceCurrency": "CAD",
    }
    requests = [("PATCH", "/accounts/ACME-US", {key: value}) for key, value in changes.items()] * 3
    assert {r.status_code for r in asyncio.run(_all(requests, server))} == {200}
    account = httpx.get(f"{server}/accounts/ACME-US", headers=AUTH).json()
    for key, value in changes.items():
        assert account[key] == value
