"""Shared fixtures: an in-process app over the bundled spec and demo tenant."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

# Togai's client against a server subprocess: the ``sdk`` fixture.
from togai_sdk import sdk, togai_server  # noqa: E402,F401

from mock_server import Config, create_app

ROOT = Path(__file__).resolve().parents[1]
AUTH = {"Authorization": "Bearer test-token"}


class Api:
    """A TestClient that sends a bearer token unless told otherwise."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.app: Any = client.app

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any):
        headers = {**(AUTH if auth else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kw: Any):
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any):
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any):
        return self.request("PATCH", path, **kw)

    def put(self, path: str, **kw: Any):
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any):
        return self.request("DELETE", path, **kw)

    def state(self) -> Any:
        """The exported tenant and the id generator's state, for "nothing changed" checks."""
        store = self.app.state.store
        return store.export(), store.rng.getstate()


def make_api(**config: Any) -> Iterator[Api]:
    app = create_app(Config(seed=7, self_check=True, **config))
    # The control API answers loopback Host names only (DNS rebinding); "testserver" is not one.
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=True) as client:
        yield Api(client)


@pytest.fixture(scope="session")
def _demo_app() -> Iterator[Api]:
    # One app per test process: building one costs ~75 ms, a reset ~1 ms.
    yield from make_api()


@pytest.fixture(scope="session")
def _empty_app() -> Iterator[Api]:
    yield from make_api(fixtures=None)


def fresh(api: Api) -> Api:
    """``api`` back to the state its app started in: records, ids, clock, journal, overrides.

    A reset restores the snapshot taken right after the fixtures loaded, the
    id generator and the seeded clock included, so a test sees exactly what a
    new app would show (``test_shared_app_is_as_new`` holds this).
    """
    api.app.state.control.reset()
    return api


@pytest.fixture
def api(_demo_app: Api) -> Api:
    """The demo tenant, seeded, with the response self-check on (a shared app, reset for each test)."""
    return fresh(_demo_app)


@pytest.fixture
def empty_api(_empty_app: Api) -> Api:
    """An empty tenant, seeded, with the response self-check on (a shared app, reset for each test)."""
    return fresh(_empty_app)


CLOCK_START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="session")
def _clock_app() -> Iterator[Api]:
    yield from make_api(clock=CLOCK_START)


@pytest.fixture
def capi(_clock_app: Api) -> Api:
    """The demo tenant on a test clock frozen at 2024-01-01T00:00Z, reset for each test (the clock too)."""
    return fresh(_clock_app)


def new_customer(api: Api, cid: str, **extra: Any) -> dict[str, Any]:
    body = {"id": cid, "name": f"Customer {cid}", "primaryEmail": f"{cid.lower()}@example.com", "address": {"country": "US"}}
    r = api.post("/customers", json={**body, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def new_account(api: Api, aid: str, customer: str = "ACME", currency: str = "USD", **extra: Any) -> dict[str, Any]:
    body = {"id": aid, "customerId": customer, "name": f"Account {aid}", "invoiceCurrency": currency}
    r = api.post("/accounts", json={**body, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def group_body(*account_ids: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "Group",
        "email": "billing@example.com",
        "dailyInvoiceConsolidation": True,
        "accountIds": list(account_ids),
        "address": {"line1": "1 Main St", "country": "US"},
    }
    return {**body, **extra}
