"""The one place where state lives: collections, indexes, ids, clock, lock.

Records, collections and the clock have modules of their own; names other
modules import from here (``Collection``, ``SlottedRecord``, ``stamp``) are
re-exported for them.
"""
from __future__ import annotations

import copy
import random
import string
import threading
import time
from collections.abc import Callable
from datetime import datetime
from math import floor
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .collection import Collection
from .errors import DomainError, Violation
from .memory import thaw
from .records import SlottedRecord, record_class
from .times import parse_time, stamp

if TYPE_CHECKING:
    from .resource import IdScheme, Registry

Record = dict[str, Any]
# (schema, field, value, path) -> the violations of the spec's rule for that field.
FieldRules = Callable[[str, str, Any, str], list[Violation]]

# Accounts are invoiced in the tenant's base currency unless they say otherwise.
BASE_CURRENCY = "USD"

_LOWER = string.ascii_lowercase + string.digits
# Odd and prime to 3 and 31, hence to 36**k and 62**k: multiplying by it permutes the sequence.
_SCRAMBLE = 2_654_435_761
_MIXED = string.ascii_letters + string.digits
_PAIRS: dict[str, list[str]] = {}


def _digit_pairs(alphabet: str) -> list[str]:
    """Two base-``len(alphabet)`` digits, least significant first, for each number below ``len(alphabet) ** 2``."""
    found = _PAIRS.get(alphabet)
    if found is None:
        found = _PAIRS[alphabet] = [low + high for high in alphabet for low in alphabet]
    return found






class Store:
    """All of one tenant's state: a collection per registered resource, their
    indexes, the id generator and the clock. The rules live in the resource
    modules; what applies to every resource (reset, snapshot, export) is here
    and iterates the registry."""

    def __init__(
        self,
        registry: Registry,
        seed: int | None = None,
        schemas: dict[str, Any] | None = None,
        ingest_delay: float = 0.0,
        field_rules: FieldRules | None = None,
        clock: datetime | None = None,
    ) -> None:
        """``schemas``: the spec's component schemas; resources with a ``layout``
        store slotted records with the fields of their schema (less the computed
        ones), others store dicts. ``ingest_delay``: seconds before an ingested
        event is processed (``--ingest-delay``). ``field_rules``: checks a value
        against the spec's rule for one field of a component schema; the app hands
        it in when it wires the spec, so the domain never imports the validator. ``clock``: start a
        test clock frozen at this instant (``--clock``), which moves only when told."""
        self.clock_start = clock
        self.lock = threading.RLock()
        # Releases the lock (however deeply held) while it waits, and takes it back: see yield_lock.
        self._handover = threading.Condition(self.lock)
        # Requests waiting for the lock (approximate: no lock guards it). Long work that releases the
        # store between slices waits for them to go first, so they never wait more than a slice.
        self.waiting = 0
        self.registry = registry
        self.seed = seed
        self.schemas = schemas
        self.ingest_delay = ingest_delay
        self.field_rules = field_rules
        self.record_types: dict[str, type[SlottedRecord]] = {}
        for resource in registry:
            properties = (schemas or {}).get(resource.schema, {}).get("properties")
            layout = resource.layout
            if layout is not None and properties:
                fields = tuple(f for f in properties if f not in layout.computed)
                self.record_types[resource.name] = record_class(
                    f"{resource.schema}Record", fields, tuple(f for f in layout.list_fields if f in fields)
                )
        self.clear()

    def sibling(self) -> Store:
        """A new, empty store like this one: same registry, seed and record classes."""
        return Store(self.registry, self.seed, self.schemas, self.ingest_delay, self.field_rules, self.clock_start)

    def field_problems(self, schema: str, name: str, value: Any, path: str) -> list[Violation]:
        """How ``value`` breaks the spec's rule for field ``name`` of ``schema`` (none without rules)."""
        return [] if self.field_rules is None else self.field_rules(schema, name, value, path)

    def new_record(self, resource: str, fields: dict[str, Any]) -> Any:
        """A stored record of ``resource``: slotted when it is compact, else a dict."""
        kind = self.record_types.get(resource)
        return kind(fields) if kind is not None else dict(fields)

    def yield_lock(self, max_wait: float) -> None:
        """Between two slices of long work that holds :attr:`lock`: let those waiting for the store take it.

        A lock released and taken again at once is rarely won by a waiter, so the work waits while
        requests are waiting (:attr:`waiting`), at most ``max_wait`` seconds, then takes the lock back
        as deeply as it held it. Without the lock held, nothing to yield.
        """
        deadline = time.monotonic() + max_wait
        try:
            self._handover.wait(0.0002)
            while self.waiting > 0 and time.monotonic() < deadline:
                self._handover.wait(0.0002)
        except RuntimeError:  # not held by this thread
            return

    def clear(self) -> None:
        """Forget everything (ids and clock start again from the seed)."""
        thaw()  # what the old state froze may hold cycles the collector must now free
        self.rng = random.Random(self.seed)
        self.clock = Clock(self.seed, self.clock_start)
        self.collections: dict[str, Collection] = {r.name: Collection() for r in self.registry}
        self.indexes: dict[str, dict[str, Any]] = {name: {} for name in self.registry.indexes()}
        # Aggregates computed from the records (Registry.derived): never exported, rebuilt on import.
        self.derived: dict[str, Any] = {d.name: d.make() for d in self.registry.derived}
        # Server-made ids brought in by an import: the sequence cannot know them.
        self.reserved: set[str] = set()
        self._sequence = 0
        self._id_offset = self.rng.getrandbits(64)

    def new_id(self, scheme: IdScheme, taken: Collection | None = None) -> str:
        """A Togai-looking id such as ``account.k3j9x2qa.7fz1m``, never handed out before.

        The first part is random; the second is a sequence number scrambled by
        a bijection, so ids from one store never repeat (for the first
        ``len(alphabet) ** second`` of them) without keeping a set of them.
        Only ids that came in through an import are remembered, in ``reserved``.
        """
        alphabet = _MIXED if scheme.mixed_case else _LOWER
        size, draw = float(len(alphabet)), self.rng.random
        while True:
            # rng.choices(alphabet, k=first) without its call: the same draws, the same letters
            head = "".join([alphabet[floor(draw() * size)] for _ in range(scheme.first)])
            new = f"{scheme.prefix}.{head}.{self._tail(scheme)}"
            if new not in self.reserved and (taken is None or taken.get(new) is None):
                return new

    def _tail(self, scheme: IdScheme) -> str:
        """The next sequence number, scrambled, as the second part of an id."""
        alphabet = _MIXED if scheme.mixed_case else _LOWER
        base = len(alphabet)
        self._sequence += 1
        n: int = (self._sequence * _SCRAMBLE + self._id_offset) % base**scheme.second
        if scheme.second == 5:  # every scheme's but a few: two digits at a time from a table (new_ids')
            pairs, square = _digit_pairs(alphabet), base * base
            return pairs[n % square] + pairs[n // square % square] + alphabet[n // square // square % base]
        tail = []
        for _ in range(scheme.second):
            n, digit = divmod(n, base)
            tail.append(alphabet[digit])
        return "".join(tail)

    def new_ids(self, scheme: IdScheme, count: int, taken: Collection | None = None) -> list[str]:
        """``count`` new ids for a batch: one random first part, told apart by their sequence parts.

        As unique as :meth:`new_id`'s (the sequence part alone never repeats),
        at a fraction of the cost: one draw of the generator per batch.
        """
        alphabet = _MIXED if scheme.mixed_case else _LOWER
        head = "".join(self.rng.choices(alphabet, k=scheme.first))
        # _tail's digits, two at a time from a table (the same ids, a third of the divisions).
        pairs, base = _digit_pairs(alphabet), len(alphabet)
        size, square, second = base**scheme.second, base * base, scheme.second
        start = f"{scheme.prefix}.{head}."
        reserved, items = self.reserved, taken.items if taken is not None else {}
        if second == 5:  # every scheme's but a few: the whole batch in comprehensions (ingestion: 500 a request)
            first = self._sequence + 1
            self._sequence += count
            offset = self._id_offset
            numbers = [(q * _SCRAMBLE + offset) % size for q in range(first, first + count)]
            batch = [start + pairs[n % square] + pairs[n // square % square] + alphabet[n // square // square % base]
                     for n in numbers]
            if reserved.isdisjoint(batch) and items.keys().isdisjoint(batch):
                return batch
            out = [new for new in batch if new not in reserved and new not in items]  # rare: draw the rest
        else:
            out = []
        while len(out) < count:
            self._sequence += 1
            n = (self._sequence * _SCRAMBLE + self._id_offset) % size
            if second == 5:
                n, r = divmod(n, square)
                new = start + pairs[r] + pairs[n % square] + alphabet[n // square % base]
            else:
                parts = [start]
                for _ in range(second // 2):
                    n, r = divmod(n, square)
                    parts.append(pairs[r])
                if second % 2:
                    parts.append(alphabet[n % base])
                new = "".join(parts)
            if new not in reserved and new not in items:
                out.append(new)
        return out

    def counts(self) -> dict[str, int]:
        """How many records each resource holds."""
        return {name: len(collection) for name, collection in self.collections.items()}

    def export(self, deep: bool = True) -> dict[str, Any]:
        """The whole tenant as plain JSON data, in the API's shapes.

        ``deep=False`` skips the copy: the result shares values with the
        store, so the caller must hold :attr:`lock` while it reads it (the
        state file encodes it to bytes that way, several times faster).
        """
        with self.lock:
            data = {
                r.name: [r.to_json(self, record) for record in self.collections[r.name].items.values()]
                for r in self.registry
            }
            return copy.deepcopy(data) if deep else data

    def generator_state(self) -> dict[str, Any]:
        """The id generator and the seeded clock as JSON data, for :meth:`set_generator_state`.

        Saved with a tenant so that, reloaded, it goes on where it stopped: a
        seeded clock that started over would stamp changes before the records'
        ``createdAt``, and a seeded run would no longer give the same ids.
        """
        with self.lock:
            version, internal, gauss = self.rng.getstate()
            return {
                "rng": [version, list(internal), gauss],
                "sequence": self._sequence,
                "idOffset": self._id_offset,
                "clock": self.clock.last() if self.clock.seeded else None,
                "testClock": self.clock.to_json(),
            }

    def set_test_clock(self, moments: tuple[datetime | None, datetime | None]) -> None:
        """Put the test clock at :func:`parse_test_clock`'s ``(now, origin)`` (an imported tenant's)."""
        with self.lock:
            self.clock.set_json(*moments)

    def set_generator_state(self, data: Any) -> None:
        """Go on from a :meth:`generator_state`; ``ValueError`` naming the field when it is malformed."""
        if not isinstance(data, dict):
            raise ValueError("must be an object with rng, sequence, idOffset and clock")
        rng = data.get("rng")
        sequence, offset, clock = data.get("sequence"), data.get("idOffset"), data.get("clock")
        candidate = random.Random()
        try:
            version, internal, gauss = rng  # type: ignore[misc]
            candidate.setstate((version, tuple(internal), gauss))
        except (TypeError, ValueError, OverflowError):
            raise ValueError("rng: is not a generator state") from None
        if type(sequence) is not int or sequence < 0:
            raise ValueError("sequence: must be a non-negative integer")
        if type(offset) is not int or offset < 0:
            raise ValueError("idOffset: must be a non-negative integer")
        moment = None
        moments = parse_test_clock(data.get("testClock") or {})  # absent in files written before the test clock
        if self.clock.seeded and clock is not None:
            try:
                moment = datetime.fromisoformat(clock)
            except (TypeError, ValueError):
                raise ValueError("clock: must be an ISO 8601 date-time") from None
            if moment.tzinfo is None:
                raise ValueError("clock: must name its time zone")
        with self.lock:
            self.rng = candidate
            self._sequence = sequence
            self._id_offset = offset
            if moment is not None:
                self.clock.set_last(moment)
            self.clock.set_json(*moments)

    def fresh_randomness(self) -> None:
        """Draw the random part of new ids from a new, unseeded generator.

        An unseeded tenant reloaded from its state file may have answered ids
        after the file was last written; with a fresh first part, none of them
        is issued again (the sequence part goes on as saved).
        """
        if self.seed is None:
            with self.lock:
                self.rng = random.Random()

    _STATE_FIELDS = ("rng", "clock", "collections", "indexes", "derived", "reserved", "_sequence", "_id_offset")

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state, for :meth:`restore`."""
        with self.lock:
            return copy.deepcopy({name: self.__dict__[name] for name in self._STATE_FIELDS})

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Go back to a :meth:`snapshot` (which stays reusable)."""
        fresh = copy.deepcopy(snapshot)
        with self.lock:
            self.__dict__.update(fresh)
        thaw()


def parse_test_clock(data: Any) -> tuple[datetime | None, datetime | None]:
    """A test clock's ``{"now", "origin"}`` (:meth:`Clock.to_json`) parsed; ``ValueError`` naming the field."""
    if not isinstance(data, dict):
        raise ValueError("testClock: must be an object with now and origin")
    moments: list[datetime | None] = []
    for name in ("now", "origin"):
        text = data.get(name)
        try:
            moments.append(None if text is None else parse_time(text))
        except (DomainError, TypeError):
            raise ValueError(f"testClock.{name}: must be a date-time") from None
    return moments[0], moments[1]


__all__ = ["BASE_CURRENCY", "Clock", "Collection", "Record", "SlottedRecord", "Store", "record_class", "stamp"]
