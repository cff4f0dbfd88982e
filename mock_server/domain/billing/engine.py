"""The billing engine: a queue of due work, processed in time order as the clock moves.

What falls due for an account, earliest first:

- the end of its next unbilled pricing cycle (:func:`next_close`): the cycle
  is billed once, on the account's ongoing invoice of that cycle (or a new
  one): DRAFT and ``FINALIZING`` while the plan's grace period runs, DUE at
  once without one; the next cycle's ongoing invoice is opened;
- the end of a closed cycle's grace period: the DRAFT becomes DUE, its plan
  lines priced again (events dated in the cycle that landed during the grace
  period count), ``dueDate`` = invoice date + ``netTermDays``.

The queue holds one live entry per account (its next due instant); an entry
whose instant no longer matches is stale and skipped. Associations change
outside the engine, so the bindings :func:`mark_dirty` it after a write that
may move a cycle; the next look recomputes every account's entry (once per
such write, never per request). :func:`catch_up` is the cheap check before a
request: one comparison with the head of the queue.

Cycles that closed before the tenant's billing origin (``Clock.origin``: when
its clock started) are history the mock does not invent; the cycle open then
is billed in full.

Work is done in slices of at most :data:`SLICE_S` seconds. A caller that
holds the store's lock may release it between slices; a request served
between two slices sees the tenant as it was at the instant processed so far
(the clock included), never a half-processed instant.
"""
from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.memory import collector_paused
from ..core.observers import clock_moved
from ..core.resource import Derived
from ..core.store import Record, Store
from ..core.times import parse_time, stamp
from ..ledger import credits, invoices
from ..pricing import engine as pricing
from ..pricing import jobs, schedules
from . import groups, settle
from .lines import KeysByAccount, plan_line

NAME = "billing"
SLICE_S = 0.05  # the longest a slice holds the store (README, "Performance")
MAX_IDS = 1000  # ids listed per kind in a summary (the counts are whole)
BILL_RUN_JOB = "BILL_RUN"


@dataclass(slots=True)
class Summary:
    """What a clock move or bill run did: cycles closed, invoices drafted (grace) and finalized (DUE)."""

    cycles_closed: int = 0
    drafted: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    drafted_count: int = 0
    finalized_count: int = 0
    expired: list[str] = field(default_factory=list)  # credits whose effectiveUntil the move passed

    def add(self, kind: str, invoice_id: str) -> None:
        """Count an invoice drafted or finalized."""
        if kind == "drafted":
            self.drafted_count += 1
            if len(self.drafted) < MAX_IDS:
                self.drafted.append(invoice_id)
        else:
            self.finalized_count += 1
            if len(self.finalized) < MAX_IDS:
                self.finalized.append(invoice_id)

    def to_json(self) -> dict[str, Any]:
        """As the control API answers it."""
        return {"cyclesClosed": self.cycles_closed,
                "invoicesDrafted": {"count": self.drafted_count, "ids": self.drafted},
                "invoicesFinalized": {"count": self.finalized_count, "ids": self.finalized},
                "creditsExpired": {"count": len(self.expired), "ids": self.expired[:MAX_IDS]}}


class Queue:
    """One tenant's due work: a heap of (instant in seconds, account id), one live entry per account."""

    __slots__ = ("heap", "due", "dirty", "stale", "grace", "keys")

    def __init__(self) -> None:
        self.heap: list[tuple[int, str]] = []
        self.due: dict[str, int] = {}
        self.dirty = True  # recompute every account's entry at the next look
        self.stale: set[str] = set()  # accounts whose entry to recompute at the next look (one write each)
        # account -> [(grace end in seconds, invoice id)] of its closed cycles' DRAFTs
        self.grace: dict[str, list[tuple[int, str]]] | None = None  # None: rebuild from the invoices
        self.keys = KeysByAccount()

    def head(self) -> int | None:
        """The earliest live due instant (stale entries dropped on the way)."""
        heap = self.heap
        while heap and self.due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


def queue(store: Store) -> Queue:
    """The tenant's queue, brought up to date when a write marked it dirty."""
    found: Queue = store.derived[NAME]
    if found.grace is None:
        found.grace = {}
        for invoice in store.collections["invoices"].items.values():
            if invoice.get("finalizingStatus") == "FINALIZING" and invoice["status"] == "DRAFT":
                found.grace.setdefault(invoice["ownerId"], []).append(
                    (_seconds(parse_time(invoice["invoiceDate"])), invoice["id"]))
        found.dirty = True
    if found.dirty:
        found.dirty = False
        accounts = set(store.collections[schedules.NAME].items)
        accounts.update(store.indexes[invoices.ONGOING], found.grace)
        found.due.clear()
        found.heap = []
        for account_id in accounts:
            _schedule(store, found, account_id, push=False)
        found.heap = [(due, account_id) for account_id, due in found.due.items()]
        heapq.heapify(found.heap)
        found.stale.clear()
    elif found.stale:
        for account_id in found.stale:  # an older heap entry of the account is skipped as stale
            _schedule(store, found, account_id)
        found.stale.clear()
    return found


def mark_dirty(store: Store, account_id: str | None = None) -> None:
    """An association, plan or ongoing invoice changed: recompute the queue at the next look.

    With ``account_id``, only that account's entry (a write to one account must not cost a pass
    over every account on a plan); without, every entry (a plan or a migration changed).
    """
    found: Queue = store.derived[NAME]
    if account_id is None:
        found.dirty = True
    else:
        found.stale.add(account_id)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def next_close(store: Store, account_id: str) -> tuple[datetime, pricing.ScheduleAt | None, Record | None] | None:
    """The account's next unbilled cycle: its end, what prices it (None without a plan), its ongoing invoice."""
    until = invoices.billed_until(store, account_id)
    frontier = parse_time(until) if until is not None else store.clock.origin
    ongoing_id = store.indexes[invoices.ONGOING].get(account_id)
    ongoing = store.collections["invoices"].items[ongoing_id] if ongoing_id is not None else None
    found = schedules.schedule_at(store, account_id, frontier)
    if found is None:
        upcoming = schedules.next_start(store, account_id, frontier)
        found = schedules.schedule_at(store, account_id, upcoming) if upcoming is not None else None
    if found is not None:
        return found.cycle_end, found, ongoing
    if ongoing is not None:  # charges on an account without a plan: its calendar month closes
        return parse_time(ongoing["endDate"]), None, ongoing
    return None


def _schedule(store: Store, state: Queue, account_id: str, push: bool = True) -> None:
    """Put the account's next due instant in the queue (or take it out when nothing is due)."""
    candidates = [due for due, _ in (state.grace or {}).get(account_id, [])]
    close = next_close(store, account_id)
    if close is not None:
        candidates.append(_seconds(close[0]))
        if close[1] is not None and _unopened(store, account_id, close):  # no ongoing invoice yet: open it
            candidates.append(_seconds(close[1].cycle_start))  # at the cycle's start
    if not candidates:
        state.due.pop(account_id, None)
        return
    due = min(candidates)
    state.due[account_id] = due
    if push:
        heapq.heappush(state.heap, (due, account_id))


def _unopened(store: Store, account_id: str, close: tuple[datetime, pricing.ScheduleAt | None, Record | None]) -> bool:
    """The account's next cycle has a plan but no ongoing invoice yet (and the account is not archived)."""
    return (close[1] is not None and close[2] is None
            and store.collections["accounts"].items[account_id]["status"] != "ARCHIVED")


def _grace_days(found: pricing.ScheduleAt | None) -> int:
    if found is None:
        return 0
    config = found.details.get("pricingCycleConfig") or pricing.DEFAULT_CYCLE
    return int(config.get("gracePeriod") or 0)


def _close(store: Store, state: Queue, account_id: str, end: datetime, found: pricing.ScheduleAt | None,
           ongoing: Record | None, summary: Summary) -> None:
    """Bill the cycle ending at ``end`` on the account's ongoing invoice (or a new one)."""
    account = store.collections["accounts"].items[account_id]
    at = stamp(end)
    if ongoing is None:
        assert found is not None
        ongoing = invoices.open_standard(store, account, stamp(found.cycle_start), at, at)
    if found is not None:
        line = {"id": store.new_id(invoices.LINE_IDS), **plan_line(store, state.keys, found)}
        ongoing["lines"] = [x for x in ongoing["lines"] if x.get("type") != invoices.PLAN_LINE] + [line]
        ongoing["startDate"], ongoing["endDate"] = stamp(found.cycle_start), at
        ongoing["endDateInclusive"] = stamp(end - timedelta(milliseconds=1))
        ongoing["pricePlanId"] = found.plan["id"]
    grace = _grace_days(found)
    ongoing["updatedAt"] = at
    if grace > 0:
        ongoing["finalizingStatus"] = "FINALIZING"
        ongoing["invoiceDate"] = stamp(end + timedelta(days=grace))
        assert state.grace is not None
        state.grace.setdefault(account_id, []).append((_seconds(end + timedelta(days=grace)), ongoing["id"]))
        invoices.mark_billed(store, ongoing)
        summary.add("drafted", ongoing["id"])
    else:
        invoices.finalize(store, ongoing, "DUE", at)
        settle.on_due(store, ongoing, end, at)
        summary.add("finalized", ongoing["id"])
    summary.cycles_closed += 1
    if account["status"] != "ARCHIVED":
        upcoming = schedules.schedule_at(store, account_id, end)
        if upcoming is not None and store.indexes[invoices.ONGOING].get(account_id) is None:
            invoices.open_standard(store, account, at, stamp(upcoming.cycle_end), at)
    groups.consolidate(store, ongoing, end)  # a member's invoice that became DUE joins its group's


def _end_grace(store: Store, state: Queue, account_id: str, upto: int, summary: Summary) -> None:
    """DRAFT -> DUE for the account's closed cycles whose grace period ended by ``upto``."""
    assert state.grace is not None
    pending = state.grace.get(account_id, [])
    for due, invoice_id in sorted(p for p in pending if p[0] <= upto):
        invoice = store.collections["invoices"].get(invoice_id)
        if invoice is None or invoice["status"] != "DRAFT":
            continue  # moved on by hand (PATCH)
        found = schedules.schedule_at(store, account_id, parse_time(invoice["startDate"]))
        if found is not None and stamp(found.cycle_start) == invoice["startDate"]:
            old = next((x for x in invoice["lines"] if x.get("type") == invoices.PLAN_LINE), None)
            fresh = {**({"id": old["id"]} if old else {"id": store.new_id(invoices.LINE_IDS)}),
                     **plan_line(store, state.keys, found)}
            invoice["lines"] = [x for x in invoice["lines"] if x.get("type") != invoices.PLAN_LINE] + [fresh]
        at = stamp(_moment(due))
        invoices.finalize(store, invoice, "DUE", at)
        invoice["updatedAt"] = at
        settle.on_due(store, invoice, _moment(due), at)
        summary.add("finalized", invoice_id)
        groups.consolidate(store, invoice, _moment(due))
    left = [p for p in pending if p[0] > upto]
    if left:
        state.grace[account_id] = left
    else:
        state.grace.pop(account_id, None)


def _process(store: Store, state: Queue, account_id: str, at: int, summary: Summary) -> None:
    """Everything of the account due at ``at``, grace ends first (an earlier cycle's), then a close."""
    _end_grace(store, state, account_id, at, summary)
    close = next_close(store, account_id)
    if close is not None and _seconds(close[0]) <= at:
        _close(store, state, account_id, close[0], close[1], close[2], summary)
        close = next_close(store, account_id)
    found = close[1] if close is not None and _unopened(store, account_id, close) else None
    if found is not None and _seconds(found.cycle_start) <= at:
        # The open cycle shows what it has earned so far (issue 19: the preview, the ongoing and the final
        # invoice agree), from its first cycle on, not only from the second.
        invoices.open_standard(store, store.collections["accounts"].items[account_id], stamp(found.cycle_start),
                               stamp(found.cycle_end), stamp(_moment(at)))
    _schedule(store, state, account_id)


def run_slice(store: Store, target: datetime, summary: Summary, budget: float = SLICE_S) -> bool:
    """Process due work up to ``target`` in time order for at most ``budget`` seconds; True when all is done.

    A movable clock reads each due instant while its work runs, so what it
    makes is dated then. The caller holds the store's lock.
    """
    deadline = time.perf_counter() + budget  # a queue rebuilt first counts against the slice
    state = queue(store)
    clock = store.clock
    limit = _seconds(target)
    while True:
        head = state.head()
        if head is None or head > limit:
            return True
        _, account_id = heapq.heappop(state.heap)
        if clock.movable and _moment(head) > clock.instant():
            clock.move_to(_moment(head))
        _process(store, state, account_id, head, summary)
        if time.perf_counter() > deadline:
            return state.head() is None or (state.head() or 0) > limit


def advance(store: Store, target: datetime, between: Callable[[], None] | None = None) -> Summary:
    """Process everything due up to ``target`` in slices; ``between`` runs between two slices
    (it may release and re-take the lock). A movable clock ends at ``target``."""
    summary = Summary()
    start = store.clock.instant()
    with collector_paused():  # a year of invoices is many objects; the collector's passes stalled slices
        while not run_slice(store, target, summary):
            if between is not None:
                between()
    if store.clock.movable and target > store.clock.instant():
        store.clock.move_to(target)
    if store.clock.movable and store.collections["credits"].items:
        # Expiry is derived when a credit is shown; the move only reports what it passed (one scan per move).
        summary.expired = credits.expired_between(store, start, target)
    clock_moved(store)  # alerts look again at what the move changed (balances, expiries, a new month)
    return summary


def catch_up(store: Store) -> Summary | None:
    """Before a request: process what fell due by the clock, if anything did (one comparison otherwise)."""
    state: Queue = store.derived[NAME]
    if state.dirty or state.stale or state.grace is None:
        state = queue(store)
    head = state.head()
    if head is None or head > store.clock.seconds():
        return None
    return advance(store, store.clock.instant())


def live(store: Store, invoice: Record) -> Record:
    """An ongoing or grace-period invoice as it stands: its plan lines priced from the usage so far.

    The ongoing invoice of an open cycle shows what the cycle has earned (its
    usage so far and the fixed fees it bills), so the bill-run preview, the
    ongoing invoice and the final invoice agree to the cent. Other invoices
    are shown as stored.
    """
    if invoice["status"] != "DRAFT" or invoice.get("invoiceType") == "CUSTOM":
        return invoice
    found = schedules.schedule_at(store, invoice["ownerId"], parse_time(invoice["startDate"]))
    if found is None or stamp(found.cycle_start) != invoice["startDate"]:
        return invoice
    line = plan_line(store, queue(store).keys, found)
    old = next((x for x in invoice["lines"] if x.get("type") == invoices.PLAN_LINE), None)
    if old is not None:
        line = {"id": old["id"], **line}
    return {**invoice, "lines": [x for x in invoice["lines"] if x.get("type") != invoices.PLAN_LINE] + [line]}


def bill_run(store: Store) -> Summary:
    """``POST /invoices/bill_runs``: close the cycles that ended by the clock and are not billed (idempotent)."""
    return advance(store, store.clock.instant())


def request_bill_run(store: Store) -> Record:
    """``POST /invoices/bill_runs?require_confirmation=true``: a ``BILL_RUN`` job waiting for confirmation.

    Nothing is billed until ``POST /jobs/{id}/confirm`` (:func:`run_bill_run_job`); a rejected job bills
    nothing. It has no entries while it waits: what it bills is known when it runs.
    """
    now = store.clock.now()
    job: Record = {"id": store.new_id(jobs.IDS, store.collections[jobs.NAME]), "type": BILL_RUN_JOB,
                   "status": "WAITING_FOR_CONFIRMATION", "updatedAt": now, "metadata": {"requestedAt": now}}
    store.collections[jobs.NAME].add(job["id"], job)
    return job


def run_bill_run_job(store: Store, job: Record) -> None:
    """A confirmed ``BILL_RUN`` job runs the bill run then (:func:`bill_run`): an entry per invoice it drafted
    (a grace period runs) or finalized, all COMPLETED; the job COMPLETED (with no entries when nothing was
    left to bill, as the engine bills each cycle when it ends)."""
    summary = bill_run(store)
    now = store.clock.now()
    keys = store.indexes[jobs.JOB_ENTRIES].setdefault(job["id"], [])
    for kind, ids in (("DRAFT (its grace period runs)", summary.drafted), ("DUE", summary.finalized)):
        for invoice_id in ids:
            entry = {"id": f"{job['id']}/{invoice_id}", "entityId": invoice_id, "jobId": job["id"],
                     "status": "COMPLETED", "createdAt": now, "comments": f"invoice {invoice_id} is {kind}"}
            store.collections[jobs.ENTRIES].add(entry["id"], entry)
            keys.append(entry["id"])
    job["metadata"] = {**job.get("metadata", {}), "cyclesClosed": str(summary.cycles_closed)}
    job["status"] = "COMPLETED"
    job["settledAt"] = job["updatedAt"] = now


JOB_RUNNERS = {BILL_RUN_JOB: run_bill_run_job}  # the job types billing runs on confirmation


def _rebuild(store: Store) -> None:
    store.derived[NAME] = Queue()


DERIVED = Derived(name=NAME, make=Queue, rebuild=_rebuild)
