"""``GET /__mock/accounts/{account_id}/overview``: what the dashboard's account view shows, in one answer.

Everything is read from the domain through its account-scoped look-ups
(the account's schedule record, the invoices' owner index, the credits'
account index, the wallet keyed by account, the usage aggregates filtered
by account), never by reading a whole collection, and everything dated
asks the tenant's clock without ticking a seeded one (a dashboard polls).
Invoices are shown as the API shows them (an ongoing one priced so far),
after the billing engine has caught up with the clock, as before any
Togai operation.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..bindings.invoices import shown_invoice
from ..control import clock_of
from ..domain.billing import engine as billing
from ..domain.core.money import to_json
from ..domain.core.store import Record, Store
from ..domain.core.times import parse_time, stamp
from ..domain.ledger import credits, invoices, wallets
from ..domain.parties import accounts
from ..domain.pricing import schedules
from ..domain.usage import aggregates

DEFAULT_DAYS = 31
MAX_INVOICES = 50  # the newest shown; ``invoices.total`` says how many there are
_DAY = timedelta(days=1)


def overview(store: Store, account_id: str, days: int = DEFAULT_DAYS) -> dict[str, Any]:
    """The account view's data: the account, its plan and schedule, invoices, balances, daily usage, the clock.

    ``days``: how many UTC days of usage, the last one the clock's current day.
    An unknown account is a 404 naming ``account_id`` (the domain's ``NotFound``).
    """
    account = accounts.require_account(store, account_id)
    billing.catch_up(store)  # no read of a stale cycle, as before every Togai operation
    now = store.clock.instant()
    return {
        "account": _account(account),
        "clock": clock_of(store),  # read without ticking a seeded clock
        "plan": _plan(store, account_id, now),
        "schedules": _schedules(store, account_id, now),
        "invoices": _invoices(store, account_id),
        "credits": _credits(store, account_id, now),
        "wallet": _wallet(store, account_id),
        "usage": _usage(store, account_id, now, days),
    }


def _account(account: accounts.AccountRecord) -> dict[str, Any]:
    return {"id": account["id"], "name": account["name"], "status": account["status"],
            "customerId": account["customerId"], "invoiceCurrency": account["invoiceCurrency"],
            "netTermDays": account.get("netTermDays")}


def _plan(store: Store, account_id: str, now: datetime) -> dict[str, Any] | None:
    """The association in effect now and its open pricing cycle; None without one."""
    found = schedules.schedule_at(store, account_id, now)
    if found is None:
        return None
    cycle = found.details.get("pricingCycleConfig") or {}
    return {
        "scheduleId": found.schedule["id"],
        "pricePlanId": found.plan["id"],
        "pricePlanName": found.plan["name"],
        "version": found.version,
        "startDate": found.schedule["startDate"],
        "endDate": found.schedule["endDate"],
        "cycleStart": stamp(found.cycle_start),
        "cycleEnd": stamp(found.cycle_end),
        "interval": cycle.get("interval", "MONTHLY"),
        "gracePeriodDays": int(cycle.get("gracePeriod") or 0),
    }


def _schedules(store: Store, account_id: str, now: datetime) -> list[dict[str, Any]]:
    """The account's associations, oldest first, each marked whether it is in effect now."""
    out = []
    for schedule in schedules.timeline(store, account_id):
        shown = schedules.render_schedule(store, schedule)
        current = parse_time(schedule["startDate"]) <= now < parse_time(schedule["endDate"])
        out.append({"id": shown["id"], "pricePlanId": shown["pricePlanId"], "pricePlanName": shown["pricePlanName"],
                    "startDate": shown["startDate"], "endDate": shown["endDate"], "current": current})
    return out


def _invoices(store: Store, account_id: str) -> dict[str, Any]:
    """The account's newest invoices first (at most :data:`MAX_INVOICES`), with status, total and paid."""
    owned = invoices.owned_by(store, account_id)
    rows = []
    for invoice in reversed(owned[-MAX_INVOICES:]):
        shown = shown_invoice(store, invoice)
        rows.append({
            "id": shown["id"],
            "invoiceType": shown["invoiceType"],
            "status": shown["status"],
            "startDate": shown.get("startDate"),
            "endDate": shown.get("endDate"),
            "invoiceDate": shown.get("invoiceDate"),
            "dueDate": shown.get("dueDate"),
            "totalAmount": shown["totalAmount"],
            "paidAmount": shown.get("paidAmount", 0),
            "currency": invoices.currency(invoice),
        })
    return {"total": len(owned), "data": rows}


def _credits(store: Store, account_id: str, now: datetime) -> dict[str, Any]:
    balance = credits.credit_balance(store, account_id, now)
    return {"activeCredits": balance.active_credits, "availableBalance": to_json(balance.available),
            "runningBalance": to_json(balance.running), "unit": balance.unit}


def _wallet(store: Store, account_id: str) -> dict[str, Any] | None:
    wallet: Record | None = store.collections["wallets"].get(account_id)  # keyed by account
    if wallet is None:
        return None
    shown = wallets.render_wallet(store, wallet)
    return {"id": shown["id"], "status": shown["status"], "balance": shown["balance"],
            "holdAmount": shown["holdAmount"], "unit": shown["creditUnit"]}


def _usage(store: Store, account_id: str, now: datetime, days: int) -> dict[str, Any]:
    """Each meter's units and revenue (priced by the account's plan) per day, from the usage aggregates.

    Asked of :func:`aggregates.metrics` as ``POST /metrics`` would ask it
    (``METER_USAGE`` and ``REVENUE`` in the invoice currency, by day, filtered
    by the account, grouped by meter), so the chart agrees with the metrics API.
    """
    end = datetime(now.year, now.month, now.day, tzinfo=UTC) + _DAY
    start = max(end - days * _DAY, datetime(1970, 1, 1, tzinfo=UTC))
    common = {"aggregationPeriod": "DAY", "groupBy": "USAGE_METER_ID",
              "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": [account_id]}]}
    days_only = {"aggregationPeriod": "DAY", "filters": common["filters"]}
    units, revenue, total = aggregates.metrics(store, {
        "startTime": stamp(start), "endTime": stamp(end),
        "metricQueries": [{"id": "units", "name": "METER_USAGE", **common},
                          {"id": "revenue", "name": "REVENUE", "configs": {"CURRENCY": "INVOICE"}, **common},
                          # Ungrouped, it always answers one series: the days, even without usage.
                          {"id": "days", "name": "METER_USAGE", **days_only}],
    })
    timestamps: list[str] = total.series[0]["timestamps"]
    by_meter: dict[str, dict[str, Any]] = {}
    for result in (units, revenue):
        for series in result.series:
            meter = series["groupedBy"]["fieldValue"]
            row = by_meter.setdefault(meter, {"id": meter, "name": _meter_name(store, meter),
                                              "units": [0] * len(timestamps), "revenue": [0] * len(timestamps)})
            row[result.id] = series["metricValues"]
    meters = sorted(by_meter.values(), key=lambda m: (m["name"], m["id"]))
    return {"period": "DAY", "startTime": stamp(start), "endTime": stamp(end), "timestamps": timestamps,
            "currency": store.collections["accounts"].items[account_id]["invoiceCurrency"], "meters": meters}


def _meter_name(store: Store, meter_id: str) -> str:
    record: Record | None = store.collections["usageMeters"].get(meter_id)
    return meter_id if record is None else str(record["name"])
