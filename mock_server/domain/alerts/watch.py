"""Evaluating alerts: measure, compare with the threshold, open or resolve incidents.

When (README, "Alerts and incidents"): an alert is evaluated when it is made
or changed; a usage breach also whenever events of its account are processed
(:data:`OBSERVER`'s ``usage``); every ACTIVE alert whenever the mock's clock
moves (its ``clock``), which is how the mock lets an alert's interval pass.

A breach opens one incident: while the condition holds no other is opened,
even after that one is closed; the condition must clear first. A template
that resolves itself (low balances) moves its open incident to RESOLVED when
the condition clears; a usage breach stays open until it is closed.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ..core.money import to_json
from ..core.observers import Observer
from ..core.store import Record, Store
from ..ledger import credits, wallets
from ..ledger import invoices as ledger_invoices
from ..usage import aggregates as usage
from ..usage import org_settings
from . import alerts, incidents


def usage_this_cycle(store: Store, account_id: str, meter_id: str, moment: datetime) -> Decimal:
    """The account's usage of the meter in its cycle holding ``moment`` (the hour it falls in), exactly.

    The same window as the mock's ``USAGE_FOR_CYCLE`` metric (:class:`~..usage.aggregates.Cycles`: the
    plan's pricing cycle, else the calendar month, in the organisation's time zone), read from the usage
    cube (one key).
    """
    account = store.collections["accounts"].get(account_id)
    if account is None:
        return Decimal(0)
    cube = usage.aggregates(store).usage
    kid = cube.ids.get((account_id, account["customerId"] or "", meter_id))
    if kid is None:
        return Decimal(0)
    seconds = int(moment.timestamp())
    cycles = usage.Cycles(store, org_settings.time_zone(store))
    hour = seconds - seconds % usage.HOUR
    record = cycles.timelines.get(account_id)
    timeline = record["pricingSchedules"] if record is not None else None
    start, stop = cycles.window(timeline, hour) if timeline else cycles.month(hour)
    return Decimal(cube.key_total(kid, start, stop)).scaleb(-cube.scale)


UNPAID = ("DUE", "PARTIALLY_PAID")  # awaiting payment (UN_COLLECTIBLE is written off, DRAFT not yet billed)


def unpaid(store: Store, account_id: str) -> Decimal:
    """What the account owes on the invoices it owns that await payment (from the owner index)."""
    collection = store.collections["invoices"]
    total = Decimal(0)
    for invoice_id in store.indexes[ledger_invoices.BY_OWNER].get(account_id, []):
        invoice = collection.get(invoice_id)
        if invoice is not None and invoice["status"] in UNPAID:
            total += ledger_invoices.owed(invoice)
    return total


def measure(store: Store, alert: Record, moment: datetime) -> Decimal | None:
    """What the alert's template watches, now; None when there is nothing to measure (no wallet yet)."""
    account_id = alerts.account_of(alert)
    template = alerts.template_of(alert)
    if template.id == "usage_breach":
        meter = str(alerts.value_of(alert["entityDetails"]["usageMeterId"]))
        return usage_this_cycle(store, account_id, meter, moment)
    if store.collections["accounts"].get(account_id) is None:
        return None
    if template.id == "credit_low_balance":
        return credits.credit_balance(store, account_id).available
    if template.id == "unpaid_invoice_amount_breach":
        return unpaid(store, account_id)
    wallet = store.collections["wallets"].get(account_id)
    return None if wallet is None else wallets.totals(store, wallet).balance


def report(alert: Record, value: Decimal) -> dict[str, Any]:
    """The incident's report data: the owner, the entity, what was measured and the threshold, in the
    form the alert's threshold was sent in (bare, or wrapped as ``{"value": ...}``)."""
    template = alerts.template_of(alert)
    measured: Any = to_json(value)
    out: dict[str, Any] = {"accountId": alert["ownerDetails"]["accountId"]}
    if "usageMeterId" in template.entity:
        out["usageMeterId"] = alert["entityDetails"]["usageMeterId"]
    out[template.measure] = {"value": measured} if alerts.wrapped(alert) else measured
    out["threshold"] = alert["parameters"]["threshold"]
    return out


class _Pass:
    """One evaluation pass: its instant, read once and only when an alert is evaluated."""

    __slots__ = ("store", "_at")

    def __init__(self, store: Store) -> None:
        self.store = store
        self._at: str | None = None

    @property
    def at(self) -> str:
        if self._at is None:
            self._at = self.store.clock.now()
        return self._at


def evaluate(store: Store, alert: Record, run: _Pass | None = None) -> None:
    """Evaluate one alert: open, refresh or resolve its incident as the measure and the threshold say."""
    if alert["status"] != "ACTIVE":
        return
    moment = store.clock.instant()
    if alerts.expired(alert, moment):
        return
    value = measure(store, alert, moment)
    if value is None:
        return
    run = run or _Pass(store)
    template = alerts.template_of(alert)
    threshold = alerts.threshold_of(alert)
    breached = value < threshold if template.breach_when_below else value >= threshold
    current = incidents.latest(store, alert["id"])
    open_ = current if current is not None and current["status"] == incidents.ACTIVE else None
    data = report(alert, value)
    if open_ is not None:
        open_["reportData"], open_["lastCheckedAt"] = data, run.at
    if breached:
        if open_ is None and not alert[alerts.IN_BREACH]:
            incidents.open_incident(store, alert, data, alerts.stamp_until(alert), run.at)
        alert[alerts.IN_BREACH] = True
        return
    alert[alerts.IN_BREACH] = False
    if open_ is not None and template.auto_resolves:
        open_["status"], open_["updatedAt"] = incidents.RESOLVED, run.at


def create_alert(store: Store, body: dict[str, Any]) -> Record:
    """``POST /alerts``: the new alert, evaluated at once (it may open an incident straight away)."""
    alert = alerts.create(store, body)
    evaluate(store, alert)
    return alert


def update_alert(store: Store, alert_id: str, changes: dict[str, Any]) -> Record:
    """``PATCH /alerts/{id}``: the changed alert (one version more), evaluated again."""
    alert = alerts.update(store, alert_id, changes)
    evaluate(store, alert)
    return alert


def _on_usage(store: Store, accounts: frozenset[str]) -> None:
    """Events of ``accounts`` were processed: their usage breach alerts look again."""
    if not store.indexes[alerts.ACTIVE]:
        return
    run = _Pass(store)
    for account_id in accounts:
        for alert in alerts.of_account(store, account_id):
            if alert["status"] == "ACTIVE" and alert["alertTemplateId"] == "usage_breach":
                evaluate(store, alert, run)


def _on_clock(store: Store) -> None:
    """The clock moved: every ACTIVE alert looks again (balances, credit expiries, a new month)."""
    run = _Pass(store)
    for alert in alerts.active(store):
        evaluate(store, alert, run)


OBSERVER = Observer(name="alerts", usage=_on_usage, clock=_on_clock)

