"""Usage aggregates and ``POST /metrics``: what a tenant's events add up to, per hour, day and month.

Ingestion calls :func:`count_event` with ``+1`` once an event's outcome is
final, and with ``-1`` (passing the event as it was counted) when a
correction reverts it. Each call adds the event to two cubes: ``events``
(one per event, keyed by account, customer, schema and raw ingestion
status) and ``usage`` (the units each meter computed, keyed by account,
customer and meter). A cube keeps, for each hour, day and month (UTC), the
total of every key that has one, so a query sums at most a few hundred
buckets whatever the number of events: nothing here ever reads the events
themselves, except :func:`rebuild`, which recounts them all after an import.

The aggregates are derived state (:data:`DERIVED`): never exported, empty
after a reset to an empty tenant, rebuilt from the events after an import.

Numbers are exact: counts are ints, units are ``Decimal`` (a float a meter
computed is read through its shortest ``repr``), so 12.5 + 10 + 7.5 is 30.
"""
from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from ..core.errors import Invalid, Violation
from ..core.money import exact, to_json
from ..core.resource import Derived
from ..core.store import Store
from ..core.times import epoch_seconds, parse_time, stamp_seconds
from ..pricing import engine as pricing
from ..pricing import schedules
from . import event_schemas, meters, org_settings, statuses

Number = int | Decimal

HOUR, DAY = 3600, 86400
PERIODS = ("HOUR", "DAY", "WEEK", "MONTH")
# Where buckets can be made (a week or month around these still has a calendar).
EARLIEST, LATEST = 0, 253370764800  # 1970-01-01, 9999-01-01
# Togai: "A single request can query up to five metrics"; a series holds at most 300 data points.
MAX_QUERIES = 5
MAX_POINTS = 300

# IngestionStatus values, grouped by the coarse EVENT_STATUS a metric filters and groups by (event_status).
IN_PROGRESS = statuses.IN_PROGRESS
REVERTED = statuses.REVERTED
RAW_STATUSES = statuses.ALL


# What EVENTS counts without an EVENT_STATUS filter (Togai's default).
DEFAULT_EVENT_STATUS = ("PROCESSED", "UNPROCESSED")


def event_status(raw: str) -> str:
    """The coarse status of a raw ``ingestionStatus.status``: PROCESSED, UNPROCESSED, IN_PROGRESS or REVERTED."""
    if raw.startswith("INGESTION_COMPLETED"):
        return "PROCESSED"
    if raw in (IN_PROGRESS, REVERTED):
        return "IN_PROGRESS" if raw == IN_PROGRESS else REVERTED
    return "UNPROCESSED"  # failed, or UNKNOWN


# -- time ------------------------------------------------------------------------------------


# Seconds since 1970 (UTC) of a date-time (the name the metrics' tests read).
epoch = epoch_seconds


def rfc3339(seconds: int) -> str:
    """A bucket's timestamp as the API shows it: ``2024-03-01T00:00:00Z``."""
    return stamp_seconds(datetime.fromtimestamp(seconds, UTC))


_MONTH_OF_DAY: dict[int, int] = {}  # day start -> its month's start; a few thousand entries at most


def month_start(seconds: int) -> int:
    """The start of the UTC month holding ``seconds``."""
    day = seconds - seconds % DAY
    start = _MONTH_OF_DAY.get(day)
    if start is None:
        moment = datetime.fromtimestamp(day, UTC)
        start = _MONTH_OF_DAY[day] = int(moment.replace(day=1).timestamp())
    return start


def next_month(start: int) -> int:
    """The start of the month after the one starting at ``start``."""
    moment = datetime.fromtimestamp(start, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def period_start(period: str, seconds: int) -> int:
    """The start of the ``period`` holding ``seconds``; weeks start on Monday (ISO 8601)."""
    if period == "HOUR":
        return seconds - seconds % HOUR
    day = seconds - seconds % DAY
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - (seconds // DAY + 3) % 7 * DAY  # 1970-01-01 was a Thursday
    return month_start(seconds)


def period_end(period: str, start: int) -> int:
    """The end (exclusive) of the ``period`` starting at ``start``."""
    step = {"HOUR": HOUR, "DAY": DAY, "WEEK": 7 * DAY}.get(period)
    return start + step if step is not None else next_month(start)


def buckets(period: str, start: int, end: int, limit: int,
            zone: ZoneInfo | None = None) -> list[tuple[int, int, int]]:
    """The ``period`` buckets over ``[start, end)``: (label, from, to), each clipped to the range.

    At most ``limit + 1`` are made, so a caller can tell "too many" without making them all.
    With ``zone`` (the organisation's time zone), days, weeks and months start at its local midnight.
    """
    if zone is not None and period != "HOUR":
        return _zoned_buckets(period, start, end, limit, zone)
    out: list[tuple[int, int, int]] = []
    label = period_start(period, start)
    while label < end and len(out) <= limit:
        after = period_end(period, label)
        out.append((label, max(label, start), min(after, end)))
        label = after
    return out


# -- the organisation's time zone ------------------------------------------------------------
# The cubes are by UTC hour, so a local boundary must be a whole UTC hour: in a zone whose offset is not
# whole hours (Asia/Kolkata, +05:30) it is taken at the UTC hour at or before local midnight (23:30 there).


def _local_midnight(day: date, zone: ZoneInfo) -> int:
    """The whole UTC hour at or before ``day``'s first instant in ``zone`` (a DST gap at midnight: its end)."""
    seconds = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())
    return seconds - seconds % HOUR


def _local_first(period: str, day: date) -> date:
    if period == "WEEK":
        return day - timedelta(days=day.weekday())  # Monday, as in UTC
    return day.replace(day=1) if period == "MONTH" else day


def _local_next(period: str, first: date) -> date:
    if period == "MONTH":
        return date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)
    return first + timedelta(days=7 if period == "WEEK" else 1)


def zoned_start(period: str, seconds: int, zone: ZoneInfo) -> int:
    """The start of the local ``period`` (DAY, WEEK or MONTH) holding the whole hour ``seconds``."""
    first = _local_first(period, datetime.fromtimestamp(seconds, zone).date())
    following = _local_next(period, first)
    start, after = _local_midnight(first, zone), _local_midnight(following, zone)
    # The hour before a boundary taken early (a half-hour zone) already belongs to the next period.
    return after if seconds >= after else start


def _zoned_buckets(period: str, start: int, end: int, limit: int, zone: ZoneInfo) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    label = zoned_start(period, start, zone)
    first = _local_first(period, datetime.fromtimestamp(label + HOUR, zone).date())
    while label < end and len(out) <= limit:
        first = _local_next(period, first)
        after = _local_midnight(first, zone)
        out.append((label, max(label, start), min(after, end)))
        label = after
    return out


def stamp_in(seconds: int, zone: ZoneInfo | None) -> str:
    """A bucket's timestamp: UTC (``...Z``) by default, else local time with the zone's offset."""
    if zone is None:
        return rfc3339(seconds)
    return datetime.fromtimestamp(seconds, zone).isoformat(timespec="seconds")


# Levels a cube keeps: each bucket of a level is one of these periods.
LEVEL_HOUR, LEVEL_DAY, LEVEL_MONTH = 0, 1, 2


def pieces(start: int, end: int) -> Iterator[tuple[int, int]]:
    """``[start, end)`` (whole hours) as the fewest whole months, days and hours: (level, bucket start)."""
    while start < end:
        if start == month_start(start) and (after := next_month(start)) <= end:
            yield LEVEL_MONTH, start
            start = after
        elif start % DAY == 0 and start + DAY <= end:
            yield LEVEL_DAY, start
            start += DAY
        else:
            yield LEVEL_HOUR, start
            start += HOUR


# -- the cubes -------------------------------------------------------------------------------

_NUMERALS = 4096  # numerals a cube remembers the value of; past it the table starts over
Hours: TypeAlias = "array[int] | list[int]"  # a key's 24 hourly totals of one day; a list once a total outgrows 64 bits
_NO_HOURS = bytes(24 * 8)


class Cube:
    """Totals by key, per hour, day and month (UTC), and the grand total of all keys.

    A key (a tuple of dimension values) is interned as a small int. Days and
    months are ``dict[key id, total]`` per bucket; hours are kept per day, a
    key's 24 hours in one machine-int array (256 bytes, where 24 dict
    entries with int objects took about 1.5 KB). Totals are ints in units of
    ``10 ** -scale``: exact, and summed in C; ``scale`` grows (and every
    total is rescaled) the first time a value has more decimals. A total a
    revert brings back to zero is dropped, so a reverted event leaves no
    trace.
    """

    __slots__ = ("dims", "ids", "keys", "scale", "hours", "days", "months", "totals", "selections", "numerals")

    def __init__(self, dims: tuple[str, ...]) -> None:
        self.dims = dims
        self.ids: dict[tuple[str, ...], int] = {}
        self.keys: list[tuple[str, ...]] = []
        self.scale = 0
        self.hours: dict[int, dict[int, Hours]] = {}  # day start -> key id -> its 24 hours
        self.days: dict[int, dict[int, int]] = {}
        self.months: dict[int, dict[int, int]] = {}
        self.totals: tuple[dict[int, int], dict[int, int], dict[int, int]] = ({}, {}, {})  # by level
        self.selections: dict[Any, Selection] = {}  # see select()
        self.numerals: dict[str, int] = {}  # a decimal numeral -> its value at this scale (see scaled_numeral)

    def key_id(self, key: tuple[str, ...]) -> int:
        """The interned id of ``key``."""
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.keys)
            self.keys.append(key)
        return found

    def scaled(self, value: Number) -> int:
        """``value`` in units of ``10 ** -scale``, raising the scale first when it has more decimals."""
        if isinstance(value, int):
            unit: int = 10**self.scale
            return value * unit
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int):
            raise ValueError(f"units must be finite, not {value}")
        if exponent >= 0:
            unit = 10**self.scale
            return int(value) * unit
        if -exponent > self.scale:
            self._rescale(-exponent)
        numerator, denominator = value.as_integer_ratio()
        unit = 10**self.scale
        return numerator * unit // denominator  # exact: denominator divides 10 ** scale

    def scaled_numeral(self, numeral: str) -> int:
        """:meth:`scaled` of a decimal numeral (an event's units), remembered until the scale changes."""
        found = self.numerals.get(numeral)
        if found is None:
            found = self.scaled(exact(numeral))  # a rescale forgets the others
            if len(self.numerals) >= _NUMERALS:
                self.numerals.clear()
            self.numerals[numeral] = found
        return found

    def _rescale(self, scale: int) -> None:
        factor = 10 ** (scale - self.scale)
        self.scale = scale
        self.numerals.clear()
        for table in (*self.days.values(), *self.months.values(), *self.totals):
            for key in table:
                table[key] *= factor
        for day in self.hours.values():
            for key, hours in day.items():
                day[key] = _times(hours, factor)

    def add(self, starts: tuple[int, int, int], key: tuple[str, ...], value: Number, total: bool = True) -> None:
        """Add ``value`` to ``key``'s totals of the hour, day and month starting at ``starts``.

        ``total``: also to the grand totals, which answer a query that selects
        everything (or, for events, everything a query counts by default).
        Inlined rather than looped over the levels: this runs for every event ingested.
        """
        self.add_scaled(starts, key, self.scaled(value), total)

    def add_scaled(self, starts: tuple[int, int, int], key: tuple[str, ...], amount: int, total: bool = True) -> None:
        """:meth:`add` of an amount already in units of ``10 ** -scale``; ``starts``' day and month are its hour's."""
        self.add_all(((starts[0], key, amount, total),))

    def add_all(self, amounts: Iterable[tuple[int, tuple[str, ...], int, bool]]) -> None:
        """:meth:`add_scaled` of each ``(hour start, key, amount, total)``: a request's sums in one call."""
        ids, by_day, days, months = self.ids, self.hours, self.days, self.months
        hour_totals, day_totals, month_totals = self.totals
        for hour, key, amount, total in amounts:
            if not amount:
                continue
            kid = ids.get(key)
            if kid is None:
                kid = self.key_id(key)
            day = hour - hour % DAY
            month = _MONTH_OF_DAY.get(day)
            if month is None:
                month = month_start(day)
            table = by_day.get(day)
            if table is None:
                table = by_day[day] = {}
            hours = table.get(kid)
            if hours is None:
                hours = table[kid] = array("q", _NO_HOURS)
            at = (hour - day) // HOUR
            try:
                hours[at] += amount
            except OverflowError:
                hours = table[kid] = list(hours)
                hours[at] += amount
            if amount < 0 and not any(hours):
                _drop(by_day, day, kid)
            for level, start in ((days, day), (months, month)):
                bucket = level.get(start)
                if bucket is None:
                    bucket = level[start] = {}
                summed = bucket.get(kid, 0) + amount
                if summed:
                    bucket[kid] = summed
                else:
                    _drop(level, start, kid)
            if total:
                for totals, start in ((hour_totals, hour), (day_totals, day), (month_totals, month)):
                    grand = totals.get(start, 0) + amount
                    if grand:
                        totals[start] = grand
                    else:
                        del totals[start]

    def total(self, start: int, end: int, select: Selection) -> dict[str, int]:
        """What the selected keys add up to over ``[start, end)`` (whole hours), by group, scaled."""
        out: dict[str, int] = {}
        for level, at in pieces(start, end):
            if select.everything:
                found = self.totals[level].get(at)
                if found:
                    out[""] = out.get("", 0) + found
            elif level == LEVEL_HOUR:
                day = at - at % DAY
                table = self.hours.get(day)
                if table:
                    select.add_into(table, out, (at - day) // HOUR)
            else:
                bucket = (self.days if level == LEVEL_DAY else self.months).get(at)
                if bucket:
                    select.add_into(bucket, out)
        return out

    def key_total(self, kid: int, start: int, end: int) -> int:
        """One key's scaled total over ``[start, end)`` (whole hours)."""
        out = 0
        for level, at in pieces(start, end):
            if level == LEVEL_HOUR:
                day = at - at % DAY
                hours = self.hours.get(day, {}).get(kid)
                if hours is not None:
                    out += hours[(at - day) // HOUR]
            else:
                out += (self.days if level == LEVEL_DAY else self.months).get(at, {}).get(kid, 0)
        return out

    def numbers(self, totals: list[int]) -> list[int | float]:
        """Scaled totals as JSON: ints when whole, else the nearest floats (JSON has no decimals)."""
        if not self.scale:
            return list(totals)
        unit: int = 10**self.scale
        # int / int is correctly rounded: the float nearest the exact total.
        return [t // unit if not t % unit else t / unit for t in totals]


def _times(hours: Hours, factor: int) -> Hours:
    try:
        return array("q", (h * factor for h in hours))
    except OverflowError:
        return [h * factor for h in hours]


def _drop(level: dict[int, dict[int, Any]], day: int, key: int) -> None:
    table = level[day]
    del table[key]
    if not table:
        del level[day]


@dataclass(slots=True)
class Selection:
    """Which keys of a cube a query counts, and the group each falls in.

    ``labels[key id]`` is the key's group ("" when the query is not
    grouped) or None when a filter excludes it; ``chosen`` lists the ids
    counted, so a narrow filter reads only its keys. ``everything``: no
    filter and no group, so the cube's grand totals answer.
    """

    labels: list[str | None]
    chosen: list[int]
    everything: bool

    def add_into(self, bucket: dict[int, Any], out: dict[str, int], hour: int | None = None) -> None:
        """Add the selected totals of one bucket (of one ``hour`` of a day's table) to ``out``, by group."""
        labels = self.labels
        if len(self.chosen) < len(bucket):
            pairs: Iterable[tuple[int, Any]] = ((k, bucket[k]) for k in self.chosen if k in bucket)
        else:
            pairs = bucket.items()
        if hour is None:
            for kid, value in pairs:
                label = labels[kid]
                if label is not None:
                    out[label] = out.get(label, 0) + value
            return
        for kid, value in pairs:
            label = labels[kid]
            if label is not None and value[hour]:
                out[label] = out.get(label, 0) + value[hour]


class Usage:
    """One tenant's aggregates: the ``events`` and ``usage`` cubes."""

    __slots__ = ("events", "usage")

    def __init__(self) -> None:
        self.events = Cube(("ACCOUNT_ID", "CUSTOMER_ID", "SCHEMA_NAME", "RAW_EVENT_STATUS"))
        self.usage = Cube(("ACCOUNT_ID", "CUSTOMER_ID", "USAGE_METER_ID"))


NAME = "usage"


def aggregates(store: Store) -> Usage:
    """The tenant's aggregates."""
    found: Usage = store.derived[NAME]
    return found


def count_event(store: Store, event: Any, sign: int) -> None:
    """Count an event whose outcome is final (``sign=+1``), or stop counting it (``-1``).

    ``event`` is a stored event (``events.Event``; see its module for the
    attributes): ``timestamp``, ``account`` (resolved, else ``account_id``
    as sent), ``customer_id``, ``schema_name``, ``status``, and ``meter_ids``
    with their ``units`` (decimal numerals, or None). A revert passes the
    event as it was counted, before its status changes.
    """
    seconds = epoch(event.timestamp)
    hour = seconds - seconds % HOUR
    starts = (hour, hour - hour % DAY, month_start(hour))
    account = event.account or event.account_id
    customer = event.customer_id or ""
    usage = aggregates(store)
    status = event.status
    usage.events.add(starts, (account, customer, event.schema_name, status), sign,
                     event_status(status) in DEFAULT_EVENT_STATUS)
    for meter, units in zip(event.meter_ids, event.units, strict=True):
        if units is not None:
            value = exact(units)
            usage.usage.add(starts, (account, customer, meter), value if sign > 0 else -value)


class Counted:
    """An event's outcome as the cubes count it. One request's events with equal outcomes share one, so
    they are counted together: ``(hour, counted) -> events`` (:data:`Tally`) hashes by identity."""

    __slots__ = ("account", "customer", "schema", "status", "meter_ids", "units")

    def __init__(self, account: str, customer: str, schema: str, status: str, meter_ids: tuple[str, ...],
                 units: tuple[str | None, ...]) -> None:
        self.account = account  # resolved, else as sent
        self.customer = customer  # "" when not resolved
        self.schema = schema
        self.status = status
        self.meter_ids = meter_ids  # each meter's units: a decimal numeral, or None (filtered out)
        self.units = units


Tally: TypeAlias = "dict[tuple[int, Counted], int]"  # (UTC hour start, outcome) -> how many events


def count_events(store: Store, events: Iterable[Any], sign: int) -> None:
    """:func:`count_event` of each of ``events``, with one cube update per bucket and key."""
    hours = HourReader()
    shared: dict[tuple[str, str, str, str, tuple[str, ...], tuple[str | None, ...]], Counted] = {}
    tally: Tally = {}
    for event in events:
        fields = (event.account or event.account_id, event.customer_id or "", event.schema_name, event.status,
                  event.meter_ids, event.units)
        counted = shared.get(fields)
        if counted is None:
            counted = shared[fields] = Counted(*fields)
        key = (hours.hour(event.timestamp), counted)
        tally[key] = tally.get(key, 0) + 1
    count_tally(store, tally, sign)


class HourReader:
    """The UTC hour of each timestamp of a batch, every text of one hour read once.

    "2024-01-05T10" stands for a UTC timestamp without fraction ("2024-01-05T10:07:00Z", the usual form);
    any other form is read whole.
    """

    __slots__ = ("known",)

    def __init__(self) -> None:
        self.known: dict[str, int] = {}

    def hour(self, timestamp: str) -> int:
        """The start (epoch seconds) of the UTC hour holding ``timestamp``."""
        plain = len(timestamp) == 20 and timestamp[19] == "Z" and timestamp[4] == "-" and timestamp[13] == ":"
        text = timestamp[:13] if plain else timestamp
        hour = self.known.get(text)
        if hour is None:
            seconds = epoch(timestamp)
            hour = self.known[text] = seconds - seconds % HOUR
        return hour


def count_tally(store: Store, tally: Tally, sign: int) -> None:
    """Count (``sign=+1``) or stop counting (``-1``) the events ``tally`` holds: the same totals as
    :func:`count_event` of each, with one cube update per bucket and key, each meter's amounts summed as exact
    scaled ints at the scale the batch's units need."""
    usage = aggregates(store)
    events_cube, usage_cube = usage.events, usage.usage
    # Every distinct units numeral once: the first pass raises the cube's scale to the finest of them,
    # the second reads each at that scale (a rescale between two would leave earlier amounts behind).
    outcomes = {counted for _, counted in tally}
    numerals = {numeral for counted in outcomes for numeral in counted.units if numeral is not None}
    for numeral in numerals:
        usage_cube.scaled_numeral(numeral)
    scaled = {numeral: usage_cube.scaled_numeral(numeral) for numeral in numerals}
    # Each outcome's keys in the two cubes, and each meter's amount at the scale now.
    amounts = {counted: [((counted.account, counted.customer, meter), scaled[numeral])
                         for meter, numeral in zip(counted.meter_ids, counted.units, strict=True)
                         if numeral is not None]
               for counted in outcomes}
    keys = {counted: (counted.account, counted.customer, counted.schema, counted.status) for counted in outcomes}
    counted_events: dict[tuple[int, tuple[str, str, str, str]], int] = {}  # (hour, events key) -> events
    metered: dict[tuple[int, tuple[str, str, str]], int] = {}  # (hour, usage key) -> scaled units
    for (hour, counted), count in tally.items():
        where = (hour, keys[counted])
        counted_events[where] = counted_events.get(where, 0) + count
        for usage_key, amount in amounts[counted]:
            at = (hour, usage_key)
            metered[at] = metered.get(at, 0) + amount * count
    unit = 10**events_cube.scale * sign  # an event counts 1, at the events cube's scale
    events_cube.add_all([(hour, events_key, count * unit, event_status(events_key[3]) in DEFAULT_EVENT_STATUS)
                         for (hour, events_key), count in counted_events.items()])
    usage_cube.add_all([(hour, usage_key, sign * amount, True) for (hour, usage_key), amount in metered.items()])


# The collection ingestion keeps events in (``events.Event`` records).
EVENTS = "events"


def rebuild(store: Store) -> None:
    """Recount the events ingestion counted (``event.in_metrics()``), after an import: the only full read of them."""
    store.derived[NAME] = Usage()
    collection = store.collections.get(EVENTS)
    if collection is None:
        return
    counted = (event for event in collection.items.values() if event.in_metrics())
    while chunk := list(islice(counted, _REBUILD_CHUNK)):  # counted as batches are: a tally per chunk
        count_events(store, chunk, +1)


_REBUILD_CHUNK = 50_000  # events tallied at once when an import recounts them (bounds the tally's size)


# -- queries ---------------------------------------------------------------------------------

EVENT_FILTERS = ("ACCOUNT_ID", "CUSTOMER_ID", "SCHEMA_NAME", "EVENT_STATUS", "ORGANIZATION_ID")
EVENT_GROUPS = ("ACCOUNT_ID", "EVENT_STATUS", "SCHEMA_NAME", "RAW_EVENT_STATUS")
USAGE_FILTERS = ("ACCOUNT_ID", "CUSTOMER_ID", "USAGE_METER_ID", "BILLABLE_ID")
USAGE_GROUPS = ("ACCOUNT_ID", "USAGE_METER_ID", "BILLABLE_ID", "CUSTOMER_ID")
# What each metric may be filtered and grouped by (the contract's table); ORGANIZATION_ID is the
# tenant itself, so it is accepted and selects everything.
ALLOWED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "EVENTS": (EVENT_FILTERS, EVENT_GROUPS),
    "USAGE": ((*USAGE_FILTERS, "ORGANIZATION_ID"), USAGE_GROUPS),
    "METER_USAGE": ((*USAGE_FILTERS, "ORGANIZATION_ID"), USAGE_GROUPS),
    "USAGE_FOR_CYCLE": (USAGE_FILTERS, USAGE_GROUPS),
    "NAMED_LICENSE_USAGE": (("ACCOUNT_ID", "CUSTOMER_ID"), ("ACCOUNT_ID", "CUSTOMER_ID")),
    "REVENUE": ((*USAGE_FILTERS, "ORGANIZATION_ID"), USAGE_GROUPS),
    "REVENUE_FOR_CYCLE": (USAGE_FILTERS, USAGE_GROUPS),
}
REVENUES = ("REVENUE", "REVENUE_FOR_CYCLE")
# A filter or group field -> the cube dimension it reads.
DIMENSION = {"BILLABLE_ID": "USAGE_METER_ID", "EVENT_STATUS": "RAW_EVENT_STATUS"}


@dataclass(slots=True)
class Query:
    """One checked metric query."""

    id: str
    name: str
    period: str
    group: str | None
    filters: dict[str, set[str]]  # cube dimension -> the values it may take
    default_status: bool = False  # EVENTS without an EVENT_STATUS filter: PROCESSED and UNPROCESSED
    currency: str = "BASE"  # configs.CURRENCY of the revenue metrics
    where: str = ""  # the query's place in the request, for refusals found while answering
    zone: ZoneInfo | None = None  # the organisation's time zone (None: UTC)


def _known(store: Store, field: str, value: str) -> list[str] | None:
    """The ids a filter value stands for, or None when it names nothing (an alias is its account)."""
    if field == "ACCOUNT_ID":
        if store.collections["accounts"].get(value) is not None:
            return [value]
        owner = store.indexes["alias_owner"].get(value)
        return None if owner is None else [owner]
    if field == "CUSTOMER_ID":
        return [value] if store.collections["customers"].get(value) is not None else None
    if field == "SCHEMA_NAME":
        return [value] if event_schemas.latest(store, value) is not None else None
    if field in ("USAGE_METER_ID", "BILLABLE_ID"):
        if store.collections[meters.NAME].get(value) is not None:
            return [value]
        return meters.named(store, value) or None
    # EVENT_STATUS: a coarse status or a raw one
    if value in ("PROCESSED", "UNPROCESSED", "IN_PROGRESS"):
        return [raw for raw in RAW_STATUSES if event_status(raw) == value]
    return [value] if value in RAW_STATUSES else None


def check_request(store: Store, body: dict[str, Any]) -> tuple[int, int, list[Query]]:
    """The range (widened to whole hours) and the queries of a metrics request, or ``Invalid`` naming every problem."""
    problems: list[Violation] = []
    start, end = _seconds(body, "startTime"), _seconds(body, "endTime")
    for field, moment in (("startTime", start), ("endTime", end)):
        if not EARLIEST <= moment <= LATEST:
            problems.append(Violation(field, "must be between 1970-01-01T00:00:00Z and 9999-01-01T00:00:00Z"))
    if end <= start:
        problems.append(Violation("endTime", "must be after startTime"))
    if problems:
        raise Invalid(problems)  # buckets cannot be made outside the calendar
    start -= start % HOUR
    end += -end % HOUR  # the hours the range touches (see README: metrics)
    queries: list[Query] = []
    zone = org_settings.time_zone(store)
    asked = body["metricQueries"]
    if not 1 <= len(asked) <= MAX_QUERIES:
        problems.append(Violation("metricQueries", f"must hold 1 to {MAX_QUERIES} queries (holds {len(asked)})"))
    seen: dict[str, int] = {}
    for i, raw in enumerate(asked):
        where = f"metricQueries[{i}]"
        if seen.setdefault(raw["id"], i) != i:
            problems.append(Violation(f"{where}.id", f"{raw['id']!r} is also metricQueries[{seen[raw['id']]}]'s"))
        query, found = _check_query(store, raw, where, start, end, zone)
        problems += found
        queries.append(query)
    if problems:
        raise Invalid(problems)
    return start, end, queries


def _seconds(body: dict[str, Any], field: str) -> int:
    """A request's date-time field as whole seconds since 1970; an unreal date is refused naming ``field``."""
    return int(parse_time(body[field], field).timestamp() // 1)


def _check_query(store: Store, raw: dict[str, Any], where: str, start: int, end: int,
                 zone: ZoneInfo | None = None) -> tuple[Query, list[Violation]]:
    problems: list[Violation] = []
    name, period = raw["name"], raw["aggregationPeriod"]
    allowed_filters, allowed_groups = ALLOWED[name]
    group = raw.get("groupBy")
    if group is not None and group not in allowed_groups:
        problems.append(Violation(f"{where}.groupBy", f"{name} can be grouped by {', '.join(allowed_groups)} only"))
    for key, value in (raw.get("configs") or {}).items():
        if name not in REVENUES or key != "CURRENCY":
            problems.append(Violation(f"{where}.configs.{key}", f"is not a config of {name}"))
        elif value not in ("BASE", "INVOICE"):
            problems.append(Violation(f"{where}.configs.{key}", "must be BASE or INVOICE"))
    if len(buckets(period, start, end, MAX_POINTS, zone)) > MAX_POINTS:
        problems.append(Violation(f"{where}.aggregationPeriod",
                                  f"{period} over this range makes more than {MAX_POINTS} data points; "
                                  "ask a longer period or a shorter range"))
    filters: dict[str, set[str]] = {}
    for j, entry in enumerate(raw.get("filters") or ()):
        field, values = entry["fieldName"], entry["fieldValues"]
        at = f"{where}.filters[{j}]"
        if field not in allowed_filters:
            rule = f"{name} can be filtered by {', '.join(allowed_filters)} only"
            problems.append(Violation(f"{at}.fieldName", rule))
            continue
        if not values:
            problems.append(Violation(f"{at}.fieldValues", "must name at least one value"))
            continue
        if field == "ORGANIZATION_ID":
            continue  # the tenant is the organization
        if field == "SCHEMA_NAME" and len(values) > 1:
            problems.append(Violation(f"{at}.fieldValues", "names at most one event schema"))
        chosen: set[str] = set()
        for k, value in enumerate(values):
            ids = _known(store, field, value)
            if ids is None:
                problems.append(Violation(f"{at}.fieldValues[{k}]", f"{value!r} is not a known {_noun(field)}"))
            else:
                chosen.update(ids)
        dim = DIMENSION.get(field, field)
        filters[dim] = filters[dim] & chosen if dim in filters else chosen
    currency = (raw.get("configs") or {}).get("CURRENCY", "BASE")
    default_status = name == "EVENTS" and "RAW_EVENT_STATUS" not in filters
    if default_status:
        filters["RAW_EVENT_STATUS"] = {raw for raw in RAW_STATUSES if event_status(raw) in DEFAULT_EVENT_STATUS}
    return Query(raw["id"], name, period, group, filters, default_status, currency, where, zone), problems


def _noun(field: str) -> str:
    nouns = {"ACCOUNT_ID": "account id or alias", "CUSTOMER_ID": "customer id", "SCHEMA_NAME": "event schema name",
             "EVENT_STATUS": "event status (PROCESSED, UNPROCESSED, IN_PROGRESS or an ingestionStatus)"}
    return nouns.get(field, "usage meter id or name")


def select(cube: Cube, query: Query) -> Selection:
    """Which keys of ``cube`` the query counts, and their groups.

    Kept per cube and query shape, and brought up to date with the keys
    counted since (a dashboard asks the same queries again and again).
    """
    group_dim = DIMENSION.get(query.group, query.group) if query.group else None
    if group_dim is None and len(query.filters) == query.default_status:  # the grand totals are exactly this
        return Selection([], [], everything=True)
    shape = (tuple(sorted((dim, frozenset(values)) for dim, values in query.filters.items())), query.group)
    found = cube.selections.get(shape)
    if found is None:
        if len(cube.selections) >= _MAX_SELECTIONS:
            cube.selections.clear()
        found = cube.selections[shape] = Selection([], [], everything=False)
    positions = [(cube.dims.index(dim), allowed) for dim, allowed in query.filters.items()]
    at = cube.dims.index(group_dim) if group_dim else -1
    coarse = query.group == "EVENT_STATUS"
    labels, chosen = found.labels, found.chosen
    for kid in range(len(labels), len(cube.keys)):
        key = cube.keys[kid]
        if all(key[i] in allowed for i, allowed in positions):
            labels.append("" if at < 0 else (event_status(key[at]) if coarse else key[at]))
            chosen.append(kid)
        else:
            labels.append(None)
    return found


_MAX_SELECTIONS = 64


def series(cube: Cube | None, query: Query, start: int, end: int,
           store: Store | None = None) -> list[dict[str, Any]]:
    """The query's data points: one series per group (one, ungrouped, even when empty).

    ``USAGE_FOR_CYCLE`` (with ``store``) follows each account's own pricing cycle (:func:`cycle_series`).
    """
    spans = buckets(query.period, start, end, MAX_POINTS, query.zone)
    values: dict[str, list[int]] = {}
    if cube is not None:
        chosen = select(cube, query)
        if query.name.endswith("_FOR_CYCLE"):
            cycle_series(store, cube, chosen, query.zone, spans, values)
        else:
            for n, (_, frm, to) in enumerate(spans):
                for label, value in cube.total(frm, to, chosen).items():
                    row = values.get(label)
                    if row is None:
                        row = values[label] = [0] * len(spans)
                    row[n] = value
    if query.group is None:
        values.setdefault("", [0] * len(spans))
    stamps = [stamp_in(label, query.zone) for label, _, _ in spans]
    out = []
    for label in sorted(values):
        numbers = cube.numbers(values[label]) if cube is not None else values[label]
        points: dict[str, Any] = {"timestamps": stamps, "metricValues": numbers}
        if query.group is not None:
            points = {"groupedBy": {"fieldName": query.group, "fieldValue": label}, **points}
        out.append(points)
    return out


Spans: TypeAlias = list[tuple[int, int, int]]  # a query's buckets: (label, from, to)


def cycle_series(store: Store | None, cube: Cube, chosen: Selection, zone: ZoneInfo | None, spans: Spans,
                 values: dict[str, list[int]]) -> None:
    """``USAGE_FOR_CYCLE`` into ``values`` (by group): at each bucket, each account's usage from the start of
    its own pricing cycle holding the bucket's last hour (:class:`Cycles`), summed over the accounts.

    Accounts whose cycles start at the same instants over the range (every account without a plan, every
    account on one calendar plan) form one class, summed in one pass over the buckets as one calendar
    month was (the grand totals when nothing is filtered or grouped); each other class (an anniversary
    date, a weekly plan) makes its own pass over the keys of its accounts only. Reads the cube, never
    the events.
    """
    cycles = Cycles(store, zone)
    calendar = cycles.calendar(spans)
    # Only accounts with associations can differ from the calendar: a dict look-up per key, no call.
    timelines, keys = cycles.timelines, cube.keys
    others: dict[tuple[int, ...], list[int]] = {}  # cycle start at each bucket -> the key ids that follow it
    signatures: dict[str, tuple[int, ...]] = {}  # account -> its cycle starts (a key per meter and customer)
    ids = range(len(keys)) if chosen.everything else chosen.chosen
    for kid in ids:
        account = keys[kid][0]
        if account in timelines:
            starts = signatures.get(account)
            if starts is None:
                starts = signatures[account] = cycles.starts(account, spans, calendar)
            if starts != calendar:
                others.setdefault(starts, []).append(kid)
    if not others:  # one class: as fast as one calendar month for all
        _running(cube, chosen, calendar, spans, values)
        return
    labels: list[str | None] = [""] * len(keys) if chosen.everything else list(chosen.labels)
    for kids in others.values():
        for kid in kids:
            labels[kid] = None
    _running(cube, Selection(labels, [kid for kid in ids if labels[kid] is not None], everything=False),
             calendar, spans, values)
    # One selection reused for each other class: its keys labelled while it is summed, None again after.
    labels = [None] * len(keys)
    for starts, kids in others.items():
        for kid in kids:
            labels[kid] = "" if chosen.everything else chosen.labels[kid]
        _running(cube, Selection(labels, kids, everything=False), starts, spans, values)
        for kid in kids:
            labels[kid] = None


def _running(cube: Cube, chosen: Selection, starts: tuple[int, ...], spans: Spans,
             values: dict[str, list[int]]) -> None:
    """Add to ``values`` the selected keys' running totals, the cycle at bucket ``n`` starting at ``starts[n]``."""
    running: dict[str, int] = {}
    cycle = -1
    for n, (_, frm, to) in enumerate(spans):
        if starts[n] != cycle:  # a new cycle: from its start (before the range, or inside a WEEK or MONTH bucket)
            running, cycle = cube.total(starts[n], to, chosen), starts[n]
        else:
            for label, value in cube.total(frm, to, chosen).items():
                running[label] = running.get(label, 0) + value
        for label, value in running.items():
            row = values.get(label)
            if row is None:
                row = values[label] = [0] * len(spans)
            row[n] += value


class Cycles:
    """Where each account's pricing cycle holding an hour starts and ends, as whole UTC hours.

    An account on a plan then: the plan's cycle (its ``pricingCycleConfig`` in the organisation's
    time zone, :func:`pricing.cycle_at`, clipped to the association, as ``REVENUE_FOR_CYCLE`` takes it;
    a local boundary that is not a whole UTC hour is taken at the hour before, as the buckets are).
    Without a plan then: the calendar month in the organisation's zone, clipped to the gap between
    associations (a cycle never holds two plans' usage). One query's look-ups: the cycles of an
    association (plan, version, dates) are computed once for all the accounts that share it.
    """

    __slots__ = ("store", "zone", "timelines", "times", "cycles")

    def __init__(self, store: Store | None, zone: ZoneInfo | None) -> None:
        self.store, self.zone = store, zone
        # account -> its associations' record (only accounts that ever had one)
        self.timelines: dict[str, Any] = {} if store is None else store.collections[schedules.NAME].items
        self.times: dict[str, datetime] = {}
        self.cycles: dict[tuple[Any, ...], tuple[int, int]] = {}

    def month(self, hour: int) -> tuple[int, int]:
        """The calendar month holding ``hour``, in the organisation's zone."""
        if self.zone is None:
            start = month_start(hour)
            return start, next_month(start)
        start = zoned_start("MONTH", hour, self.zone)
        return start, zoned_start("MONTH", start + 32 * DAY, self.zone)  # 32 days on: inside the next month

    def calendar(self, spans: Spans) -> tuple[int, ...]:
        """The start of the calendar month holding each bucket's last hour."""
        return self._walk(spans, self.month)

    def starts(self, account: str, spans: Spans, calendar: tuple[int, ...]) -> tuple[int, ...]:
        """The start of the account's cycle holding each bucket's last hour (``calendar`` without any plan)."""
        record = self.timelines.get(account)
        timeline = None if record is None else record["pricingSchedules"]
        if not timeline:
            return calendar
        return self._walk(spans, lambda hour: self.window(timeline, hour))

    @staticmethod
    def _walk(spans: Spans, window: Callable[[int], tuple[int, int]]) -> tuple[int, ...]:
        out: list[int] = []
        start = stop = -1
        for _, _, to in spans:
            hour = to - HOUR
            if not start <= hour < stop:  # a look-up per cycle met, not per bucket
                start, stop = window(hour)
            out.append(start)
        return tuple(out)

    def _time(self, text: str) -> datetime:
        found = self.times.get(text)
        if found is None:
            found = self.times[text] = parse_time(text)
        return found

    def window(self, timeline: list[dict[str, Any]], hour: int) -> tuple[int, int]:
        """The cycle ``[start, end)`` holding ``hour`` of an account with these associations (oldest first)."""
        moment = datetime.fromtimestamp(hour, UTC)
        start, stop = self.month(hour)
        for schedule in timeline:
            begin, end = self._time(schedule["startDate"]), self._time(schedule["endDate"])
            if begin <= moment < end:
                # An override is the account's own: its identity keys it (the records outlive the query).
                key = (schedule["pricePlanId"], schedule["version"], schedule["startDate"], schedule["endDate"],
                       id(schedule.get("pricePlanDetailsOverride")), hour)
                found = self.cycles.get(key)
                if found is None:
                    assert self.store is not None  # a timeline was read from it
                    _, details, _ = schedules.details_of(self.store, schedule)
                    config = details.get("pricingCycleConfig") or pricing.DEFAULT_CYCLE
                    first, after = pricing.cycle_at(config, moment, begin, self.zone)
                    found = self.cycles[key] = (_floor_hour(max(first, begin)), _ceil_hour(min(after, end)))
                return found
            if end <= moment:
                start = max(start, _ceil_hour(end))
            else:  # the next association starts later: the gap ends there
                stop = min(stop, _ceil_hour(begin))
                break
        return start, stop


def revenue_series(store: Store, cube: Cube, query: Query, start: int, end: int) -> list[dict[str, Any]]:
    """REVENUE and REVENUE_FOR_CYCLE: each (account, meter)'s usage priced by the account's plan.

    A cycle's usage so far is priced as a whole (tiers and packages apply to
    the cycle's quantity); REVENUE is what each bucket adds to its cycles'
    revenue, REVENUE_FOR_CYCLE the cycle's revenue so far at each bucket's
    end. ``CURRENCY: BASE`` (the default) converts an account invoiced in
    another currency by the exchange rate the organisation states
    (:mod:`.org_settings`), and refuses it when none is stated;
    ``CURRENCY: INVOICE`` keeps each account's invoice currency, and one
    series never adds two currencies.
    """
    spans = buckets(query.period, start, end, MAX_POINTS, query.zone)
    chosen = select(cube, query)
    if chosen.everything:
        chosen = Selection([""] * len(cube.keys), list(range(len(cube.keys))), everything=False)
    values: dict[str, list[Decimal]] = {}
    currencies: dict[str, str] = {}
    rates: dict[str, Decimal] | None = None  # read once, when a series first needs one
    base = org_settings.base_currency(store)  # the organisation's (setting togai base_currency; USD by default)
    unit = Decimal(10) ** -cube.scale
    for kid in chosen.chosen:
        account, _, meter = cube.keys[kid]
        label = chosen.labels[kid]
        if label is None or not schedules.timeline(store, account):
            continue  # no plan ever: no revenue

        def priced(found: pricing.ScheduleAt, begin: int, upto: int) -> Decimal:
            used = cube.key_total(kid, begin, upto)  # noqa: B023 - called within this iteration only
            card = _rate_card(found, meter)  # noqa: B023
            return pricing.price_usage(Decimal(used) * unit, card, found.currency).total if used and card else ZERO

        earned = [ZERO] * len(spans)
        for n, (_, frm, to) in enumerate(spans):
            if query.name == "REVENUE_FOR_CYCLE":
                found = schedules.schedule_at(store, account, datetime.fromtimestamp(to - HOUR, UTC))
                if found is not None:
                    earned[n] = priced(found, _floor_hour(found.cycle_start), to)
                continue
            at = frm
            while at < to:  # the bucket's part of each cycle it meets
                moment = datetime.fromtimestamp(at, UTC)
                found = schedules.schedule_at(store, account, moment)
                if found is None:
                    # No plan until the next association starts: jump there (years without a
                    # plan cost one look-up, not one per hour), to the first whole hour from
                    # ``at`` at or after it, where stepping hour by hour would have found it.
                    upcoming = schedules.next_start(store, account, moment)
                    if upcoming is None:
                        break
                    at += -((moment - upcoming) // timedelta(hours=1)) * HOUR  # whole hours, rounded up: >= 1
                    continue
                begin, stop = _floor_hour(found.cycle_start), min(to, _ceil_hour(found.cycle_end))
                earned[n] += priced(found, begin, stop) - priced(found, begin, at)
                at = stop
        if not any(earned):
            continue
        currency = store.collections["accounts"].items[account]["invoiceCurrency"]
        if query.currency == "BASE" and currency != base:
            if rates is None:
                rates = org_settings.exchange_rates(store)
            rate = rates.get(currency)
            if rate is None:
                raise Invalid.at(f"{query.where}.configs.CURRENCY",
                                 f"account {account!r} is invoiced in {currency} and the organisation states no "
                                 f"exchange rate from {currency} to {base} (setting togai "
                                 f"{org_settings.RATE_PREFIX}{currency}): state one, or ask CURRENCY INVOICE")
            earned = [amount * rate for amount in earned]  # exact: the rate as stated, no rounding
            currency = base
        if currencies.setdefault(label, currency) != currency:
            raise Invalid.at(f"{query.where}.groupBy", f"one series would add revenue in {currencies[label]} and "
                                                       f"{currency}: group or filter by ACCOUNT_ID or CUSTOMER_ID")
        row = values.setdefault(label, [ZERO] * len(spans))
        for n, amount in enumerate(earned):
            row[n] += amount
    if query.group is None:
        values.setdefault("", [Decimal(0)] * len(spans))
    stamps = [stamp_in(label, query.zone) for label, _, _ in spans]
    out = []
    for label in sorted(values):
        points: dict[str, Any] = {"timestamps": stamps, "metricValues": [to_json(v) for v in values[label]]}
        if query.group is not None:
            points = {"groupedBy": {"fieldName": query.group, "fieldValue": label}, **points}
        out.append(points)
    return out


ZERO = Decimal(0)


def bill_lines(store: Store, start: str, end: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """For a bill run: each account's metered usage of ``[start, end)``, priced by its plan, as invoice lines.

    The plan (and currency) in effect at ``start`` prices the period's whole
    quantity of each meter with a usage rate card (tiers and packages apply to
    the period's quantity, as for ``REVENUE_FOR_CYCLE``); a meter without a
    rate card, or an account without a plan then, adds no line. Reads the
    aggregates (one total per account and meter), never the events.
    """
    cube = aggregates(store).usage
    begin, stop = epoch(start), epoch(end)
    at = datetime.fromtimestamp(begin, UTC)
    unit = Decimal(10) ** -cube.scale
    meters = store.collections["usageMeters"]
    out: dict[str, list[dict[str, Any]]] = {}
    for kid, (account, _, meter) in enumerate(cube.keys):
        used = cube.key_total(kid, begin, stop)
        found = schedules.schedule_at(store, account, at) if used else None
        card = _rate_card(found, meter) if found is not None else None
        if found is None or card is None:
            continue
        quantity = Decimal(used) * unit
        record = meters.get(meter)
        name = card.get("displayName") or (record["name"] if record is not None else meter)
        out.setdefault(account, []).append({
            "description": f"{name}: {to_json(quantity)} units, {found.plan['name']}",
            "type": "USAGE_RATE_CARD_AMOUNT",
            "quantity": to_json(quantity),
            "value": to_json(pricing.price_usage(quantity, card, found.currency).total),
        })
    return sorted(out.items())


def _rate_card(found: pricing.ScheduleAt, meter: str) -> dict[str, Any] | None:
    """The usage rate card of ``meter`` in the plan, when it has rates in the account's currency."""
    for card in found.details.get("usageRateCards", []):
        if card["usageMeterId"] == meter and pricing.rate_value(card, found.currency) is not None:
            found_card: dict[str, Any] = card
            return found_card
    return None


def _floor_hour(moment: datetime) -> int:
    seconds = int(moment.timestamp())
    return seconds - seconds % HOUR


def _ceil_hour(moment: datetime) -> int:
    seconds = int(moment.timestamp())
    return seconds + -seconds % HOUR


CUBES: dict[str, Callable[[Usage], Cube | None]] = {
    "EVENTS": lambda u: u.events,
    "USAGE": lambda u: u.usage,
    "METER_USAGE": lambda u: u.usage,
    "USAGE_FOR_CYCLE": lambda u: u.usage,
    "NAMED_LICENSE_USAGE": lambda u: None,  # the metrics do not read license updates or named licenses
}


@dataclass(frozen=True, slots=True)
class Result:
    """One query's answer: its id and metric name, and its series (``MetricDataPoints``, JSON numbers)."""

    id: str
    name: str
    series: list[dict[str, Any]]


def metrics(store: Store, request: dict[str, Any]) -> list[Result]:
    """Every query of a metrics request (``MetricsRequest``), checked first, then summed from the aggregates."""
    start, end, queries = check_request(store, request)
    usage = aggregates(store)
    return [Result(q.id, q.name, revenue_series(store, usage.usage, q, start, end) if q.name in REVENUES
                   else series(CUBES[q.name](usage), q, start, end, store))
            for q in queries]


DERIVED = Derived(name=NAME, make=Usage, rebuild=rebuild)
