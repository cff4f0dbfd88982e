"""Handlers of alerts, alert templates, incidents and reports: requests to the rules of
:mod:`mock_server.domain.alerts`, answers in the API's shapes."""
from __future__ import annotations

from typing import Any

from ..domain.alerts import alerts, incidents, reports, templates, watch
from ..domain.core.store import Store
from .binding import Binding
from .call import Call


def list_templates(store: Store, call: Call) -> dict[str, Any]:
    """``GET /alert_templates``: the built-in templates, in pages."""
    page, extra = templates.page(call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": page, **extra}


def get_template(store: Store, call: Call) -> dict[str, Any]:
    """``GET /alert_templates/{id}``."""
    return templates.render(templates.require_template(call.params["alert_template_id"]))


def create_alert(store: Store, call: Call) -> dict[str, Any]:
    """``POST /alerts``: made from its template and evaluated at once."""
    return alerts.render(watch.create_alert(store, call.body))


def update_alert(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /alerts/{id}``: the fields sent change, the version goes up, evaluated again."""
    return alerts.render(watch.update_alert(store, call.params["alert_id"], call.body))


def list_alerts(store: Store, call: Call) -> dict[str, Any]:
    """``GET /alerts``: oldest first, by ``status``, ``alert_template_id`` and ``account_id``."""
    p = call.params
    page, extra = alerts.list_alerts(store, p.get("status"), p.get("alert_template_id"), p.get("account_id"),
                                     p.get("nextToken"), p.get("pageSize"))
    return {"data": [alerts.render(a) for a in page], **extra}


def list_incidents(store: Store, call: Call) -> dict[str, Any]:
    """``GET /incidents``: oldest first, by ``status`` and ``alert_id``."""
    p = call.params
    page, extra = incidents.list_incidents(store, p.get("status"), p.get("alert_id"), p.get("nextToken"),
                                           p.get("pageSize"))
    return {"data": [dict(i) for i in page], **extra}


def get_incident(store: Store, call: Call) -> dict[str, Any]:
    """``GET /incidents/{id}``."""
    return dict(incidents.require_incident(store, call.params["incident_id"]))


def update_incident_status(store: Store, call: Call) -> dict[str, Any]:
    """``PUT /incidents/{id}/status``: ACTIVE -> CLOSED, else 409."""
    return dict(incidents.close(store, call.params["incident_id"], call.body["status"]))


def list_reports(store: Store, call: Call) -> dict[str, Any]:
    """``GET /reports``: ALL, the ORGANIZATION's or one account's (ACCOUNTS with ``account_id``)."""
    p = call.params
    page, extra = reports.list_reports(store, p.get("fetchFor") or "ALL", p.get("account_id"),
                                       p.get("nextToken"), p.get("pageSize"))
    return {"data": [dict(r) for r in page], **extra}


ALERTS = Binding(
    resource=alerts.NAME,
    path_param="alert_id",
    create="createAlert",
    list="listAlerts",
    update="updateAlert",
    handlers={
        "createAlert": create_alert,
        "listAlerts": list_alerts,
        "updateAlert": update_alert,
        "getAlertTemplates": list_templates,
        "getAlertTemplate": get_template,
    },
)

INCIDENTS = Binding(
    resource=incidents.NAME,
    path_param="incident_id",
    read="getIncident",
    list="getIncidents",
    handlers={
        "getIncident": get_incident,
        "getIncidents": list_incidents,
        "updateIncidentStatus": update_incident_status,
    },
)

REPORTS = Binding(
    resource=reports.NAME,
    path_param="report_id",
    list="listReports",
    handlers={"listReports": list_reports},
)
