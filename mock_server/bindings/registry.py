"""Every operation the mock serves with state, joined to the resource registry.

The order is the registry's (dependency order); :func:`mock_server.handlers.bind`
checks the result against the spec.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..domain.core.resource import Registry
from ..domain.registry import REGISTRY
from . import alerts, billing, catalog, ledger, parties, pricing, usage
from .binding import Binding
from .call import Handler
from .generic import generic_handlers


class Bindings:
    """Every resource's binding, and the operations bound to no resource (metrics, tokens)."""

    def __init__(self, registry: Registry, bindings: list[Binding], others: dict[str, Handler]) -> None:
        self.registry = registry
        self.bindings = list(bindings)
        self.others = dict(others)
        self.by_resource = {b.resource: b for b in self.bindings}
        unknown = sorted(set(self.by_resource) - set(registry.by_name))
        if unknown:
            raise ValueError(f"bindings of resources the registry does not have: {', '.join(unknown)}")
        if len(self.by_resource) != len(self.bindings):
            raise ValueError("two bindings of one resource")

    def __iter__(self) -> Iterator[Binding]:
        return iter(self.bindings)

    def handlers(self, schemas: dict[str, Any]) -> dict[str, Handler]:
        """Every bound operation: the bindings' own handlers, else the generic ones.

        ``schemas`` are the spec's (resolved) component schemas; generic
        handlers use them to know which fields a record has.
        """
        out: dict[str, Handler] = {}
        for binding in self.bindings:
            resource = self.registry.by_name[binding.resource]
            generic = generic_handlers(resource, binding, schemas.get(resource.schema, {}))
            for op_id in binding.operations().values():
                if op_id not in binding.handlers:
                    out[op_id] = generic[op_id]
            out.update(binding.handlers)
        out.update(self.others)
        # Before each, the billing engine closes the cycles the clock has passed (bindings/billing.py).
        return {op_id: billing.guarded(op_id, handler) for op_id, handler in out.items()}


BINDINGS = Bindings(
    REGISTRY,
    [
        parties.CUSTOMERS,
        parties.ACCOUNTS,
        parties.INVOICE_GROUPS,
        catalog.ADD_ONS,
        parties.ALIASES,
        parties.ALIAS_HISTORY,
        parties.CONTACTS,
        catalog.FEATURES,
        catalog.SETTINGS,
        ledger.PAYMENTS,
        ledger.CREDITS,
        ledger.WALLETS,
        ledger.WALLET_ENTRIES,
        usage.EVENT_SCHEMAS,
        usage.METERS,
        usage.EVENTS,
        pricing.PLANS,
        pricing.SCHEDULES,
        pricing.JOBS,
        pricing.JOB_ENTRIES,
        ledger.PURCHASES,
        ledger.PROPOSALS,
        ledger.ENTITLEMENTS,
        ledger.INVOICES,
        ledger.LICENSES,
        ledger.NAMED_LICENSES,
        catalog.FILES,
        alerts.ALERTS,
        alerts.INCIDENTS,
        alerts.REPORTS,
    ],
    {**parties.TOKENS, **usage.METRICS},
)
