"""Observers: areas that react to what happens in areas below them, without those importing them.

The usage pipeline tells :func:`usage_changed` which accounts' usage it has
just counted; the billing engine tells :func:`clock_moved` after the clock
moved. An area above them (alerts) declares an :class:`Observer` and the
registry lists it (``Registry(observers=...)``), so the arrows of the layers
still point down only.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store


@dataclass(frozen=True)
class Observer:
    """What one area wants to hear of: usage counted for some accounts, and a move of the clock."""

    name: str
    usage: Callable[[Store, frozenset[str]], None] | None = None  # accounts (ids or aliases as sent) counted
    clock: Callable[[Store], None] | None = None  # the clock moved (and the billing engine caught up)


def usage_changed(store: Store, accounts: Iterable[str]) -> None:
    """Tell the observers that usage of ``accounts`` was counted (or taken back)."""
    observers = store.registry.observers
    if not observers:
        return
    touched = frozenset(accounts)
    if not touched:
        return
    for observer in observers:
        if observer.usage is not None:
            observer.usage(store, touched)


def clock_moved(store: Store) -> None:
    """Tell the observers that the clock moved (the billing engine processed what fell due)."""
    for observer in store.registry.observers:
        if observer.clock is not None:
            observer.clock(store)
