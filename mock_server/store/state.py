"""The one place where state lives: collections, indexes, ids, clock, lock."""
from __future__ import annotations

import copy
import random
import string
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

Record = dict[str, Any]

# Seeded runs start their clock here, so the same seed gives the same timestamps.
_SEEDED_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
_LOWER = string.ascii_lowercase + string.digits
_MIXED = string.ascii_letters + string.digits


class Collection:
    """Records by id, in insertion order, with O(page) paging.

    A removed record keeps its place in the order (a tombstone), so a page
    token that points at it still works. Page tokens carry positions, which
    saves an id-to-position index of the size of the collection.
    """

    __slots__ = ("items", "_order")

    def __init__(self) -> None:
        self.items: dict[str, Record] = {}
        self._order: list[str] = []

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: str) -> Record | None:
        """The record with id ``key``, or ``None``."""
        return self.items.get(key)

    def add(self, key: str, record: Record) -> None:
        """Insert a record under a key this collection has never held."""
        self.items[key] = record
        self._order.append(key)

    def remove(self, key: str) -> None:
        """Drop a record, keeping its place for page tokens."""
        self.items.pop(key, None)

    def holds_at(self, position: int, key: str) -> bool:
        """True when ``key`` was added at ``position`` (so a page can start after it)."""
        return 0 <= position < len(self._order) and self._order[position] == key

    def page(self, after: int | None, size: int) -> tuple[list[Record], int | None]:
        """Up to ``size`` records after position ``after``, and the position to continue from."""
        out: list[Record] = []
        order, items = self._order, self.items
        i, n, last = (0 if after is None else after + 1), len(order), -1
        while i < n and len(out) < size:
            record = items.get(order[i])
            if record is not None:
                out.append(record)
                last = i
            i += 1
        while i < n and order[i] not in items:
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
            moment = datetime.now(timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Store:
    """All of the tenant's state; see the resource modules for the rules."""

    def __init__(self, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.clear()

    def clear(self) -> None:
        """Forget everything (ids and clock start again from the seed)."""
        self.rng = random.Random(self.seed)
        self.clock = Clock(self.seed)
        self.customers = Collection()
        self.accounts = Collection()
        self.groups = Collection()
        self.customer_accounts: dict[str, list[str]] = {}
        self.alias_owner: dict[str, str] = {}
        self.account_group: dict[str, str] = {}
        self.group_members: dict[str, dict[str, None]] = {}
        self._issued_ids: set[str] = set()

    def new_id(self, prefix: str, first: int, second: int, alphabet: str = _LOWER) -> str:
        """A Togai-looking id such as ``account.k3j9x2qa.7fz1m``; unique in this store."""
        pick = self.rng.choices
        while True:
            candidate = f"{prefix}.{''.join(pick(alphabet, k=first))}.{''.join(pick(alphabet, k=second))}"
            if candidate not in self._issued_ids:
                self._issued_ids.add(candidate)
                return candidate

    def reserve_id(self, value: str) -> None:
        """Mark an id as taken so that :meth:`new_id` never issues it."""
        self._issued_ids.add(value)

    def new_group_id(self) -> str:
        """An invoice group id in Togai's shape (``inv_group.20rvWRxQcQK.0ZwPG``)."""
        return self.new_id("inv_group", 11, 5, _MIXED)

    def join_group(self, account_id: str, group_id: str) -> None:
        """Record that an account now belongs to a group."""
        self.account_group[account_id] = group_id
        self.group_members.setdefault(group_id, {})[account_id] = None

    def leave_group(self, account_id: str, now: str) -> None:
        """Take an account out of its group; a group left empty is deleted."""
        group_id = self.account_group.pop(account_id, None)
        if group_id is None:
            return
        members = self.group_members[group_id]
        del members[account_id]
        if members:
            self.groups.items[group_id]["updatedAt"] = now
        else:
            del self.group_members[group_id]
            self.groups.remove(group_id)

    def export(self) -> dict[str, Any]:
        """The whole tenant as plain JSON data, in the API's shapes."""
        with self.lock:
            groups = [
                {**g, "accounts": list(self.group_members.get(g["id"], {}))}
                for g in self.groups.items.values()
            ]
            return copy.deepcopy(
                {
                    "customers": list(self.customers.items.values()),
                    "accounts": list(self.accounts.items.values()),
                    "invoiceGroups": groups,
                }
            )

    _STATE_FIELDS = (
        "rng",
        "clock",
        "customers",
        "accounts",
        "groups",
        "customer_accounts",
        "alias_owner",
        "account_group",
        "group_members",
        "_issued_ids",
    )

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the whole state, for :meth:`restore`."""
        with self.lock:
            return copy.deepcopy({name: self.__dict__[name] for name in self._STATE_FIELDS})

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Go back to a :meth:`snapshot` (which stays reusable)."""
        fresh = copy.deepcopy(snapshot)
        with self.lock:
            self.__dict__.update(fresh)
