"""Events: what ``/ingest`` and ``/ingestBatch`` accepted, each with the outcome of its processing.

An accepted event is stored at once with ``INGESTION_IN_PROGRESS`` and
processed at once, or ``--ingest-delay`` seconds later (:func:`settle`,
called before anything reads events). Processing resolves the account (id
or alias), the ACTIVE version of the schema, and runs each ACTIVE meter of
that schema (:mod:`mock_server.domain.usage.metering`); the outcome is final, and
:func:`usage.count_event` counts it under its status (in progress, failed or completed) until it is reverted.

The stored record, :class:`Event` (slotted: a million of them must fit in
a few hundred MB). Other modules (``usage.py``) read these attributes:

``id`` (str)
    the store key: the event's own id (``eventPayload.id``), or its
    ``referenceId`` when it has none or repeats an id in use (a duplicate).
``event_id`` (str | None)
    ``eventPayload.id`` as sent.
``reference`` (str)
    ``referenceId``, made by the server (``event.<...>.<...>``).
``account_id``, ``schema_name``, ``timestamp`` (str)
    ``eventPayload.accountId`` (an account id or an alias), ``schemaName``,
    ``timestamp`` (RFC 3339), as sent.
``attributes`` (flat tuple ``name, value, unit | None, name, value, ...``), ``dimensions`` (flat ``name, value, ...``)
    as sent; values are strings.
``created_at`` (str)
    when the event was accepted.
``status`` (str)
    ``ingestionStatus.status``: one of the contract's ``IngestionStatus`` values.
``account``, ``customer_id`` (str | None)
    the account the event resolved to (its id, never an alias) and its customer; None when not found.
``schema_version`` (int | None)
    the ACTIVE schema version that processed it.
``meter_ids`` (tuple of str), ``units`` (tuple of ``str | None``, the same length)
    each ACTIVE meter of the schema and its units (``PROCESSED_UNITS_COMPUTED``)
    as an exact decimal numeral (``Decimal(units)`` is exact), or None
    (``PROCESSED_FILTERED_OUT``). Events share these tuples where they are equal.
``before_revert`` (str | None)
    the status a correction reverted (``statusBeforeReverting``).

Every stored event is counted (``usage.count_event(store, event, +1)``) under
its status: ``INGESTION_IN_PROGRESS`` while it waits for ``--ingest-delay``
(taken back when it is processed), then its final outcome; only completed
events have units. A correction calls ``count_event(store, event, -1)``
before its status changes (``REVERTED``, or in progress again).
:func:`render` shows a record as the API's ``EventWithStatusAndEventPipelineInfo``.

Indexes spare ``GET /events`` a scan of every event: ``events_by_account``
(an account id or alias -> the positions, in the collection's order, of the
events sent with it or resolved to it) and ``events_by_schema`` (schema name
-> positions). Events are never removed, so a position stays the event's;
ingestion appends, processing adds the resolved account, a correction moves
the event, and an import's :func:`restore` indexes each event it inserts.
A filtered page reads the shortest list that applies, not the collection.
"""
from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import chain
from sys import intern
from typing import Any

from ..core.cursors import paginate, paginate_positions
from ..core.errors import Invalid, Violation
from ..core.lookup import require as lookup
from ..core.memory import collector_paused
from ..core.observers import credits_held, credits_refused, usage_changed
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from ..core.times import parse_time, stamp_seconds
from ..pricing import engine as pricing
from ..pricing import jobs, schedules
from . import aggregates as usage
from . import builtin_schemas, enrichment, metering, org_settings, statuses
from . import credits as feature_credits
from . import meters as usage_meters
from .statuses import DESCRIPTIONS, DUPLICATE, IN_PROGRESS, METERED, NO_ID, NO_METERS, REVERTED

NAME = "events"
IDS = IdScheme("event")
PENDING = "events_pending"  # index: store key -> (monotonic time it may be processed at, its position)
BY_ACCOUNT = "events_by_account"  # index: account id or alias -> positions of its events, ascending
BY_SCHEMA = "events_by_schema"  # index: schema name -> positions of its events, ascending
MAX_PAGE = 50  # GET /events: "Max page size cannot be more than 50", and 50 is the default
# One event-id space (Togai's Event.id): an id used by /ingest, /ingestBatch or /entitled is not reusable on
# the others for 45 days. The events /entitled took are stored here too (:func:`record_entitled`), their
# store keys in this index (key -> when it took it); the ledger's entitlements call :func:`id_taken` before
# they take one.
ENTITLED_IDS = feature_credits.ENTITLED
ID_WINDOW = timedelta(days=45)

# Others waiting for the store go first (for at most CHUNK_YIELD_S) after each chunk of this many events of a
# batch: a 500-event request never holds the store for more than a chunk's time while others wait.
CHUNK = 100
CHUNK_YIELD_S = 0.01

FILTERED_OUT, COMPUTED = "PROCESSED_FILTERED_OUT", "PROCESSED_UNITS_COMPUTED"


class Event:
    """One ingested event (see the module's docstring for the fields)."""

    __slots__ = ("id", "event_id", "reference", "account_id", "schema_name", "timestamp", "attributes",
                 "dimensions", "created_at", "status", "account", "customer_id", "schema_version", "meter_ids",
                 "units", "before_revert")

    def __init__(self, key: str, reference: str, payload: dict[str, Any], created_at: str,
                 batch: metering.Batch | None = None) -> None:
        self.id = key
        self.reference = reference
        self.created_at = created_at
        self.status = IN_PROGRESS
        self.account: str | None = None
        self.customer_id: str | None = None
        self.schema_version: int | None = None
        self.meter_ids: tuple[str, ...] = ()
        self.units: tuple[str | None, ...] = ()
        self.before_revert: str | None = None
        self.set_payload(payload, batch)

    def set_payload(self, payload: dict[str, Any], batch: metering.Batch | None = None) -> None:
        """Keep an ``Event`` payload of the API (as sent) in compact form.

        ``batch``: the request's, whose events share equal attribute and dimension tuples.
        """
        self.event_id: str | None = payload.get("id")
        # Names repeat from event to event: interned, each is kept once.
        self.account_id: str = intern(payload["accountId"])
        self.schema_name: str = intern(payload["schemaName"])
        self.timestamp: str = payload["timestamp"]
        self.attributes, self.dimensions = _flat(payload, batch)

    def payload(self) -> dict[str, Any]:
        """The ``eventPayload`` as sent."""
        out: dict[str, Any] = {}
        if self.event_id is not None:
            out["id"] = self.event_id
        out["schemaName"] = self.schema_name
        out["timestamp"] = self.timestamp
        out["accountId"] = self.account_id
        flat = self.attributes
        out["attributes"] = [
            {"name": flat[i], "value": flat[i + 1]} if flat[i + 2] is None
            else {"name": flat[i], "value": flat[i + 1], "unit": flat[i + 2]}
            for i in range(0, len(flat), 3)
        ]
        dims = self.dimensions
        out["dimensions"] = {dims[i]: dims[i + 1] for i in range(0, len(dims), 2)}
        return out

    def counts(self) -> bool:
        """Whether the event is in the usage: processed and completed, not reverted."""
        return self.status.startswith("INGESTION_COMPLETED")

    def in_metrics(self) -> bool:
        """Whether the event is in the metrics: every stored event but a reverted one (``EVENTS``
        counts failed and in-progress events under their status; only completed ones have units)."""
        return self.status != REVERTED

    def __getitem__(self, key: str) -> Any:
        if key != "id":  # what paging reads; the API's fields are rendered by render()
            raise KeyError(key)
        return self.id


def _interned(flat: tuple[str | None, ...], batch: metering.Batch | None) -> tuple[str | None, ...]:
    """``flat`` with its strings interned, kept for the batch's events with an equal tuple."""
    shared = tuple([None if text is None else intern(text) for text in flat])
    if batch is not None:
        batch.tuples[flat] = shared
    return shared


def render(store: Store, event: Event, pipeline: bool = False) -> dict[str, Any]:
    """An event as ``EventWithStatus`` (or ``...AndEventPipelineInfo`` with ``pipeline``)."""
    status: dict[str, Any] = {"status": event.status}
    if event.status in DESCRIPTIONS:
        status["statusDescription"] = DESCRIPTIONS[event.status]
    out: dict[str, Any] = {"referenceId": event.reference, "eventPayload": event.payload(),
                           "ingestionStatus": status, "createdAt": event.created_at}
    if event.customer_id is not None:
        out["customerId"] = event.customer_id
    if pipeline:
        out["eventPipelineInfo"] = pipeline_info(store, event)
    return out


def plan_of(store: Store, account_id: str, timestamp: str) -> dict[str, Any] | None:
    """The price plan whose cycle the event falls in, as ``EventPipelineInfo.pricePlans`` shows it.

    Derived when shown, from the account's associations as they are now (an
    association edited later moves it); ``cycleEnd`` is the cycle's last day.
    """
    try:
        found = schedules.schedule_at(store, account_id, parse_time(timestamp))
    except Invalid:  # a timestamp no calendar has (one an import let through): no plan to show
        return None
    except ValueError:  # a cycle past year 9999, which datetime cannot hold
        return None
    if found is None:
        return None
    meters = list(dict.fromkeys(c["usageMeterId"] for c in found.details.get("usageRateCards", [])))
    zone = found.zone or UTC  # the cycle's first and last days in the organisation's time zone
    last = (found.cycle_end - timedelta(microseconds=1)).astimezone(zone)
    return {"name": found.plan["name"], "id": found.plan["id"], "scheduleId": found.schedule["id"],
            "cycleStart": found.cycle_start.astimezone(zone).date().isoformat(), "cycleEnd": last.date().isoformat(),
            "usageMeters": meters}


def pipeline_info(store: Store, event: Event) -> dict[str, Any]:
    """What processing found: the account, its customer, the plan whose cycle the event falls in,
    the schema version, each meter's outcome."""
    info: dict[str, Any] = {}
    account = store.collections["accounts"].get(event.account) if event.account else None
    if account is not None:
        info["account"] = {"id": account["id"], "name": account["name"]}
        if event.account_id != account["id"]:
            info["account"]["alias"] = event.account_id
        customer = store.collections["customers"].get(account["customerId"])
        if customer is not None:
            info["customer"] = {"id": customer["id"], "name": customer["name"]}
        plan = plan_of(store, account["id"], event.timestamp)
        if plan is not None:
            info["pricePlans"] = [plan]
        # The organisation's base currency and the account's invoice currency (Togai's newer contract).
        info["baseCurrency"] = org_settings.base_currency(store)
        info["invoiceCurrency"] = account["invoiceCurrency"]
    if event.schema_version is not None:
        info["eventSchema"] = {"name": event.schema_name, "version": event.schema_version}
    meters = store.collections[usage_meters.NAME]
    listed = []
    for meter_id, units in zip(event.meter_ids, event.units, strict=True):
        meter = meters.get(meter_id)
        item: dict[str, Any] = {"id": meter_id, "name": meter["name"] if meter else meter_id, "version": 1,
                                "status": FILTERED_OUT if units is None else COMPUTED}
        if units is not None:
            item["units"] = metering.units_json(Decimal(units))
        listed.append(item)
    if event.meter_ids:
        info["usageMeters"] = listed
    if event.before_revert is not None:
        info["statusBeforeReverting"] = event.before_revert
    return info


# -- ingestion -------------------------------------------------------------------------------


def refusals(events: list[dict[str, Any]], prefix: str) -> dict[int, Violation]:
    """Events refused at the door (beyond the schema), by position: an attribute given twice."""
    out: dict[int, Violation] = {}
    for i, event in enumerate(events):
        if len(event["attributes"]) < 2:
            continue
        seen: set[str] = set()
        for j, attribute in enumerate(event["attributes"]):
            if attribute["name"] in seen:
                out[i] = Violation(f"{prefix}[{i}].attributes[{j}].name", "is given twice")
                break
            seen.add(attribute["name"])
    return out


def accept(store: Store, payloads: Iterable[dict[str, Any]]) -> None:
    """Store each payload as an event in progress, then process the ones that are due."""
    with collector_paused():
        _accept(store, payloads)


def _accept(store: Store, payloads: Iterable[dict[str, Any]]) -> None:
    # The loop below runs for every event of every batch: Event(), storing and indexing inlined; _decide
    # works out once per request what equal events share.
    collection = store.collections[NAME]
    items = collection.items
    now = store.clock.now()  # one stamp per request: a batch arrives at once
    delay = store.ingest_delay
    due = time.monotonic() + delay
    pending = store.indexes[PENDING]
    by_account, by_schema = store.indexes[BY_ACCOUNT], store.indexes[BY_SCHEMA]
    batch = _Batch(store)
    templates = batch.templates
    payloads = list(payloads)
    touched: set[str] = set()
    hours = usage.HourReader()
    tally: usage.Tally = {}  # counted at once: one aggregate update per (bucket, key), not per event
    known_hours = hours.known
    new = Event.__new__
    for n, (payload, reference) in enumerate(zip(payloads, store.new_ids(IDS, len(payloads), collection),
                                                 strict=True)):
        if store.waiting and n and not n % CHUNK:  # others wait for the store: let them in between two chunks
            usage.count_tally(store, tally, +1)  # what they may read is counted first
            tally.clear()
            store.yield_lock(CHUNK_YIELD_S)
            batch = _Batch(store)  # what it learnt may have changed meanwhile (a clock move)
            templates = batch.templates
        name = payload["schemaName"]
        template = templates.get(name, _UNSEEN)
        if template is _UNSEEN:
            template = batch.template(name)
        if template is not None:
            # The schema's eventIdTemplate makes the event's id (its idempotency key) from its fields.
            payload = {**payload, "id": enrichment.event_id(template, payload)}
            if payload["id"] is None:
                del payload["id"]  # a field the template names is missing: no id (NO_EVENT_ID)
        event_id = payload.get("id")
        first = event_id is not None and event_id not in items  # /entitled's events are stored here too
        event = new(Event)
        key = event.id = event_id if first and event_id is not None else reference
        event.reference = reference
        event.created_at = now
        event.account = event.customer_id = event.schema_version = event.before_revert = None
        event.meter_ids = event.units = ()
        event.event_id = event_id
        account_id = event.account_id = intern(payload["accountId"])
        event.schema_name = name = intern(name)
        timestamp = event.timestamp = payload["timestamp"]
        event.attributes, event.dimensions = _flat(payload, batch)
        position = collection.push(key, event)
        # _index_add, inlined (the new event's position is the newest of the index lists it goes in)
        positions = by_account.get(account_id)
        if positions is not None and positions[-1] < position:
            positions.append(position)
        else:
            _index_add(by_account, account_id, position)
        positions = by_schema.get(name)
        if positions is not None and positions[-1] < position:
            positions.append(position)
        else:
            _index_add(by_schema, name, position)
        counted: usage.Counted | None = None
        if event_id is None:
            event.status = NO_ID
        elif not first:
            event.status = DUPLICATE
        elif delay > 0:
            event.status = IN_PROGRESS
            pending[key] = (due, position)
        else:
            counted = _decide(store, event, batch)
            resolved = event.account
            if resolved is not None:
                if resolved != account_id:
                    _index_add(by_account, resolved, position)
                touched.add(resolved)
        if counted is None:  # its final outcome, or IN_PROGRESS until it is processed
            counted = batch.counted(event)
        plain = len(timestamp) == 20 and timestamp[19] == "Z" and timestamp[4] == "-" and timestamp[13] == ":"
        hour = known_hours.get(timestamp[:13]) if plain else None  # HourReader.hour's usual answer
        group = (hours.hour(timestamp) if hour is None else hour, counted)
        tally[group] = tally.get(group, 0) + 1
    usage.count_tally(store, tally, +1)
    usage_changed(store, touched)  # once per request: alerts on these accounts look again


def _flat(payload: dict[str, Any], batch: metering.Batch | None) -> tuple[tuple[str | None, ...], tuple[str, ...]]:
    """An ``Event`` payload's attributes (``name, value, unit | None, ...``) and dimensions (``name, value, ...``)
    as flat tuples of interned strings; ``batch``: the request's, whose events share equal tuples (interned
    once, on the first)."""
    flat: tuple[str | None, ...]
    given = payload["attributes"]
    if len(given) == 1:  # the usual case
        one = given[0]
        flat = (one["name"], one["value"], one.get("unit"))
    else:
        flat = tuple([part for a in given for part in (a["name"], a["value"], a.get("unit"))])
    given_dims = payload["dimensions"]
    dims: tuple[str, ...]
    if len(given_dims) == 1:  # the usual case too
        (dims,) = given_dims.items()
    else:
        dims = tuple(chain.from_iterable(given_dims.items()))
    shared = batch.tuples if batch is not None else None
    if shared is None:
        return _interned(flat, None), _interned(dims, None)  # type: ignore[return-value]
    return (shared.get(flat) or _interned(flat, batch),
            shared.get(dims) or _interned(dims, batch))  # type: ignore[return-value]


def _recent(taken_at: str, moment: datetime) -> bool:
    """Whether an id taken at ``taken_at`` is still in use at ``moment`` (45 days)."""
    return moment - parse_time(taken_at) < ID_WINDOW


def id_taken(store: Store, event_id: str) -> bool:
    """Whether ``/ingest`` or ``/ingestBatch`` took ``event_id`` less than 45 days ago (the mock's clock)."""
    event = store.collections[NAME].get(event_id)
    return event is not None and _recent(event.created_at, parse_time(store.clock.now()))


def process(store: Store, event: Event, batch: _Batch, position: int, counted: bool = False) -> None:
    """Give an event in progress its final outcome, and count it under that outcome.

    ``position``: the event's place in the collection (it is indexed under the account it resolves to).
    ``counted``: the event is already counted as ``INGESTION_IN_PROGRESS`` (it waited for
    ``--ingest-delay``), so that count is taken back first.
    """
    if counted:
        usage.count_event(store, event, -1)
    _decide(store, event, batch)
    if event.account is not None and event.account != event.account_id:
        _index_add(store.indexes[BY_ACCOUNT], event.account, position)
    usage.count_event(store, event, +1)


class _Batch(metering.Batch):
    """A request's batch, and what it learnt of each account's open cycle (for :func:`past_grace`)."""

    __slots__ = ("open_from", "open_text", "now", "windows", "verdicts", "outcomes", "counts", "templates",
                 "gates", "kept")

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.open_from: dict[str, datetime] = {}  # account -> start of its open cycle: later events are on time
        # The same as text ("2024-02-01T00:00:00Z"), which a UTC timestamp of that form compares with as it is;
        # "" for an account without any association (no plan: every event is on time).
        self.open_text: dict[str, str] = {}
        # schema name -> its eventIdTemplate (None: none, or no ACTIVE version, or a built-in schema)
        self.templates: dict[str, str | None] = {}
        self.gates: dict[tuple[str, str], bool] = {}  # (account, schema) -> whether its events consume credits
        self.now = store.clock.instant()
        # account -> its associations' windows [start, end): outside them it has no plan (no cycle to be late for)
        self.windows: dict[str, list[tuple[datetime, datetime]]] = {}
        # account -> the closed cycles [start, end) met so far and whether they are past their grace period
        self.verdicts: dict[str, list[tuple[datetime, datetime, bool]]] = {}
        self.outcomes: dict[tuple[str, str, int, int], Outcome | None] = {}
        self.counts: dict[tuple[str, str, str, str, tuple[str, ...], tuple[str | None, ...]], usage.Counted] = {}
        self.kept: list[tuple[tuple[str | None, ...], tuple[str, ...]]] = []

    def outcome(self, account_id: str, schema_name: str, attributes: tuple[str | None, ...],
                dimensions: tuple[str, ...]) -> Outcome | None:
        """What processing an event with these fields gives when it is on time (not past a grace period),
        before its credits: worked out once per request for equal events. None when it depends on more
        (the schema enriches its events)."""
        # By the tuples' identity: the request's events share one tuple per value (see :attr:`tuples`).
        key = (account_id, schema_name, id(attributes), id(dimensions))
        found = self.outcomes.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            found = self.outcomes[key] = _outcome(self, account_id, schema_name, attributes, dimensions)
            self.kept.append((attributes, dimensions))  # alive while the memo is: no other tuple takes their ids
        return found

    def gated(self, account_id: str, schema_name: str) -> bool:
        """Whether metering an event of the account and schema consumes credits (a feature is linked to the
        schema, and the account holds credits): asked once per request."""
        key = (account_id, schema_name)
        found = self.gates.get(key)
        if found is None:
            found = self.gates[key] = (feature_credits.gated(self.store, schema_name)
                                       and credits_held(self.store, account_id))
        return found

    def template(self, schema_name: str) -> str | None:
        """The eventIdTemplate of the schema's ACTIVE version, if any (read once per request)."""
        schema = self.schema(schema_name) if schema_name not in builtin_schemas.NAMES else None
        found = self.templates[schema_name] = schema.template if schema is not None else None
        return found

    def shared_counted(self, account: str, customer: str, schema: str, status: str, meter_ids: tuple[str, ...],
                       units: tuple[str | None, ...]) -> usage.Counted:
        """The request's one :class:`~.aggregates.Counted` of these fields."""
        fields = (account, customer, schema, status, meter_ids, units)
        found = self.counts.get(fields)
        if found is None:
            found = self.counts[fields] = usage.Counted(*fields)
        return found

    def counted(self, event: Event) -> usage.Counted:
        """The event's outcome as the cubes count it (shared with the request's equal ones)."""
        return self.shared_counted(event.account or event.account_id, event.customer_id or "", event.schema_name,
                                   event.status, event.meter_ids, event.units)

    def windows_of(self, account_id: str) -> list[tuple[datetime, datetime]]:
        """The account's association windows (read once per request)."""
        found = self.windows.get(account_id)
        if found is None:
            found = self.windows[account_id] = [
                (parse_time(s["startDate"]), parse_time(s["endDate"]))
                for s in schedules.timeline(self.store, account_id)]
        return found


class Outcome:
    """An on-time event's outcome before its credits, shared by a request's events with equal fields."""

    __slots__ = ("account", "version", "gated", "counted")

    def __init__(self, account: tuple[str, str] | None, version: int | None, gated: bool,
                 counted: usage.Counted) -> None:
        self.account = account  # (id, customer); None: no such account
        self.version = version  # the schema version that processed it
        # whether its credits are to be consumed: a feature is linked to its schema, and the account holds credits
        self.gated = gated
        self.counted = counted  # status, meter ids and units, as counted


_UNSEEN = "unseen"  # not looked up yet (a memo's "missing")
_UNKNOWN = Outcome(None, None, False, usage.Counted("", "", "", "", (), ()))  # not worked out yet (a memo's "missing")


def _outcome(batch: _Batch, account_id: str, schema_name: str, attributes: tuple[str | None, ...],
             dimensions: tuple[str, ...], enriched: bool = False) -> Outcome | None:
    """:meth:`_Batch.outcome`, worked out: :func:`_decide` but for the time and the credits. None when the schema
    enriches its events, unless ``enriched`` (these are the enriched fields)."""
    account = batch.account(account_id)
    if account is None:
        unknown = batch.shared_counted(account_id, "", schema_name, statuses.NO_ACCOUNT, (), ())
        return Outcome(None, None, False, unknown)
    status: str
    meter_ids: tuple[str, ...] = ()
    units: tuple[str | None, ...] = ()
    version: int | None = None
    gated = False
    if schema_name in builtin_schemas.NAMES:
        version = 1
        status, meter_ids, units = builtin_schemas.process(batch.store, schema_name, attributes, dimensions)
    else:
        schema = batch.schema(schema_name)
        if schema is None:
            status = statuses.NO_SCHEMA
        elif schema.enricher is not None and not enriched:
            return None
        else:
            version = schema.version
            outcome = schema.meter(attributes, dimensions)
            if outcome is None:
                status = statuses.UNITS_INVALID
            else:
                gated = batch.gated(account[0], schema_name)
                meter_ids, units = schema.meter_ids, outcome
                # Togai: NO_MATCHING_METERS when the schema has no (active) meter, NOT_METERED when its meters
                # made no usage.
                status = (METERED if outcome.count(None) < len(outcome)
                          else statuses.NOT_METERED if outcome else NO_METERS)
    counted = batch.shared_counted(account[0], account[1], schema_name, status, meter_ids, units)
    return Outcome(account, version, gated, counted)


def past_grace(store: Store, batch: _Batch, account_id: str, timestamp: str) -> bool:
    """Whether an event of ``account_id`` dated ``timestamp`` falls in a pricing cycle of its plan whose
    grace period has ended by the clock (that cycle is invoiced: Togai's INGESTION_FAILED_PAST_GRACE_PERIOD).

    A cycle that ended before the tenant's billing origin is history the engine never bills: its
    events are metered (README, "Money that moves"). Most events fall in the open cycle, which the
    batch remembers, so a batch looks each account's plan up about once.
    """
    windows = batch.windows.get(account_id)
    if windows is None:
        windows = batch.windows_of(account_id)
    if not windows:  # no association ever: no plan at any instant (schedule_at would find none)
        batch.open_text[account_id] = ""
        return False
    now = batch.now
    try:
        moment = parse_time(timestamp)
    except Invalid:
        return False
    known = batch.open_from.get(account_id)
    if moment >= now or (known is not None and moment >= known):
        return False
    # An event late for a cycle met before in this request has that cycle's verdict; one outside every
    # association has no plan then: no plan lookup per event.
    for start, end in windows:
        if start <= moment < end:
            break
    else:
        return False
    verdicts = batch.verdicts.setdefault(account_id, [])
    for start, end, verdict in verdicts:
        if start <= moment < end:
            return verdict
    try:
        found = schedules.schedule_at(store, account_id, moment)
    except (Invalid, ValueError):  # a cycle past year 9999
        return False
    if found is None:
        return False
    if found.cycle_end > now:  # the open cycle: every event from its start on is on time
        start = batch.open_from[account_id] = found.cycle_start
        if not start.microsecond and 1000 <= start.year:  # whole seconds: its text is exact
            batch.open_text[account_id] = stamp_seconds(start)
        return False
    grace = int((found.details.get("pricingCycleConfig") or pricing.DEFAULT_CYCLE).get("gracePeriod") or 0)
    late = found.cycle_end + timedelta(days=grace) <= now and found.cycle_end > store.clock.origin
    verdicts.append((found.cycle_start, found.cycle_end, late))  # the same for every instant of the cycle
    return late


def _decide(store: Store, event: Event, batch: _Batch) -> usage.Counted | None:
    """Give an event in progress its final outcome (Togai's order: its account, the grace period, its schema,
    the schema's enrichment, its meters, its credits); the request's shared count of it, when it has one.

    What depends only on the event's account, schema, attributes and dimensions is worked out once per
    request (:meth:`_Batch.outcome`); its time and its credits are each event's own.
    """
    outcome = batch.outcome(event.account_id, event.schema_name, event.attributes, event.dimensions)
    if outcome is not None and outcome.account is None:
        event.status = statuses.NO_ACCOUNT
        return outcome.counted
    account = outcome.account if outcome is not None else batch.account(event.account_id)
    assert account is not None  # an unknown account's outcome says so
    event.account, event.customer_id = account
    if _late(store, batch, account[0], event.timestamp):
        event.status = statuses.PAST_GRACE
        return None
    if outcome is None:  # the schema enriches its events: its meters read the enriched fields
        schema = batch.schema(event.schema_name)
        assert schema is not None and schema.enricher is not None
        event.schema_version = schema.version
        try:
            event.attributes, event.dimensions = schema.enricher.apply(
                store, event.attributes, event.dimensions, *account)
        except enrichment.Failed:
            event.status = statuses.ENRICHMENT_FAILED
            return None
        outcome = _outcome(batch, event.account_id, event.schema_name, event.attributes, event.dimensions,
                           enriched=True)
        assert outcome is not None
    event.schema_version = outcome.version
    if outcome.gated and event.id not in store.indexes[ENTITLED_IDS] and credits_refused(
            store, account[0], event.schema_name, event.attributes):
        event.status = statuses.INSUFFICIENT_CREDITS  # nothing consumed, nothing metered
        return None
    counted = outcome.counted
    event.status = counted.status
    event.meter_ids, event.units = counted.meter_ids, counted.units
    return counted


def _late(store: Store, batch: _Batch, account_id: str, timestamp: str) -> bool:
    """:func:`past_grace`, with its usual answer first: on time from the open cycle's start (a UTC timestamp
    of the form the batch keeps that start in compares with it as text)."""
    since = batch.open_text.get(account_id)
    if (since is not None and len(timestamp) == 20 and timestamp[19] == "Z" and timestamp[10] == "T"
            and timestamp >= since):
        return False
    return past_grace(store, batch, account_id, timestamp)


def settle(store: Store) -> None:
    """Process the events whose ``--ingest-delay`` has passed (in the order they came)."""
    pending = store.indexes[PENDING]
    if not pending:
        return
    now = time.monotonic()
    collection = store.collections[NAME]
    batch = _Batch(store)
    touched: set[str] = set()
    for key, (due, position) in list(pending.items()):
        if due > now:
            break
        del pending[key]
        event = collection.get(key)
        if event is not None and event.status == IN_PROGRESS:
            process(store, event, batch, position, counted=True)
            if event.account is not None:
                touched.add(event.account)
    usage_changed(store, touched)


def record_entitled(store: Store, payload: dict[str, Any]) -> Event:
    """Store an event ``POST /entitled`` took (its account entitled, its credits consumed) and process it at
    once like any other: listed, read, exported and counted with the others.

    Its key is its id, else (no id, or an id whose event is older than the 45 days of the id space) its
    referenceId. Metering it consumes no credits again (:data:`ENTITLED_IDS` marks it).
    """
    settle(store)
    collection = store.collections[NAME]
    reference = store.new_id(IDS, collection)
    event_id = payload.get("id")
    key = event_id if event_id is not None and collection.get(event_id) is None else reference
    now = store.clock.now()
    event = Event(key, reference, payload, now)
    position = _add(store, event)
    store.indexes[ENTITLED_IDS][key] = now
    process(store, event, _Batch(store), position)
    usage_changed(store, [event.account] if event.account is not None else [])
    return event


def ingest(store: Store, payload: dict[str, Any]) -> None:
    """Accept one event (``POST /ingest``); its outcome is in :func:`get`. An attribute given twice is refused."""
    refused = refusals([payload], "events")
    if refused:
        violation = refused[0]
        raise Invalid.at(violation.field.replace("events[0]", "event", 1), violation.rule)
    settle(store)
    accept(store, [payload])


def ingest_batch(store: Store, payloads: list[dict[str, Any]]) -> dict[int, Violation]:
    """Accept the events of a batch that are not refused at the door; the refused ones, by position.

    When every event is refused, nothing is accepted and :class:`Invalid` names them all.
    """
    refused = refusals(payloads, "events")
    if len(refused) == len(payloads):
        raise Invalid(list(refused.values()))
    settle(store)
    accept(store, [e for i, e in enumerate(payloads) if i not in refused] if refused else payloads)
    return refused


# -- indexes ---------------------------------------------------------------------------------


def _add(store: Store, event: Event) -> int:
    """Store a new event, index it under the account it was sent with and its schema; its position."""
    collection = store.collections[NAME]
    collection.add(event.id, event)
    position = len(collection) - 1  # events are never removed: no tombstone precedes it
    if not collection.holds_at(position, event.id):
        found = collection.position_of(event.id)
        assert found is not None  # just added
        position = found
    _index(store, event, position)
    return position


def insert(store: Store, event: Event) -> int:
    """Store an event made outside ingestion (an import, a benchmark's bulk load), indexed; its position.

    The caller counts it in the aggregates if it should be (``aggregates.count_event``).
    """
    return _add(store, event)


def _index(store: Store, event: Event, position: int) -> None:
    by_account = store.indexes[BY_ACCOUNT]
    _index_add(by_account, event.account_id, position)
    if event.account is not None and event.account != event.account_id:
        _index_add(by_account, event.account, position)
    _index_add(store.indexes[BY_SCHEMA], event.schema_name, position)


def _unindex(store: Store, event: Event, position: int) -> None:
    by_account = store.indexes[BY_ACCOUNT]
    _index_remove(by_account, event.account_id, position)
    if event.account is not None and event.account != event.account_id:
        _index_remove(by_account, event.account, position)
    _index_remove(store.indexes[BY_SCHEMA], event.schema_name, position)


def _index_add(index: dict[str, array[int]], key: str, position: int) -> None:
    """Add ``position`` to ``index[key]``, keeping it ascending and without repeats."""
    positions = index.get(key)
    if positions is None:
        index[key] = array("q", (position,))
    elif positions[-1] < position:  # the usual case: the newest event
        positions.append(position)
    else:
        at = bisect_left(positions, position)
        if at == len(positions) or positions[at] != position:
            positions.insert(at, position)


def _index_remove(index: dict[str, array[int]], key: str, position: int) -> None:
    positions = index.get(key)
    if positions is None:
        return
    at = bisect_left(positions, position)
    if at < len(positions) and positions[at] == position:
        del positions[at]
        if not positions:
            del index[key]


# -- reading ---------------------------------------------------------------------------------


def require(store: Store, key: str, field: str = "event_id") -> Event:
    """The event with this id (or referenceId of an event that has none), or a :class:`NotFound` naming ``field``."""
    event: Event = lookup(store, NAME, key, field, "event")
    return event


def get(store: Store, key: str) -> Event:
    """The event with this id, its outcome settled (``GET /events/{event_id}``)."""
    settle(store)
    return require(store, key)


# GET /events?status=: a raw IngestionStatus, or one of these coarse ones.
COARSE = {"PROCESSED": "INGESTION_COMPLETED", "UNPROCESSED": "INGESTION_FAILED", "IN_PROGRESS": IN_PROGRESS}


def page(
    store: Store,
    account: str | None,
    schema: str | None,
    status: str | None,
    next_token: str | None,
    page_size: int | None,
) -> tuple[list[Event], dict[str, Any]]:
    """One page of the events, oldest first, filtered by account (id or alias), schema and status; paging fields.

    ``status`` is an ``IngestionStatus`` or a coarse one (:data:`COARSE`). An
    account or schema filter pages over its index, so the page costs what it
    shows, not the number of events.
    """
    settle(store)
    prefix = COARSE.get(status) if status is not None else None
    if status is not None and prefix is None and status not in statuses.ALL:
        raise Invalid.at("status", f"is not an ingestion status ({', '.join([*COARSE, *statuses.ALL])})")

    def keep(e: Event) -> bool:
        return ((account is None or e.account_id == account or e.account == account)
                and (schema is None or e.schema_name == schema)
                and (status is None or (e.status.startswith(prefix) if prefix else e.status == status)))

    collection = store.collections[NAME]
    lists = [store.indexes[index].get(key, ()) for index, key in ((BY_ACCOUNT, account), (BY_SCHEMA, schema))
             if key is not None]
    filtering = account is not None or schema is not None or status is not None
    kept = keep if filtering else None
    if lists:
        return paginate_positions(collection, min(lists, key=len), next_token, page_size or MAX_PAGE,
                                  context=False, keep=kept, limit=MAX_PAGE)
    return paginate(collection, next_token, page_size or MAX_PAGE, context=False, keep=kept, limit=MAX_PAGE)


# -- corrections -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Correction:
    """What a correction did to its event: ``FAILED`` (with the reason), ``REVERTED`` or ``REVERTED_AND_REINGESTED``."""

    event: Event
    status: str
    reason: str


def correct(store: Store, action: str, payload: dict[str, Any] | None) -> Correction:
    """``UNDO`` reverts an event (it stops counting); ``REDO`` re-ingests it as it was, ``REDO_EVENT`` with
    ``payload``. A correction that cannot apply is ``FAILED`` with its reason, and changes nothing."""
    settle(store)
    if payload is None or payload.get("id") is None:
        raise Invalid.at("event.id", "is required: it names the event to correct")
    event = require(store, payload["id"], "event.id")
    if action == "REDO_EVENT":
        refused = refusals([payload], "events")
        if refused:
            raise Invalid.at(refused[0].field.replace("events[0]", "event", 1), refused[0].rule)
    return _apply(store, event, action, payload)


def _apply(store: Store, event: Event, action: str, payload: dict[str, Any] | None) -> Correction:
    """One event's correction (see :func:`correct`)."""
    reason = _cannot(event, action)
    if reason is not None:
        return Correction(event, "FAILED", reason)
    was = event.account
    if event.in_metrics():
        usage.count_event(store, event, -1)
    if action == "UNDO":
        event.before_revert, event.status = event.status, REVERTED
        usage_changed(store, [was] if was is not None else [])
        return Correction(event, "REVERTED", "Event reverted")
    # The event may change account (a new payload, an alias moved) and schema: moved in the indexes.
    # Its position is found by a scan of the order (in C), once per correction: rare, and no index
    # from event to position is worth its memory for it.
    position = store.collections[NAME].position_of(event.id)
    assert position is not None  # require() found it
    _unindex(store, event, position)
    if action == "REDO_EVENT":
        assert payload is not None
        event.set_payload(payload)
    event.status, event.account, event.customer_id = IN_PROGRESS, None, None
    event.schema_version, event.meter_ids, event.units, event.before_revert = None, (), (), None
    _index(store, event, position)
    if store.ingest_delay > 0:
        store.indexes[PENDING][event.id] = (time.monotonic() + store.ingest_delay, position)
        usage.count_event(store, event, +1)  # as in progress
    else:
        process(store, event, _Batch(store), position)
    usage_changed(store, [a for a in (was, event.account) if a is not None])
    return Correction(event, "REVERTED_AND_REINGESTED", "Event re-ingested")


# Corrections by filter (Togai's current /events/correction): an account and, optionally, one of these.
MAX_CORRECTIONS = 30  # "Maximum of first 30 events matching the filters ... in a single request" (sync mode)
FILTERS = ("account_id", "id", "event_id", "event_source_time", "created_at")
COMBINATIONS = (frozenset({"account_id"}), frozenset({"account_id", "id"}), frozenset({"account_id", "event_id"}),
                frozenset({"account_id", "event_source_time"}), frozenset({"account_id", "event_id", "created_at"}),
                frozenset({"account_id", "event_id", "event_source_time"}))


def _instant_or_range(text: str, field: str) -> tuple[datetime, datetime | None]:
    """A filter's time: one instant, or an ISO 8601 interval ``start/end`` (``[start, end)``)."""
    first, _, last = text.partition("/")
    start = parse_time(first, field)
    if not last:
        return start, None
    end = parse_time(last, field)
    if end <= start:
        raise Invalid.at(field, "the interval's end must be after its start")
    return start, end


def _matches_time(moment: str, wanted: tuple[datetime, datetime | None]) -> bool:
    try:
        at = parse_time(moment)
    except Invalid:  # a timestamp no calendar has (an import let it through): matches no time
        return False
    start, end = wanted
    return at == start if end is None else start <= at < end


def matching(store: Store, filters: dict[str, str]) -> list[Event]:
    """The events of ``filters`` (an allowed :data:`COMBINATIONS`), in Togai's order for corrections:
    ``timestamp`` newest first, then ``id`` (the event's own; none last)."""
    given = frozenset(filters)
    if given not in COMBINATIONS:
        rule = "; ".join(" + ".join(sorted(c)) for c in COMBINATIONS)
        raise Invalid.at("account_id" if "account_id" not in given else sorted(given - {"account_id"})[0],
                         f"is not an allowed combination of filters ({rule})")
    source = ("event_source_time", _instant_or_range(filters["event_source_time"], "event_source_time")) \
        if "event_source_time" in filters else None
    created = _instant_or_range(filters["created_at"], "created_at") if "created_at" in filters else None
    account = filters["account_id"]
    collection = store.collections[NAME]
    found: list[Event] = []
    for position in store.indexes[BY_ACCOUNT].get(account, ()):
        event: Event = collection.items[collection.key_at(position)]
        if (("id" in filters and event.reference != filters["id"])
                or ("event_id" in filters and event.event_id != filters["event_id"])
                or (source is not None and not _matches_time(event.timestamp, source[1]))
                or (created is not None and not _matches_time(event.created_at, created))):
            continue
        found.append(event)
    found.sort(key=lambda e: (e.event_id is None, e.event_id or ""))
    found.sort(key=lambda e: _sort_time(e.timestamp), reverse=True)  # stable: ids stay ascending within a time
    return found


def _sort_time(moment: str) -> float:
    try:
        return parse_time(moment).timestamp()
    except Invalid:
        return float("-inf")


def correct_matching(store: Store, action: str, filters: dict[str, str], run_async: bool = False,
                     ) -> tuple[list[Correction], Record | None]:
    """Corrections by filter: the first 30 matching events at once, or (``run_async``) every one of them in an
    EVENT_CORRECTIONS job (run at once: the mock has no background; its entries say how each went).

    The outcomes shown are the first 30's. ``REDO_EVENT`` needs the single-event form (one payload, one event).
    """
    settle(store)
    if action == "REDO_EVENT":
        raise Invalid.at("action", "REDO_EVENT corrects one event with the body's payload: name it in event.id, "
                                   "without filters")
    found = matching(store, filters)
    if not found:
        raise Invalid.at("account_id", "no event matches the filters")
    chosen = found if run_async else found[:MAX_CORRECTIONS]
    done = [_apply(store, event, action, None) for event in chosen]
    job = _correction_job(store, action, filters, done) if run_async else None
    return done[:MAX_CORRECTIONS], job


def _correction_job(store: Store, action: str, filters: dict[str, str], done: list[Correction]) -> Record:
    """The EVENT_CORRECTIONS job of an asynchronous correction, settled: an entry per event."""
    now = store.clock.now()
    job: Record = {"id": store.new_id(jobs.IDS, store.collections[jobs.NAME]), "type": "EVENT_CORRECTIONS",
                   "status": "COMPLETED", "updatedAt": now, "settledAt": now,
                   "metadata": {"action": action, **filters}}
    if done and all(c.status == "FAILED" for c in done):
        job["status"] = "FAILED"
    store.collections[jobs.NAME].add(job["id"], job)
    keys = store.indexes[jobs.JOB_ENTRIES].setdefault(job["id"], [])
    for c in done:
        entry = {"id": f"{job['id']}/{c.event.reference}", "entityId": c.event.reference, "jobId": job["id"],
                 "status": "FAILED" if c.status == "FAILED" else "COMPLETED", "createdAt": now,
                 "comments": c.reason}
        store.collections[jobs.ENTRIES].add(entry["id"], entry)
        keys.append(entry["id"])
    return job


def _cannot(event: Event, action: str) -> str | None:
    """Why ``action`` does not apply to ``event`` now, or None."""
    if event.status == IN_PROGRESS:
        return "The event is still being processed"
    if action == "UNDO" and not event.counts():
        return f"The event is {event.status}: only a completed event can be reverted"
    return None


# -- export and import -----------------------------------------------------------------------


def export(store: Store, event: Event) -> dict[str, Any]:
    """An event as ``EventWithStatusAndEventPipelineInfo``, with its store key (``id``) and, for one that
    ``/entitled`` took, ``entitled: true``."""
    out = {**render(store, event, pipeline=True), "id": event.id}
    if event.id in store.indexes[ENTITLED_IDS]:
        out["entitled"] = True
    return out


def key_of(record: dict[str, Any]) -> str:
    """The store key of an exported event: its own id, else (no id, or a duplicate) its referenceId."""
    own = record["eventPayload"].get("id")
    status = record["ingestionStatus"]["status"]
    return str(record["referenceId"] if own is None or status == DUPLICATE else own)


def complete_import(store: Store, ctx: ImportContext) -> None:
    """A referenceId where a hand-written event has none; the key follows from the event."""
    for record in ctx.data.get(NAME, []):
        record.setdefault("referenceId", store.new_id(IDS))
        record["id"] = key_of(record)


def check_import(ctx: ImportContext) -> None:
    """What ingestion guarantees: unique references, outcomes that agree with their pipeline details."""
    accounts, meters = ctx.ids("accounts"), ctx.ids(usage_meters.NAME)
    references: dict[str, int] = {}
    for i, record in enumerate(ctx.data[NAME]):
        where, status = f"{NAME}[{i}]", record["ingestionStatus"]["status"]
        info = record["eventPipelineInfo"]
        problems = ctx.problems
        if references.setdefault(record["referenceId"], i) != i:
            problems.append(Violation(f"{where}.referenceId", f"is also {NAME}[{references[record['referenceId']]}]'s"))
        own = record["eventPayload"].get("id")
        if (status == NO_ID) != (own is None and not record.get("entitled")):  # /entitled takes one without id
            problems.append(Violation(f"{where}.ingestionStatus.status", f"{NO_ID} is for the events without id "
                                                                          "(but those /entitled took)"))
        # A DUPLICATE whose id no event here has: its first event was not exported (a hand-written document).
        if status == REVERTED and not str(info.get("statusBeforeReverting", "")).startswith("INGESTION_COMPLETED"):
            problems.append(Violation(f"{where}.eventPipelineInfo.statusBeforeReverting",
                                      "is required of a REVERTED event: the completed status it had"))
        completed = status.startswith("INGESTION_COMPLETED") or status == REVERTED
        account = info.get("account", {}).get("id")
        if completed and account not in accounts:
            problems.append(Violation(f"{where}.eventPipelineInfo.account.id", f"no account {account!r}"))
        computed = 0
        for j, meter in enumerate(info.get("usageMeters", [])):
            at = f"{where}.eventPipelineInfo.usageMeters[{j}]"
            if meter["id"] not in meters:
                problems.append(Violation(f"{at}.id", f"no usage meter {meter['id']!r}"))
            if (meter["status"] == COMPUTED) != ("units" in meter):
                problems.append(Violation(f"{at}.units", f"is given exactly when the status is {COMPUTED}"))
            computed += meter["status"] == COMPUTED
        real = info.get("statusBeforeReverting", status)
        if (real == METERED) != (computed > 0) and real in (METERED, NO_METERS, statuses.NOT_METERED):
            problems.append(Violation(f"{where}.ingestionStatus.status",
                                      f"{METERED} is for exactly the events a meter computed units of"))


def restore(store: Store, record: dict[str, Any]) -> None:
    """Insert an exported event (one in progress is processed at the next request)."""
    event = Event(record["id"], record["referenceId"], record["eventPayload"], record["createdAt"])
    info = record["eventPipelineInfo"]
    event.status = record["ingestionStatus"]["status"]
    event.account = info.get("account", {}).get("id")
    event.customer_id = record.get("customerId")
    event.schema_version = info.get("eventSchema", {}).get("version")
    meters = info.get("usageMeters", [])
    event.meter_ids = tuple(m["id"] for m in meters)
    event.units = tuple(str(metering.exact(m["units"])) if "units" in m else None for m in meters)
    event.before_revert = info.get("statusBeforeReverting")
    position = _add(store, event)
    store.reserved.add(event.reference)
    if record.get("entitled"):
        store.indexes[ENTITLED_IDS][event.id] = event.created_at
    if event.status == IN_PROGRESS:
        store.indexes[PENDING][event.id] = (0.0, position)


RESOURCE = Resource(
    name=NAME,
    schema="EventWithStatusAndEventPipelineInfo",
    indexes=(PENDING, BY_ACCOUNT, BY_SCHEMA, metering.COMPILED, metering.OUTCOMES, ENTITLED_IDS),
    exchange=Exchange(
        hidden={"id": {"type": "string"}, "entitled": {"type": "boolean"}},
        generated=("referenceId",),
        export=export,
        complete_import=complete_import,
        check_import=check_import,
        restore=restore,
    ),
)
