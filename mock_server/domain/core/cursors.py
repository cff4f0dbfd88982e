"""Page tokens in Togai's style: base64 of ``{"lastItemId", "pageSize", "sortOrder"}``,
plus the position of that item, so that paging needs no id-to-position index."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from .errors import Invalid
from .store import Collection

DEFAULT_PAGE_SIZE = 10


def encode_token(last_id: str, position: int, page_size: int) -> str:
    """The opaque ``nextToken`` that continues after ``last_id`` (at ``position``)."""
    payload = {"lastItemId": last_id, "position": position, "pageSize": page_size, "sortOrder": "ASC"}
    return base64.b64encode(json.dumps(payload).encode()).decode("ascii")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
    except (binascii.Error, ValueError, UnicodeError, RecursionError):
        payload = None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("lastItemId"), str)
        or type(payload.get("position")) is not int
        or not isinstance(payload.get("pageSize", DEFAULT_PAGE_SIZE), int)
    ):
        raise Invalid.at("nextToken", "is not a page token issued by this server")
    return payload


def paginate(
    collection: Collection,
    next_token: str | None,
    page_size: int | None,
    *,
    context: bool = True,
    keep: Callable[[Any], bool] | None = None,
    limit: int | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """One page of ``collection`` and the rest of the paginated response.

    ``context`` (page size and order) is only added where Togai's response
    schema has it: some of its paginated responses are closed without it.
    ``keep`` (a list's query filters) leaves other records out, and a page
    token may then point at any record. ``limit`` caps the page size where
    the response schema caps its items.
    """
    after = None
    size = page_size or DEFAULT_PAGE_SIZE
    if next_token:  # empty: the first page
        payload = _decode_token(next_token)
        after = payload["position"]
        if not collection.holds_at(after, payload["lastItemId"]):
            # Tombstones may have been swept since the token was issued.
            found = collection.position_of(payload["lastItemId"])
            if found is None:
                raise Invalid.at("nextToken", "does not point into this list")
            after = found
        if page_size is None:
            # The token carries the size it was issued with; a forged one can at
            # most ask for the whole list.
            size = max(1, payload.get("pageSize", DEFAULT_PAGE_SIZE))
    if limit is not None:
        size = min(size, limit)
    records, last = collection.page(after, size, keep)
    extra: dict[str, Any] = {"context": {"pageSize": size, "sortOrder": "ASC"}} if context else {}
    if last is not None:
        extra["nextToken"] = encode_token(collection.key_at(last), last, size)
    return records, extra


def page_of(
    items: list[Any], next_token: str | None, page_size: int | None, *, context: bool = False
) -> tuple[list[Any], dict[str, Any]]:
    """One page of a short list held inside a record (an account's schedules, a job's entries).

    Tokens are those of :func:`paginate`: the last item's id and position.
    """
    start, size = 0, page_size or DEFAULT_PAGE_SIZE
    if next_token:
        payload = _decode_token(next_token)
        position = payload["position"]
        if not (0 <= position < len(items) and items[position]["id"] == payload["lastItemId"]):
            raise Invalid.at("nextToken", "does not point into this list")
        start = position + 1
        if page_size is None:
            size = max(1, payload.get("pageSize", DEFAULT_PAGE_SIZE))
    page = items[start : start + size]
    extra: dict[str, Any] = {"context": {"pageSize": size, "sortOrder": "ASC"}} if context else {}
    if start + size < len(items):
        extra["nextToken"] = encode_token(page[-1]["id"], start + size - 1, size)
    return page, extra
