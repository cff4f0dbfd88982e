"""Observers: areas that react to what happens in areas below them, without those importing them.

The usage pipeline tells :func:`usage_changed` which accounts' usage it has
just counted; the billing engine tells :func:`clock_moved` after the clock
moved. An area above them (alerts) declares an :class:`Observer` and the
registry lists it (``Registry(observers=...)``), so the arrows of the layers
still point down only.

One hook asks rather than tells: :func:`credits_refused`, which the usage
pipeline calls while it meters an ``/ingest`` event, lets the ledger consume
the account's feature credits for it (Togai's
``INGESTION_FAILED_INSUFFICIENT_CREDITS`` when they run short).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store

# An event's attributes as events keep them: flat ``name, value, unit, ...`` (a unit may be None).
Attributes = tuple[str | None, ...]


@dataclass(frozen=True)
class Observer:
    """What one area wants to hear of: usage counted for some accounts, and a move of the clock."""

    name: str
    usage: Callable[[Store, frozenset[str]], None] | None = None  # accounts (ids or aliases as sent) counted
    clock: Callable[[Store], None] | None = None  # the clock moved (and the billing engine caught up)
    # An event being metered: (account id, schema name, its attributes) -> whether its credits were
    # consumed (True: nothing to consume, or consumed; False: they run short, and nothing was consumed).
    credits: Callable[[Store, str, str, Attributes], bool] | None = None
    # Whether ``credits`` may refuse or consume an event of this account (it holds credits at all): a request's
    # events of an account that holds none ask once, not per event.
    holds_credits: Callable[[Store, str], bool] | None = None


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


def credits_held(store: Store, account_id: str) -> bool:
    """Whether an observer that keeps credits holds some of ``account_id``'s (else :func:`credits_refused` is
    False for every event of it, and consumes nothing)."""
    for observer in store.registry.observers:
        holds = observer.holds_credits
        if observer.credits is not None and (holds is None or holds(store, account_id)):
            return True
    return False


def credits_refused(store: Store, account_id: str, schema_name: str, attributes: Attributes) -> bool:
    """Ask the observers that keep credits to consume an event's (the ledger's feature credits); True when one
    refused it: its credits run short (and none of its were consumed). ``attributes`` as events keep them:
    flat ``name, value, unit, ...`` (read only by an observer that needs them)."""
    for observer in store.registry.observers:
        if observer.credits is not None and not observer.credits(store, account_id, schema_name, attributes):
            return True
    return False
