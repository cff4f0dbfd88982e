"""A bounded record of what came in and what went out.

The hot path only appends a small tuple-like entry; the JSON view (with the
bodies decoded) is built when a client asks for it. Each entry keeps at most
64 KiB of each body and 16 KiB of request headers, and says what it cut.
"""
from __future__ import annotations

import json
import math
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import Violation
from .validation.body import deeper_than

_BODY_LIMIT = 64 * 1024
_HEADERS_LIMIT = 16 * 1024
# Never shown in clear (credentials as "Bearer ***"): anyone who can call /__mock reads the journal.
_CREDENTIALS = frozenset({b"authorization", b"proxy-authorization"})
_SECRETS = frozenset({b"cookie", b"x-api-key"})


@dataclass(slots=True)
class Entry:
    """One request and its answer."""

    id: int
    time: float
    method: str
    path: str
    query: str
    headers: list[tuple[bytes, bytes]]  # as the server gave them (at most 16 KiB); decoded when shown
    request_body: bytes  # at most 64 KiB
    status: int
    operation_id: str | None
    duration_ms: float
    response_body: bytes  # the JSON sent, at most 64 KiB
    violations: list[Violation] | None
    override: str | None
    truncated: tuple[str, ...] = ()  # which of requestHeaders, requestBody, responseBody were cut
    rejected_by: str | None = None  # the stage that refused the request (X-Mock-Rejected-By)

    def to_json(self) -> dict[str, Any]:
        """The entry as ``GET /__mock/requests`` shows it."""
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat().replace("+00:00", "Z"),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operationId": self.operation_id,
            "status": self.status,
            "durationMs": round(self.duration_ms, 3),
            "requestHeaders": {k.decode("latin-1"): _masked(k, v) for k, v in self.headers},
            "requestBody": _decode(self.request_body, "requestBody" in self.truncated),
            "responseBody": _decode(self.response_body, "responseBody" in self.truncated),
            "violations": [str(v) for v in self.violations or ()],
            "override": self.override,
            "truncated": list(self.truncated),
            "rejectedBy": self.rejected_by,
        }


def _masked(name: bytes, value: bytes) -> str:
    """A header as the journal shows it: credentials never in clear (``Bearer ***``)."""
    text = value.decode("latin-1")
    if name in _CREDENTIALS:
        scheme, sep, _ = text.strip().partition(" ")
        return f"{scheme} ***" if sep else "***"
    if name in _SECRETS:
        return "***"
    return text


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


# Strict JSON, as a client's parser takes it: no NaN, Infinity or 1e400. The
# journal, the drift report and the proxy's check all decode with it, so what
# they show stays valid JSON.
STRICT_JSON = json.JSONDecoder(parse_constant=_refuse, parse_float=_finite)


def _decode(raw: bytes, cut: bool) -> Any:
    """A body as JSON when it is complete and parses, else as text; None when empty."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if cut:
        return text
    try:
        value = STRICT_JSON.decode(text)
    except (ValueError, RecursionError):
        return text
    return text if deeper_than(value) else value  # the listing must encode it


def _bounded_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]] | None:
    """The headers up to :data:`_HEADERS_LIMIT` bytes, or None when all fit."""
    total = 0
    for i, (name, value) in enumerate(headers):
        total += len(name) + len(value)
        if total > _HEADERS_LIMIT:
            return headers[:i]
    return None


class Journal:
    """The newest ``size`` entries, oldest first."""

    def __init__(self, size: int) -> None:
        self._entries: deque[Entry] = deque(maxlen=max(size, 0))
        self._next = 1
        self._lock = threading.Lock()

    def record(
        self, *, headers: list[tuple[bytes, bytes]], request_body: bytes, response_body: bytes, **fields: Any
    ) -> None:
        """Append an entry (the oldest falls off when full), cutting what is too large to keep."""
        truncated = []
        kept = _bounded_headers(headers)
        if kept is not None:
            headers = kept
            truncated.append("requestHeaders")
        if len(request_body) > _BODY_LIMIT:
            request_body = request_body[:_BODY_LIMIT]
            truncated.append("requestBody")
        if len(response_body) > _BODY_LIMIT:
            response_body = response_body[:_BODY_LIMIT]
            truncated.append("responseBody")
        with self._lock:
            self._entries.append(Entry(
                id=self._next, headers=headers, request_body=request_body, response_body=response_body,
                truncated=tuple(truncated), **fields,
            ))
            self._next += 1

    def entries(self) -> list[dict[str, Any]]:
        """Every kept entry as JSON data."""
        with self._lock:
            kept = list(self._entries)
        return [e.to_json() for e in kept]

    def page(self, after: int = 0, limit: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """The newest ``limit`` entries with an id above ``after`` (oldest first), and the oldest kept id.

        A dashboard polling with the last id it has gets only what is new, and
        sees from the oldest id which of its entries were cleared or pushed out.
        """
        with self._lock:
            oldest = self._entries[0].id if self._entries else None
            kept: list[Entry] = []
            for entry in reversed(self._entries):  # newest first: stop at the first one already seen
                if entry.id <= after or (limit is not None and len(kept) >= limit):
                    break
                kept.append(entry)
        return [e.to_json() for e in reversed(kept)], oldest

    def adopt(self, other: Journal) -> None:
        """Continue ``other``'s entries and ids (a ``--watch`` reload keeps the journal)."""
        with other._lock:
            entries, next_id = list(other._entries), other._next
        with self._lock:
            self._entries.extend(entries)
            self._next = max(self._next, next_id)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
