"""The registry of the tenant's resources, in dependency order.

Resources with Togai rules of their own declare themselves next to those
rules (``customers``, ``accounts``, ``invoice_groups``); a simple resource is
declared here and served by the registry's generic handlers.
"""
from __future__ import annotations

from . import accounts, customers, invoice_groups
from .registry import IdScheme, Registry, Resource

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

REGISTRY = Registry([customers.RESOURCE, accounts.RESOURCE, invoice_groups.RESOURCE, ADD_ONS])
