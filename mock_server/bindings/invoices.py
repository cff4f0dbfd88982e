"""Handlers of invoices, miscellaneous charges and bill runs: requests to
:mod:`mock_server.domain.ledger.invoices` rules, answers in the API's shapes."""
from __future__ import annotations

from typing import Any

from ..domain.billing import engine as billing
from ..domain.billing import groups, rules, settle
from ..domain.core.money import exact, to_json
from ..domain.core.store import Record, Store
from ..domain.ledger import invoices
from .call import Call

SUCCESS = {"success": True}


def summary(store: Store, invoice: Record) -> dict[str, Any]:
    """An invoice as the lists show it (``InvoiceSummary``: no lines).

    Its fields are the spec's (``store.schemas``, handed in by the app), so
    the summary follows the contract; without a spec, the whole invoice.
    """
    shown = shown_invoice(store, invoice)
    fields = (store.schemas or {}).get("InvoiceSummary", {}).get("properties", shown)
    return {k: v for k, v in shown.items() if k in fields}


def shown_invoice(store: Store, invoice: Record) -> dict[str, Any]:
    """An invoice as the API shows it; an ongoing or grace-period one with its plan lines as they stand."""
    return invoices.render(store, billing.live(store, invoice))


def shown_charge(charge: dict[str, Any]) -> dict[str, Any]:
    """A charge as ``MiscellaneousChargesResponse`` shows it: a rate-and-quantity one with its value."""
    out = dict(charge)
    if "value" not in out:
        out["value"] = str(to_json(exact(charge["rate"]) * exact(charge["quantity"])))
    out.setdefault("considerForRevenue", False)
    return out


def create_custom_invoice(store: Store, call: Call) -> dict[str, Any]:
    """``POST /invoices``: a CUSTOM invoice; an ``idempotencyKey`` used before answers that invoice again."""
    return invoices.render(store, invoices.create_custom_invoice(store, call.body))


def get_invoice(store: Store, call: Call) -> dict[str, Any]:
    """``GET /invoices/{id}``."""
    return shown_invoice(store, invoices.require_invoice(store, call.params["invoice_id"]))


def _list(store: Store, call: Call, eligible: bool) -> dict[str, Any]:
    params = call.params
    filters = invoices.Filters(params.get("status"), params.get("owner_id"), params.get("customer_id"),
                               params.get("start_time"), params.get("end_time"), eligible)
    page, extra = invoices.list_invoices(store, filters, params.get("nextToken"), params.get("pageSize"))
    return {"data": [summary(store, invoice) for invoice in page], **extra}


def list_invoices(store: Store, call: Call) -> dict[str, Any]:
    """``GET /invoices``: summaries, oldest first, filtered as Togai's lists are."""
    return _list(store, call, eligible=False)


def list_for_bill_run(store: Store, call: Call) -> dict[str, Any]:
    """``GET /invoices/bill_runs``: the accounts' ongoing invoices, each as its cycle stands so far."""
    return _list(store, call, eligible=True)


def update_invoice(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /invoices/{id}``: a DRAFT custom invoice's fields; any invoice's status, forward only.

    A STANDARD DRAFT made DUE by hand is finalized as the engine does it: credits, then the wallet, then
    (a member of an invoice group's) merged into the group's COMPOSITE invoice of the day.
    """
    record = invoices.require_invoice(store, call.params["invoice_id"])
    was = record["status"]
    # The lines as they stand (an ongoing invoice's plan line priced from the usage so far): what a
    # finalization by hand bills, since the engine will not bill that cycle again.
    standing = billing.live(store, record)["lines"] if was == "DRAFT" else None
    invoice = invoices.update_invoice(store, call.params["invoice_id"], call.body)
    if was == "DRAFT" and invoice["status"] == "DUE" and invoice.get("invoiceType") == "STANDARD":
        if standing is not None:  # a plan line priced just now has no id yet: it gets one, as the engine's do
            invoice["lines"] = [x if "id" in x else {"id": store.new_id(invoices.LINE_IDS), **x} for x in standing]
        settle.on_due(store, invoice, store.clock.instant(), invoice["invoiceDate"])
        groups.consolidate(store, invoice, store.clock.instant())
    return shown_invoice(store, invoice)


def delete_custom_invoice(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /invoices/{id}``: only a CUSTOM invoice still in DRAFT."""
    invoices.delete_custom_invoice(store, call.params["invoice_id"])
    return dict(SUCCESS)


def charges_on_invoice(store: Store, call: Call) -> dict[str, Any]:
    """``PUT /invoices/{id}/miscellaneous_charges``: replaces a DRAFT invoice's charges."""
    charges = invoices.charges_on_invoice(store, call.params["invoice_id"], call.body["items"])
    return {"data": [shown_charge(c) for c in charges]}


def charges_on_account(store: Store, call: Call) -> dict[str, Any]:
    """``PUT /accounts/{id}/miscellaneous_charges``: the charges of the account's upcoming invoice."""
    charges = invoices.charges_on_account(store, call.params["account_id"], call.body["items"])
    return {"data": [shown_charge(c) for c in charges]}


def bill_run(store: Store, call: Call) -> dict[str, Any]:
    """``POST /invoices/bill_runs``: close the cycles that ended by the clock and are not billed.

    With ``require_confirmation`` it makes a ``BILL_RUN`` job that runs when confirmed (``/jobs/{id}/confirm``).
    """
    if call.params.get("require_confirmation"):
        billing.request_bill_run(store)
    else:
        billing.bill_run(store)
    return dict(SUCCESS)


def pricing_rule_logs(store: Store, call: Call) -> dict[str, Any]:
    """``GET /invoice/{id}/pricing_rules_logs``: what each of its plan's pricing rules did on the invoice
    (kept on its plan line; an ongoing invoice's as it stands), none for an invoice without."""
    invoice = billing.live(store, invoices.require_invoice(store, call.params["invoice_id"]))
    logs = [log for line in invoice["lines"] if line.get("type") == invoices.PLAN_LINE
            for log in (line.get("metadata") or {}).get(rules.LOGS, [])]
    return {"data": logs}
