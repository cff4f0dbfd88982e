"""The one place where state lives: collections, indexes, ids, clock, lock."""
from __future__ import annotations

import copy
import random
import string
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import Violation

if TYPE_CHECKING:
    from .resource import IdScheme, Registry

Record = dict[str, Any]
# (schema, field, value, path) -> the violations of the spec's rule for that field.
FieldRules = Callable[[str, str, Any, str], list[Violation]]

# Accounts are invoiced in the tenant's base currency unless they say otherwise.
BASE_CURRENCY = "USD"

# Seeded runs start their clock here, so the same seed gives the same timestamps.
_SEEDED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_LOWER = string.ascii_lowercase + string.digits
# Odd and prime to 3 and 31, hence to 36**k and 62**k: multiplying by it permutes the sequence.
_SCRAMBLE = 2_654_435_761
_MIXED = string.ascii_letters + string.digits






class _Layout:
    """Which fields a record has set, and a renderer made for exactly those.

    Shared by all records of a class with the same fields (a handful in
    practice) and kept by copies. The renderer is generated, as dataclasses
    and attrs do, from the fixed field names above: one dict display is about
    three times faster than a loop over the slots, and a page of accounts is
    mostly this.
    """

    __slots__ = ("names", "render")

    def __init__(self, names: tuple[str, ...], list_fields: tuple[str, ...]) -> None:
        self.names = names
        items = ", ".join(f"{n!r}: list(r.{n})" if n in list_fields else f"{n!r}: r.{n}" for n in names)
        namespace: dict[str, Any] = {}
        exec(f"def render(r):\n    return {{{items}}}\n", namespace)  # noqa: S102 - fixed identifiers only
        self.render = namespace["render"]

    def __copy__(self) -> _Layout:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Layout:
        return self


class SlottedRecord:
    """A record in the API's shape, in slots: a third of a dict's memory.

    It reads and writes like a mapping (``record["status"]``); a field that
    was never set is absent, as in the API. Subclasses name their ``FIELDS``
    (in the API's order) and the ``LIST_FIELDS`` stored as tuples.
    """

    __slots__ = ("_layout",)
    FIELDS: tuple[str, ...] = ()
    LIST_FIELDS: tuple[str, ...] = ()
    _layouts: dict[frozenset[str], _Layout]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._layouts = {}

    def __init__(self, fields: dict[str, Any]) -> None:
        names = frozenset(fields)
        unknown = names.difference(self.FIELDS)
        if unknown:
            raise KeyError(f"not {type(self).__name__} fields: {sorted(unknown)}")
        for key, value in fields.items():
            setattr(self, key, value)
        self._layout = self._layout_of(names)

    @classmethod
    def _layout_of(cls, names: frozenset[str]) -> _Layout:
        layout = cls._layouts.get(names)
        if layout is None:
            ordered = tuple(f for f in cls.FIELDS if f in names)
            layout = cls._layouts[names] = _Layout(ordered, cls.LIST_FIELDS)
        return layout

    def __getitem__(self, key: str) -> Any:
        if key not in self._layout.names:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.FIELDS:
            raise KeyError(key)
        setattr(self, key, value)
        if key not in self._layout.names:
            self._layout = self._layout_of(frozenset((*self._layout.names, key)))

    def __contains__(self, key: str) -> bool:
        return key in self._layout.names

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlottedRecord) and type(other) is type(self) and self.to_dict() == other.to_dict()

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, or ``default`` when it is not set."""
        return getattr(self, key) if key in self._layout.names else default

    def to_dict(self) -> dict[str, Any]:
        """A new dict of the fields that are set, in the API's order."""
        rendered: dict[str, Any] = self._layout.render(self)
        return rendered


_RECORD_CLASSES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], type[SlottedRecord]] = {}


def record_class(name: str, fields: tuple[str, ...], list_fields: tuple[str, ...] = ()) -> type[SlottedRecord]:
    """A slotted record class with exactly ``fields`` (in that order), made once per field set.

    The fields come from the spec's schema of the resource (see
    :meth:`Store.__init__`), so records cannot drift from the contract.
    """
    key = (name, fields, list_fields)
    made = _RECORD_CLASSES.get(key)
    if made is None:
        namespace = {"__slots__": fields, "FIELDS": fields, "LIST_FIELDS": list_fields, "__module__": __name__}
        made = _RECORD_CLASSES[key] = type(name, (SlottedRecord,), namespace)
    return made



class Collection:
    """Records by id, in insertion order, with O(page) paging.

    A removed record keeps its place in the order (a tombstone), so a page
    token that points at it still works. Page tokens carry positions, which
    saves an id-to-position index of the size of the collection. Tombstones
    are swept once they outnumber the live records (and at least
    :data:`_SWEEP_AFTER` of them exist), so a collection that churns never
    pages over a graveyard; a token issued before a sweep is found again by
    its last id (:meth:`position_of`).
    """

    __slots__ = ("items", "_order", "_removed")

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}  # dicts, or slotted records for the big collections
        self._order: list[str] = []
        self._removed: set[str] = set()  # keys whose tombstones are still in the order

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: str) -> Any:
        """The record with id ``key``, or ``None``."""
        return self.items.get(key)

    def add(self, key: str, record: Any) -> None:
        """Insert a record under a key that is not in use."""
        if key in self._removed:
            self._sweep()  # a key back from the dead must not appear twice in the order
        self.items[key] = record
        self._order.append(key)

    def remove(self, key: str) -> None:
        """Drop a record, keeping its place for page tokens until the next sweep."""
        if self.items.pop(key, None) is None:
            return
        self._removed.add(key)
        if len(self._removed) > _SWEEP_AFTER and len(self._removed) > len(self.items):
            self._sweep()

    def _sweep(self) -> None:
        items = self.items
        self._order = [key for key in self._order if key in items]
        self._removed.clear()

    def holds_at(self, position: int, key: str) -> bool:
        """True when ``key`` was added at ``position`` (so a page can start after it)."""
        return 0 <= position < len(self._order) and self._order[position] == key

    def key_at(self, position: int) -> str:
        """The key added at ``position`` (a page token names the last record it showed by its key)."""
        return self._order[position]

    def position_of(self, key: str) -> int | None:
        """Where ``key`` is in the order now, for a token issued before a sweep (a scan, but rare)."""
        if key not in self.items:
            return None
        return self._order.index(key)

    def page(
        self, after: int | None, size: int, keep: Callable[[Any], bool] | None = None
    ) -> tuple[list[Any], int | None]:
        """Up to ``size`` records after position ``after`` (those ``keep`` accepts), and where to continue."""
        out: list[Any] = []
        order, items = self._order, self.items
        i, n, last = (0 if after is None else after + 1), len(order), -1
        while i < n and len(out) < size:
            record = items.get(order[i])
            if record is not None and (keep is None or keep(record)):
                out.append(record)
                last = i
            i += 1
        # No token when nothing the list would show is left.
        while i < n and (order[i] not in items or (keep is not None and not keep(items[order[i]]))):
            i += 1
        return out, (last if i < n and out else None)


# Sweep tombstones only past this many, so small collections never pay for it.
_SWEEP_AFTER = 1024


class Clock:
    """Wall time, or with a seed a deterministic clock that ticks a second per call."""

    def __init__(self, seed: int | None) -> None:
        self.seeded = seed is not None
        self._last = _SEEDED_EPOCH

    def last(self) -> str:
        """The seeded clock's last tick, ISO 8601 with microseconds."""
        return self._last.isoformat()

    def set_last(self, moment: datetime) -> None:
        """Go on ticking from ``moment`` (a reloaded seeded tenant)."""
        self._last = moment.astimezone(_SEEDED_EPOCH.tzinfo)

    def now(self) -> str:
        """The current time as RFC 3339 with milliseconds, in UTC."""
        if self.seeded:
            self._last += timedelta(seconds=1)
            moment = self._last
        else:
            moment = datetime.now(UTC)
        return stamp(moment)


def stamp(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC with milliseconds, as every timestamp of the mock."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
    ) -> None:
        """``schemas``: the spec's component schemas; resources declared ``compact``
        store slotted records with the fields of their schema (less the computed
        ones), others store dicts. ``ingest_delay``: seconds before an ingested
        event is processed (``--ingest-delay``). ``field_rules``: checks a value
        against the spec's rule for one field of a component schema; the app hands
        it in when it wires the spec, so the domain never imports the validator."""
        self.lock = threading.RLock()
        self.registry = registry
        self.seed = seed
        self.schemas = schemas
        self.ingest_delay = ingest_delay
        self.field_rules = field_rules
        self.record_types: dict[str, type[SlottedRecord]] = {}
        for resource in registry:
            properties = (schemas or {}).get(resource.schema, {}).get("properties")
            if resource.compact and properties:
                fields = tuple(f for f in properties if f not in resource.computed)
                self.record_types[resource.name] = record_class(
                    f"{resource.schema}Record", fields, tuple(f for f in resource.list_fields if f in fields)
                )
        self.clear()

    def sibling(self) -> Store:
        """A new, empty store like this one: same registry, seed and record classes."""
        return Store(self.registry, self.seed, self.schemas, self.ingest_delay, self.field_rules)

    def field_problems(self, schema: str, name: str, value: Any, path: str) -> list[Violation]:
        """How ``value`` breaks the spec's rule for field ``name`` of ``schema`` (none without rules)."""
        return [] if self.field_rules is None else self.field_rules(schema, name, value, path)

    def new_record(self, resource: str, fields: dict[str, Any]) -> Any:
        """A stored record of ``resource``: slotted when it is compact, else a dict."""
        kind = self.record_types.get(resource)
        return kind(fields) if kind is not None else dict(fields)

    def clear(self) -> None:
        """Forget everything (ids and clock start again from the seed)."""
        self.rng = random.Random(self.seed)
        self.clock = Clock(self.seed)
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
        while True:
            head = "".join(self.rng.choices(_MIXED if scheme.mixed_case else _LOWER, k=scheme.first))
            new = f"{scheme.prefix}.{head}.{self._tail(scheme)}"
            if new not in self.reserved and (taken is None or taken.get(new) is None):
                return new

    def _tail(self, scheme: IdScheme) -> str:
        """The next sequence number, scrambled, as the second part of an id."""
        alphabet = _MIXED if scheme.mixed_case else _LOWER
        base = len(alphabet)
        self._sequence += 1
        n = (self._sequence * _SCRAMBLE + self._id_offset) % base**scheme.second
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
        head = "".join(self.rng.choices(_MIXED if scheme.mixed_case else _LOWER, k=scheme.first))
        out: list[str] = []
        while len(out) < count:
            new = f"{scheme.prefix}.{head}.{self._tail(scheme)}"
            if new not in self.reserved and (taken is None or taken.get(new) is None):
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
            }

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
