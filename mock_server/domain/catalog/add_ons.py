"""Add-ons: fixed fees, licenses and named licenses that price plans charge for.

No rules beyond the declaration: Togai shows the billable name when there is one.
"""
from __future__ import annotations

from ..core.resource import IdScheme, Resource

RESOURCE = Resource(
    name="addOns",
    schema="AddOn",
    ids=IdScheme("addon"),
    derived={"displayName": lambda r: r.get("billableName") or r["name"]},
)
