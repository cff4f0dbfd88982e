"""The registry of the tenant's resources, in dependency order.

Resources with Togai rules of their own declare themselves next to those
rules (``customers``, ``accounts``, ``invoice_groups``); a simple resource is
declared here and served by the registry's generic handlers.
"""
from __future__ import annotations

from typing import Any

from .catalog import files, settings
from .core.resource import IdScheme, Registry, Resource
from .ledger import credits, entitlements, invoices, licenses, payments, purchases, wallets
from .parties import accounts, aliases, contacts, customers, invoice_groups, tokens
from .pricing import jobs, schedules
from .pricing import plans as price_plans
from .usage import aggregates as usage
from .usage import event_schemas, events
from .usage import meters as usage_meters

ADD_ONS = Resource(
    name="addOns",
    schema="AddOn",
    path_param="addon_id",
    ids=IdScheme("addon"),
    create="createAddOn",
    read="getAddOn",
    list="getAddOns",
    update="updateAddOn",
    delete="deleteAddOn",  # archives: AddOn.status has ARCHIVED
    # Togai shows the billable name when there is one.
    derived={"displayName": lambda r: r.get("billableName") or r["name"]},
)



def feature_list_item(record: dict[str, Any]) -> dict[str, Any]:
    """A feature as ``GET /features`` lists it: no associations, the number of event schemas linked instead."""
    out = {k: v for k, v in record.items() if k != "schemaAssociations"}
    out["schemaCount"] = len({a["schemaName"] for a in record["schemaAssociations"]})
    return out


FEATURES = Resource(
    name="features",
    schema="Feature",
    path_param="feature_id",
    ids=IdScheme("feature"),
    create="createFeature",
    read="getFeature",
    list="getFeatures",
    update="updateFeature",  # Togai has no way to delete or archive a feature
    derived={"displayName": lambda r: r.get("billableName") or r["name"]},
    list_item=feature_list_item,
)

REGISTRY = Registry(
    [
        customers.RESOURCE,
        accounts.RESOURCE,
        invoice_groups.RESOURCE,
        ADD_ONS,
        aliases.ALIASES,
        aliases.HISTORY_RESOURCE,
        contacts.RESOURCE,
        FEATURES,
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
    ],
    derived=[usage.DERIVED],
    computed=tokens.HANDLERS,
)
