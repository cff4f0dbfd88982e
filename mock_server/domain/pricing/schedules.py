"""An account's price plan associations (pricing schedules): a timeline that never overlaps.

One record per account holds its schedules, oldest first, each a window
``[startDate, endDate)`` on one price plan version, with optional overrides
of the plan's details and pricing rules. Associating a plan over a window
replaces whatever the account had in it (earlier schedules are cut around
it); disassociating removes the window. ``effectiveFrom``/``effectiveUntil``
are dates: a schedule starts at ``effectiveFrom`` 00:00 UTC and ends at
``effectiveUntil`` 00:00 UTC (the next schedule may start there).

The version a schedule is on is kept beside it (``PlanOverride`` has no
field for it): an exported association imports back on its plan's latest
version.

What prices an account at an instant (:func:`schedule_at`) and when its next
association starts (:func:`next_start`) are read from here. A plan is
archived here too (:func:`archive_plan`): only once no association uses it.
"""
from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from ..catalog.settings import organisation_zone
from ..core import lookup
from ..core.errors import DomainError, Invalid, NotFound, Violation
from ..core.resource import Exchange, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import parse_time, stamp_seconds
from . import plans as price_plans
from .engine import DEFAULT_CYCLE, ScheduleAt, anniversary_offsets, cycle_at

NAME = "accountSchedules"
PARAM = "account_id"
HIDDEN = ("version",)
# Indexes: plan id -> ids of accounts with a schedule on it; schedule id -> its account.
PLAN_ACCOUNTS = "planAccounts"
SCHEDULE_ACCOUNTS = "scheduleAccounts"
# An account's v2 draft timeline (:mod:`.schedules_v2`), kept beside its schedules (hidden, exported), and
# the index of its schedules: draft schedule id -> account.
DRAFT = "draft"
DRAFT_SCHEDULES = "draftScheduleAccounts"
DRAFT_SCHEMA: dict[str, Any] = {"type": "array", "items": {
    "type": "object", "required": ["id", "pricePlanId", "startDate", "endDate", "version"],
    "properties": {"id": {"type": "string"}, "pricePlanId": {"type": "string"}, "version": {"type": "integer"},
                   "startDate": {"type": "string", "format": "date-time"},
                   "endDate": {"type": "string", "format": "date-time"}}}}


def _account(store: Store, account_id: str) -> Record:
    account: Record = lookup.require(store, "accounts", account_id, PARAM, "account")
    return account


def timeline(store: Store, account_id: str) -> list[dict[str, Any]]:
    """The account's schedules, oldest first (empty when it has none)."""
    record: Record | None = store.collections[NAME].get(account_id)
    return [] if record is None else list(record["pricingSchedules"])


def details_of(store: Store, schedule: dict[str, Any]) -> tuple[Record, dict[str, Any], list[dict[str, Any]]]:
    """A schedule's plan, its effective details (the version's, overridden) and pricing rules."""
    plan = store.collections[price_plans.NAME].items[schedule["pricePlanId"]]
    version = price_plans.version_of(plan, schedule["version"]) or price_plans.version_of(plan)
    assert version is not None
    details = {**version["pricePlanDetails"], **schedule.get("pricePlanDetailsOverride", {})}
    rules = schedule.get("pricingRulesOverride", version.get("pricingRules", []))
    return plan, details, rules


def effective(store: Store, account_id: str, instant: datetime) -> tuple[dict[str, Any], Record, int,
                                                                          dict[str, Any]] | None:
    """The schedule in effect for the account at ``instant``, its plan, version and effective details."""
    for schedule in timeline(store, account_id):
        if parse_time(schedule["startDate"]) <= instant < parse_time(schedule["endDate"]):
            plan, details, _ = details_of(store, schedule)
            return schedule, plan, schedule["version"], details
    return None


def schedule_at(store: Store, account_id: str, instant: datetime) -> ScheduleAt | None:
    """The association, plan version, effective details and pricing cycle of ``account_id`` at ``instant``.

    None when the account has no price plan then. The cycle is clipped to
    the association (a first or last cycle may be shorter).
    """
    found = effective(store, account_id, instant)
    if found is None:
        return None
    schedule, plan, version, details = found
    begin, end = parse_time(schedule["startDate"]), parse_time(schedule["endDate"])
    config = details.get("pricingCycleConfig") or DEFAULT_CYCLE
    zone = organisation_zone(store)  # cycles start at local midnight (README, "Pricing cycles in the time zone")
    start, stop = cycle_at(config, instant, begin, zone)
    currency = store.collections["accounts"].items[account_id]["invoiceCurrency"]
    return ScheduleAt(account_id, schedule, plan, version, details, currency, max(start, begin), min(stop, end),
                      zone)


def next_start(store: Store, account_id: str, instant: datetime) -> datetime | None:
    """When the account's first association starting strictly after ``instant`` starts; None when none does
    (nor for an account without associations).

    Where :func:`schedule_at` finds no plan, nothing is priced until then: a
    caller walking through time jumps there instead of stepping. The
    timeline is the account's own record (no scan of other accounts) and
    is short; an association starts at 00:00 UTC of a day.
    """
    for schedule in timeline(store, account_id):  # oldest first: the first one later is the next
        begin = parse_time(schedule["startDate"])
        if begin > instant:
            return begin
    return None


def accounts_on(store: Store, plan_id: str, now: str, version: int | None = None) -> list[str]:
    """Accounts with a schedule on the plan (of ``version``, if given) that has not ended at ``now``."""
    moment = parse_time(now)
    return sorted(
        account_id for account_id in store.indexes[PLAN_ACCOUNTS].get(plan_id, ())
        if any(s["pricePlanId"] == plan_id and (version is None or s["version"] == version)
               and parse_time(s["endDate"]) > moment for s in timeline(store, account_id))
    )


def archive_plan(store: Store, plan_id: str) -> None:
    """Archive a plan, unless an account's association with it has not ended yet."""
    plan = price_plans.require(store, plan_id)
    if plan["status"] == "ARCHIVED":
        raise Invalid.at(price_plans.PARAM, f"price plan {plan['id']!r} is already archived")
    users = accounts_on(store, plan["id"], store.clock.now())
    if users:
        raise Invalid.at(price_plans.PARAM, f"price plan {plan['id']!r} is associated with account(s) "
                                            f"{', '.join(users)}")
    plan["status"] = "ARCHIVED"
    plan["updatedAt"] = store.clock.now()


def _save(store: Store, account_id: str, schedules: list[dict[str, Any]]) -> None:
    """Write the account's timeline and keep the indexes in step."""
    collection = store.collections[NAME]
    old = timeline(store, account_id)
    for schedule in old:
        store.indexes[SCHEDULE_ACCOUNTS].pop(schedule["id"], None)
        store.indexes[PLAN_ACCOUNTS].get(schedule["pricePlanId"], set()).discard(account_id)
    for schedule in schedules:
        store.indexes[SCHEDULE_ACCOUNTS][schedule["id"]] = account_id
        store.indexes[PLAN_ACCOUNTS].setdefault(schedule["pricePlanId"], set()).add(account_id)
    record: Record | None = collection.get(account_id)
    if record is None:
        collection.add(account_id, {"id": account_id, "accountId": account_id, "pricingSchedules": schedules})
    else:
        record["pricingSchedules"] = schedules


def save(store: Store, account_id: str, schedules: list[dict[str, Any]]) -> None:
    """Replace the account's timeline (a finalized v2 draft), keeping the indexes in step."""
    _save(store, account_id, schedules)


def render_schedule(store: Store, schedule: dict[str, Any]) -> dict[str, Any]:
    """A schedule as ``PlanOverride``."""
    plan = store.collections[price_plans.NAME].items[schedule["pricePlanId"]]
    out: dict[str, Any] = {"id": schedule["id"], "pricePlanId": plan["id"], "pricePlanName": plan["name"]}
    for key in ("pricePlanDetailsOverride", "pricingRulesOverride"):
        if key in schedule:
            out[key] = schedule[key]
    out["startDate"], out["endDate"] = schedule["startDate"], schedule["endDate"]
    return out


def render(store: Store, account_id: str, schedules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The account's timeline as ``UpdatePricingScheduleResponse``."""
    account = store.collections["accounts"].items[account_id]
    listed = timeline(store, account_id) if schedules is None else schedules
    return {"accountId": account_id, "accountName": account["name"],
            "pricingSchedules": [render_schedule(store, s) for s in listed]}


def _carve(schedules: list[dict[str, Any]], start: str, end: str, new_id: Any) -> tuple[list[dict[str, Any]], bool]:
    """The schedules with ``[start, end)`` cut out, and whether anything was there."""
    begin, stop = parse_time(start), parse_time(end)
    out: list[dict[str, Any]] = []
    touched = False
    for schedule in schedules:
        s_begin, s_stop = parse_time(schedule["startDate"]), parse_time(schedule["endDate"])
        if s_stop <= begin or s_begin >= stop:
            out.append(schedule)
            continue
        touched = True
        left = s_begin < begin
        if left:
            out.append({**schedule, "endDate": start})
        if s_stop > stop:
            out.append({**schedule, "id": new_id() if left else schedule["id"], "startDate": end})
    return out, touched


def _covering(schedules: list[dict[str, Any]], moment: datetime) -> dict[str, Any] | None:
    return next((s for s in schedules
                 if parse_time(s["startDate"]) <= moment < parse_time(s["endDate"])), None)


def retained_cycle(store: Store, old: dict[str, Any], details: dict[str, Any], where: str) -> dict[str, Any]:
    """``retainStartOffsets``: the new schedule's cycle config with the old schedule's start offsets.

    The intervals must match (Togai answers 400 otherwise).
    """
    _, old_details, _ = details_of(store, old)
    old_cycle, new_cycle = old_details["pricingCycleConfig"], details["pricingCycleConfig"]
    if old_cycle["interval"] != new_cycle["interval"]:
        raise Invalid.at(where, f"the ongoing plan's cycle is {old_cycle['interval']}, the new one "
                                f"{new_cycle['interval']}: start offsets cannot be retained")
    offsets = old_cycle.get("startOffset")
    if old_cycle.get("anniversaryCycle"):
        local = parse_time(old["startDate"]).astimezone(organisation_zone(store) or UTC)
        offsets = anniversary_offsets(old_cycle, local)
    cycle = {**new_cycle, "anniversaryCycle": False}
    if offsets is not None:
        cycle["startOffset"] = offsets
    return cycle


def apply_edit(store: Store, maker: Store, account: Record, schedules: list[dict[str, Any]], edit: dict[str, Any],
               where: str) -> list[dict[str, Any]]:
    """The timeline after one association edit, or a domain error naming ``where``'s field."""
    start, end = f"{edit['effectiveFrom']}T00:00:00Z", f"{edit['effectiveUntil']}T00:00:00Z"
    if edit["effectiveUntil"] <= edit["effectiveFrom"]:
        raise Invalid.at(f"{where}effectiveUntil", "must be after effectiveFrom")
    def carve() -> list[dict[str, Any]]:  # draws ids: only once the edit is known to be valid
        return _carve(schedules, start, end, lambda: maker.new_id(price_plans.SCHEDULE_IDS))[0]

    if edit.get("mode", "ASSOCIATE") == "DISASSOCIATE":
        if not _carve(schedules, start, end, lambda: "")[1]:
            raise Invalid.at(f"{where}effectiveFrom", f"no price plan is associated between {edit['effectiveFrom']} "
                                                      f"and {edit['effectiveUntil']}")
        return carve()
    if "pricePlanId" not in edit:
        raise Invalid.at(f"{where}pricePlanId", "is required to associate a price plan")
    plan = price_plans.require(store, edit["pricePlanId"], f"{where}pricePlanId")
    if plan["status"] != "ACTIVE":
        raise Invalid.at(f"{where}pricePlanId", f"price plan {plan['id']!r} is {plan['status']}; only an ACTIVE "
                                                "plan can be associated")
    latest = price_plans.version_of(plan)
    assert latest is not None
    override = copy.deepcopy(edit.get("pricePlanDetailsOverride", {}))
    details = {**latest["pricePlanDetails"], **override}
    problems = price_plans.details_problems(store, details, f"{where}pricePlanDetailsOverride")
    problems += price_plans.rules_problems(edit.get("pricingRulesOverride", []), f"{where}pricingRulesOverride")
    if "fixedFeeRateCards" in override and not override["fixedFeeRateCards"]:
        problems.append(Violation(f"{where}pricePlanDetailsOverride.fixedFeeRateCards", "must not be empty"))
    currency = account["invoiceCurrency"]
    if currency not in details["activeCurrencies"] or currency not in details["supportedCurrencies"]:
        problems.append(Violation(f"{where}pricePlanId", f"price plan {plan['id']!r} is not active in the "
                                                         f"account's invoice currency {currency}"))
    if problems:
        raise Invalid(problems)
    if edit.get("retainStartOffsets"):
        old = _covering(schedules, parse_time(start))
        if old is None:
            raise Invalid.at(f"{where}retainStartOffsets", f"no plan is associated on {edit['effectiveFrom']} "
                                                           "to retain the start offsets of")
        override["pricingCycleConfig"] = retained_cycle(store, old, details, f"{where}retainStartOffsets")
    schedule: dict[str, Any] = {"id": maker.new_id(price_plans.SCHEDULE_IDS), "pricePlanId": plan["id"],
                                "startDate": start, "endDate": end, "version": latest["version"]}
    if override:
        schedule["pricePlanDetailsOverride"] = override
    if "pricingRulesOverride" in edit:
        schedule["pricingRulesOverride"] = price_plans.make_rules(maker, edit["pricingRulesOverride"])
    return sorted([*carve(), schedule], key=lambda s: parse_time(s["startDate"]))


def _refuse_archived(account: Record) -> None:
    if account["status"] == "ARCHIVED":
        raise Invalid.at(PARAM, f"account {account['id']!r} is archived")


def associate(store: Store, account_id: str, edit: dict[str, Any]) -> None:
    """Associate or disassociate one window (``edit``: an ``UpdatePricingScheduleRequest``).

    ``preActions`` (granting licenses) are accepted and not acted on: licenses answer canned.
    """
    account = _account(store, account_id)
    _refuse_archived(account)
    _save(store, account["id"], apply_edit(store, store, account, timeline(store, account["id"]), edit, ""))


def edit_timeline(store: Store, account_id: str, edits: list[dict[str, Any]], dry_run: bool = False
                  ) -> list[dict[str, Any]]:
    """The edits in order, all or none; the timeline they make (``dry_run`` keeps it not)."""
    account = _account(store, account_id)
    _refuse_archived(account)
    # A first pass draws ids from a scratch store: a refused batch (or a dry run) uses up none.
    for maker in (store.sibling(), store):
        schedules = timeline(store, account["id"])
        for i, edit in enumerate(edits):
            schedules = apply_edit(store, maker, account, schedules, edit, f"edits[{i}].")
        if dry_run:
            return schedules
    _save(store, account["id"], schedules)
    return schedules


def overlapping(store: Store, account_id: str, since: datetime | None, until: datetime | None
                ) -> list[dict[str, Any]]:
    """The account's schedules, oldest first, that end after ``since`` and start by ``until`` (when given)."""
    account = _account(store, account_id)
    return [s for s in timeline(store, account["id"])
            if (since is None or parse_time(s["endDate"]) > since)
            and (until is None or parse_time(s["startDate"]) <= until)]


def rules_of(store: Store, plan_id: str, schedule_id: str, timing: str | None = None) -> list[dict[str, Any]]:
    """The pricing rules of one of the plan's versions or of an account's association with the plan.

    A rule without ``invoiceTiming`` counts as IN_ARREARS; ``timing`` keeps those of one timing.
    """
    plan = price_plans.require(store, plan_id)
    version = next((v for v in plan["pricingSchedule"] if v["id"] == schedule_id), None)
    if version is not None:
        rules: list[dict[str, Any]] = version.get("pricingRules", [])
    else:
        owner = store.indexes[SCHEDULE_ACCOUNTS].get(schedule_id)
        schedule = next((s for s in timeline(store, owner) if s["id"] == schedule_id), None) if owner else None
        if schedule is None or schedule["pricePlanId"] != plan["id"]:
            raise NotFound.at("pricing_schedule_id", f"price plan {plan['id']!r} has no pricing schedule "
                                                     f"{schedule_id!r}")
        rules = details_of(store, schedule)[2]
    return [r for r in rules if timing is None or r.get("invoiceTiming", "IN_ARREARS") == timing]


def migrate_account(store: Store, account_id: str, config: dict[str, Any], now: str) -> str:
    """Move the account's schedules on the source version to the target; what happened, in words.

    IMMEDIATE* moves from today (00:00 UTC), NEXT_CYCLE* from the end of the
    current pricing cycle, START_OF_CURRENT_CYCLE from its start (the
    ongoing cycle is priced on the target); *_IGNORE_OVERRIDE drops the
    schedule's overrides.
    Schedules that ended stay. Raises ``Invalid`` when the account cannot move.
    """
    account = store.collections["accounts"].items[account_id]
    if account["status"] == "ARCHIVED":
        raise Invalid.at("accountId", f"account {account_id!r} is archived")
    target = store.collections[price_plans.NAME].items[config["targetId"]]
    target_version = price_plans.version_of(target, config["targetVersion"])
    assert target_version is not None
    if account["invoiceCurrency"] not in target_version["pricePlanDetails"]["activeCurrencies"]:
        raise Invalid.at("accountId", f"the target plan is not active in {account['invoiceCurrency']}")
    moment = parse_time(now)
    mode = config["migrationMode"]
    schedules, moved = [], 0
    for schedule in timeline(store, account_id):
        begin, end = parse_time(schedule["startDate"]), parse_time(schedule["endDate"])
        on_source = schedule["pricePlanId"] == config["sourceId"] and schedule["version"] == config["sourceVersion"]
        if not on_source or end <= moment:
            schedules.append(schedule)
            continue
        if mode.startswith("IMMEDIATE"):
            cut = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        elif mode == "START_OF_CURRENT_CYCLE":  # the ongoing cycle is priced on the target too
            _, details, _ = details_of(store, schedule)
            cut = max(begin, cycle_at(details["pricingCycleConfig"], moment, begin, organisation_zone(store))[0])
        else:
            _, details, _ = details_of(store, schedule)
            cut = cycle_at(details["pricingCycleConfig"], moment, begin, organisation_zone(store))[1]
        moved_part = {**schedule, "pricePlanId": target["id"], "version": target_version["version"]}
        if mode.endswith("IGNORE_OVERRIDE"):
            for key in ("pricePlanDetailsOverride", "pricingRulesOverride"):
                moved_part.pop(key, None)
        if config.get("retainStartOffsets"):
            details = {**target_version["pricePlanDetails"], **moved_part.get("pricePlanDetailsOverride", {})}
            cycle = retained_cycle(store, schedule, details, "retainStartOffsets")
            moved_part["pricePlanDetailsOverride"] = {**moved_part.get("pricePlanDetailsOverride", {}),
                                                      "pricingCycleConfig": cycle}
        moved += 1
        if begin >= cut:
            schedules.append(moved_part)
        elif end > cut:
            fresh = store.new_id(price_plans.SCHEDULE_IDS)
            schedules.append({**schedule, "endDate": stamp_seconds(cut)})
            schedules.append({**moved_part, "id": fresh, "startDate": stamp_seconds(cut)})
        else:
            schedules.append(schedule)  # ends before the next cycle: nothing left to move
            moved -= 1
    _save(store, account_id, schedules)
    return f"moved {moved} schedule(s) to {target['id']} version {target_version['version']}"


def export(store: Store, record: Record) -> dict[str, Any]:
    """The account's timeline as exported (``UpdatePricingScheduleResponse``), and a pending v2 draft."""
    out = render(store, record["accountId"])
    if record.get(DRAFT) is not None:
        out[DRAFT] = record[DRAFT]
    return out


def complete_import(store: Store, ctx: ImportContext) -> None:
    """An imported timeline is keyed by its account."""
    for record in ctx.data.get(NAME, []):
        if isinstance(record.get("accountId"), str):
            record["id"] = record["accountId"]


def check_import(ctx: ImportContext) -> None:
    """Schedules name existing plans, have ids of their own, start before they end, and never overlap."""
    plans = ctx.ids(price_plans.NAME)
    seen: set[str] = set()
    for i, record in enumerate(ctx.data[NAME]):
        previous = None
        for j, schedule in enumerate(record.get("pricingSchedules", [])):
            where = f"{NAME}[{i}].pricingSchedules[{j}]"
            if schedule["pricePlanId"] not in plans:
                ctx.problems.append(Violation(f"{where}.pricePlanId", f"no price plan {schedule['pricePlanId']!r}"))
            if schedule["id"] in seen:
                ctx.problems.append(Violation(f"{where}.id", f"{schedule['id']!r} is used twice"))
            seen.add(schedule["id"])
            try:
                begin, end = parse_time(schedule["startDate"]), parse_time(schedule["endDate"])
            except DomainError:
                ctx.problems.append(Violation(f"{where}.startDate", "is not a date-time"))
                continue
            if end <= begin:
                ctx.problems.append(Violation(f"{where}.endDate", "must be after startDate"))
            if previous is not None and begin < previous:
                ctx.problems.append(Violation(f"{where}.startDate", "overlaps the schedule before it"))
            previous = end
        for j, schedule in enumerate(record.get(DRAFT) or []):
            plan = plans.get(schedule["pricePlanId"])
            if plan is None or all(v.get("version") != schedule["version"] for v in plan.get("pricingSchedule", [])):
                ctx.problems.append(Violation(f"{NAME}[{i}].{DRAFT}[{j}].pricePlanId", f"no price plan "
                                              f"{schedule['pricePlanId']!r} at version {schedule['version']}"))


def restore(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported timeline (each schedule on its plan's latest version; names derived)."""
    plans = store.collections[price_plans.NAME]
    schedules = []
    for schedule in record["pricingSchedules"]:
        stored = {k: v for k, v in schedule.items() if k != "pricePlanName"}
        stored["version"] = price_plans.latest_version(plans.items[stored["pricePlanId"]])
        schedules.append(stored)
        store.reserved.add(stored["id"])
    _save(store, record["accountId"], schedules)
    if record.get(DRAFT) is not None:
        store.collections[NAME].items[record["accountId"]][DRAFT] = record[DRAFT]
        for schedule in record[DRAFT]:
            store.indexes[DRAFT_SCHEDULES][schedule["id"]] = record["accountId"]
            store.reserved.add(schedule["id"])


RESOURCE = Resource(
    name=NAME,
    schema="UpdatePricingScheduleResponse",
    references={"accountId": "accounts"},
    exchange=Exchange(
        not_exported=("accountName",),
        export=export,
        complete_import=complete_import,
        check_import=check_import,
        restore=restore,
        hidden={DRAFT: DRAFT_SCHEMA},
    ),
    indexes=(PLAN_ACCOUNTS, SCHEDULE_ACCOUNTS, DRAFT_SCHEDULES),
)
