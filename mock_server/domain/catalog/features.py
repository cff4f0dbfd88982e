"""Features: what entitlements grant; linked to event schemas by ``schemaAssociations``."""
from __future__ import annotations

from typing import Any

from ..core.resource import IdScheme, Resource


def schema_count(record: dict[str, Any]) -> int:
    """How many event schemas a feature is linked to (each counted once)."""
    return len({a["schemaName"] for a in record["schemaAssociations"]})


RESOURCE = Resource(
    name="features",
    schema="Feature",
    ids=IdScheme("feature"),
    derived={"displayName": lambda r: r.get("billableName") or r["name"]},
)
