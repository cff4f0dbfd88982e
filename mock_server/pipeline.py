"""One request, one way: (override) -> route -> security -> parameters -> body ->
handler, canned or preferred answer (or, with --proxy, the upstream's) -> (self-check) -> send -> journal.

Each stage lives in its own module; this one only sequences them and turns
their :class:`~mock_server.errors.ApiError` into Togai's ``ErrorResponse``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from itertools import chain
from typing import Any, Protocol

import orjson

from .canned import CannedResponse, canned_answer
from .control_access import ControlAccess
from .domain.core.errors import DomainError
from .domain.core.store import Store
from .epoch import Epoch
from .errors import (
    STAGE_HEADER,
    VIOLATIONS_HEADER,
    ApiError,
    Violation,
    from_domain,
    shown,
    truncate,
    violations_header,
)
from .handlers import Answer, Call, Handler
from .journal import ABSENT, Journal, decode_body, shown_headers
from .negotiator import error_body, forced_answer, parse_prefer, preferred_answer
from .openapi.router import Router
from .openapi.spec import Operation, Spec
from .overrides import Override, Overrides, Rendering, request_context
from .pathtemplate import split_path
from .proxy import Forwarded, Upstream
from .requestlog import LogLine
from .validation.body import parse_body
from .validation.params import parse_parameters
from .validation.response import check_response
from .validation.security import check_bearer, check_security, is_bearer_only

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

TRANSPORT_KEY = "mock_server.transport"

log = logging.getLogger("mock_server")

_JSON = (b"content-type", b"application/json")
# Statuses that never carry a body, nor a Content-Length (RFC 9110, 8.6).
_BODILESS = frozenset({204, 304})
_FRAMING = frozenset({"content-length", "transfer-encoding"})
_STALE = "the mock was reset or its state replaced while this request waited; nothing was applied"
# Request headers (names and values) beyond this get a 431, and are not kept.
MAX_HEADER_BYTES = 64 * 1024
_HEADERS_TOO_LARGE = ApiError.of(431, "headers", f"must be at most {MAX_HEADER_BYTES} bytes in all")
# Bodies larger than this are parsed and validated off the event loop. Only long work gains from it: the
# worker holds the GIL (orjson and the validators do not release it), so the loop gets a turn only every
# switch interval (5 ms), about what 400 KB take (a 100 KB batch: 1.2 ms); below that the hand-off only
# adds its cost (0.13 ms of wall and 0.24 ms of CPU time on a 100 KB batch) and the loop waits all the same.
_INLINE_BODY = 512 * 1024


class Observer(Protocol):
    """Told of each request's tenant before it runs and of its answer after it is sent (``--webhook``)."""

    def before(self, store: Store) -> None:
        """The request is about to act on ``store``."""

    def after(self, store: Store, operation_id: str | None, status: int, body: Any) -> None:
        """The answer was sent: ``body`` as the handler made it (never the upstream's bytes)."""


@dataclass(slots=True)
class Outcome:
    """What the pipeline decided for one request."""

    status: int
    body: Any
    headers: dict[str, str]
    operation_id: str | None = None
    violations: list[Violation] | None = None


# Requests whose routing and parameters are remembered (Pipeline._bound): at most this many, of at
# most this much path and query text, with values a handler cannot change (lists are not kept).
_BOUND_MAX = 4096
_BOUND_TEXT = 512
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
# Authorization values check_bearer accepted (Pipeline._admitted): at most this many are remembered.
_ADMITTED_MAX = 1024


class Pipeline:
    """The ASGI app that serves the operations of one spec."""

    def __init__(
        self,
        spec: Spec,
        store: Store,
        handlers: dict[str, Handler],
        canned: dict[str, CannedResponse] | None = None,
        *,
        tokens: frozenset[str] | None = None,
        max_body: int = 1024 * 1024,
        self_check: bool = False,
        journal: Journal | None = None,
        overrides: Overrides | None = None,
        latency: tuple[float, float] | None = None,
        prefer: bool = True,
        log_line: LogLine | None = None,
        access: ControlAccess | None = None,
        epoch: Epoch | None = None,
        proxy: Upstream | None = None,
        offloaded: frozenset[str] = frozenset(),
    ) -> None:
        self.spec = spec
        self.router = Router(spec)
        self.store = store
        self.canned = canned or {}
        self.tokens = tokens
        self.max_body = max_body
        self.self_check = self_check
        self.journal = journal
        self.overrides = overrides
        self.latency = latency
        self.prefer = prefer
        self.log_line = log_line
        self.access = access  # the control API's own door (Host, token, JSON only)
        self.epoch = epoch or Epoch()
        self.proxy = proxy  # --proxy: valid requests go to this upstream instead of the store
        self.offloaded = offloaded  # operationIds whose handlers run in a worker thread
        self.drift = proxy.drift if proxy is not None else None  # the tenant's drift report (--proxy)
        self.observer: Observer | None = None  # --webhook: what the answers did (mock_server/webhooks.py)
        # (method, raw path, query) -> the operation, its parsed parameters and whether its security
        # is a bearer token alone, for requests that passed routing and parameters before: a pure
        # function of that text unless the operation reads header parameters. Shared by the tenants'
        # copies; started afresh when full.
        self._bound: dict[tuple[str, str, bytes], tuple[Operation, dict[str, Any], bool]] = {}
        # Authorization values that check_bearer accepted under ``tokens`` (a pure function of the
        # two): the same value passes again without the parsing. Shared by the tenants' copies, whose
        # tokens are the same; started afresh when full.
        self._admitted: set[str] = set()
        self._by_headers = frozenset(
            op.operation_id for op in spec.operations if any(p.location == "header" for p in op.parameters)
        )
        # Looked up per request, so computed once.
        self._plans: dict[str, tuple[Handler | None, int, frozenset[str], int]] = {
            op.operation_id: (
                handlers.get(op.operation_id),
                op.success_status,
                frozenset(p.name for p in op.parameters if p.location == "path"),
                409 if "409" in op.responses else 400,
            )
            for op in spec.operations
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        epoch = self.epoch.value
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        head_bytes = sum(map(len, chain.from_iterable(scope["headers"])))  # in C: no frame per header
        oversized = head_bytes > MAX_HEADER_BYTES
        rule: Override | None = None
        early: Outcome | None = None  # reading the body for an override failed: 413, or the client left
        answering = False
        sent = b""
        raw_body = b""
        if self.observer is not None:
            self.observer.before(self.store)
        try:
            body: Any = ABSENT
            if self.overrides and not oversized:
                rule, raw_body, body, early = await self._take_override(scope, receive, path)
                if body is not ABSENT:  # read already: the stages below read it again from here
                    receive = _replay(raw_body, receive)
            if rule is not None and rule.delay:
                delay = rule.delay
            else:
                delay = self._latency() if self.latency is not None else 0.0
            if delay:
                await asyncio.sleep(delay)
            if rule is not None and rule.fault is not None:
                outcome = Outcome(0, None, {}, violations=[Violation("fault", rule.fault)])
                _drop_connection(scope, rule.fault)
            else:
                if early is not None:
                    outcome = early
                elif oversized:
                    outcome = _rejection(_HEADERS_TOO_LARGE, None, "headers")
                elif rule is not None and rule.status is not None:
                    outcome = self._forced(rule, scope, path, body)
                else:
                    outcome, raw_body = await self.handle(scope, receive, path, epoch)
                if outcome.status:  # 0: the client went away, there is no one to answer
                    answering = True
                    if isinstance(outcome.body, Forwarded):
                        sent = await send_json(send, outcome.status, outcome.body, outcome.headers)
                    else:  # send_json's two messages, without a coroutine of its own
                        start, sent = response_start(outcome.status, outcome.body, outcome.headers)
                        await send(start)
                        await send({"type": "http.response.body", "body": sent})
        except asyncio.CancelledError:
            # The server is stopping and the request outlived the grace period
            # (a delay, a body that never came): a 503 rather than uvicorn's bare 500.
            if not answering:
                await send_json(send, 503, {"message": "the mock is shutting down"}, {"connection": "close"})
            raise
        elapsed = (time.perf_counter() - started) * 1000
        journal = self.journal
        if journal is not None and self.epoch.value == epoch:  # else: the journal it belongs to is gone
            journal.add(time.time(), scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                        scope["headers"], head_bytes, raw_body, outcome.status, outcome.operation_id, elapsed, sent,
                        outcome.violations, rule.id if rule is not None else None,
                        outcome.headers.get(STAGE_HEADER))
        if self.log_line is not None:
            self.log_line(scope["method"], scope["path"], outcome.status, elapsed, outcome.violations,
                          rule.id if rule is not None else None)
        if self.observer is not None and outcome.status and not isinstance(outcome.body, Forwarded):
            try:  # after the answer is out: the client does not wait for it
                self.observer.after(self.store, outcome.operation_id, outcome.status, outcome.body)
            except Exception:  # a bug in a listener must not stop the server
                log.exception("the answer observer failed")

    async def _take_override(
        self, scope: Scope, receive: Receive, path: str
    ) -> tuple[Override | None, bytes, Any, Outcome | None]:
        """The override for this request, the body read to decide it (b"" and ABSENT when not
        needed), and the answer when reading it failed.

        Only when the first rule that may apply matches on the body (or renders it) is the body
        read here, before the other stages; a request that does not match uses up no ``times``.
        """
        assert self.overrides is not None
        method, headers = scope["method"], scope["headers"]
        query = scope.get("query_string", b"").decode("latin-1")
        if not self.overrides.needs_body(method, path, query, headers):
            return self.overrides.take(method, path, query, headers), b"", ABSENT, None
        try:
            raw = await read_body(receive, {k.decode("latin-1"): v.decode("latin-1") for k, v in headers},
                                  self.max_body)
        except ApiError as exc:
            return None, b"", ABSENT, _rejection(exc, None, "body")
        except ClientGone as exc:
            return None, b"", ABSENT, Outcome(0, None, {}, violations=[Violation("body", str(exc))])
        body = await asyncio.to_thread(decode_body, raw) if len(raw) > _INLINE_BODY else decode_body(raw)
        return self.overrides.take(method, path, query, headers, body), raw, body, None

    def _forced(self, rule: Override, scope: Scope, path: str, body: Any) -> Outcome:
        """An override's answer, its templates rendered over the request."""
        op = self._operation_at(scope["method"], path)
        if not rule.templates:
            status, answer, headers = forced_answer(rule, None, op)
            return Outcome(status, answer, headers)
        params: dict[str, str] = {}
        try:  # the operation's parameter names, then the override's own
            params.update(self.router.match(scope["method"], path)[1])
        except ApiError:
            pass
        if rule.template is not None:
            params.update(rule.template.bind(split_path(path)))
        now = None
        if rule.uses_now:
            with self.store.lock:  # a seeded clock ticks
                now = self.store.clock.now()
        query = scope.get("query_string", b"").decode("latin-1")
        shown = shown_headers(scope["headers"])
        rendering = Rendering(request_context(params, query, shown, None if body is ABSENT else body, now))
        status, answer, headers = forced_answer(rule, rendering, op)
        return Outcome(status, answer, headers, violations=rendering.problems or None)

    def _operation_at(self, method: str, path: str) -> Operation | None:
        """The operation a request names, if any: its declared error shape shapes a forced answer."""
        try:
            return self.router.match(method, path)[0]
        except ApiError:
            return None

    async def handle(
        self, scope: Scope, receive: Receive, path: str, epoch: int | None = None
    ) -> tuple[Outcome, bytes]:
        """Run every stage for one request; say what to answer and which body came in.

        ``epoch`` is :attr:`epoch`'s value when the request started; if a reset
        came since, nothing is applied.
        """
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        op: Operation | None = None
        raw = b""
        stage = "route"
        try:
            if self.access is not None:
                stage = "security"
                self.access.admit(headers)
                stage = "route"
            query: bytes = scope.get("query_string", b"")
            key = (scope["method"], path, query)
            bound = self._bound.get(key)
            if bound is not None:  # routed and parsed before: security is the only stage left to run
                op, kept, bearer = bound
                stage = "security"
                if bearer:
                    if headers.get("authorization") not in self._admitted:  # else accepted before
                        self._check_bearer(headers)
                else:
                    check_security(op, headers, self.tokens)
                params = dict(kept)  # the handler's own copy
            else:
                op, path_params = self.router.match(scope["method"], path)
                stage = "security"
                bearer = is_bearer_only(op)
                if bearer:
                    self._check_bearer(headers)
                else:
                    check_security(op, headers, self.tokens)
                stage = "parameters"
                params = parse_parameters(op, path_params, query, headers)
                if (op.operation_id not in self._by_headers and len(path) + len(query) <= _BOUND_TEXT
                        and all(type(v) in _IMMUTABLE for v in params.values())):
                    if len(self._bound) >= _BOUND_MAX:
                        self._bound.clear()
                    self._bound[key] = (op, dict(params), bearer)
            stage = "body"
            if self.access is not None:
                self.access.require_json(scope["method"], headers)
            if op.body is not None:
                raw = await read_body(receive, headers, self.max_body, _oversize_status(op))
            if len(raw) > _INLINE_BODY:
                # Decoding and explaining a large body takes milliseconds to
                # seconds; meanwhile the event loop keeps serving others.
                body = await asyncio.to_thread(parse_body, op, headers.get("content-type"), raw)
            else:
                body = parse_body(op, headers.get("content-type"), raw)
            stage = "prefer"
            preference = headers.get("prefer") if self.prefer else None
            preferred = preferred_answer(op, parse_prefer(preference)) if preference else None
            stage = "rule"
            if preferred is not None:
                outcome = Outcome(preferred[0], preferred[1], {}, op.operation_id)
            elif self.proxy is not None:
                stage = "upstream"  # a 502/504: the upstream failed, not the request
                answer = await self.proxy.forward(op, scope, raw, self.drift)
                outcome = Outcome(answer.status, answer, answer.mock_headers(), op.operation_id, answer.violations)
            elif op.operation_id in self.offloaded:
                # Long work that releases the store between slices (a clock move): in a worker
                # thread, so the event loop serves other requests in between.
                outcome = await asyncio.to_thread(self.dispatch, op, params, body, epoch, headers)
            else:
                outcome = self.dispatch(op, params, body, epoch, headers)
        except ApiError as exc:
            outcome = _rejection(exc, op, stage)
        except ClientGone as exc:  # nothing to answer, nothing applied; journaled as status 0
            outcome = Outcome(0, None, {}, op.operation_id if op else None, [Violation("body", str(exc))])
            return outcome, raw
        except Exception:  # a bug: answer, log, and keep serving
            name = op.operation_id if op else "routing"
            log.exception("unexpected error in %s", name)
            outcome = Outcome(500, {"message": f"internal error in {name}"}, {}, name)
        # An upstream answer is flagged by the proxy, never turned into a 500.
        if self.self_check and op is not None and not isinstance(outcome.body, Forwarded):
            outcome = self._self_check(op, outcome)
        return outcome, raw

    def _check_bearer(self, headers: dict[str, str]) -> None:
        """:func:`check_bearer` under this pipeline's tokens, remembering the values it accepted."""
        value = headers.get("authorization")
        if value in self._admitted:
            return
        check_bearer(headers, self.tokens)
        assert value is not None  # check_bearer refuses a missing header
        if len(self._admitted) >= _ADMITTED_MAX:
            self._admitted.clear()
        self._admitted.add(value)

    def dispatch(
        self,
        op: Operation,
        params: dict[str, Any],
        body: Any,
        epoch: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Outcome:
        """Run the operation's handler against the store, or answer canned.

        A 503 when the mock was reset since ``epoch`` (when the request started).
        """
        handler, status, path_params, conflict = self._plans[op.operation_id]
        if handler is None:
            answer = canned_answer(op, self.canned)
            return Outcome(answer.status, answer.body, dict(answer.headers), op.operation_id)
        store = self.store
        store.waiting += 1  # seen by long work that yields the store between slices (a clock move)
        store.lock.acquire()
        store.waiting -= 1
        try:
            if epoch is not None and epoch != self.epoch.value:
                raise ApiError.of(503, "", _STALE)
            payload = handler(store, Call(params, body, headers or {}))
        except DomainError as exc:
            raise from_domain(exc, path_params, conflict) from None
        finally:
            store.lock.release()
        if isinstance(payload, Answer):
            return Outcome(payload.status or status, payload.body, dict(payload.headers), op.operation_id)
        return Outcome(status, payload, {}, op.operation_id)

    def _latency(self) -> float:
        if self.latency is None:
            return 0.0
        low, high = self.latency
        return low if low == high else random.uniform(low, high)

    def _self_check(self, op: Operation, outcome: Outcome) -> Outcome:
        if STAGE_HEADER in outcome.headers and op.response_for(outcome.status) is None:
            return outcome  # the mock's own rejection, which a spec need not declare (any spec, issue 13)
        problems = check_response(op, outcome.status, outcome.body, outcome.headers)
        if not problems:
            return outcome
        text = "; ".join(str(p) for p in problems[:3])
        log.error("self-check: %s %d breaks the spec: %s", op.operation_id, outcome.status, text)
        message = f"self-check: the {outcome.status} answer of {op.operation_id} breaks the spec: {text}"
        return Outcome(500, {"message": truncate(message)}, {}, op.operation_id, shown(problems))


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` with ``body``, already read, given again first."""
    given = False

    async def again() -> MutableMapping[str, Any]:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


class ClientGone(Exception):
    """The client closed the connection before its body was complete."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the connection closed after {received} bytes of the body")
        self.received = received


async def read_body(receive: Receive, headers: dict[str, str], limit: int, too_large: int = 413) -> bytes:
    """The whole request body, or a ``too_large`` (413) as soon as it is over ``limit`` bytes.

    Raises :class:`ClientGone` when the connection closes first: a body cut
    short (fewer bytes than its Content-Length, or a chunked body without
    its last chunk) is never processed.
    """
    declared = headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, too_large)
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):  # all in one message
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise _too_large(limit, too_large)
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientGone(size)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, too_large)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
        message = await receive()
    return b"".join(chunks)


def _too_large(limit: int, status: int = 413) -> ApiError:
    return ApiError.of(status, "body", f"must be at most {limit} bytes")


# Togai's contract answers an oversized event payload with 422 ("the size of the event payload is above the
# supported limit") on these two; /entitled's 422 is about its parameters, so it keeps 413 like the rest.
_OVERSIZE_422 = frozenset({"ingest", "ingestBatch"})


def _oversize_status(op: Operation) -> int:
    """The status of a body over the limit: 422 where the operation's contract says so for payload size."""
    return 422 if op.operation_id in _OVERSIZE_422 and "422" in op.responses else 413


def _rejection(exc: ApiError, op: Operation | None, stage: str) -> Outcome:
    # Which stage said no: route, security, parameters, body, prefer or rule
    # (a business rule of the store). Lets a client tell a malformed request
    # from one that Togai's rules refuse.
    headers = {STAGE_HEADER: stage, **exc.headers}  # an error may name its own stage (state import: body)
    listed = shown(exc.violations)  # header, journal and log show the same bounded list
    if listed:
        headers[VIOLATIONS_HEADER] = violations_header(listed)
    # Togai's ErrorResponse, unless the spec declares another shape for this status (any spec, issue 24).
    body = error_body(op, exc.status, exc.message)
    return Outcome(exc.status, body, headers, op.operation_id if op else None, listed)


def _drop_connection(scope: Scope, fault: str) -> None:
    """Close the client's connection without an answer (RST for ``connection_reset``)."""
    transport = scope.get(TRANSPORT_KEY)
    if transport is None:
        raise ConnectionResetError(f"{fault}: fault injection needs the HTTP server (python -m mock_server)")
    if fault == "connection_reset":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def encode_json(body: Any) -> bytes:
    """Compact JSON bytes; orjson when it can (several times faster), else the stdlib.

    orjson refuses lone surrogates and integers beyond 64 bits, which a client
    can legally send and the mock echoes; the stdlib escapes them.
    """
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode()


async def send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> bytes:
    """Send a complete JSON (or empty) response; return the body bytes sent.

    ``headers`` replace the mock's own (one Content-Type, never two), except
    the framing ones, which follow from the body; 204 and 304 carry none.
    """
    if isinstance(body, Forwarded):  # --proxy: the upstream's bytes and headers, as they came
        return await body.send(send, headers)
    start, payload = response_start(status, body, headers)
    await send(start)
    await send({"type": "http.response.body", "body": payload})
    return payload


def response_start(status: int, body: Any, headers: dict[str, str]) -> tuple[dict[str, Any], bytes]:
    """The ``http.response.start`` message of :func:`send_json` and the body bytes to send after it."""
    raw_headers: list[tuple[bytes, bytes]]
    if status in _BODILESS:
        payload = b""
        raw_headers = []
    else:
        if body is None:
            payload = b""
        else:
            try:  # encode_json, without a call more on every answer
                payload = orjson.dumps(body)
            except TypeError:
                payload = encode_json(body)
        raw_headers = [(b"content-length", b"%d" % len(payload))]
        if body is not None and not (headers and any(k.lower() == "content-type" for k in headers)):
            raw_headers.append(_JSON)
    if headers:  # most answers have none of their own
        raw_headers.extend(
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items() if k.lower() not in _FRAMING
        )
    return {"type": "http.response.start", "status": status, "headers": raw_headers}, payload
