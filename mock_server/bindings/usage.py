"""Which operation reaches which rule, for event schemas, usage meters, events and metrics.

Each handler reads the validated request, calls the domain's rule with typed
arguments, and shapes its result as the API answers it.
"""
from __future__ import annotations

from typing import Any

from ..domain.core.errors import Invalid
from ..domain.core.store import Record, Store
from ..domain.usage import aggregates, event_schemas, events, meters
from .binding import Binding, FixtureShape
from .call import Answer, Call

# -- event schemas ---------------------------------------------------------------------------


def _schema_name(call: Call) -> str:
    name: str = call.params[event_schemas.PARAM]
    return name


def create_event_schema(store: Store, call: Call) -> dict[str, Any]:
    """``POST /event_schema``: version 1, DRAFT (a fixture entry may ask another status)."""
    return event_schemas.render(event_schemas.create(store, call.body, call.params.get("status")))


def get_event_schema(store: Store, call: Call) -> dict[str, Any]:
    """``GET /event_schema/{name}``: the newest version, or the one ``version`` asks for."""
    return event_schemas.render(event_schemas.read(store, _schema_name(call), call.params.get("version")))


def list_event_schemas(store: Store, call: Call) -> dict[str, Any]:
    """``GET /event_schema``: the newest version of each schema with its number of usage meters."""
    records, extra = event_schemas.newest_page(store, call.params.get("status"), call.params.get("nextToken"),
                                               call.params.get("pageSize"))
    return {"data": [{**event_schemas.render(r), "usageMetersCount": meters.count_of_schema(store, r["name"])}
                     for r in records], **extra}


def list_event_schema_versions(store: Store, call: Call) -> dict[str, Any]:
    """``GET /event_schema/{name}/versions``: every version, oldest first."""
    return {"data": [event_schemas.render(r) for r in event_schemas.all_versions(store, _schema_name(call))]}


def update_event_schema(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /event_schema/{name}``: a DRAFT in place; otherwise a new DRAFT version."""
    return event_schemas.render(event_schemas.update(store, _schema_name(call), call.body))


def activate_event_schema(store: Store, call: Call) -> dict[str, Any]:
    """``POST /event_schema/{name}/activate``."""
    return event_schemas.render(event_schemas.activate(store, _schema_name(call)))


def deactivate_event_schema(store: Store, call: Call) -> dict[str, Any]:
    """``POST /event_schema/{name}/deactivate``: refused while one of its meters is ACTIVE."""
    return event_schemas.render(meters.deactivate_schema(store, _schema_name(call)))


def delete_event_schema(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /event_schema/{name}``: archives the newest version."""
    event_schemas.archive(store, _schema_name(call))
    return {"success": True}


EVENT_SCHEMAS = Binding(
    resource=event_schemas.NAME,
    path_param=event_schemas.PARAM,
    path_field="name",
    create="createEventSchema",
    read="getEventSchema",
    list="listEventSchemas",
    update="updateEventSchema",
    delete="deleteEventSchema",  # archives
    fixtures=FixtureShape(
        params=("status",),  # a fixture entry says which status the demo schema is in
    ),
    handlers={
        "createEventSchema": create_event_schema,
        "getEventSchema": get_event_schema,
        "listEventSchemas": list_event_schemas,
        "listEventSchemaVersions": list_event_schema_versions,
        "updateEventSchema": update_event_schema,
        "deleteEventSchema": delete_event_schema,
        "activateEventSchema": activate_event_schema,
        "deactivateEventSchema": deactivate_event_schema,
    },
)

# -- events ----------------------------------------------------------------------------------


def ingest(store: Store, call: Call) -> dict[str, Any]:
    """``POST /ingest``: 202 once the event is accepted; its outcome is in ``GET /events/{id}``."""
    events.ingest(store, call.body["event"])
    return {"success": True}


def ingest_batch(store: Store, call: Call) -> Any:
    """``POST /ingestBatch``: 202 when every event is accepted, 207 naming the refused ones, 400 if none is."""
    payloads = call.body["events"]
    refused = events.ingest_batch(store, payloads)
    if not refused:
        return {"success": True}
    return Answer({
        "success": False,
        "statusCode": 207,
        "message": f"{len(refused)} of {len(payloads)} events were not accepted",
        "details": {v.field: v.rule for v in refused.values()},
    }, status=207)


def get_event(store: Store, call: Call) -> dict[str, Any]:
    """``GET /events/{event_id}``: the event with its outcome and pipeline details."""
    return {"events": [events.render(store, events.get(store, call.params["event_id"]), pipeline=True)]}


def list_events(store: Store, call: Call) -> dict[str, Any]:
    """``GET /events``: oldest first, filtered by ``account_id`` (id or alias), ``schema_name`` and ``status``."""
    found, extra = events.page(store, call.params.get("account_id"), call.params.get("schema_name"),
                               call.params.get("status"), call.params.get("nextToken"), call.params.get("pageSize"))
    return {"events": [events.render(store, e) for e in found], **extra}


def correct_event(store: Store, call: Call) -> dict[str, Any]:
    """``POST /events/correction``: each corrected event as it is now, with what the correction did and why.

    The body's ``event`` names one event (the contract's form); Togai's filters (``account_id`` and one of
    ``id``, ``event_id``, ``event_source_time``, ``created_at``) name up to 30, or all of them with ``async``.
    """
    filters = {name: call.params[name] for name in events.FILTERS if call.params.get(name) is not None}
    if not filters:
        done = [events.correct(store, call.params["action"], call.body.get("event"))]
    else:
        if call.body.get("event") is not None:
            raise Invalid.at("event", "names one event: send it without filters, or filters without it")
        done, _ = events.correct_matching(store, call.params["action"], filters, bool(call.params.get("async")))
    return {"data": [{**events.render(store, c.event), "status": c.status, "reason": c.reason} for c in done]}


EVENTS = Binding(
    resource=events.NAME,
    path_param="event_id",
    fixtures=FixtureShape(
        op="ingest",  # a fixture entry is an ingest request; the answer is not the record
    ),
    read="getSingleEvent",
    list="getEvents",
    handlers={
        "ingest": ingest,
        "ingestBatch": ingest_batch,
        "getSingleEvent": get_event,
        "getEvents": list_events,
        "eventCorrection": correct_event,
    },
)

# -- usage meters ----------------------------------------------------------------------------


def render_meter(record: Record) -> dict[str, Any]:
    """A meter as the API shows it: without the fields it keeps beside the schema (its eventSchemaName)."""
    return {k: v for k, v in dict(record).items() if k not in meters.HIDDEN}


def _meter_id(call: Call) -> str:
    meter_id: str = call.params[meters.PARAM]
    return meter_id


def create_usage_meter(store: Store, call: Call) -> dict[str, Any]:
    """``POST /usage_meters``: a DRAFT meter (a fixture entry may ask another status)."""
    return render_meter(meters.create(store, call.body, call.params.get("status")))


def get_usage_meter(store: Store, call: Call) -> dict[str, Any]:
    """``GET /usage_meters/{id}``; with ``includeSchema=true``, the newest version of its event schema too."""
    record = meters.require(store, _meter_id(call))
    shown = render_meter(record)
    if call.params.get("includeSchema"):
        schema = event_schemas.latest(store, record["eventSchemaName"])
        if schema is not None:
            shown["eventSchema"] = event_schemas.render(schema)
    return shown


def list_usage_meters(store: Store, call: Call) -> dict[str, Any]:
    """``GET /usage_meters``, filtered by ``status`` and ``aggregations``."""
    records, extra = meters.page(store, call.params.get("status"), call.params.get("aggregations"),
                                 call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": [render_meter(r) for r in records], **extra}


def update_usage_meter(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /usage_meters/{id}``: the same checks as creation on the changed meter."""
    return render_meter(meters.update(store, _meter_id(call), call.body))


def activate_usage_meter(store: Store, call: Call) -> dict[str, Any]:
    """``POST /usage_meters/{id}/activate``."""
    return render_meter(meters.activate(store, _meter_id(call)))


def deactivate_usage_meter(store: Store, call: Call) -> dict[str, Any]:
    """``POST /usage_meters/{id}/deactivate``."""
    return render_meter(meters.deactivate(store, _meter_id(call)))


def delete_usage_meter(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /usage_meters/{id}``: archives the meter."""
    meters.archive(store, _meter_id(call))
    return {"success": True}


METERS = Binding(
    resource=meters.NAME,
    path_param=meters.PARAM,
    create="createUsageMeter",
    read="getUsageMeter",
    list="getUsageMetersForEventSchema",
    update="updateUsageMeter",
    delete="deleteUsageMeter",  # archives
    fixtures=FixtureShape(
        params=("status",),  # a fixture entry says which status the demo meter is in
    ),
    handlers={
        "createUsageMeter": create_usage_meter,
        "getUsageMeter": get_usage_meter,
        "getUsageMetersForEventSchema": list_usage_meters,
        "updateUsageMeter": update_usage_meter,
        "deleteUsageMeter": delete_usage_meter,
        "activateUsageMeter": activate_usage_meter,
        "deactivateUsageMeter": deactivate_usage_meter,
    },
)

# -- metrics ---------------------------------------------------------------------------------


def get_metrics(store: Store, call: Call) -> dict[str, Any]:
    """``POST /metrics``: every query of the request, checked first, then summed from the aggregates."""
    return {"results": [{"id": r.id, "name": r.name, "data": r.series}
                        for r in aggregates.metrics(store, call.body)]}


# Read from the pre-aggregated usage (derived state), not from a resource.
METRICS = {"getMetrics": get_metrics}
