"""Finding the record a request names, or saying it does not exist."""
from __future__ import annotations

from typing import Any

from .errors import NotFound
from .store import Store


def require(store: Store, collection: str, key: str, field: str, what: str) -> Any:
    """The record of ``collection`` with id ``key``, or a :class:`NotFound` naming ``field``.

    ``what`` is how one record is called in the message (``no account with id 'X'``).
    """
    record = store.collections[collection].get(key)
    if record is None:
        raise NotFound.at(field, f"no {what} with id {key!r}")
    return record
