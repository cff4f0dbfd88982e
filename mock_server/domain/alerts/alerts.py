"""Alerts: a template with its parameters, watching one entity of one account.

An alert's details are kept as they were sent: each value bare (Togai's
documentation) or wrapped as ``{"value": ...}`` (the only form Togai's client
can send), and shown back in that form. :func:`value_of` reads either.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..core.cursors import paginate, paginate_positions
from ..core.errors import Invalid, Violation
from ..core.lookup import require
from ..core.money import exact
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import parse_time, stamp
from . import templates
from .templates import Template

NAME = "alerts"
IDS = IdScheme("alert")
# account id -> positions of the alerts it owns, ascending (alerts are never removed).
BY_ACCOUNT = "alerts_by_account"
# alert id -> True, for the ACTIVE alerts: what a clock move evaluates, without a pass over every alert.
ACTIVE = "alerts_active"
# A hidden field of the stored alert: whether its condition held at the last evaluation (a breach
# opens one incident, however long it lasts; a new one needs the condition to clear first).
IN_BREACH = "inBreach"
DETAILS = ("entityDetails", "ownerDetails", "parameters")
MIN_INTERVAL = 30  # minutes; Togai: "The minimum interval is 30 minutes with increments of 30 minutes"


def value_of(detail: Any) -> Any:
    """A detail's value, bare or wrapped as ``{"value": ...}``."""
    return detail["value"] if isinstance(detail, dict) else detail


def wrapped(alert: Record) -> bool:
    """Whether the alert's threshold was sent wrapped (its incidents' report data is written the same way)."""
    return isinstance((alert.get("parameters") or {}).get("threshold"), dict)


def account_of(alert: Record) -> str:
    """The id of the account that owns the alert (every template the mock serves has one)."""
    return str(value_of(alert["ownerDetails"]["accountId"]))


def threshold_of(alert: Record) -> Decimal:
    """The alert's threshold, exactly."""
    return exact(value_of(alert["parameters"]["threshold"]))


def template_of(alert: Record) -> Template:
    """The alert's template."""
    return templates.BY_ID[alert["alertTemplateId"]]


def valid_until(alert: Record) -> datetime | None:
    """When the alert's validity ends (``validity`` minutes after creation); None: valid forever."""
    minutes = alert.get("validity")
    if minutes is None:
        return None
    try:
        return parse_time(alert["createdAt"]) + timedelta(minutes=minutes)
    except OverflowError:  # past year 9999: valid as long as the mock can tell
        return None


def render(alert: Record) -> dict[str, Any]:
    """The alert as the API shows it (without its hidden breach flag)."""
    return {k: v for k, v in alert.items() if k != IN_BREACH}


def _interval_problem(interval: int, field: str) -> Violation | None:
    if interval < MIN_INTERVAL or interval % MIN_INTERVAL:
        return Violation(field, f"must be at least {MIN_INTERVAL} minutes, in steps of {MIN_INTERVAL}")
    return None


def _detail_problems(store: Store, template: Template, alert: dict[str, Any], where: str) -> list[Violation]:
    """What the template asks of the alert's details that they do not give (or give beyond it)."""
    problems: list[Violation] = []
    wanted = {"entityDetails": template.entity, "ownerDetails": template.owner, "parameters": template.parameters}
    for part, fields in wanted.items():
        given = alert.get(part) or {}
        for name in fields:
            if name not in given:
                problems.append(Violation(f"{where}{part}.{name}", f"is required by alert template {template.id!r}"))
        for name in given:
            if name not in fields:
                problems.append(Violation(f"{where}{part}.{name}", f"is not used by alert template {template.id!r}"))
    if problems:
        return problems
    account = str(value_of(alert["ownerDetails"]["accountId"]))
    if store.collections["accounts"].get(account) is None:
        problems.append(Violation(f"{where}ownerDetails.accountId", f"no account with id {account!r}"))
    if "usageMeterId" in template.entity:
        meter = str(value_of(alert["entityDetails"]["usageMeterId"]))
        if store.collections["usageMeters"].get(meter) is None:
            problems.append(Violation(f"{where}entityDetails.usageMeterId", f"no usage meter with id {meter!r}"))
    return problems


def create(store: Store, body: dict[str, Any]) -> Record:
    """A new alert (version 1) from ``CreateAlertRequest``, checked against its template; stored, not evaluated."""
    template = _template_named(body["alertTemplateId"])
    problems = _detail_problems(store, template, body, "")
    bad_interval = _interval_problem(body["interval"], "interval")
    if bad_interval is not None:
        problems.insert(0, bad_interval)
    if problems:
        raise Invalid(problems)
    now = store.clock.now()
    alert: Record = {"id": store.new_id(IDS, store.collections[NAME]), "version": 1}
    for key in ("description", "status", "validity", "alertTemplateId", "interval", *DETAILS):
        if key in body:
            alert[key] = body[key]
    alert.update({"createdAt": now, "updatedAt": now, IN_BREACH: False})
    _insert(store, alert)
    return alert


def _template_named(template_id: str) -> Template:
    """The template a request body names, or :class:`Invalid` at ``alertTemplateId`` (a body field: 400)."""
    found = templates.BY_ID.get(template_id)
    if found is None:
        raise Invalid.at("alertTemplateId", f"no alert template {template_id!r} (the mock has "
                                            f"{', '.join(templates.BY_ID)})")
    return found


def require_alert(store: Store, alert_id: str) -> Record:
    """The alert ``alert_id``, or :class:`NotFound` at ``alert_id``."""
    found: Record = require(store, NAME, alert_id, "alert_id", "alert")
    return found


def update(store: Store, alert_id: str, changes: dict[str, Any]) -> Record:
    """Change the fields of ``UpdateAlertRequest`` sent; the version goes up by one. Stored, not evaluated."""
    alert = require_alert(store, alert_id)
    if "interval" in changes:
        bad = _interval_problem(changes["interval"], "interval")
        if bad is not None:
            raise Invalid([bad])
    if "parameters" in changes:
        candidate = {**alert, "parameters": changes["parameters"]}
        problems = _detail_problems(store, template_of(alert), candidate, "")
        problems = [p for p in problems if p.field.startswith("parameters")]
        if problems:
            raise Invalid(problems)
    alert.update({k: v for k, v in changes.items() if k in ("description", "status", "interval", "validity",
                                                            "parameters")})
    alert["version"] += 1
    alert["updatedAt"] = store.clock.now()
    _keep_active(store, alert)
    return alert


def list_alerts(store: Store, status: str | None, template_id: str | None, account_id: str | None,
                next_token: str | None, page_size: int | None) -> tuple[list[Record], dict[str, Any]]:
    """A page of alerts, oldest first, by status, template and owning account (that one from the index)."""
    collection = store.collections[NAME]

    def keep(alert: Record) -> bool:
        return (status is None or alert["status"] == status) and (
            template_id is None or alert["alertTemplateId"] == template_id)

    if account_id is not None:
        positions = store.indexes[BY_ACCOUNT].get(account_id, [])
        return paginate_positions(collection, positions, next_token, page_size, context=False, keep=keep)
    return paginate(collection, next_token, page_size, context=False, keep=keep)


def of_account(store: Store, account_id: str) -> list[Record]:
    """The alerts the account owns, oldest first (from the index)."""
    collection = store.collections[NAME]
    return [collection.items[collection.key_at(p)] for p in store.indexes[BY_ACCOUNT].get(account_id, [])]


def active(store: Store) -> list[Record]:
    """The ACTIVE alerts, oldest first (from the index)."""
    collection = store.collections[NAME]
    return [collection.items[key] for key in store.indexes[ACTIVE]]


def _keep_active(store: Store, alert: Record) -> None:
    if alert["status"] == "ACTIVE":
        store.indexes[ACTIVE][alert["id"]] = True
    else:
        store.indexes[ACTIVE].pop(alert["id"], None)


def _insert(store: Store, alert: Record) -> None:
    collection = store.collections[NAME]
    collection.add(alert["id"], alert)
    position = collection.position_of(alert["id"])
    assert position is not None  # just added
    store.indexes[BY_ACCOUNT].setdefault(account_of(alert), []).append(position)
    _keep_active(store, alert)


def check_import(ctx: ImportContext) -> None:
    """Each alert names a template the mock has, gives what the template asks, and names an account."""
    accounts, meters = ctx.ids("accounts"), ctx.ids("usageMeters")
    for i, alert in enumerate(ctx.data.get(NAME, [])):
        where = f"{NAME}[{i}]."
        template = templates.BY_ID.get(alert.get("alertTemplateId", ""))
        if template is None:
            ctx.problems.append(Violation(f"{where}alertTemplateId", "is not an alert template of the mock"))
            continue
        missing = [f"{part}.{name}" for part, fields in
                   (("ownerDetails", template.owner), ("parameters", template.parameters),
                    ("entityDetails", template.entity))
                   for name in fields if name not in (alert.get(part) or {})]
        if missing:
            ctx.problems.append(Violation(f"{where}{missing[0]}", f"is required by alert template {template.id!r}"))
            continue
        if str(value_of(alert["ownerDetails"]["accountId"])) not in accounts:
            ctx.problems.append(Violation(f"{where}ownerDetails.accountId", "no such account"))
        if template.entity and str(value_of(alert["entityDetails"]["usageMeterId"])) not in meters:
            ctx.problems.append(Violation(f"{where}entityDetails.usageMeterId", "no such usage meter"))


def complete_import(store: Store, ctx: ImportContext) -> None:
    """An imported alert without its breach flag is taken as not in breach (the next evaluation decides)."""
    for alert in ctx.data.get(NAME, []):
        alert.setdefault(IN_BREACH, False)


def restore(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported alert, indexed under its account (and as ACTIVE when it is)."""
    alert = dict(record)
    alert.setdefault(IN_BREACH, False)
    _insert(store, alert)
    store.reserved.add(alert["id"])


def expired(alert: Record, moment: datetime) -> bool:
    """Whether the alert's validity has ended by ``moment``."""
    until = valid_until(alert)
    return until is not None and moment >= until


def stamp_until(alert: Record) -> str | None:
    """``validUntil`` of the alert's incidents, or None for an alert valid forever."""
    until = valid_until(alert)
    return None if until is None else stamp(until)


RESOURCE = Resource(
    name=NAME,
    schema="Alert",
    ids=IDS,
    defaults={"version": 1},
    indexes=(BY_ACCOUNT, ACTIVE),
    exchange=Exchange(
        hidden={IN_BREACH: {"type": "boolean"}},
        generated=(IN_BREACH,),
        check_import=check_import,
        complete_import=complete_import,
        restore=restore,
    ),
)

