"""Incidents: the breaches of alerts, and their status.

An incident is ACTIVE when its alert opens it; a person closes it (CLOSED,
:func:`close`), or, for templates that resolve themselves, the alert does
once its condition no longer holds (RESOLVED). Those are the only moves:
a CLOSED or RESOLVED incident moves no more (409).
"""
from __future__ import annotations

from typing import Any

from ..core.cursors import paginate, paginate_positions
from ..core.errors import Conflict, Violation
from ..core.lookup import require
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store

NAME = "incidents"
IDS = IdScheme("incident")
# alert id -> positions of its incidents, ascending (incidents are never removed): the last is its latest.
BY_ALERT = "incidents_by_alert"
ACTIVE, RESOLVED, CLOSED = "ACTIVE", "RESOLVED", "CLOSED"
# The moves PUT /incidents/{id}/status may ask for: from -> to.
MOVES = {ACTIVE: {CLOSED}}


def require_incident(store: Store, incident_id: str) -> Record:
    """The incident ``incident_id``, or NotFound at ``incident_id``."""
    found: Record = require(store, NAME, incident_id, "incident_id", "incident")
    return found


def latest(store: Store, alert_id: str) -> Record | None:
    """The alert's most recent incident, if it has one (from the index)."""
    positions = store.indexes[BY_ALERT].get(alert_id)
    if not positions:
        return None
    collection = store.collections[NAME]
    found: Record = collection.items[collection.key_at(positions[-1])]
    return found


def open_incident(store: Store, alert: Record, report: dict[str, Any], valid_until: str | None, at: str) -> Record:
    """Store a new ACTIVE incident of ``alert`` (its current version) with ``report`` as its report data."""
    incident: Record = {
        "id": store.new_id(IDS, store.collections[NAME]),
        "alertId": alert["id"],
        "alertVersion": alert["version"],
        "alertTemplateId": alert["alertTemplateId"],
        "reportData": report,
        "status": ACTIVE,
        "lastCheckedAt": at,
        "createdAt": at,
        "updatedAt": at,
    }
    if valid_until is not None:
        incident["validUntil"] = valid_until
    _insert(store, incident)
    return incident


def close(store: Store, incident_id: str, status: str) -> Record:
    """``PUT /incidents/{id}/status``: ACTIVE -> CLOSED; any other move is a :class:`Conflict`."""
    incident = require_incident(store, incident_id)
    if status not in MOVES.get(incident["status"], set()):
        raise Conflict.at("status", f"incident {incident_id!r} is {incident['status']} and cannot become {status} "
                                    f"(only an ACTIVE incident can be closed)")
    incident["status"] = status
    incident["updatedAt"] = store.clock.now()
    return incident


def list_incidents(store: Store, status: str | None, alert_id: str | None, next_token: str | None,
                   page_size: int | None) -> tuple[list[Record], dict[str, Any]]:
    """A page of incidents, oldest first, by status and alert (that one from the index)."""
    collection = store.collections[NAME]

    def keep(incident: Record) -> bool:
        return status is None or incident["status"] == status

    if alert_id is not None:
        positions = store.indexes[BY_ALERT].get(alert_id, [])
        return paginate_positions(collection, positions, next_token, page_size, context=False, keep=keep)
    return paginate(collection, next_token, page_size, context=False, keep=keep)


def _insert(store: Store, incident: Record) -> None:
    collection = store.collections[NAME]
    collection.add(incident["id"], incident)
    position = collection.position_of(incident["id"])
    assert position is not None  # just added
    store.indexes[BY_ALERT].setdefault(incident["alertId"], []).append(position)


def check_import(ctx: ImportContext) -> None:
    """An alert has at most one ACTIVE incident, and names the template of its alert."""
    alerts = ctx.ids("alerts")
    active: dict[str, int] = {}
    for i, incident in enumerate(ctx.data.get(NAME, [])):
        where = f"{NAME}[{i}]"
        alert = alerts.get(incident.get("alertId", ""))
        if alert is not None and alert.get("alertTemplateId") != incident.get("alertTemplateId"):
            ctx.problems.append(Violation(f"{where}.alertTemplateId", "is not its alert's template"))
        if incident.get("status") == ACTIVE and active.setdefault(incident.get("alertId", ""), i) != i:
            ctx.problems.append(Violation(f"{where}.status", f"its alert already has an ACTIVE incident "
                                                             f"({NAME}[{active[incident['alertId']]}])"))


def restore(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported incident, indexed under its alert."""
    incident = dict(record)
    _insert(store, incident)
    store.reserved.add(incident["id"])


RESOURCE = Resource(
    name=NAME,
    schema="Incident",
    ids=IDS,
    references={"alertId": "alerts"},
    indexes=(BY_ALERT,),
    exchange=Exchange(check_import=check_import, restore=restore),
)
