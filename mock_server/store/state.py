"""The one place where state lives: collections, indexes, ids, clock, lock."""
from __future__ import annotations

import copy
import random
import string
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .registry import IdScheme, Registry

Record = dict[str, Any]

# Accounts are invoiced in the tenant's base currency unless they say otherwise.
BASE_CURRENCY = "USD"

# Seeded runs start their clock here, so the same seed gives the same timestamps.
_SEEDED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_LOWER = string.ascii_lowercase + string.digits
# Odd and prime to 3 and 31, hence to 36**k and 62**k: multiplying by it permutes the sequence.
_SCRAMBLE = 2_654_435_761
_MIXED = string.ascii_letters + string.digits


_ACCOUNT_FIELDS = (
    "id",
    "togaiAccountId",
    "customerId",
    "togaiCustomerId",
    "name",
    "status",
    "invoiceCurrency",
    "aliases",
    "netTermDays",
    "address",
    "primaryEmail",
    "billingInformation",
    "settings",
    "metadata",
    "tags",
)


_GROUP_FIELDS = (
    "id",
    "name",
    "email",
    "dailyInvoiceConsolidation",
    "netTermDays",
    "invoiceCurrency",
    "billingAddress",
    "createdAt",
    "updatedAt",
)


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


class AccountRecord(SlottedRecord):
    """An account (``invoiceGroupDetails`` is derived when rendered)."""

    __slots__ = _ACCOUNT_FIELDS
    FIELDS = _ACCOUNT_FIELDS
    LIST_FIELDS = ("aliases",)


class GroupRecord(SlottedRecord):
    """An invoice group (``accountsCount`` and ``accounts`` are derived when rendered)."""

    __slots__ = _GROUP_FIELDS
    FIELDS = _GROUP_FIELDS


class Collection:
    """Records by id, in insertion order, with O(page) paging.

    A removed record keeps its place in the order (a tombstone), so a page
    token that points at it still works. Page tokens carry positions, which
    saves an id-to-position index of the size of the collection.
    """

    __slots__ = ("items", "_order")

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}  # dicts, or slotted records for the big collections
        self._order: list[str] = []

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: str) -> Any:
        """The record with id ``key``, or ``None``."""
        return self.items.get(key)

    def add(self, key: str, record: Any) -> None:
        """Insert a record under a key this collection has never held."""
        self.items[key] = record
        self._order.append(key)

    def remove(self, key: str) -> None:
        """Drop a record, keeping its place for page tokens."""
        self.items.pop(key, None)

    def holds_at(self, position: int, key: str) -> bool:
        """True when ``key`` was added at ``position`` (so a page can start after it)."""
        return 0 <= position < len(self._order) and self._order[position] == key

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


class Clock:
    """Wall time, or with a seed a deterministic clock that ticks a second per call."""

    def __init__(self, seed: int | None) -> None:
        self.seeded = seed is not None
        self._last = _SEEDED_EPOCH

    def now(self) -> str:
        """The current time as RFC 3339 with milliseconds, in UTC."""
        if self.seeded:
            self._last += timedelta(seconds=1)
            moment = self._last
        else:
            moment = datetime.now(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Store:
    """All of one tenant's state: a collection per registered resource, their
    indexes, the id generator and the clock. The rules live in the resource
    modules; what applies to every resource (reset, snapshot, export) is here
    and iterates the registry."""

    def __init__(self, registry: Registry, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.registry = registry
        self.seed = seed
        self.clear()

    def clear(self) -> None:
        """Forget everything (ids and clock start again from the seed)."""
        self.rng = random.Random(self.seed)
        self.clock = Clock(self.seed)
        self.collections: dict[str, Collection] = {r.name: Collection() for r in self.registry}
        self.indexes: dict[str, dict[str, Any]] = {name: {} for name in self.registry.indexes()}
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
        base = len(alphabet)
        while True:
            self._sequence += 1
            n = (self._sequence * _SCRAMBLE + self._id_offset) % base**scheme.second
            tail = []
            for _ in range(scheme.second):
                n, digit = divmod(n, base)
                tail.append(alphabet[digit])
            head = "".join(self.rng.choices(alphabet, k=scheme.first))
            new = f"{scheme.prefix}.{head}.{''.join(tail)}"
            if new not in self.reserved and (taken is None or taken.get(new) is None):
                return new

    def counts(self) -> dict[str, int]:
        """How many records each resource holds."""
        return {name: len(collection) for name, collection in self.collections.items()}

    def export(self) -> dict[str, Any]:
        """The whole tenant as plain JSON data, in the API's shapes."""
        with self.lock:
            return copy.deepcopy(
                {
                    r.name: [r.to_json(self, record) for record in self.collections[r.name].items.values()]
                    for r in self.registry
                }
            )

    _STATE_FIELDS = ("rng", "clock", "collections", "indexes", "reserved", "_sequence", "_id_offset")

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state, for :meth:`restore`."""
        with self.lock:
            return copy.deepcopy({name: self.__dict__[name] for name in self._STATE_FIELDS})

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Go back to a :meth:`snapshot` (which stays reusable)."""
        fresh = copy.deepcopy(snapshot)
        with self.lock:
            self.__dict__.update(fresh)
