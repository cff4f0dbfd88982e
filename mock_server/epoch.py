"""Reset is a clean cut: a request belongs to the tenant it started in.

``POST /__mock/reset`` and ``PUT /__mock/state`` start a new epoch. A request
that started in an older one (say, waiting in an override delay) is not
applied to the new tenant, nor journaled in the new journal.
"""
from __future__ import annotations


class Epoch:
    """A counter bumped by every reset and state import."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def bump(self) -> None:
        """Start a new epoch; requests that started before it no longer count."""
        self.value += 1
