"""Togai's built-in event schemas, always there: ``togai-usage`` and ``togai-named-license``.

As Togai's ingestion reference documents them ("Pre-Defined event types
other than raw events", docs.togai.com/api-reference/event-ingestion):

- ``togai-usage`` writes usage straight to a usage meter: dimension
  ``usage_meter_id``, attribute ``usage``. The event is METERED with the
  ``usage`` value as the meter's units when the meter is ACTIVE;
  ``INGESTION_COMPLETED_NO_MATCHING_METERS`` when it is not;
  ``INGESTION_FAILED`` without the dimension or the attribute, or for an
  unknown meter; ``UNITS_INVALID`` for a value out of bounds.
- ``togai-named-license``: dimensions ``license_id`` (an add-on, the
  license) and ``name``, attribute ``action`` 1 (add) or -1 (remove). A valid
  one completes ``INGESTION_COMPLETED_EVENT_NOT_METERED`` (the mock keeps no
  named licenses); anything else is ``INGESTION_FAILED_INVALID_NAMED_LICENSE_EVENT``.

They are no records: never listed, exported or deletable; their names are
reserved (:data:`.event_schemas.BUILTIN`).
"""
from __future__ import annotations

from ..core.store import Store
from . import metering, statuses
from . import meters as usage_meters
from .event_schemas import BUILTIN, NAMED_LICENSE, USAGE

NAMES = BUILTIN
Outcome = tuple[str, tuple[str, ...], tuple[str | None, ...]]  # status, meter ids, units


def process(store: Store, schema: str, attributes: tuple[str | None, ...], dimensions: tuple[str, ...]) -> Outcome:
    """The outcome of an event of a built-in schema (``attributes``, ``dimensions``: an event's flat tuples)."""
    values = {attributes[i]: attributes[i + 1] for i in range(0, len(attributes), 3)}
    dims = {dimensions[i]: dimensions[i + 1] for i in range(0, len(dimensions), 2)}
    if schema == USAGE:
        meter_id, usage = dims.get("usage_meter_id"), values.get("usage")
        meter = store.collections[usage_meters.NAME].get(meter_id) if meter_id is not None else None
        if meter is None or usage is None:
            return statuses.FAILED, (), ()
        if not metering.bounded_value(usage):
            return statuses.UNITS_INVALID, (), ()
        if meter["status"] != "ACTIVE":
            return statuses.NO_METERS, (), ()
        return statuses.METERED, (meter["id"],), (usage,)
    assert schema == NAMED_LICENSE
    license_id, action = dims.get("license_id"), values.get("action")
    if (license_id is None or store.collections["addOns"].get(license_id) is None or not dims.get("name")
            or action not in ("1", "-1")):
        return statuses.INVALID_LICENSE, (), ()
    return statuses.NOT_METERED, (), ()
