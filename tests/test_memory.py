"""The cyclic collector around bulk work: paused, then what the work made is frozen (no 100 ms pass
right after a clock move), and thawed again where state is dropped (no tenant kept for ever)."""
from __future__ import annotations

import gc
import weakref

from mock_server import Config, create_app
from mock_server.domain.core.memory import collector_paused, thaw


def test_a_paused_stretch_leaves_nothing_young_for_the_next_pass() -> None:
    gc.collect()
    with collector_paused():
        made = [[i] for i in range(50_000)]  # as a clock move makes invoices: many objects, no cycles
    # Left young they all fell to the first pass after the pause (100 ms after a year's clock move).
    assert gc.get_count()[0] < 1_000
    assert gc.get_freeze_count() >= len(made)
    thaw()
    assert gc.get_freeze_count() == 0


def test_a_dropped_tenant_is_freed_although_bulk_work_froze_it() -> None:
    app = create_app(Config(log="quiet", tenancy="token", fixtures=None))
    tenants = app.state.tenants
    tenant = tenants.resolve("frozen-tenant")
    assert tenant is not None
    store = weakref.ref(tenant.store)
    with collector_paused():  # an ingestion or clock move in another tenant freezes this one too
        pass
    tenants.drop(tenant)
    del tenant
    gc.collect()
    assert store() is None  # its store is in reference cycles: frozen, it would stay for ever


def test_accounts_made_through_the_api_share_their_few_repeated_values(api: object) -> None:
    # 52 bytes an account: 6 MB of the 100 000-account figure in make bench.
    for i in range(2):
        made = api.post("/accounts", json={"id": f"MEM-{i}", "customerId": "ACME", "name": f"Memory {i}",  # type: ignore[attr-defined]
                                           "invoiceCurrency": "EUR"})
        assert made.status_code == 201, made.text
    stored = api.app.state.store.collections["accounts"]  # type: ignore[attr-defined]
    assert stored.get("MEM-0")["invoiceCurrency"] is stored.get("MEM-1")["invoiceCurrency"]
    assert stored.get("MEM-0")["status"] is stored.get("MEM-1")["status"]
