"""A collection of records by id, in insertion order, with O(page) paging."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


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

    def rename(self, key: str, new_key: str) -> None:
        """Give the record under ``key`` the unused ``new_key``, in the same place of the order.

        Indexes that hold positions stay right (a fixture pins a server-made id this way).
        """
        record = self.items.pop(key)
        if new_key in self._removed:
            self._sweep()
        self.items[new_key] = record
        self._order[self._order.index(key)] = new_key  # a scan, but of fixture loading only

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

    def append(self, key: str, record: Any) -> int:
        """Add a record of a collection nothing is removed from; its position in the order.

        Owner indexes of such collections (an account's credits, a wallet's entries) keep positions,
        which page tokens name; a new record is the last of the order, found by a scan only if a
        removal ever made that untrue.
        """
        self.add(key, record)
        place = len(self) - 1
        return place if self.holds_at(place, key) else (self.position_of(key) or 0)

    def push(self, key: str, record: Any) -> int:
        """:meth:`append`, for a key known to be unused, at the cost of two appends when nothing was ever
        removed (ingestion stores every event this way)."""
        if self._removed:
            return self.append(key, record)
        self.items[key] = record
        order = self._order
        order.append(key)
        return len(order) - 1

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
