"""Account schedules v2: a draft timeline edited in bulk, then finalized (billed) or discarded.

The schedules are the ones the billing engine bills (:mod:`.schedules`, one
timeline per account). Togai's v2 operations edit a *draft* of that
timeline, kept beside it in the account's record (``draft``: hidden from the
v1 answers, carried by exports): the first edit copies the active timeline,
each later one changes the copy, and nothing is billed differently until
``finalize_schedules`` makes the draft the account's timeline (the next
invoices are priced from it). ``discard_schedules`` throws it away.

A draft schedule keeps the id of the active schedule it was copied from; a
new association gets a new ``sch.`` id. ``/v2/schedules/{id}`` finds a
schedule through two indexes (active and draft schedules by id). Its rate
cards and pricing rules are its plan version's, overridden: a bulk
rate-card operation or a rules update writes the schedule's
``pricePlanDetailsOverride`` / ``pricingRulesOverride`` in the draft.

Finalizing replaces the active timeline with the draft, so an association
made with the v1 operations meanwhile is replaced too.
"""
from __future__ import annotations

import copy
from typing import Any

from ..core import lookup
from ..core.errors import Conflict, Invalid, NotFound, Violation
from ..core.store import Record, Store
from . import plans as price_plans
from . import rate_cards, schedules
from .engine import DEFAULT_CYCLE

DRAFT = schedules.DRAFT
DRAFT_SCHEDULES = schedules.DRAFT_SCHEDULES
SCHEDULE_PARAM = "schedule_id"


def _account(store: Store, account_id: str) -> Record:
    account: Record = lookup.require(store, "accounts", account_id, schedules.PARAM, "account")
    return account


def draft_of(store: Store, account_id: str) -> list[dict[str, Any]] | None:
    """The account's draft timeline, or None."""
    record: Record | None = store.collections[schedules.NAME].get(account_id)
    return None if record is None else record.get(DRAFT)


def shown(store: Store, account_id: str, mode: str) -> list[dict[str, Any]]:
    """The schedules ``mode`` asks for: ACTIVE (billed) or DRAFT (the draft, else the active ones)."""
    account = _account(store, account_id)
    draft = draft_of(store, account["id"]) if mode == "DRAFT" else None
    return schedules.timeline(store, account["id"]) if draft is None else draft


def _write_draft(store: Store, account_id: str, draft: list[dict[str, Any]] | None) -> None:
    """Store (None: drop) the account's draft, keeping the draft index in step."""
    collection = store.collections[schedules.NAME]
    index = store.indexes[DRAFT_SCHEDULES]
    record: Record | None = collection.get(account_id)
    for schedule in (record or {}).get(DRAFT) or []:
        index.pop(schedule["id"], None)
    if record is None:
        if draft is None:
            return
        collection.add(account_id, {"id": account_id, "accountId": account_id, "pricingSchedules": []})
        record = collection.get(account_id)
        assert record is not None
    if draft is None:
        record.pop(DRAFT, None)
        return
    record[DRAFT] = draft
    for schedule in draft:
        index[schedule["id"]] = account_id


def render(store: Store, schedule: dict[str, Any], account_id: str) -> dict[str, Any]:
    """A schedule as ``AccountSchedule``."""
    plan, details, rules = schedules.details_of(store, schedule)
    info: dict[str, Any] = {"name": plan["name"]}
    if "description" in plan:
        info["description"] = plan["description"]
    return {"id": schedule["id"], "accountId": account_id, "pricePlanId": plan["id"], "version": schedule["version"],
            "deferredRevenue": bool(details.get("deferredRevenue", False)), "pricePlanInfo": info,
            "accountScheduleInfo": {"supportedCurrencies": details["supportedCurrencies"],
                                    "pricingCycleConfig": details.get("pricingCycleConfig", DEFAULT_CYCLE),
                                    "pricingRules": rules},
            "isOverridden": "pricePlanDetailsOverride" in schedule or "pricingRulesOverride" in schedule,
            "startDate": schedule["startDate"], "endDate": schedule["endDate"],
            "allowOngoingCycleUpdates": bool(details.get("allow_ongoing_cycle_updates", False))}


def _v1_edit(store: Store, base: list[dict[str, Any]], edit: dict[str, Any], where: str) -> dict[str, Any]:
    """An ``UpdateAccountScheduleV2Request`` as the v1 edit :func:`.schedules.apply_edit` applies."""
    config = edit.get("associationConfig", {})
    out: dict[str, Any] = {k: edit[k] for k in ("mode", "effectiveFrom", "effectiveUntil") if k in edit}
    if "pricePlanId" in config:
        out["pricePlanId"] = config["pricePlanId"]
    if config.get("retainStartOffsets"):
        out["retainStartOffsets"] = True
    override: dict[str, Any] = {}
    if "scheduleId" in config:  # rate cards and pricing rules copied from another schedule of the account
        source = next((s for s in base if s["id"] == config["scheduleId"]), None)
        if source is None:
            raise Invalid.at(f"{where}associationConfig.scheduleId", f"the account has no schedule "
                                                                     f"{config['scheduleId']!r}")
        _, details, rules = schedules.details_of(store, source)
        override = {k: copy.deepcopy(v) for k, v in details.items() if k in rate_cards.BY_FIELD}
        out["pricingRulesOverride"] = [{k: v for k, v in r.items() if k not in ("id", "version")} for r in rules]
        out.setdefault("pricePlanId", source["pricePlanId"])
    if "pricingCycleConfigOverride" in config:
        override["pricingCycleConfig"] = config["pricingCycleConfigOverride"]
    if override:
        out["pricePlanDetailsOverride"] = override
    return out


def edit(store: Store, account_id: str, edits: list[dict[str, Any]], discard: bool = False) -> list[dict[str, Any]]:
    """The edits applied in order to the draft (made from the active timeline), all or none; the new draft."""
    account = _account(store, account_id)
    if account["status"] == "ARCHIVED":
        raise Invalid.at(schedules.PARAM, f"account {account['id']!r} is archived")
    existing = None if discard else draft_of(store, account["id"])
    base = copy.deepcopy(existing if existing is not None else schedules.timeline(store, account["id"]))
    # A first pass draws ids from a scratch store: a refused batch uses up none.
    for maker in (store.sibling(), store):
        draft = base
        for i, change in enumerate(edits):
            where = f"edits[{i}]."
            try:
                draft = schedules.apply_edit(store, maker, account, draft, _v1_edit(store, draft, change, where),
                                             where)
            except Invalid as refused:
                raise Invalid([Violation(_v2_field(v.field, where), v.rule) for v in refused.violations]) from None
    _write_draft(store, account["id"], draft)
    return draft


# The v1 edit's fields as the v2 request names them (under associationConfig).
_V2_FIELDS = (("pricePlanId", "associationConfig.pricePlanId"),
              ("retainStartOffsets", "associationConfig.retainStartOffsets"),
              ("pricePlanDetailsOverride.pricingCycleConfig", "associationConfig.pricingCycleConfigOverride"))


def _v2_field(field: str, where: str) -> str:
    for old, new in _V2_FIELDS:
        if field == where + old or field.startswith(where + old + "."):
            return where + new + field[len(where + old):]
    return field


def _errors_of(store: Store, schedule: dict[str, Any], account_id: str) -> list[dict[str, Any]]:
    _, details, rules = schedules.details_of(store, schedule)
    currency = store.collections["accounts"].items[account_id]["invoiceCurrency"]
    return rate_cards.errors(store, details, rules, schedule["id"], schedule["id"], [currency])


def finalize(store: Store, account_id: str) -> list[dict[str, Any]]:
    """The draft becomes the account's timeline (billed from now on); 409 without one, 400 while it has errors."""
    account = _account(store, account_id)
    draft = draft_of(store, account["id"])
    if draft is None:
        raise Conflict.at(schedules.PARAM, f"account {account['id']!r} has no draft schedules to finalize")
    found = [e for s in draft for e in _errors_of(store, s, account["id"])]
    if found:
        raise Invalid([Violation(f"schedules.{e['referenceId']}", f"{e['entityId']}: {e['errorMessage']}")
                       for e in found])
    _write_draft(store, account["id"], None)
    schedules.save(store, account["id"], draft)
    return draft


def discard(store: Store, account_id: str) -> None:
    """Drop the account's draft; 409 without one."""
    account = _account(store, account_id)
    if draft_of(store, account["id"]) is None:
        raise Conflict.at(schedules.PARAM, f"account {account['id']!r} has no draft schedules to discard")
    _write_draft(store, account["id"], None)


def find(store: Store, schedule_id: str, mode: str) -> tuple[dict[str, Any], str]:
    """A schedule and its account: in the draft (``mode`` DRAFT, when there is one) or the active timeline."""
    if mode == "DRAFT":
        owner = store.indexes[DRAFT_SCHEDULES].get(schedule_id)
        if owner is not None:
            draft = draft_of(store, owner) or []
            return next(s for s in draft if s["id"] == schedule_id), owner
    owner = store.indexes[schedules.SCHEDULE_ACCOUNTS].get(schedule_id)
    found = next((s for s in schedules.timeline(store, owner) if s["id"] == schedule_id), None) if owner else None
    if found is None or owner is None:
        raise NotFound.at(SCHEDULE_PARAM, f"no account schedule {schedule_id!r}" +
                          (" in a draft" if mode == "DRAFT" else ""))
    return found, owner


def errors(store: Store, schedule_id: str) -> list[dict[str, Any]]:
    """What keeps a schedule (of a draft, else active) from being finalized."""
    schedule, owner = find(store, schedule_id, "DRAFT")
    return _errors_of(store, schedule, owner)


def _in_draft(store: Store, schedule_id: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """A copy of the draft holding the schedule (made from the active timeline when the account has none)."""
    schedule, owner = find(store, schedule_id, "DRAFT")
    draft = copy.deepcopy(draft_of(store, owner) or schedules.timeline(store, owner))
    return draft, next(s for s in draft if s["id"] == schedule["id"]), owner


def set_rules(store: Store, schedule_id: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The draft schedule's pricing rules replaced (an override of its plan's); returns them."""
    problems = price_plans.rules_problems(rules, "pricingRules")
    if problems:
        raise Invalid(problems)
    draft, schedule, owner = _in_draft(store, schedule_id)
    schedule["pricingRulesOverride"] = price_plans.make_rules(store, rules)
    _write_draft(store, owner, draft)
    return list(schedule["pricingRulesOverride"])


def bulk_rate_cards(store: Store, schedule_id: str, operations: list[dict[str, Any]]
                    ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The ``RateCardOperation``s on a draft schedule's cards, all or none; the schedule, its details, its account."""
    draft, schedule, owner = _in_draft(store, schedule_id)
    _, details, _ = schedules.details_of(store, schedule)
    changed = rate_cards.apply(store, details, operations)
    if rate_cards.MINIMUM in details and rate_cards.MINIMUM not in changed:
        raise Invalid.at("operations", "a schedule cannot drop its plan's minimum commitment (an override "
                                       "has no way to say none)")
    override = dict(schedule.get("pricePlanDetailsOverride", {}))
    for field in rate_cards.BY_FIELD:
        if field in changed:
            override[field] = changed[field]
        elif field in details:
            override[field] = []
    schedule["pricePlanDetailsOverride"] = override
    _write_draft(store, owner, draft)
    return schedule, schedules.details_of(store, schedule)[1], owner

