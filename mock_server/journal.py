"""A bounded record of what came in and what went out.

The hot path only appends a small tuple-like entry; the JSON view (with the
request body decoded) is built when a client asks for it.
"""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import Violation

_BODY_LIMIT = 64 * 1024
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
    headers: list[tuple[bytes, bytes]]  # as the server gave them; decoded when shown
    request_body: bytes
    status: int
    operation_id: str | None
    duration_ms: float
    response_body: Any
    violations: list[Violation] | None
    override: str | None

    def to_json(self) -> dict[str, Any]:
        """The entry as ``GET /__mock/requests`` shows it."""
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, timezone.utc).isoformat().replace("+00:00", "Z"),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "operationId": self.operation_id,
            "status": self.status,
            "durationMs": round(self.duration_ms, 3),
            "requestHeaders": {k.decode("latin-1"): _masked(k, v) for k, v in self.headers},
            "requestBody": _decode(self.request_body),
            "responseBody": self.response_body,
            "violations": [str(v) for v in self.violations or ()],
            "override": self.override,
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


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw[:_BODY_LIMIT].decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


class Journal:
    """The newest ``size`` entries, oldest first."""

    def __init__(self, size: int) -> None:
        self._entries: deque[Entry] = deque(maxlen=max(size, 0))
        self._next = 1
        self._lock = threading.Lock()

    def record(self, **fields: Any) -> None:
        """Append an entry (the oldest falls off when full)."""
        with self._lock:
            self._entries.append(Entry(id=self._next, **fields))
            self._next += 1

    def entries(self) -> list[dict[str, Any]]:
        """Every kept entry as JSON data."""
        with self._lock:
            kept = list(self._entries)
        return [e.to_json() for e in kept]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
