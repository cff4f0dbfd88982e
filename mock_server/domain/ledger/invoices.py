"""Invoices: custom invoices, the accounts' ongoing invoices, miscellaneous charges and bill runs.

An invoice keeps its own lines (``lines``: custom amounts, and later what a
price plan prices) and its miscellaneous charges (``charges``, as the client
sent them); ``totalAmount`` and the ``revenueInfo`` tree are derived from
them whenever the invoice is shown, and a charge whose value is JSON logic
is evaluated against the lines each time, so nothing is stored twice.

Two kinds of invoices exist in the mock: CUSTOM ones (``POST /invoices``)
and STANDARD ones, one per account and pricing cycle. The account's ongoing
STANDARD invoice (DRAFT, no ``finalizingStatus``) is that of its open cycle
(or calendar month without a plan), opened by ``PUT
/accounts/{id}/miscellaneous_charges`` or when the previous cycle closed;
the billing engine (:mod:`mock_server.domain.billing`) closes it when the
cycle ends: DRAFT and ``FINALIZING`` during the grace period, then DUE. A
plan's lines are one ``PRICE_PLAN_AMOUNT`` line with its rate cards nested.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ..core.collection import Collection
from ..core.cursors import paginate
from ..core.errors import Invalid, Violation
from ..core.lookup import require
from ..core.money import exact, to_json
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import parse_time, stamp
from ..pricing import schedules

INVOICE_IDS = IdScheme("inv")
LINE_IDS = IdScheme("inv_line", 8, 4)
# ListInvoicesResponse holds at most 50 invoices; 50 is also Togai's default page for them.
MAX_PAGE = 50
# The stored fields a client never sees as such: they are rendered into revenueInfo and totalAmount.
INTERNAL = ("lines", "charges")
CUSTOM_LINE = "CUSTOM_AMOUNT"
CHARGE_LINE = "MISCELLANEOUS_CHARGE"
CHARGES_TOTAL = "TOTAL_MISCELLANEOUS_CHARGES"
ROOT_LINE = "TOTAL_AMOUNT"
# A COMPOSITE invoice (an invoice group's) sums its members' invoices: its root is GRAND_TOTAL_AMOUNT, over
# one stored TOTAL_AMOUNT line per member invoice (that invoice's tree, as it was merged).
GRAND_LINE = "GRAND_TOTAL_AMOUNT"
COMPOSITE = "COMPOSITE"
# The one stored line that nests others: a plan's amount for a cycle, over its rate cards (and slabs).
PLAN_LINE = "PRICE_PLAN_AMOUNT"
# The credits an invoice consumed: a negative total over one negative SUB_CREDITS line per credit.
CREDITS_LINE = "TOTAL_CREDITS"
CREDIT_LINE = "SUB_CREDITS"
NESTING = (PLAN_LINE, CREDITS_LINE)
# What a payment (or the wallet) can settle: a finalized invoice not yet paid in full.
SETTLEABLE = ("DUE", "PARTIALLY_PAID")

# Status changes PATCH may make (Togai: PAID and VOID are final; a paid invoice may
# still be refunded, the one move out of PAID). Staying in a status is no change.
TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"DUE", "PAID", "VOID"}),
    "DUE": frozenset({"PAID", "VOID", "UN_COLLECTIBLE"}),
    "PARTIALLY_PAID": frozenset({"PAID", "VOID", "UN_COLLECTIBLE"}),
    "UN_COLLECTIBLE": frozenset({"PAID", "VOID"}),
    "PAID": frozenset({"REFUND_INITIATED"}),
}
# Where each status stands in an invoice's life: a status never goes back to a lower rank.
RANK = {"DRAFT": 0, "DUE": 1, "PARTIALLY_PAID": 2, "UN_COLLECTIBLE": 3, "PAID": 4, "VOID": 4, "MERGED": 4,
        "REFUND_INITIATED": 5, "REFUND_COMPLETED": 6}
# Fields of a custom invoice that only a DRAFT custom invoice may change.
DRAFT_FIELDS = ("startDate", "endDate", "lineItems", "autoAdvance")

# Indexes. Account id -> the id of its ongoing STANDARD invoice (DRAFT, this month's).
ONGOING = "ongoing_invoice"
# idempotencyKey -> the id of the custom invoice it made; and back, so a delete forgets its key.
KEYS = "invoice_keys"
KEY_OF = "invoice_key_of"
# owner id (account or invoice group) -> its invoices' ids, oldest first; customer id -> the same.
# Ids, not positions: a custom invoice can be deleted, and a sweep of the collection's tombstones
# would move every later position.
BY_OWNER = "invoices_by_owner"
BY_CUSTOMER = "invoices_by_customer"
# Account id -> {cycle start: id of the STANDARD invoice that billed it}: a cycle is billed once.
BILLED = "invoices_billed"
# Account id -> the end of the latest cycle billed (where the next one starts).
BILLED_UNTIL = "invoices_billed_until"
# Invoice group id -> {UTC day (YYYY-MM-DD): the id of the COMPOSITE invoice of the members due that day}.
COMPOSITES = "invoices_composite"
# {"n": how many times an invoice was made, removed, or changed status or its ongoing mark}: who watches
# invoices (the webhooks) looks at them again only when it moved, instead of after every request.
CHANGES = "invoice_changes"


# The largest amount a computed charge may reach: beyond it a JSON number is no longer a float.
MAX_AMOUNT = Decimal("1e300")


# ---- lines and charges -------------------------------------------------------------


def line_problems(items: list[dict[str, Any]], where: str) -> list[Violation]:
    """Each custom line has a value, or a quantity and a value per quantity that make it."""
    problems: list[Violation] = []
    ids: dict[str, int] = {}
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        has_rate = "quantity" in item and "valuePerQuantity" in item
        if "description" not in item and "billableId" not in item:
            problems.append(Violation(at, "needs a description, or a billableId to take it from"))
        if "value" not in item and not has_rate:
            problems.append(Violation(at, "needs value, or quantity and valuePerQuantity"))
        elif has_rate and "value" in item and exact(item["value"]) != product(item):
            problems.append(Violation(f"{at}.value", "is not quantity x valuePerQuantity"))
        elif abs(exact(item["value"]) if "value" in item else product(item)) > MAX_AMOUNT:
            problems.append(Violation(f"{at}.value", f"is beyond {MAX_AMOUNT:.0e}"))
        if "id" in item and ids.setdefault(item["id"], i) != i:
            problems.append(Violation(f"{at}.id", f"is also {where}[{ids[item['id']]}]'s"))
    return problems


def billable_problems(store: Store, items: list[dict[str, Any]], where: str) -> list[Violation]:
    """Each ``billableId`` names an add-on or a usage meter of the tenant (what Togai bills)."""
    problems = []
    for i, item in enumerate(items):
        billable = item.get("billableId")
        if billable is not None and _billable(store, billable) is None:
            problems.append(Violation(f"{where}[{i}].billableId", f"no add-on or usage meter with id {billable!r}"))
    return problems


def _billable(store: Store | None, billable_id: str) -> Any:
    """The add-on or usage meter ``billable_id`` names, if any."""
    if store is None:
        return None
    return store.collections["addOns"].get(billable_id) or store.collections["usageMeters"].get(billable_id)


def _description(store: Store | None, item: dict[str, Any]) -> str:
    """A custom line's description: as sent, else its billable's display name (else its id, in a preview)."""
    if "description" in item:
        return str(item["description"])
    found = _billable(store, item["billableId"])
    if found is None:
        return str(item["billableId"])
    return str(found.get("displayName") or found.get("billableName") or found["name"])


def product(item: dict[str, Any]) -> Decimal:
    """A line's quantity times its value per quantity."""
    return exact(item["quantity"]) * exact(item["valuePerQuantity"])


def make_lines(store: Store | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored lines from checked custom line items; ids made for those without one
    (without a store, for a preview, such lines get none: nothing can name them yet)."""
    lines = []
    for item in items:
        line: dict[str, Any] = {"description": _description(store, item), "type": CUSTOM_LINE}
        if "id" in item or store is not None:
            line = {"id": item["id"] if "id" in item else store.new_id(LINE_IDS), **line}  # type: ignore[union-attr]
        for key in ("quantity", "valuePerQuantity"):
            if key in item:
                line[key] = item[key]
        line["value"] = item["value"] if "value" in item else to_json(product(item))
        if "billableId" in item:
            line["metadata"] = {"billableId": item["billableId"]}  # what the line bills, shown in revenueInfo
        lines.append(line)
    return lines


_OPS: dict[str, Callable[[list[Decimal]], Decimal]] = {
    "+": lambda a: sum(a, Decimal(0)),
    "*": lambda a: _product(a),
    "-": lambda a: -a[0] if len(a) == 1 else a[0] - sum(a[1:], Decimal(0)),
    "/": lambda a: a[0] / a[1],
    "min": min,
    "max": max,
}


def _product(args: list[Decimal]) -> Decimal:
    out = Decimal(1)
    for arg in args:
        out *= arg
    return out


def evaluate(expression: Any, variables: dict[str, Decimal]) -> Decimal:
    """A JSON-logic arithmetic expression (``+ - * / min max``, ``var`` of a line id); ValueError why not."""
    if isinstance(expression, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(expression, (int, float)):
        if not math.isfinite(expression):
            raise ValueError("is not a finite amount")
        return exact(expression)
    if isinstance(expression, dict) and len(expression) == 1:
        op, args = next(iter(expression.items()))
        if op == "var":
            name = args[0] if isinstance(args, list) and args else args
            if not isinstance(name, str) or name not in variables:
                raise ValueError(f"names no line item of the invoice ({name!r})")
            return variables[name]
        if op in _OPS:
            values = [evaluate(a, variables) for a in (args if isinstance(args, list) else [args])]
            if not values or (op == "/" and len(values) != 2):
                raise ValueError(f"{op!r} needs {'two' if op == '/' else 'at least one'} operand(s)")
            try:
                result = _OPS[op](values)
            except (ArithmeticError, InvalidOperation):
                raise ValueError(f"{op!r} cannot be computed (division by zero?)") from None
            if abs(result) > MAX_AMOUNT:
                raise ValueError(f"{op!r} gives an amount beyond {MAX_AMOUNT:.0e}")
            return result
    raise ValueError("is neither a number nor JSON logic over + - * / min max and var")


def charge_value(charge: dict[str, Any], variables: dict[str, Decimal]) -> Decimal:
    """What a charge adds to the invoice: rate x quantity, a number, or JSON logic over the lines."""
    if "value" not in charge:
        return exact(charge["rate"]) * exact(charge["quantity"])
    try:
        return evaluate(json.loads(charge["value"]), variables)
    except RecursionError:
        raise ValueError("is nested too deeply") from None
    except json.JSONDecodeError:
        raise ValueError("is neither a number nor JSON logic") from None


def variables_of(lines: list[dict[str, Any]]) -> dict[str, Decimal]:
    """The line values a charge's JSON logic may name, by line id."""
    return {line["id"]: exact(line["value"]) for line in lines if "id" in line}


def charge_problems(charges: list[dict[str, Any]], lines: list[dict[str, Any]], where: str) -> list[Violation]:
    """Each charge has rate and quantity or a value (not both), names are unique, values compute."""
    problems: list[Violation] = []
    names: dict[str, int] = {}
    variables = variables_of(lines)
    for i, charge in enumerate(charges):
        at = f"{where}[{i}]"
        has_rate = "rate" in charge or "quantity" in charge
        if has_rate and "value" in charge:
            problems.append(Violation(f"{at}.value", "must not be given with rate and quantity (it is their product)"))
        elif has_rate and not ("rate" in charge and "quantity" in charge):
            problems.append(Violation(at, "needs both rate and quantity"))
        elif not has_rate and "value" not in charge:
            problems.append(Violation(at, "needs a value, or rate and quantity"))
        else:
            try:
                if abs(charge_value(charge, variables)) > MAX_AMOUNT:
                    problems.append(Violation(f"{at}.value", f"is beyond {MAX_AMOUNT:.0e}"))
            except ValueError as exc:
                problems.append(Violation(f"{at}.value", str(exc)))
        if names.setdefault(charge["name"], i) != i:
            problems.append(Violation(f"{at}.name", f"is also {where}[{names[charge['name']]}]'s"))
    return problems


# ---- rendering -----------------------------------------------------------------


def currency(invoice: Record) -> str:
    """The invoice's currency, from the party it bills."""
    details = invoice.get("invoiceDetails", {})
    party = details.get("invoiceGroup") or details.get("account") or {}
    code: str = party.get("invoiceCurrency", "")
    return code


def _with_units(line: dict[str, Any], units: str) -> dict[str, Any]:
    out = {**line, "units": units}
    if "lineItems" in line:
        out["lineItems"] = [_with_units(child, units) for child in line["lineItems"]]
    return out


def without_units(line: dict[str, Any]) -> dict[str, Any]:
    """A rendered line without its ``units``, at every depth (rendering adds them again)."""
    out = {k: v for k, v in line.items() if k != "units"}
    if "lineItems" in line:
        out["lineItems"] = [without_units(child) for child in line["lineItems"]]
    return out


def is_ongoing(invoice: Record) -> bool:
    """An account's ongoing invoice: STANDARD, DRAFT, and not a closed cycle's (no ``finalizingStatus``)."""
    return invoice.get("invoiceType") != "CUSTOM" and invoice["status"] == "DRAFT" and "finalizingStatus" not in invoice


def revenue(invoice: Record) -> tuple[Decimal, dict[str, Any]]:
    """The invoice's total and its ``revenueInfo`` tree, from its lines and charges."""
    units = currency(invoice)
    children: list[dict[str, Any]] = [_with_units(line, units) for line in invoice["lines"]]
    total = sum((exact(line["value"]) for line in invoice["lines"]), Decimal(0))
    if invoice["charges"]:
        variables = variables_of(invoice["lines"])
        leaves, charged = [], Decimal(0)
        for charge in invoice["charges"]:
            value = charge_value(charge, variables)
            charged += value
            leaf: dict[str, Any] = {"description": charge["name"], "type": CHARGE_LINE, "units": units,
                                    "value": to_json(value)}
            if "rate" in charge:
                leaf["valuePerQuantity"], leaf["quantity"] = charge["rate"], charge["quantity"]
            meta = {"considerForRevenue": charge.get("considerForRevenue", False)}
            if "value" in charge:
                meta["value"] = charge["value"]
            leaf["metadata"] = meta
            leaves.append(leaf)
        children.append({"description": "Miscellaneous charges", "type": CHARGES_TOTAL, "units": units,
                         "value": to_json(charged), "lineItems": leaves})
        total += charged
    root: dict[str, Any] = {"description": "Total amount", "type": ROOT_LINE, "units": units, "value": to_json(total)}
    if invoice.get("invoiceType") == COMPOSITE:
        root["description"], root["type"] = "Grand total amount", GRAND_LINE
    if children:
        root["lineItems"] = children
    return total, root


def render(store: Store, invoice: Record) -> dict[str, Any]:
    """The invoice as the API shows it: total and revenue tree derived; paid in full once PAID."""
    total, tree = revenue(invoice)
    out = {k: v for k, v in invoice.items() if k not in INTERNAL}
    out["revenueInfo"] = tree
    out["totalAmount"] = to_json(total)
    if invoice["status"] in ("PAID", "REFUND_INITIATED", "REFUND_COMPLETED"):
        out["paidAmount"] = to_json(max(total, Decimal(0)))  # a discount larger than the charges is not paid out
    return out


def owed(invoice: Record) -> Decimal:
    """What is left to pay of the invoice: its total (not below 0) less what was paid."""
    total, _ = revenue(invoice)
    return max(total, Decimal(0)) - exact(invoice.get("paidAmount", 0))


def changed(store: Store) -> None:
    """An invoice was made or removed, or changed its status or whether it is ongoing."""
    counter = store.indexes[CHANGES]
    counter["n"] = counter.get("n", 0) + 1


def generation(store: Store) -> int:
    """How many times :func:`changed` was told so far (0 after a reset or an import)."""
    count: int = store.indexes[CHANGES].get("n", 0)
    return count


def record_payment(store: Store, invoice: Record, amount: Decimal, at: str) -> None:
    """``amount`` paid towards a DUE or PARTIALLY_PAID invoice (the caller checked it is at most what is
    owed): ``paidAmount`` grows; PAID once nothing is owed, else PARTIALLY_PAID."""
    invoice["paidAmount"] = to_json(exact(invoice.get("paidAmount", 0)) + amount)
    invoice["status"] = "PAID" if owed(invoice) <= 0 else "PARTIALLY_PAID"
    invoice["updatedAt"] = at
    changed(store)


# ---- helpers ---------------------------------------------------------------------


def require_invoice(store: Store, invoice_id: str) -> Record:
    """The invoice, or NotFound at ``invoice_id``."""
    record: Record = require(store, "invoices", invoice_id, "invoice_id", "invoice")
    return record


def kind(invoice: Record) -> str:
    """What an invoice is, for messages: ``this one is STANDARD, DUE``."""
    return f"this one is {invoice['invoiceType']}, {invoice['status']}"


def _after_days(moment: str, days: int) -> str:
    try:
        return stamp(parse_time(moment) + timedelta(days=days))
    except OverflowError:
        return stamp(datetime.max.replace(tzinfo=UTC))


def details(store: Store, account: Record, group: Record | None) -> dict[str, Any]:
    """``invoiceDetails``: the billed parties as they are when the invoice is made."""
    customer = store.collections["customers"].items[account["customerId"]]
    out: dict[str, Any] = {
        "customer": {"name": customer["name"], "primaryEmail": customer["primaryEmail"],
                     "address": dict(customer.get("address") or {})},
        "account": {"name": account["name"], "invoiceCurrency": account["invoiceCurrency"],
                    "address": dict(account.get("address") or customer.get("address") or {}),
                    "primaryEmail": account.get("primaryEmail") or customer["primaryEmail"]},
    }
    if group is not None:
        out["invoiceGroup"] = group_details(group)
    return out


def group_details(group: Record) -> dict[str, Any]:
    """``invoiceDetails.invoiceGroup``: the group as it is when the invoice is made."""
    return {"id": group["id"], "name": group["name"], "email": group["email"],
            "dailyInvoiceConsolidation": group["dailyInvoiceConsolidation"],
            "invoiceCurrency": group["invoiceCurrency"], "address": dict(group.get("billingAddress") or {})}


def _active_account(store: Store, account_id: str, field: str) -> Record:
    account: Record = require(store, "accounts", account_id, field, "account")
    if account["status"] == "ARCHIVED":
        raise Invalid.at(field, f"account {account_id!r} is archived")
    return account


def finalize(store: Store, invoice: Record, status: str, now: str) -> None:
    """Move an invoice out of DRAFT: dated now, due after its net terms."""
    changed(store)
    invoice["status"] = status
    invoice["invoiceDate"] = invoice["generatedAt"] = now
    invoice["dueDate"] = _after_days(now, invoice["netTermDays"])
    invoice["finalizingStatus"] = "FINALIZED"
    if invoice.get("invoiceType") != "CUSTOM":
        # Finalized by hand, the ongoing invoice still bills its cycle, once (the engine skips it).
        mark_billed(store, invoice)


# ---- indexes ------------------------------------------------------------------------


def _insert(store: Store, invoice: Record) -> None:
    """Store an invoice and index it by owner and customer (creation, opening and import come here)."""
    changed(store)
    store.collections["invoices"].add(invoice["id"], invoice)
    store.indexes[BY_OWNER].setdefault(invoice["ownerId"], []).append(invoice["id"])
    store.indexes[BY_CUSTOMER].setdefault(invoice["customerId"], []).append(invoice["id"])


def owned_by(store: Store, owner_id: str) -> list[Record]:
    """The invoices of an account (or invoice group), oldest first, from the owner index (no scan)."""
    items = store.collections["invoices"].items
    return [items[invoice_id] for invoice_id in store.indexes[BY_OWNER].get(owner_id, ())]


def _forget(store: Store, invoice: Record) -> None:
    """Remove an invoice and every index entry naming it."""
    changed(store)
    store.collections["invoices"].remove(invoice["id"])
    for index, field in ((BY_OWNER, "ownerId"), (BY_CUSTOMER, "customerId")):
        ids = store.indexes[index].get(invoice[field], [])
        if invoice["id"] in ids:
            ids.remove(invoice["id"])
    key = store.indexes[KEY_OF].pop(invoice["id"], None)
    if key is not None:
        store.indexes[KEYS].pop(key, None)


# ---- operations -------------------------------------------------------------------


def create_custom_invoice(store: Store, body: dict[str, Any]) -> Record:
    """A CUSTOM invoice for an active account, or its invoice group (``body``: the validated request).

    An ``idempotencyKey`` used before answers that invoice again.
    """
    key = body.get("idempotencyKey")
    if key is not None and key in store.indexes[KEYS]:
        earlier: Record | None = store.collections["invoices"].get(store.indexes[KEYS][key])
        if earlier is not None:
            return earlier
    account = _active_account(store, body["accountId"], "accountId")
    group = None
    if body.get("ownerType") == "INVOICE_GROUP":
        group_id = store.indexes["account_group"].get(account["id"])
        if group_id is None:
            raise Invalid.at("ownerType", f"account {account['id']!r} belongs to no invoice group")
        group = store.collections["invoiceGroups"].items[group_id]
    problems = line_problems(body["lineItems"], "lineItems") + billable_problems(store, body["lineItems"], "lineItems")
    if parse_time(body["endDate"], "endDate") < parse_time(body["startDate"], "startDate"):
        problems.insert(0, Violation("endDate", "is before startDate"))
    if problems:
        raise Invalid(problems)
    now = store.clock.now()
    owner = group or account
    net_terms = owner.get("netTermDays")
    record: Record = {
        "id": store.new_id(INVOICE_IDS, store.collections["invoices"]),
        "customerId": account["customerId"],
        "ownerId": owner["id"],
        "invoiceDetails": details(store, account, group),
        "status": "DRAFT",
        "invoiceClass": "INVOICE",
        "invoiceType": "CUSTOM",
        "autoAdvance": body.get("autoAdvance", False),
        "startDate": body["startDate"],
        "endDate": body["endDate"],
        "invoiceDate": now,
        "updatedAt": now,
        "paidAmount": 0,
        "netTermDays": net_terms if net_terms is not None else 0,
        "lines": make_lines(store, body["lineItems"]),
        "charges": [],
    }
    if body["status"] != "DRAFT":
        finalize(store, record, body["status"], now)
    _insert(store, record)
    if key is not None:
        store.indexes[KEYS][key] = record["id"]
        store.indexes[KEY_OF][record["id"]] = key
    return record


@dataclass(frozen=True, slots=True)
class Filters:
    """What an invoice list keeps: each filter when given.

    ``start_time``/``end_time`` (epoch milliseconds) keep the invoices whose
    ``invoiceDate`` falls in ``[start_time, end_time)``. ``eligible``: only the
    invoices a bill run would finalize (the accounts' ongoing invoices).
    """

    status: str | None = None
    owner_id: str | None = None
    customer_id: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    eligible: bool = False


def _moment_of(ms: int | None) -> str | None:
    if ms is None:
        return None
    try:
        return stamp(datetime.fromtimestamp(ms / 1000, UTC))
    except (OverflowError, OSError, ValueError):
        # Beyond the calendar: before or after every invoice.
        return "0000" if ms < 0 else "9999"


def _candidates(store: Store, filters: Filters) -> list[str] | None:
    """The ids an index narrows the list to (the shortest), oldest first; ``None``: every invoice."""
    lists = []
    if filters.eligible:
        lists.append(list(store.indexes[ONGOING].values()))  # opened in collection order
    if filters.owner_id is not None:
        lists.append(store.indexes[BY_OWNER].get(filters.owner_id, []))
    if filters.customer_id is not None:
        lists.append(store.indexes[BY_CUSTOMER].get(filters.customer_id, []))
    return min(lists, key=len) if lists else None


def list_invoices(
    store: Store, filters: Filters, next_token: str | None, page_size: int | None
) -> tuple[list[Record], dict[str, Any]]:
    """One page of invoices, oldest first, as Togai's lists filter them, and its ``nextToken``.

    A filter on owner, customer or eligibility pages over what its index
    holds, not over every invoice; tokens then carry positions in that list
    (one that no longer holds its invoice there is found by the invoice's id).
    """
    if filters.start_time is not None and filters.end_time is not None and filters.end_time < filters.start_time:
        raise Invalid.at("end_time", "is before start_time")
    status, owner, customer, eligible = filters.status, filters.owner_id, filters.customer_id, filters.eligible
    start, end = _moment_of(filters.start_time), _moment_of(filters.end_time)
    ongoing = store.indexes[ONGOING]

    def keep(invoice: Record) -> bool:
        return (
            (status is None or invoice["status"] == status)
            and (owner is None or invoice.get("ownerId") == owner)
            and (customer is None or invoice.get("customerId") == customer)
            and (start is None or invoice["invoiceDate"] >= start)
            and (end is None or invoice["invoiceDate"] < end)
            and (not eligible or ongoing.get(invoice["ownerId"]) == invoice["id"])
        )

    collection = store.collections["invoices"]
    ids = _candidates(store, filters)
    if ids is not None:
        narrowed = Collection()
        for invoice_id in ids:
            narrowed.add(invoice_id, collection.items[invoice_id])
        collection = narrowed
    return paginate(
        collection,
        next_token,
        page_size or (None if next_token else MAX_PAGE),
        context=False,  # ListInvoicesResponse is closed without it
        keep=keep,
        limit=MAX_PAGE,
    )


def update_invoice(store: Store, invoice_id: str, changes: dict[str, Any]) -> Record:
    """Change a DRAFT custom invoice's fields, or any invoice's status, forward only (``changes``: the body)."""
    invoice = require_invoice(store, invoice_id)
    body = changes
    editable = invoice["invoiceType"] == "CUSTOM" and invoice["status"] == "DRAFT"
    problems: list[Violation] = []
    for field in DRAFT_FIELDS:
        if field in body and not editable:
            problems.append(Violation(field, f"only a CUSTOM invoice in DRAFT can change it ({kind(invoice)})"))
    start, end = body.get("startDate", invoice.get("startDate")), body.get("endDate", invoice.get("endDate"))
    if start is not None and end is not None and parse_time(end, "endDate") < parse_time(start, "startDate"):
        problems.append(Violation("endDate", "is before startDate"))
    if "lineItems" in body:
        problems += line_problems(body["lineItems"], "lineItems") + billable_problems(store, body["lineItems"],
                                                                                      "lineItems")
    target = body.get("status")
    if target is not None and target != invoice["status"] and target not in TRANSITIONS.get(invoice["status"], ()):
        allowed = ", ".join(sorted(TRANSITIONS.get(invoice["status"], ()))) or "none: it is final"
        problems.append(Violation("status", f"cannot go from {invoice['status']} to {target} (allowed: {allowed})"))
    if not problems and "lineItems" in body:
        # The charges' JSON logic must still compute over the new lines.
        problems += charge_problems(invoice["charges"], make_lines(None, body["lineItems"]), "lineItems (charges)")
    if problems:
        raise Invalid(problems)
    now = store.clock.now()
    if "lineItems" in body:
        invoice["lines"] = make_lines(store, body["lineItems"])
    for field in ("startDate", "endDate", "autoAdvance"):
        if field in body:
            invoice[field] = body[field]
    if target is not None and target != invoice["status"]:
        if invoice["status"] == "DRAFT":
            finalize(store, invoice, target, now)
        else:
            invoice["status"] = target
            changed(store)
    invoice["updatedAt"] = now
    return invoice


def delete_custom_invoice(store: Store, invoice_id: str) -> None:
    """Remove a CUSTOM invoice still in DRAFT (and forget its idempotency key)."""
    invoice = require_invoice(store, invoice_id)
    if invoice["invoiceType"] != "CUSTOM" or invoice["status"] != "DRAFT":
        raise Invalid.at("invoice_id", f"only a CUSTOM invoice in DRAFT can be deleted ({kind(invoice)})")
    _forget(store, invoice)


def _set_charges(invoice: Record, items: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    problems = charge_problems(items, invoice["lines"], "items")
    if problems:
        raise Invalid(problems)
    invoice["charges"] = [dict(item) for item in items]
    invoice["updatedAt"] = now
    charges: list[dict[str, Any]] = invoice["charges"]
    return charges


def charges_on_invoice(store: Store, invoice_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace a DRAFT invoice's miscellaneous charges with ``items``; the charges as stored."""
    invoice = require_invoice(store, invoice_id)
    if invoice["status"] != "DRAFT":
        raise Invalid.at("invoice_id", f"invoice {invoice['id']!r} is {invoice['status']}; charges need a DRAFT one")
    return _set_charges(invoice, items, store.clock.now())


def month_of(now: str) -> tuple[str, str]:
    """The calendar month (UTC) holding ``now``: its first instant and the next month's."""
    moment = parse_time(now)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return stamp(start), stamp(end)


def cycle_of(store: Store, account_id: str, now: str) -> tuple[str, str]:
    """The bounds of the account's pricing cycle holding ``now``; the calendar month without a plan."""
    found = schedules.schedule_at(store, account_id, parse_time(now))
    if found is None:
        return month_of(now)
    return stamp(found.cycle_start), stamp(found.cycle_end)


def open_standard(store: Store, account: Record, start: str, end: str, now: str) -> Record:
    """A new ongoing STANDARD invoice of the account for the cycle ``[start, end)`` (DRAFT, no lines yet)."""
    net_terms = account.get("netTermDays")
    found = schedules.schedule_at(store, account["id"], parse_time(start))
    record: Record = {
        "id": store.new_id(INVOICE_IDS, store.collections["invoices"]),
        "customerId": account["customerId"],
        "ownerId": account["id"],
        "invoiceDetails": details(store, account, None),
        "status": "DRAFT",
        "invoiceClass": "INVOICE",
        "invoiceType": "STANDARD",
        "autoAdvance": True,
        "startDate": start,
        "endDate": end,
        "endDateInclusive": stamp(parse_time(end) - timedelta(milliseconds=1)),
        "invoiceDate": end,
        "updatedAt": now,
        "paidAmount": 0,
        "netTermDays": net_terms if net_terms is not None else 0,
        "lines": [],
        "charges": [],
    }
    if found is not None:
        record["pricePlanId"] = found.plan["id"]
    _insert(store, record)
    store.indexes[ONGOING][account["id"]] = record["id"]  # _insert told the watchers
    return record


def open_composite(store: Store, group: Record, customer_id: str, day: str, now: str) -> Record:
    """A new COMPOSITE invoice of the invoice group for the members' invoices due on ``day`` (UTC,
    ``YYYY-MM-DD``): DUE and FINALIZED from ``now``, due after the group's net terms, no lines yet."""
    net_terms = group.get("netTermDays")
    terms = net_terms if net_terms is not None else 0
    record: Record = {
        "id": store.new_id(INVOICE_IDS, store.collections["invoices"]),
        "customerId": customer_id,
        "ownerId": group["id"],
        "invoiceDetails": {"invoiceGroup": group_details(group)},
        "status": "DUE",
        "finalizingStatus": "FINALIZED",
        "invoiceClass": "INVOICE",
        "invoiceType": COMPOSITE,
        "autoAdvance": True,
        "invoiceDate": now,
        "generatedAt": now,
        "dueDate": _after_days(now, terms),
        "updatedAt": now,
        "paidAmount": 0,
        "netTermDays": terms,
        "lines": [],
        "charges": [],
    }
    _insert(store, record)
    store.indexes[COMPOSITES].setdefault(group["id"], {})[day] = record["id"]
    return record


def composite_of(store: Store, group_id: str, day: str) -> Record | None:
    """The group's COMPOSITE invoice of ``day`` (UTC, ``YYYY-MM-DD``), if one was made."""
    found = store.indexes[COMPOSITES].get(group_id, {}).get(day)
    record: Record | None = store.collections["invoices"].get(found) if found is not None else None
    return record


def ongoing_invoice(store: Store, account: Record, now: str) -> Record:
    """The account's ongoing STANDARD invoice (of its open pricing cycle), opened if it has none."""
    existing = store.indexes[ONGOING].get(account["id"])
    if existing is not None:
        record: Record = store.collections["invoices"].items[existing]
        return record
    start, end = cycle_of(store, account["id"], now)
    return open_standard(store, account, start, end, now)


def mark_billed(store: Store, invoice: Record) -> None:
    """Index a closed cycle's STANDARD invoice: its cycle is billed, and the account's next starts at its end."""
    owner = invoice["ownerId"]
    store.indexes[BILLED].setdefault(owner, {})[invoice["startDate"]] = invoice["id"]
    until = store.indexes[BILLED_UNTIL].get(owner)
    if until is None or parse_time(invoice["endDate"]) > parse_time(until):
        store.indexes[BILLED_UNTIL][owner] = invoice["endDate"]
    if store.indexes[ONGOING].get(owner) == invoice["id"]:
        # Only this invoice: a grace-period DRAFT finalized later must not drop the next cycle's ongoing one.
        del store.indexes[ONGOING][owner]
        changed(store)


def billed_until(store: Store, account_id: str) -> str | None:
    """The end of the account's latest billed cycle, if any was billed."""
    until: str | None = store.indexes[BILLED_UNTIL].get(account_id)
    return until


def charges_on_account(store: Store, account_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The charges of the account's upcoming invoice: they replace those of its ongoing invoice,
    which is opened when the account has none. The charges as stored."""
    account = _active_account(store, account_id, "account_id")
    existing = store.indexes[ONGOING].get(account["id"])
    lines = store.collections["invoices"].items[existing]["lines"] if existing else []
    problems = charge_problems(items, lines, "items")
    if problems:
        raise Invalid(problems)
    now = store.clock.now()
    return _set_charges(ongoing_invoice(store, account, now), items, now)


# ---- export and import -------------------------------------------------------------


def _from_tree(tree: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stored lines and charges a ``revenueInfo`` tree shows.

    A charge's value is its ``metadata.value`` (what the client sent), else
    its rate and quantity, else (a hand-written state) its amount.
    """
    lines, charges = [], []
    for node in tree.get("lineItems", []):
        if node["type"] != CHARGES_TOTAL:
            lines.append(without_units(node))
            continue
        for leaf in node.get("lineItems", []):
            meta = leaf.get("metadata") or {}
            charge: dict[str, Any] = {"name": leaf["description"]}
            if isinstance(meta.get("value"), str):
                charge["value"] = meta["value"]
            elif "valuePerQuantity" in leaf and "quantity" in leaf:
                charge["rate"], charge["quantity"] = leaf["valuePerQuantity"], leaf["quantity"]
            else:
                charge["value"] = json.dumps(leaf["value"])
            charge["considerForRevenue"] = meta.get("considerForRevenue") is True
            charges.append(charge)
    return lines, charges


def _tree_problems(lines: list[dict[str, Any]], where: str, composite: bool = False) -> list[Violation]:
    """Lines the API never makes: nested ones, ids missing, totals or charges out of place.

    A COMPOSITE invoice's lines are its members' TOTAL_AMOUNT trees, and nothing else.
    """
    problems = []
    for j, line in enumerate(lines):
        if composite:
            if line["type"] != ROOT_LINE:
                problems.append(Violation(f"{where}[{j}].type", f"a COMPOSITE invoice holds {ROOT_LINE} lines only"))
        elif ("lineItems" in line and line["type"] not in NESTING) or line["type"] in (ROOT_LINE, CHARGE_LINE):
            problems.append(Violation(f"{where}[{j}]", f"is not a line the API makes ({line['type']}, nested)"))
        if "id" not in line:
            problems.append(Violation(f"{where}[{j}].id", "is required"))
        if "lineItems" in line and (composite or line["type"] in NESTING):
            problems += _sum_problems(line, f"{where}[{j}]")
    return problems


def _sum_problems(line: dict[str, Any], where: str) -> list[Violation]:
    """A nested line's value is the sum of its lines', at every level (totals add the rounded lines)."""
    children = line.get("lineItems", [])
    if not children:
        return []
    problems = []
    if sum((exact(c["value"]) for c in children), Decimal(0)) != exact(line["value"]):
        problems.append(Violation(f"{where}.value", "is not the sum of its lineItems"))
    for k, child in enumerate(children):
        problems += _sum_problems(child, f"{where}.lineItems[{k}]")
    return problems


def check_import(ctx: ImportContext) -> None:
    """Imported invoices are what the API makes: lines and charges that add up to the total,
    an owner and customer that exist, paid amounts within the total, one ongoing invoice per account."""
    accounts = ctx.ids("accounts")
    ongoing: dict[str, int] = {}
    for i, invoice in enumerate(ctx.data["invoices"]):
        where = f"invoices[{i}]"
        composite = invoice.get("invoiceType") == COMPOSITE
        root = GRAND_LINE if composite else ROOT_LINE
        tree = invoice.get("revenueInfo") or {"type": root, "lineItems": []}
        if tree.get("type") != root:
            ctx.problems.append(Violation(f"{where}.revenueInfo.type", f"must be {root}"))
            continue
        lines, charges = _from_tree(tree)
        problems = line_problems(lines, f"{where}.revenueInfo.lineItems")
        problems += _tree_problems(lines, f"{where}.revenueInfo.lineItems", composite)
        problems += charge_problems(charges, lines, f"{where}.revenueInfo.charges")
        ctx.problems.extend(problems)
        if problems:
            continue
        total, shown = revenue({**invoice, "lines": lines, "charges": charges})
        if invoice.get("revenueInfo") is not None and invoice["revenueInfo"] != shown:
            ctx.problems.append(Violation(f"{where}.revenueInfo", "values do not add up as the API computes them"))
        if "totalAmount" in invoice and exact(invoice["totalAmount"]) != total:
            ctx.problems.append(Violation(f"{where}.totalAmount", f"is not the sum of its lines ({to_json(total)})"))
        if not 0 <= exact(invoice["paidAmount"]) <= max(total, Decimal(0)):
            ctx.problems.append(Violation(f"{where}.paidAmount", "must be between 0 and totalAmount"))
        group = (invoice.get("invoiceDetails") or {}).get("invoiceGroup")
        account = accounts.get(invoice.get("ownerId", ""))
        if group is None and account is None:
            ctx.problems.append(Violation(f"{where}.ownerId", f"no account {invoice.get('ownerId')!r}"))
        elif group is not None and group["id"] != invoice.get("ownerId"):
            ctx.problems.append(Violation(f"{where}.ownerId", "is not its invoiceDetails.invoiceGroup"))
        elif account is not None and account.get("customerId") != invoice.get("customerId"):
            ctx.problems.append(Violation(f"{where}.customerId", "is not its account's customer"))
        if is_ongoing(invoice) and account is not None:
            if ongoing.setdefault(account["id"], i) != i:
                ctx.problems.append(Violation(f"{where}.status", f"also invoices[{ongoing[account['id']]}] is "
                                              "the account's ongoing invoice"))
        if invoice["status"] != "DRAFT" and "dueDate" not in invoice:
            ctx.problems.append(Violation(f"{where}.dueDate", "is required once an invoice left DRAFT"))


def restore(store: Store, invoice: dict[str, Any]) -> None:
    """Insert an imported invoice: its lines and charges from its tree; total and tree derived again."""
    lines, charges = _from_tree(invoice.get("revenueInfo") or {})
    stored = {k: v for k, v in invoice.items() if k not in ("revenueInfo", "totalAmount")}
    stored["lines"], stored["charges"] = lines, charges
    _insert(store, stored)
    store.reserved.add(stored["id"])
    if is_ongoing(stored):
        store.indexes[ONGOING][stored["ownerId"]] = stored["id"]
    elif stored.get("invoiceType") == COMPOSITE:
        day = parse_time(stored["invoiceDate"]).astimezone(UTC).date().isoformat()
        store.indexes[COMPOSITES].setdefault(stored["ownerId"], {})[day] = stored["id"]
    elif stored.get("invoiceType") == "STANDARD" and "startDate" in stored and "endDate" in stored:
        mark_billed(store, stored)


def complete_import(store: Store, ctx: ImportContext) -> None:
    """A hand-written invoice may leave out its ``invoiceDate``: made when it was last changed."""
    for invoice in ctx.data.get("invoices", []):
        invoice.setdefault("invoiceDate", invoice.get("updatedAt") or store.clock.now())


RESOURCE = Resource(
    name="invoices",
    schema="Invoice",
    ids=INVOICE_IDS,
    references={"customerId": "customers"},
    defaults={"invoiceClass": "INVOICE", "invoiceType": "CUSTOM", "paidAmount": 0, "netTermDays": 0},
    exchange=Exchange(
        generated=("invoiceDate",),
        not_exported=("totalAmount",),
        complete_import=complete_import,
        export=render,
        check_import=check_import,
        restore=restore,
    ),
    indexes=(ONGOING, KEYS, KEY_OF, BY_OWNER, BY_CUSTOMER, BILLED, BILLED_UNTIL, COMPOSITES, CHANGES),
)
