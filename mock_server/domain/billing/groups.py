"""Invoice groups: the members' invoices consolidated into the group's COMPOSITE invoice.

Togai's invoice-groups page: "all invoices that are DUE on the same day for
the accounts within the group are consolidated into the same invoice that is
sent to the group's contact details", groups combine accounts "that have the
same currency", and the group's invoice has "every individual rate card of
every account in that group as a separate line item". Its invoices contract
names the pieces: ``invoiceType`` ``COMPOSITE``, status ``MERGED``, and the
line type ``GRAND_TOTAL_AMOUNT`` ("Sum of all total amount of individual
invoices in a grouped (composite) invoice").

So when a member account's STANDARD invoice becomes DUE (its cycle closed,
or its grace period ended) it is made as for any account (its lines, its
credits, its wallet), then merged: its status becomes ``MERGED`` and its tree
becomes one ``TOTAL_AMOUNT`` line of the group's COMPOSITE invoice of that
UTC day (opened by the day's first member), whose root is
``GRAND_TOTAL_AMOUNT``. What the members' wallets paid is the composite's
``paidAmount``; what is left is paid on the composite.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.money import exact, to_json
from ..core.store import Record, Store
from ..core.times import parse_time, stamp
from ..ledger import invoices

# The statuses a member invoice may be merged from: just finalized, perhaps netted by its wallet.
MERGEABLE = ("DUE", "PARTIALLY_PAID", "PAID")
MERGED = "MERGED"


def _group_of(store: Store, invoice: Record) -> Record | None:
    """The invoice group the invoice's account belongs to now, when it bills in the group's currency."""
    group_id = store.indexes["account_group"].get(invoice["ownerId"])
    if group_id is None:
        return None
    group: Record | None = store.collections["invoiceGroups"].get(group_id)
    if group is None or group["invoiceCurrency"] != invoices.currency(invoice):
        return None  # the account's currency changed since it joined: it is billed alone
    return group


def _member_line(store: Store, invoice: Record) -> dict[str, Any]:
    """The member invoice as a line of the composite: its TOTAL_AMOUNT tree, named after its account."""
    total, tree = invoices.revenue(invoice)
    account = invoice.get("invoiceDetails", {}).get("account", {})
    line: dict[str, Any] = {
        "id": store.new_id(invoices.LINE_IDS),
        "description": account.get("name") or invoice["ownerId"],
        "type": invoices.ROOT_LINE,
        "value": to_json(total),
        "metadata": {"invoiceId": invoice["id"], "accountId": invoice["ownerId"]},
    }
    children = [invoices.without_units(child) for child in tree.get("lineItems", [])]
    if children:
        line["lineItems"] = children
    return line


def _settled_status(composite: Record) -> str:
    """DUE until something is paid; PAID once nothing is owed; PARTIALLY_PAID between."""
    if exact(composite.get("paidAmount", 0)) <= 0:
        return "DUE"
    return "PAID" if invoices.owed(composite) <= 0 else "PARTIALLY_PAID"


def consolidate(store: Store, invoice: Record, moment: datetime) -> Record | None:
    """Merge a member account's STANDARD invoice that just became DUE at ``moment`` into its group's
    COMPOSITE invoice of that UTC day; the composite (None: the account is in no group, or the invoice
    is not a finalized STANDARD one)."""
    if invoice.get("invoiceType") != "STANDARD" or invoice["status"] not in MERGEABLE:
        return None
    group = _group_of(store, invoice)
    if group is None:
        return None
    at = stamp(moment)
    day = moment.astimezone(UTC).date().isoformat()
    composite = invoices.composite_of(store, group["id"], day)
    if composite is None or composite["status"] not in invoices.SETTLEABLE:
        # None yet that day, or it was paid in full, voided or written off meanwhile: a new one.
        composite = invoices.open_composite(store, group, invoice["customerId"], day, at)
    composite["lines"].append(_member_line(store, invoice))
    for field, pick in (("startDate", min), ("endDate", max)):
        if field in invoice:
            known = composite.get(field)
            composite[field] = invoice[field] if known is None else stamp(
                pick(parse_time(known), parse_time(invoice[field])))
    if "endDate" in composite:
        composite["endDateInclusive"] = stamp(parse_time(composite["endDate"]) - timedelta(milliseconds=1))
    paid = exact(invoice.get("paidAmount", 0))
    composite["paidAmount"] = to_json(exact(composite.get("paidAmount", 0)) + paid)
    composite["status"] = _settled_status(composite)
    composite["updatedAt"] = at
    invoice["status"] = MERGED
    invoice["updatedAt"] = at
    invoices.changed(store)
    return composite

