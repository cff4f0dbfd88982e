"""A bounded record of what came in and what went out, and how to find requests in it.

The hot path only appends a small tuple-like entry; the JSON view (with the
bodies decoded) is built when a client asks for it. Each entry keeps at most
64 KiB of each body and 16 KiB of request headers, and says what it cut.

A :class:`Matcher` (``POST /__mock/requests/find``, ``count``, ``near-misses``;
an override's ``match``) compares requests as the journal shows them:
credentials masked, bodies decoded. A part the journal cut cannot match.
"""
from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Final
from urllib.parse import parse_qsl

from .errors import ApiError, Violation
from .pathtemplate import PathTemplate, parse_template
from .validation.body import MAX_DEPTH, deeper_than

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
    cost: int = 0  # the bytes it holds, counted once for the journals' budget

    def body_value(self) -> Any:
        """The request body as the journal shows it: JSON, text when cut or not JSON, None when empty."""
        return _decode(self.request_body, "requestBody" in self.truncated)

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


def decode_body(raw: bytes) -> Any:
    """A whole request body as matchers and templates see it: JSON when it parses, else text; None when empty."""
    return _decode(raw, False)


def _header_bytes(headers: list[tuple[bytes, bytes]]) -> int:
    """The bytes of the headers' names and values (counted in C: no frame per header)."""
    return sum(map(len, chain.from_iterable(headers)))


def _bounded_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]] | None:
    """The headers up to :data:`_HEADERS_LIMIT` bytes, or None when all fit."""
    total = 0
    for i, (name, value) in enumerate(headers):
        total += len(name) + len(value)
        if total > _HEADERS_LIMIT:
            return headers[:i]
    return None


# -- matching ---------------------------------------------------------------------
# Near misses listed for an assertion message, and failed parts named per request.
NEAR_MISSES = 5
_FAILURES_SHOWN = 10


class _Absent:
    """No ``body`` in a matcher (``null`` means "an empty body")."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


def shown_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Request headers as the journal shows them: lower-case names, credentials masked."""
    return [(k.decode("latin-1").lower(), _masked(k.lower(), v)) for k, v in headers]


def query_failures(expected: Mapping[str, str], query: str) -> list[str]:
    """The ``query.NAME`` parts of ``expected`` that the raw query string lacks (any of a repeated name may match)."""
    if not expected:
        return []
    pairs = set(parse_qsl(query, keep_blank_values=True))
    return [f"query.{name}" for name, value in expected.items() if (name, value) not in pairs]


def header_failures(expected: Mapping[str, str], headers: Sequence[tuple[str, str]]) -> list[str]:
    """The ``headers.NAME`` parts of ``expected`` (lower-case names) that ``headers`` (as shown) lack."""
    if not expected:
        return []
    present = set(headers)
    return [f"headers.{name}" for name, value in expected.items() if (name, value) not in present]


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``, arrays and objects compare whole."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b


def body_failures(expected: Any, actual: Any, where: str = "body") -> list[str]:
    """Where ``actual`` is not a superset of ``expected``: every key given must be there with
    an equal value, recursively into objects; anything else (arrays included) must be equal."""
    if isinstance(expected, dict) and expected:
        if not isinstance(actual, dict):
            return [where]
        failed: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                failed.append(f"{where}.{key}")
            else:
                failed += body_failures(value, actual[key], f"{where}.{key}")
        return failed
    return [] if same_json(expected, actual) else [where]


def check_matcher_body(body: Any, where: str) -> None:
    """Refuse (400) a ``body`` to match that the validators would not take from a request either."""
    if deeper_than(body):
        raise ApiError.of(400, where, f"is nested more than {MAX_DEPTH} levels deep")


@dataclass(frozen=True, slots=True)
class Matcher:
    """What ``POST /__mock/requests/find`` looks for: each part given must match."""

    spec: dict[str, Any]  # as given, for messages
    method: str | None = None
    template: PathTemplate | None = None
    operation_id: str | None = None
    status: int | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: Any = ABSENT

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> Matcher:
        """A matcher from a schema-valid ``RequestMatcher``; a 400 naming the field when a part cannot match."""
        path = spec.get("path")
        body = spec.get("body", ABSENT)
        if body is not ABSENT:
            check_matcher_body(body, "body")
        return cls(
            spec=spec,
            method=spec["method"].upper() if "method" in spec else None,
            template=parse_template(path) if path is not None else None,
            operation_id=spec.get("operationId"),
            status=spec.get("status"),
            query=dict(spec.get("query", {})),
            headers={k.lower(): v for k, v in spec.get("headers", {}).items()},
            body=body,
        )

    def failures(self, entry: Entry) -> list[str]:
        """The parts of the matcher ``entry`` fails (empty: it matches), cheapest checks first."""
        failed: list[str] = []
        if self.method is not None and entry.method != self.method:
            failed.append("method")
        # The journal keeps the decoded path: split it, do not decode again.
        if self.template is not None and not self.template.matches(entry.path.split("/")[1:]):
            failed.append("path")
        if self.operation_id is not None and entry.operation_id != self.operation_id:
            failed.append("operationId")
        if self.status is not None and entry.status != self.status:
            failed.append("status")
        failed += query_failures(self.query, entry.query)
        failed += header_failures(self.headers, shown_headers(entry.headers))
        if self.body is not ABSENT:
            failed += body_failures(self.body, entry.body_value())
        return failed[:_FAILURES_SHOWN]


# Bytes every journal of a server shares (--journal-bytes): past it, the oldest entries of all
# tenants go first. An entry costs its kept bodies and headers plus this much for the rest.
DEFAULT_JOURNAL_BYTES = 128 * 1024 * 1024
_ENTRY_OVERHEAD = 512


# A journal keeps each entry as a plain tuple of Entry's fields, in their order (made on every request
# without a call), and makes the Entry when it is read.
_Row = tuple[Any, ...]
_FIELDS = [f.name for f in fields(Entry)]
_ID, _COST = _FIELDS.index("id"), _FIELDS.index("cost")


class JournalBudget:
    """Memory shared by every tenant's journal: the oldest entries, whichever tenant's, are dropped first.

    Each journal counts its own bytes; the budget keeps the order entries
    arrived in across journals, so that going over the limit drops the
    globally oldest. The budget and its journals share one lock: a request
    takes it once, and there is no lock order to keep.
    """

    def __init__(self, limit: int = DEFAULT_JOURNAL_BYTES) -> None:
        self.limit = limit
        self.used = 0  # bytes of the entries kept, all journals
        self.kept = 0  # entries kept, all journals
        self._arrivals: deque[tuple[Journal, int]] = deque()  # (journal, entry id), oldest first
        self._lock = threading.Lock()

    def added(self, journal: Journal, entry_id: int, cost: int, fell: int = 0, fell_id: int = 0) -> None:
        """``journal`` kept an entry of ``cost`` bytes (and dropped its own oldest, ``fell_id`` of ``fell``
        bytes, when it was full): drop the oldest of all until the total fits."""
        with self._lock:
            self._account(journal, entry_id, cost, fell, fell_id)

    def _account(self, journal: Journal, entry_id: int, cost: int, fell: int, fell_id: int) -> None:
        """:meth:`added`, the lock held."""
        arrivals = self._arrivals
        if fell:
            self.used += cost - fell
            # The arrivals of what the journal dropped itself, when they come first (one tenant: always),
            # go now rather than in a sweep: a journal drops its oldest first, so they are those of its
            # ids up to the one that fell.
            while arrivals and arrivals[0][0] is journal and arrivals[0][1] <= fell_id:
                arrivals.popleft()
        else:
            self.used += cost
            self.kept += 1
        arrivals.append((journal, entry_id))
        if self.used > self.limit or len(arrivals) > 2 * self.kept + 64:
            self._enforce()

    def _enforce(self) -> None:
        """Drop the oldest of all until the total fits; sweep stale arrivals (the lock held)."""
        arrivals = self._arrivals
        while self.used > self.limit and arrivals:
            owner, oldest = arrivals.popleft()
            freed = owner.drop_oldest_locked(oldest)
            if freed:
                self.used -= freed
                self.kept -= 1
        if len(arrivals) > 2 * self.kept + 64:
            # Entries their journals dropped themselves (full, cleared) leave arrivals behind:
            # swept now and then, so the cost stays a constant per entry. A journal drops its
            # oldest first, so an arrival is stale exactly when its id is below its journal's first.
            firsts: dict[Journal, int] = {}
            for owner, _ in arrivals:
                if owner not in firsts:
                    firsts[owner] = owner.first_id_locked()
            self._arrivals = deque(a for a in arrivals if a[1] >= firsts[a[0]])

    def released(self, cost: int, count: int) -> None:
        """A journal dropped ``count`` entries of ``cost`` bytes by itself (full, or cleared)."""
        with self._lock:
            self.used -= cost
            self.kept -= count


class Journal:
    """The newest ``size`` entries, oldest first, within a byte budget shared with the other tenants."""

    def __init__(self, size: int, budget: JournalBudget | None = None) -> None:
        self._entries: deque[_Row] = deque(maxlen=max(size, 0))
        self._next = 1
        self._bytes = 0
        self.budget = budget if budget is not None else JournalBudget()
        self._lock = self.budget._lock  # one lock for the budget and all its journals

    def holds(self, entry_id: int) -> bool:
        """Whether the entry with this id is still kept."""
        with self._lock:
            return bool(self._entries) and self._entries[0][_ID] <= entry_id < self._next

    def first_id(self) -> int:
        """The id of the oldest entry kept (the next id when none is)."""
        with self._lock:
            return self.first_id_locked()

    def first_id_locked(self) -> int:
        """:meth:`first_id`, the (budget's) lock held."""
        return self._entries[0][_ID] if self._entries else self._next

    def drop_oldest_if(self, entry_id: int) -> int:
        """Drop the oldest entry if it is ``entry_id`` (the budget's oldest); the bytes it freed."""
        with self._lock:
            return self.drop_oldest_locked(entry_id)

    def drop_oldest_locked(self, entry_id: int) -> int:
        """:meth:`drop_oldest_if`, the (budget's) lock held."""
        if not self._entries or self._entries[0][_ID] != entry_id:
            return 0  # already gone
        cost: int = self._entries.popleft()[_COST]
        self._bytes -= cost
        return cost

    def record(
        self, *, time: float, method: str, path: str, query: str, headers: list[tuple[bytes, bytes]],
        request_body: bytes, status: int, operation_id: str | None, duration_ms: float, response_body: bytes,
        violations: list[Violation] | None, override: str | None, rejected_by: str | None = None,
        header_bytes: int | None = None,
    ) -> None:
        """Append an entry (the oldest falls off when full), cutting what is too large to keep.

        ``header_bytes``: the headers' names and values in bytes, when the caller counted them already.
        """
        self.add(time, method, path, query, headers, header_bytes, request_body, status, operation_id, duration_ms,
                 response_body, violations, override, rejected_by)

    def add(
        self, time: float, method: str, path: str, query: str, headers: list[tuple[bytes, bytes]],
        header_bytes: int | None, request_body: bytes, status: int, operation_id: str | None, duration_ms: float,
        response_body: bytes, violations: list[Violation] | None, override: str | None, rejected_by: str | None,
    ) -> None:
        """:meth:`record` with positional arguments: the pipeline's call, on every request."""
        entries = self._entries
        if entries.maxlen == 0:
            return
        truncated: tuple[str, ...] = ()
        if header_bytes is None:
            header_bytes = _header_bytes(headers)
        if header_bytes > _HEADERS_LIMIT:
            kept = _bounded_headers(headers)
            if kept is not None:
                headers = kept
                header_bytes = _header_bytes(headers)
                truncated += ("requestHeaders",)
        if len(request_body) > _BODY_LIMIT:
            request_body = request_body[:_BODY_LIMIT]
            truncated += ("requestBody",)
        if len(response_body) > _BODY_LIMIT:
            response_body = response_body[:_BODY_LIMIT]
            truncated += ("responseBody",)
        cost = len(request_body) + len(response_body) + header_bytes + _ENTRY_OVERHEAD
        fell = fell_id = 0
        with self._lock:  # the budget's: one lock for both
            entry_id = self._next
            self._next = entry_id + 1
            if len(entries) == entries.maxlen:  # the oldest falls off this journal
                oldest = entries[0]
                fell, fell_id = oldest[_COST], oldest[_ID]
            # A row in Entry's field order.
            entries.append((entry_id, time, method, path, query, headers, request_body, status, operation_id,
                            duration_ms, response_body, violations, override, truncated, rejected_by, cost))
            self._bytes += cost - fell
            self.budget._account(self, entry_id, cost, fell, fell_id)

    def entries(self) -> list[dict[str, Any]]:
        """Every kept entry as JSON data."""
        with self._lock:
            kept = list(self._entries)
        return [Entry(*row).to_json() for row in kept]

    def page(self, after: int = 0, limit: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """The newest ``limit`` entries with an id above ``after`` (oldest first), and the oldest kept id.

        A dashboard polling with the last id it has gets only what is new, and
        sees from the oldest id which of its entries were cleared or pushed out.
        """
        with self._lock:
            oldest = self._entries[0][_ID] if self._entries else None
            kept: list[_Row] = []
            for row in reversed(self._entries):  # newest first: stop at the first one already seen
                if row[_ID] <= after or (limit is not None and len(kept) >= limit):
                    break
                kept.append(row)
        return [Entry(*row).to_json() for row in reversed(kept)], oldest

    def _kept(self) -> list[Entry]:
        with self._lock:
            rows = list(self._entries)
        return [Entry(*row) for row in rows]

    def find(
        self, matcher: Matcher, after: int = 0, before: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The entries ``matcher`` matches, newest first: ids above ``after`` and below ``before``, at most ``limit``.

        A client pages back in time by passing the last id it got as ``before``.
        """
        found: list[dict[str, Any]] = []
        for entry in reversed(self._kept()):
            if entry.id <= after or (limit is not None and len(found) >= limit):
                break
            if (before is None or entry.id < before) and not matcher.failures(entry):
                found.append(entry.to_json())
        return found

    def count(self, matcher: Matcher) -> int:
        """How many kept entries ``matcher`` matches."""
        return sum(1 for entry in self._kept() if not matcher.failures(entry))

    def near_misses(self, matcher: Matcher, limit: int = NEAR_MISSES) -> list[dict[str, Any]]:
        """The entries ``matcher`` fails on the fewest parts (newest first among equals), with those parts."""
        misses = [(failed, entry) for entry in self._kept() if (failed := matcher.failures(entry))]
        misses.sort(key=lambda miss: (len(miss[0]), -miss[1].id))
        return [{"request": entry.to_json(), "failed": failed} for failed, entry in misses[:limit]]

    def adopt(self, other: Journal) -> None:
        """Continue ``other``'s entries and ids (a ``--watch`` reload keeps the journal)."""
        with other._lock:
            entries, next_id = list(other._entries), other._next
        for row in entries:  # counted in this journal's budget, oldest first
            with self._lock:
                self._entries.append(row)
                self._bytes += row[_COST]
            self.budget.added(self, row[_ID], row[_COST])
        with self._lock:
            self._next = max(self._next, next_id)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            freed, self._bytes = self._bytes, 0
        self.budget.released(freed, count)
