"""The registry of the tenant's resources, in dependency order.

Each resource declares itself next to its rules, in its area's package;
how the API reaches it is declared in :mod:`mock_server.bindings`.
"""
from __future__ import annotations

from .alerts import alerts, incidents, reports, watch
from .billing import engine as billing
from .catalog import add_ons, features, files, settings
from .core.resource import Registry
from .ledger import credits, entitlements, invoices, licenses, payments, purchases, wallets
from .parties import accounts, aliases, contacts, customers, invoice_groups
from .pricing import jobs, schedules
from .pricing import plans as price_plans
from .usage import aggregates as usage
from .usage import event_schemas, events
from .usage import meters as usage_meters

REGISTRY = Registry(
    [
        customers.RESOURCE,
        accounts.RESOURCE,
        invoice_groups.RESOURCE,
        add_ons.RESOURCE,
        aliases.ALIASES,
        aliases.HISTORY_RESOURCE,
        contacts.RESOURCE,
        features.RESOURCE,
        settings.RESOURCE,
        payments.RESOURCE,
        credits.RESOURCE,
        wallets.WALLETS,
        wallets.ENTRIES,
        event_schemas.RESOURCE,
        usage_meters.RESOURCE,
        events.RESOURCE,
        price_plans.RESOURCE,
        schedules.RESOURCE,
        jobs.JOBS,
        jobs.ENTRY_RESOURCE,
        purchases.PURCHASES,
        purchases.PROPOSALS,
        entitlements.RESOURCE,
        invoices.RESOURCE,
        licenses.RESOURCE,
        licenses.NAMED,
        files.RESOURCE,
        alerts.RESOURCE,
        incidents.RESOURCE,
        reports.RESOURCE,
    ],
    derived=[usage.DERIVED, billing.DERIVED],  # billing reads the usage cube: after it
    # alerts hear of usage counted and of clock moves; the ledger consumes an /ingest event's feature credits
    observers=[watch.OBSERVER, entitlements.OBSERVER],
)
