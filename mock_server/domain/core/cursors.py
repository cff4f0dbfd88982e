"""Page tokens in Togai's style: base64 of ``{"lastItemId", "pageSize", "sortOrder"}``,
plus the position of that item, so that paging needs no id-to-position index."""
from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from .errors import Invalid
from .store import Collection

DEFAULT_PAGE_SIZE = 10
# The largest page a request may ask for (the spec's pageSize maximum): a token cannot ask for more.
MAX_PAGE_SIZE = 100


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


def _resume(collection: Collection, next_token: str | None, page_size: int | None) -> tuple[int | None, int]:
    """Where a page starts (after this position of ``collection``; None: at the start) and its size."""
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
            # The token carries the size it was issued with; a forged one gets at most a full page.
            size = min(MAX_PAGE_SIZE, max(1, payload.get("pageSize", DEFAULT_PAGE_SIZE)))
    return after, size


def _finish(
    collection: Collection, records: list[Any], last: int | None, size: int, context: bool
) -> tuple[list[Any], dict[str, Any]]:
    extra: dict[str, Any] = {"context": {"pageSize": size, "sortOrder": "ASC"}} if context else {}
    if last is not None:
        extra["nextToken"] = encode_token(collection.key_at(last), last, size)
    return records, extra


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
    after, size = _resume(collection, next_token, page_size)
    if limit is not None:
        size = min(size, limit)
    records, last = collection.page(after, size, keep)
    return _finish(collection, records, last, size, context)


def paginate_positions(
    collection: Collection,
    positions: Sequence[int],
    next_token: str | None,
    page_size: int | None,
    *,
    context: bool = True,
    keep: Callable[[Any], bool] | None = None,
    limit: int | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """As :func:`paginate`, visiting only the records of ``collection`` at ``positions``.

    ``positions`` (ascending, no repeats) is what an index keeps of a
    filtered list: the places of the records it may show in the collection's
    order, so the page costs what the index lists, not the collection's size.
    Tokens are :func:`paginate`'s own (the collection's position and key of
    the last record shown), so a token of the unfiltered list goes on in a
    filtered one and the reverse. ``keep`` still applies: an index may list
    records the other filters leave out.
    """
    after, size = _resume(collection, next_token, page_size)
    if limit is not None:
        size = min(size, limit)
    out: list[Any] = []
    i, n, last = (0 if after is None else bisect_right(positions, after)), len(positions), -1
    while i < n and len(out) < size:
        record = collection.get(collection.key_at(positions[i]))
        if record is not None and (keep is None or keep(record)):
            out.append(record)
            last = positions[i]
        i += 1
    # No token when nothing the list would show is left (as Collection.page).
    while i < n:
        record = collection.get(collection.key_at(positions[i]))
        if record is not None and (keep is None or keep(record)):
            break
        i += 1
    return _finish(collection, out, last if i < n and out else None, size, context)


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
            size = min(MAX_PAGE_SIZE, max(1, payload.get("pageSize", DEFAULT_PAGE_SIZE)))
    page = items[start : start + size]
    extra: dict[str, Any] = {"context": {"pageSize": size, "sortOrder": "ASC"}} if context else {}
    if start + size < len(items):
        extra["nextToken"] = encode_token(page[-1]["id"], start + size - 1, size)
    return page, extra
