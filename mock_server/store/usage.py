"""Usage aggregates: the hook ingestion calls (a placeholder).

H1b builds the real module (pre-aggregated usage for ``POST /metrics``);
until it is merged, counting does nothing.
"""
from __future__ import annotations

from typing import Any

from .state import Store


def count_event(store: Store, event: Any, sign: int) -> None:
    """Count an event whose outcome is final (``sign=+1``) or stop counting it (``-1``)."""

