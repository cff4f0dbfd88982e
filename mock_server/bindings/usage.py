"""Which operation reaches which rule, for event schemas, usage meters, events and metrics."""
from __future__ import annotations

from ..domain.usage import aggregates, event_schemas, events, meters
from .binding import Binding

EVENT_SCHEMAS = Binding(
    resource=event_schemas.NAME,
    path_param=event_schemas.PARAM,
    path_field="name",
    create="createEventSchema",
    read="getEventSchema",
    list="listEventSchemas",
    update="updateEventSchema",
    delete="deleteEventSchema",  # archives
    fixture_params=("status",),  # a fixture entry says which status the demo schema is in
    handlers={
        "createEventSchema": event_schemas.create,
        "getEventSchema": event_schemas.read,
        "listEventSchemas": event_schemas.list_,
        "listEventSchemaVersions": event_schemas.list_versions,
        "updateEventSchema": event_schemas.update,
        "deleteEventSchema": event_schemas.delete,
        "activateEventSchema": event_schemas.activate,
        "deactivateEventSchema": event_schemas.deactivate,
    },
)

EVENTS = Binding(
    resource=events.NAME,
    path_param="event_id",
    fixture_op="ingest",  # a fixture entry is an ingest request; the answer is not the record
    read="getSingleEvent",
    list="getEvents",
    handlers={
        "ingest": events.ingest,
        "ingestBatch": events.ingest_batch,
        "getSingleEvent": events.get_event,
        "getEvents": events.list_events,
        "eventCorrection": events.correct,
    },
)

METERS = Binding(
    resource=meters.NAME,
    path_param=meters.PARAM,
    create="createUsageMeter",
    read="getUsageMeter",
    list="getUsageMetersForEventSchema",
    update="updateUsageMeter",
    delete="deleteUsageMeter",  # archives
    fixture_params=("status",),  # a fixture entry says which status the demo meter is in
    handlers={
        "createUsageMeter": meters.create,
        "getUsageMeter": meters.read,
        "getUsageMetersForEventSchema": meters.list_,
        "updateUsageMeter": meters.update,
        "deleteUsageMeter": meters.delete,
        "activateUsageMeter": meters.activate,
        "deactivateUsageMeter": meters.deactivate,
    },
)

# Read from the pre-aggregated usage (derived state), not from a resource.
METRICS = {"getMetrics": aggregates.get_metrics}
