"""Purchases and purchase proposals: one-time entitlement grants to an account.

A purchase (``type: ENTITLEMENT_GRANT``) of an ACTIVE ``PURCHASE`` price plan
grants, for each feature config of each billing-entitlement rate card of the
plan's latest version (or of ``purchasePlanOverride``, which replaces them),
a feature credit entry of ``featureCreditLimit`` times its quantity, in
effect from the purchase's ``effectiveFrom`` (else now) plus the config's
``effectiveFrom`` until that start plus ``effectiveUntil`` (ISO 8601
durations). Entry ids are ``<purchase id>$<n>``, as Togai's entries name the
purchase that granted them. A proposal holds the same request until it is
approved (which makes the purchase) or declined.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core import lookup
from ..core.errors import Invalid, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import add_duration, parse_time, stamp
from ..parties.accounts import AccountRecord, require_account
from ..pricing.plans import latest_version, version_of
from .entitlements import insert_entry

PURCHASE_IDS = IdScheme("purchase")
PROPOSAL_IDS = IdScheme("proposal")
# Indexes: account id -> its purchase ids, its proposal ids; account id -> idempotencyKey -> purchase id.
BY_ACCOUNT = "account_purchases"
PROPOSALS_BY_ACCOUNT = "account_proposals"
KEYS = "purchase_keys"
GRANT = "ENTITLEMENT_GRANT"
# The fields of a purchase request a purchase or proposal keeps as sent.
_KEPT = ("pricePlanId", "quantity", "rateCardQuantities", "idempotencyKey", "associationOverride",
         "walletTopupDetails", "effectiveFrom", "effectiveUntil", "expiryDate", "type")


def _account(store: Store, account_id: str) -> AccountRecord:
    account = require_account(store, account_id)
    if account["status"] == "ARCHIVED":
        raise Invalid.at("account_id", f"account {account_id!r} is archived")
    return account


def _plan_cards(
    store: Store, account: AccountRecord, body: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[Violation]]:
    """The billing-entitlement rate cards of the purchase's plan, and why the plan cannot be bought.

    The plan must exist, be a PURCHASE plan, be ACTIVE and have the account's
    invoice currency among its active currencies.
    """
    problems: list[Violation] = []
    if body.get("type", GRANT) != GRANT:
        problems.append(Violation("type", f"the mock makes entitlement grants only ({GRANT})"))
    if "pricePlanId" not in body:
        problems.append(Violation("pricePlanId", f"is required for an {GRANT} purchase"))
        return [], problems
    plan = store.collections["pricePlans"].get(body["pricePlanId"])
    if plan is None:
        problems.append(Violation("pricePlanId", f"no price plan with id {body['pricePlanId']!r}"))
        return [], problems
    details = version_of(plan)["pricePlanDetails"]  # type: ignore[index]
    if plan["type"] != "PURCHASE" or plan["status"] != "ACTIVE":
        rule = f"price plan {plan['id']!r} is a {plan['status']} {plan['type']} plan; an ACTIVE PURCHASE plan is bought"
        problems.append(Violation("pricePlanId", rule))
    elif account["invoiceCurrency"] not in details["activeCurrencies"]:
        rule = f"price plan {plan['id']!r} is not active in {account['invoiceCurrency']}, the account's currency"
        problems.append(Violation("pricePlanId", rule))
    cards: list[dict[str, Any]] = details.get("billingEntitlementRateCards", [])
    return cards, problems


def grants(store: Store, account: AccountRecord, body: dict[str, Any], now: str) -> list[dict[str, Any]]:
    """The feature credit entries a purchase request grants (without ids), or a 400 saying why not."""
    plan_cards, problems = _plan_cards(store, account, body)
    quantity = body.get("quantity", 1)
    if quantity < 1:
        problems.append(Violation("quantity", "must be at least 1"))
    start = parse_time(body.get("effectiveFrom", now), "effectiveFrom")
    # The override's entitlement rate cards replace the plan's.
    cards = body.get("purchasePlanOverride", {}).get("billingEntitlementRateCards") or plan_cards
    out: list[dict[str, Any]] = []
    for i, card in enumerate(cards):
        where = f"purchasePlanOverride.billingEntitlementRateCards[{i}]"
        if store.collections["features"].get(card["featureId"]) is None:
            problems.append(Violation(f"{where}.featureId", f"no feature with id {card['featureId']!r}"))
        times = body.get("rateCardQuantities", {}).get(card.get("tag", card["featureId"]), quantity)
        for j, config in enumerate(card["featureConfigs"]):
            begin = _shifted(start, config.get("effectiveFrom", "PT0S"), f"{where}.featureConfigs[{j}].effectiveFrom")
            end = _shifted(begin, config["effectiveUntil"], f"{where}.featureConfigs[{j}].effectiveUntil")
            if isinstance(begin, Violation) or isinstance(end, Violation):
                problems += [v for v in (begin, end) if isinstance(v, Violation)]
                continue
            if end <= begin:
                problems.append(Violation(f"{where}.featureConfigs[{j}].effectiveUntil", "must be a positive duration"))
            out.append({
                "featureId": card["featureId"], "source": "ENTITLEMENT", "status": "ACTIVE",
                "effectiveFrom": stamp(begin), "effectiveUntil": stamp(end),
                "granted": config["featureCreditLimit"] * times, "used": 0,
            })
    if not cards and not problems:
        rule = "grants nothing: neither the plan nor purchasePlanOverride has billingEntitlementRateCards"
        problems.append(Violation("purchasePlanOverride", rule))
    if problems:
        raise Invalid(problems)
    return out


def _shifted(moment: datetime | Violation, duration: str, field: str) -> datetime | Violation:
    if isinstance(moment, Violation):
        return moment
    moved = add_duration(moment, duration)
    return moved if moved is not None else Violation(field, f"{duration!r} is not an ISO 8601 duration (P1M, P30D)")


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    """The request's fields a purchase or proposal keeps; the plan override without empty lists
    (the answer's PricePlanDetailsOverride wants at least one item in a list it has)."""
    out = {k: body[k] for k in _KEPT if k in body}
    out.setdefault("type", GRANT)
    plan = {k: v for k, v in body.get("purchasePlanOverride", {}).items() if v}
    if plan:
        out["purchasePlanOverride"] = plan
    return out


def make_purchase(
    store: Store, account: AccountRecord, body: dict[str, Any], entries: list[dict[str, Any]], now: str
) -> Record:
    """Store a purchase and its entries, checked by :func:`grants` at ``now``."""
    record: dict[str, Any] = {
        "id": store.new_id(PURCHASE_IDS, store.collections["purchases"]),
        "accountId": account["id"],
        **_echo(body),
        "pricePlanVersion": latest_version(store.collections["pricePlans"].items[body["pricePlanId"]]),
        "invoiceCurrency": account["invoiceCurrency"],
        "status": "SUCCESS",
        "createdAt": now,
        "updatedAt": now,
    }
    insert_purchase(store, record)
    for n, entry in enumerate(entries, 1):
        insert_entry(store, {"id": f"{record['id']}${n}", "accountId": account["id"], **entry})
    return record


def insert_purchase(store: Store, record: dict[str, Any]) -> None:
    """Store a purchase and index it by account and idempotency key."""
    store.collections["purchases"].add(record["id"], record)
    store.indexes[BY_ACCOUNT].setdefault(record["accountId"], []).append(record["id"])
    if "idempotencyKey" in record:
        store.indexes[KEYS].setdefault(record["accountId"], {})[record["idempotencyKey"]] = record["id"]
    store.reserved.add(record["id"])


def purchase(store: Store, account_id: str, request: dict[str, Any]) -> Record:
    """Grant now what a ``PurchaseRequest`` buys; a repeated ``idempotencyKey`` is the earlier purchase."""
    account = _account(store, account_id)
    key = request.get("idempotencyKey")
    earlier = store.indexes[KEYS].get(account["id"], {}).get(key) if key is not None else None
    if earlier is not None:
        found: Record = store.collections["purchases"].items[earlier]
        return found
    now = store.clock.now()
    return make_purchase(store, account, request, grants(store, account, request, now), now)


def require_purchase(store: Store, purchase_id: str) -> Record:
    """The purchase, or a :class:`~mock_server.domain.core.errors.NotFound`."""
    record: Record = lookup.require(store, "purchases", purchase_id, "purchase_id", "purchase")
    return record


def granted_entries(store: Store, purchase: Record) -> list[Record]:
    """The entries a purchase granted (``<id>$1``, ``<id>$2`` ...)."""
    items, out, n = store.collections["featureCreditEntries"].items, [], 1
    while f"{purchase['id']}${n}" in items:
        out.append(items[f"{purchase['id']}${n}"])
        n += 1
    return out


def purchases_of(store: Store, account_id: str) -> list[Record]:
    """The account's purchases, oldest first."""
    account_id = require_account(store, account_id)["id"]
    items = store.collections["purchases"].items
    return [items[key] for key in store.indexes[BY_ACCOUNT].get(account_id, ())]


def propose(store: Store, account_id: str, request: dict[str, Any]) -> Record:
    """A proposal of a purchase (a ``CreatePurchaseProposalRequest``): checked as the purchase would be,
    granted when approved."""
    account = _account(store, account_id)
    now = store.clock.now()
    grants(store, account, request, now)
    record: dict[str, Any] = {
        "id": store.new_id(PROPOSAL_IDS, store.collections["purchaseProposals"]),
        "accountId": account["id"],
        **_echo(request),
        "pricePlanVersion": latest_version(store.collections["pricePlans"].items[request["pricePlanId"]]),
        "paymentMode": request["paymentMode"],
        "invoiceCurrency": account["invoiceCurrency"],
        "status": "PROPOSAL_ACTIVE",
        "createdAt": now,
        "updatedAt": now,
    }
    insert_proposal(store, record)
    return record


def insert_proposal(store: Store, record: dict[str, Any]) -> None:
    """Store a proposal and index it by account."""
    store.collections["purchaseProposals"].add(record["id"], record)
    store.indexes[PROPOSALS_BY_ACCOUNT].setdefault(record["accountId"], []).append(record["id"])
    store.reserved.add(record["id"])


def show_proposal(record: Record, now: str) -> dict[str, Any]:
    """A proposal as shown: ``PROPOSAL_EXPIRED`` once its ``expiryDate`` passed unanswered."""
    out = dict(record)
    if record["status"] == "PROPOSAL_ACTIVE" and "expiryDate" in record:
        if parse_time(record["expiryDate"], "expiryDate") <= parse_time(now):
            out["status"] = "PROPOSAL_EXPIRED"
    return out


def require_proposal(store: Store, proposal_id: str) -> Record:
    """The proposal, or a :class:`~mock_server.domain.core.errors.NotFound`."""
    record: Record = lookup.require(store, "purchaseProposals", proposal_id, "purchase_proposal_id",
                                    "purchase proposal")
    return record


def proposals_of(store: Store, account_id: str) -> list[dict[str, Any]]:
    """The account's proposals, oldest first, as shown now."""
    account_id = require_account(store, account_id)["id"]
    items, now = store.collections["purchaseProposals"].items, store.clock.now()
    return [show_proposal(items[key], now) for key in store.indexes[PROPOSALS_BY_ACCOUNT].get(account_id, ())]


def answer_proposal(store: Store, proposal_id: str, approve: bool) -> Record:
    """An active proposal is approved (the purchase is made, its entitlements granted) or declined, once."""
    record = require_proposal(store, proposal_id)
    now = store.clock.now()
    status = show_proposal(record, now)["status"]
    if status != "PROPOSAL_ACTIVE":
        rule = f"proposal {record['id']!r} is {status}; only an active one is answered"
        raise Invalid.at("purchase_proposal_id", rule)
    if approve:
        account = _account(store, record["accountId"])
        request = {k: v for k, v in record.items() if k in _KEPT or k == "purchasePlanOverride"}
        make_purchase(store, account, request, grants(store, account, request, now), now)
        record["status"] = "PROPOSAL_APPROVED"
    else:
        record["status"] = "PROPOSAL_DECLINED"
    record["proposalResponseDate"] = record["updatedAt"] = now
    return record


def check_purchases(ctx: ImportContext) -> None:
    """What the mock makes: successful entitlement grants, one per idempotency key and account."""
    keys: dict[tuple[str, str], int] = {}
    for i, record in enumerate(ctx.data["purchases"]):
        where = f"purchases[{i}]"
        if record["status"] != "SUCCESS" or record["type"] != GRANT:
            ctx.problems.append(Violation(where, f"the mock makes purchases of type {GRANT} with status SUCCESS"))
        if "idempotencyKey" in record:
            other = keys.setdefault((record["accountId"], record["idempotencyKey"]), i)
            if other != i:
                ctx.problems.append(Violation(f"{where}.idempotencyKey", f"is also purchases[{other}]'s"))


def check_proposals(ctx: ImportContext) -> None:
    """A proposal is active, or approved or declined with the date of that answer."""
    for i, record in enumerate(ctx.data["purchaseProposals"]):
        where = f"purchaseProposals[{i}]"
        answered = record["status"] in ("PROPOSAL_APPROVED", "PROPOSAL_DECLINED")
        if not answered and record["status"] != "PROPOSAL_ACTIVE":
            ctx.problems.append(Violation(f"{where}.status", "must be PROPOSAL_ACTIVE, _APPROVED or _DECLINED"))
        if answered != ("proposalResponseDate" in record):
            ctx.problems.append(Violation(f"{where}.proposalResponseDate", "is there once, and only once, answered"))


PURCHASES = Resource(
    name="purchases",
    schema="Purchase",
    ids=PURCHASE_IDS,
    references={"accountId": "accounts", "pricePlanId": "pricePlans"},
    indexes=(BY_ACCOUNT, KEYS),
    exchange=Exchange(
        check_import=check_purchases,
        restore=insert_purchase,
    ),
)

PROPOSALS = Resource(
    name="purchaseProposals",
    schema="Proposal",
    ids=PROPOSAL_IDS,
    references={"accountId": "accounts", "pricePlanId": "pricePlans"},
    indexes=(PROPOSALS_BY_ACCOUNT,),
    exchange=Exchange(
        check_import=check_proposals,
        restore=insert_proposal,
    ),
)
