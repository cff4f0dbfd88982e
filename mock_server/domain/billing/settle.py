"""Money that moves when an invoice becomes DUE: the account's credits, then its wallet.

Credits come before miscellaneous charges in Togai's order of an invoice, so
they cover the invoice's lines (the plan's rate cards and custom lines), not
its charges. Each credit in effect at the finalization instant, in the
account's currency, is consumed in order (:func:`..ledger.credits.usable`):
an unrestricted one from any line, one with ``applicableEntityIds`` only from
the rate cards it names (a usage meter's id, a fixed fee's add-on id, or
``ALL_USAGE_METER_RATE_CARDS`` / ``ALL_FIXED_FEE_RATE_CARDS``). What each
consumed is a ``SUB_CREDITS`` line under one ``TOTAL_CREDITS`` line, both
negative, so the invoice's total drops by it.

Then the wallet nets the invoice ("the default behaviour of a wallet is
netting off the invoices as they become due", Togai's payments and wallet
page): a ``DEBITED`` entry of as much as its balance allows, paid towards
the invoice (PARTIALLY_PAID or PAID). Every amount is in the currency's
minor unit (taken down, never up, so no credit or wallet gives more than it
holds).

Last, the credit grants the invoice billed (``CREDIT_GRANT_RATE_CARD_AMOUNT``
lines) are granted: credits the account holds from then on, never paying the
invoice that sold them (:func:`grant_credits`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ..core.errors import DomainError
from ..core.money import exact, minor_unit, to_json
from ..core.store import Record, Store
from ..core.times import add_duration, parse_time
from ..ledger import credits, invoices, wallets
from ..pricing import schedules
from .lines import GRANT_LINE

ALL_USAGE = "ALL_USAGE_METER_RATE_CARDS"
ALL_FIXED = "ALL_FIXED_FEE_RATE_CARDS"
USAGE_LINE = "USAGE_RATE_CARD_AMOUNT"
FIXED_LINE = "FIXED_FEE_RATE_CARD_AMOUNT"
WALLET_DESCRIPTION = "Invoice netted from the wallet"
ZERO = Decimal(0)


@dataclass(slots=True)
class _Part:
    """A line credits may cover: its kind (usage, fixed, other), the entity it prices, what is left of it."""

    kind: str
    entity: str | None
    left: Decimal


def _parts(invoice: Record) -> list[_Part]:
    """The invoice's coverable lines, in order: each plan's rate cards, then the other positive lines."""
    out: list[_Part] = []
    for line in invoice["lines"]:
        if line["type"] == invoices.CREDITS_LINE:
            continue
        if line["type"] == invoices.PLAN_LINE:
            for card in line.get("lineItems", []):
                if card["type"] == GRANT_LINE:
                    continue  # credits never pay for the credits an invoice sells
                meta = card.get("metadata") or {}
                entity = meta.get("usageMeterId") if card["type"] == USAGE_LINE else meta.get("rateCardId")
                out.append(_Part(card["type"], entity, max(exact(card["value"]), ZERO)))
        else:
            out.append(_Part(line["type"], None, max(exact(line["value"]), ZERO)))
    return out


def _covers(ids: list[str] | None, part: _Part) -> bool:
    """Whether a credit restricted to ``ids`` (none: to nothing) may cover ``part``."""
    if not ids:
        return True
    return (part.entity is not None and part.entity in ids) or (part.kind == USAGE_LINE and ALL_USAGE in ids) or (
        part.kind == FIXED_LINE and ALL_FIXED in ids)


def apply_credits(store: Store, invoice: Record, moment: datetime, at: str) -> Decimal:
    """Consume the account's credits against the invoice's lines; the amount they took (0: no line added)."""
    currency = invoices.currency(invoice)
    end = invoice.get("endDate")
    found = credits.usable(store, invoice["ownerId"], moment, currency, parse_time(end) if end else None)
    if not found:
        return ZERO
    unit = minor_unit(currency)
    parts = _parts(invoice)
    # A pricing rule's discount (a negative line) lowers what credits may cover: never more than the invoice.
    room = max(sum((exact(x["value"]) for x in invoice["lines"] if x["type"] != invoices.CREDITS_LINE), ZERO), ZERO)
    leaves: list[dict[str, Any]] = []
    total = ZERO
    for credit in found:
        ids = credit.get("applicableEntityIds")
        want = min(credits.remaining(credit).quantize(unit, rounding=ROUND_DOWN), room - total)
        took = ZERO
        for part in parts:
            if want <= took:
                break
            if part.left > 0 and _covers(ids, part):
                take = min(want - took, part.left)
                part.left -= take
                took += take
        if took > 0:
            credits.consume(credit, took, at)
            leaves.append({"description": credit.get("purpose") or credit["id"], "type": invoices.CREDIT_LINE,
                           "value": to_json(-took), "metadata": {"creditId": credit["id"]}})
            total += took
    if total > 0:
        invoice["lines"].append({"id": store.new_id(invoices.LINE_IDS), "description": "Credits",
                                 "type": invoices.CREDITS_LINE, "value": to_json(-total), "lineItems": leaves})
    return total


def net_wallet(store: Store, invoice: Record, at: str) -> Decimal:
    """Pay the invoice from the account's ACTIVE wallet, as much as its balance allows; the amount paid."""
    wallet: Record | None = store.collections["wallets"].get(invoice["ownerId"])
    if wallet is None or wallet["status"] != "ACTIVE" or wallet.get("creditUnit") != invoices.currency(invoice):
        return ZERO
    if invoice["status"] not in invoices.SETTLEABLE:
        return ZERO
    unit = minor_unit(invoices.currency(invoice))
    amount = min(wallets.totals(store, wallet).balance, invoices.owed(invoice)).quantize(unit, rounding=ROUND_DOWN)
    if amount <= 0:
        return ZERO
    wallets.debit(store, wallet, amount, invoice["id"], WALLET_DESCRIPTION, at)
    invoices.record_payment(store, invoice, amount, at)
    return amount


def grant_credits(store: Store, invoice: Record, moment: datetime) -> list[str]:
    """Grant the credits of the invoice's credit-grant lines (once each); the ids of the credits granted.

    Decisions where Togai's documents are silent: a grant is made when the invoice that sells it is
    DUE (after credits and the wallet settled it, so it never pays for itself), effective from that
    day; it expires with the account's pricing cycle in progress then (PRICING_CYCLE; none when no
    plan is in effect), ``expiryDuration`` after it (CUSTOM), or never (NO_EXPIRY).
    """
    plan = next((x for x in invoice["lines"] if x["type"] == invoices.PLAN_LINE), None)
    made: list[str] = []
    for line in (plan or {}).get("lineItems", []):
        if line["type"] != GRANT_LINE:
            continue
        meta = line["metadata"]
        request: dict[str, Any] = {
            "accountId": invoice["ownerId"], "creditAmount": meta["creditAmount"], "priority": meta["priority"],
            "purpose": line["description"], "effectiveFrom": moment.date().isoformat(),
            "grantorId": "credit grant rate card", "idempotencyKey": f"grant/{invoice['id']}/{meta['rateCardId']}"}
        until = None
        if meta["expiryType"] == "PRICING_CYCLE":
            found = schedules.schedule_at(store, invoice["ownerId"], moment)
            until = found.cycle_end if found is not None else None
        elif meta["expiryType"] == "CUSTOM" and meta.get("expiryDuration"):
            until = add_duration(moment, meta["expiryDuration"])
        if until is not None and until.date() > moment.date():
            request["effectiveUntil"] = until.date().isoformat()
        if meta.get("applicableEntityIds"):
            request["applicableEntityIds"] = meta["applicableEntityIds"]
        try:
            made += [c["id"] for c in credits.create_credits(store, [request])]
        except DomainError:  # an archived account gets no credits; the invoice stands
            continue
    return made


def on_due(store: Store, invoice: Record, moment: datetime, at: str) -> None:
    """A STANDARD invoice just became DUE at ``moment`` (``at``, stamped): credits, then the wallet, then the
    credits it sold are granted."""
    apply_credits(store, invoice, moment, at)
    net_wallet(store, invoice, at)
    grant_credits(store, invoice, moment)
