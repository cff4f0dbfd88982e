"""``--webhook URL``: post Togai-style notifications when the mock does what they announce.

The domain knows nothing of this. The pipelines tell :class:`Webhooks` of
each answer (:class:`~mock_server.pipeline.Pipeline`'s ``observer``), and it
learns what happened at the edge:

* accounts: from the 2xx answers of the operations that create or change one
  (``createAccount``, ``createCustomer`` with its first account,
  ``updateAccount``, alias changes), whose bodies are the account;
* invoices: by comparing each invoice's status (and whether it is the
  ongoing invoice of an open cycle) with what it was after the previous
  answer, so whatever moved it -- ``POST /__mock/clock`` closing a cycle,
  the billing engine catching up before a request, ``PATCH /invoices/{id}``,
  a payment -- is announced once. The comparison is one pass over the
  tenant's invoices, made only after an answer during which an invoice was
  made, removed or moved (``invoices.generation``, which the ledger and the
  billing engine bump), and only with ``--webhook``.

Events become deliveries (one per target) on a bounded queue; one background
thread posts them with retries and exponential backoff, so no request ever
waits for a receiver. A full queue drops the delivery and counts it. The
last deliveries are kept for ``GET /__mock/webhooks``.
"""
from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .control_access import is_loopback
from .domain.core.store import Store
from .domain.core.times import stamp
from .domain.ledger import invoices
from .lazyimport import lazy_module

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_module("httpx")  # only --proxy, --webhook and --record use it

log = logging.getLogger("mock_server")

ACCOUNT_CREATED = "ACCOUNT_CREATED"
ACCOUNT_UPDATED = "ACCOUNT_UPDATED"
INVOICE_GENERATED = "INVOICE_GENERATED"
INVOICE_FINALIZED = "INVOICE_FINALIZED"
INVOICE_PAID = "INVOICE_PAID"
INVOICE_UPDATED = "INVOICE_UPDATED"
EVENT_TYPES = (ACCOUNT_CREATED, ACCOUNT_UPDATED, INVOICE_GENERATED, INVOICE_FINALIZED, INVOICE_PAID, INVOICE_UPDATED)

# Operations whose 2xx answer is (or holds) an account that was created or changed.
_ACCOUNT_CREATES = {"createAccount": (), "createCustomer": ("account",)}
_ACCOUNT_UPDATES = frozenset({"updateAccount", "addAliases", "removeAliases"})

SIGNATURE_HEADER = "X-Mock-Webhook-Signature"
ID_HEADER = "X-Mock-Webhook-Id"
TYPE_HEADER = "X-Mock-Webhook-Type"
ATTEMPT_HEADER = "X-Mock-Webhook-Attempt"

DEFAULT_ATTEMPTS = 5
DEFAULT_BACKOFF = 1.0  # seconds before the 2nd attempt; doubled each time after (1, 2, 4, 8 s)
DEFAULT_TIMEOUT = 5.0
MAX_QUEUE = 1000  # deliveries waiting (first attempt or a retry); past it new ones are dropped and counted
LOG_SIZE = 500  # deliveries GET /__mock/webhooks shows, newest first
_ERROR_CHARS = 300


class WebhookError(ValueError):
    """A ``--webhook`` target the mock refuses; the message names the flag."""


def check_target(url: str, allowed_hosts: Iterable[str] = ()) -> str:
    """``url`` when it is an http(s) URL on a loopback host or one of ``allowed_hosts``; else WebhookError."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebhookError(f"--webhook: not a URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise WebhookError(f"--webhook: not an http(s) URL with a host: {url!r}")
    host = parsed.host.lower()
    allowed = {h.strip().lower() for h in allowed_hosts}
    if not (is_loopback(host) or host in allowed):
        raise WebhookError(
            f"--webhook: {url!r} is not on a loopback host; the mock posts only to this machine "
            f"unless --allow-host {host} names it"
        )
    return str(parsed)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER`: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(slots=True)
class Delivery:
    """One event on its way to one target."""

    id: str
    event_id: str
    type: str
    url: str
    body: bytes
    created: float = field(default_factory=time.time)
    status: str = "PENDING"  # PENDING, DELIVERED, FAILED (out of attempts) or DROPPED (the queue was full)
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    next_attempt: float | None = None  # wall time of the next try, while PENDING
    delivered: float | None = None

    def to_json(self) -> dict[str, Any]:
        """As ``GET /__mock/webhooks`` lists it."""
        return {
            "id": self.id,
            "eventId": self.event_id,
            "type": self.type,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "lastStatusCode": self.last_status,
            "lastError": self.last_error,
            "createdAt": _iso(self.created),
            "nextAttemptAt": _iso(self.next_attempt),
            "deliveredAt": _iso(self.delivered),
            "payload": json.loads(self.body),
        }


@dataclass(slots=True)
class _Seen:
    """A tenant's invoices as the last answer left them."""

    collection: Any  # the invoices Collection compared against; another object: a reset or import came
    status: dict[str, str]
    ongoing: set[str]
    generation: int  # invoices.generation() then: while it has not moved, nothing is compared


class Webhooks:
    """Turns what the mock did into deliveries, and posts them from a background thread."""

    def __init__(
        self,
        urls: Iterable[str],
        secret: str | None = None,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
        max_queue: int = MAX_QUEUE,
        log_size: int = LOG_SIZE,
    ) -> None:
        self.urls = tuple(urls)
        self.secret = secret
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self.max_queue = max_queue
        self.log_size = log_size
        self.dropped = 0
        self._seen: weakref.WeakKeyDictionary[Store, _Seen] = weakref.WeakKeyDictionary()
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []  # (monotonic due time, order, delivery)
        self._order = itertools.count()
        self._log: OrderedDict[str, Delivery] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- what happened (called by the pipelines, on the event loop) --------------------
    def before(self, store: Store) -> None:
        """Note a tenant's invoices before its first request, so that request's changes are announced."""
        if store not in self._seen:
            with store.lock:
                self._seen[store] = _snapshot(store)

    def after(self, store: Store, operation_id: str | None, status: int, body: Any) -> None:
        """Announce what the answer of ``operation_id`` (and anything before it) did to ``store``."""
        events: list[tuple[str, dict[str, Any]]] = []
        if 200 <= status < 300 and isinstance(body, dict) and operation_id is not None:
            if operation_id in _ACCOUNT_CREATES:
                account = _at(body, _ACCOUNT_CREATES[operation_id])
                if _is_account(account):
                    events.append((ACCOUNT_CREATED, {"account": account}))
            elif operation_id in _ACCOUNT_UPDATES and _is_account(body):
                events.append((ACCOUNT_UPDATED, {"account": body}))
        with store.lock:
            events.extend(self._invoice_events(store))
            now = stamp(store.clock.instant()) if events else ""
        for kind, data in events:
            self.emit(kind, data, now)

    def _invoice_events(self, store: Store) -> list[tuple[str, dict[str, Any]]]:
        seen = self._seen.get(store)
        if (seen is not None and seen.collection is store.collections["invoices"]
                and seen.generation == invoices.generation(store)):
            return []  # no invoice was made, removed or moved since: nothing to compare (no scan)
        current = _snapshot(store)
        self._seen[store] = current
        if seen is None or seen.collection is not current.collection:
            return []  # a new baseline: a reset or an import changes the tenant, the mock did nothing
        resource = store.registry.by_name["invoices"]
        items = current.collection.items
        out: list[tuple[str, dict[str, Any]]] = []
        for invoice_id, now_status in current.status.items():
            if invoice_id in current.ongoing:
                continue  # the preview of an open cycle: announced when it is generated
            before = seen.status.get(invoice_id)
            if before is None or invoice_id in seen.ongoing:
                kind, previous = INVOICE_GENERATED, None
            elif before != now_status:
                kind, previous = _status_event(before, now_status), before
            else:
                continue
            data: dict[str, Any] = {"invoice": resource.to_json(store, items[invoice_id])}
            if previous is not None:
                data["previousStatus"] = previous
            out.append((kind, json.loads(json.dumps(data))))  # a copy: the record goes on changing
        return out

    def emit(self, kind: str, data: dict[str, Any], created_at: str) -> None:
        """Queue ``kind`` with ``data`` for every target (dropped and counted when the queue is full)."""
        event_id = f"whevt_{uuid.uuid4().hex}"
        body = json.dumps(
            {"id": event_id, "type": kind, "createdAt": created_at, "data": data}, separators=(",", ":")
        ).encode()
        with self._lock:
            for url in self.urls:
                delivery = Delivery(f"whdel_{uuid.uuid4().hex[:16]}", event_id, kind, url, body)
                if len(self._heap) >= self.max_queue:
                    delivery.status = "DROPPED"
                    delivery.last_error = f"the delivery queue was full ({self.max_queue})"
                    self.dropped += 1
                else:
                    delivery.next_attempt = time.time()
                    heapq.heappush(self._heap, (time.monotonic(), next(self._order), delivery))
                self._keep(delivery)
            self._lock.notify()

    def _keep(self, delivery: Delivery) -> None:
        self._log[delivery.id] = delivery
        while len(self._log) > self.log_size:
            self._log.popitem(last=False)

    # -- the delivery log ---------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """``GET /__mock/webhooks``: targets, counts, and the last deliveries, newest first."""
        with self._lock:
            deliveries = [d.to_json() for d in reversed(self._log.values())]
            return {
                "targets": list(self.urls),
                "signed": self.secret is not None,
                "queued": len(self._heap),
                "dropped": self.dropped,
                "deliveries": deliveries,
            }

    # -- the sender thread ----------------------------------------------------------------
    def start(self) -> None:
        """Start the sender thread (once)."""
        if self._thread is None and self.urls:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the sender; deliveries still queued stay PENDING in the log."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with self._lock:
            self._stopping = True
            self._lock.notify()
        thread.join(timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as client:
            while True:
                with self._lock:
                    while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                        self._lock.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                    if self._stopping:
                        return
                    _, _, delivery = heapq.heappop(self._heap)
                    delivery.attempts += 1
                    attempt = delivery.attempts
                status, error = self._post(client, delivery, attempt)
                with self._lock:
                    delivery.last_status, delivery.last_error = status, error
                    if error is None:
                        delivery.status, delivery.delivered, delivery.next_attempt = "DELIVERED", time.time(), None
                    elif attempt >= self.attempts:
                        delivery.status, delivery.next_attempt = "FAILED", None
                    else:
                        wait = self.backoff * 2 ** (attempt - 1)
                        delivery.next_attempt = time.time() + wait
                        heapq.heappush(self._heap, (time.monotonic() + wait, next(self._order), delivery))

    def _post(self, client: httpx.Client, delivery: Delivery, attempt: int) -> tuple[int | None, str | None]:
        headers = {
            "content-type": "application/json",
            "user-agent": "togai-mock-webhooks",
            ID_HEADER: delivery.event_id,
            TYPE_HEADER: delivery.type,
            ATTEMPT_HEADER: str(attempt),
        }
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret, int(time.time()), delivery.body)
        try:
            response = client.post(delivery.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return None, (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:_ERROR_CHARS]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"answered {response.status_code}"


def _snapshot(store: Store) -> _Seen:
    collection = store.collections["invoices"]
    return _Seen(
        collection,
        {invoice_id: record.get("status") for invoice_id, record in collection.items.items()},
        set(store.indexes[invoices.ONGOING].values()),
        invoices.generation(store),
    )


def _status_event(before: str, after: str) -> str:
    if after == "PAID":
        return INVOICE_PAID
    if before == "DRAFT" and after == "DUE":
        return INVOICE_FINALIZED
    return INVOICE_UPDATED


def _at(body: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        body = body.get(step) if isinstance(body, dict) else None
    return body


def _is_account(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and "customerId" in value


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return stamp(datetime.fromtimestamp(moment, UTC))
