"""One request, one way: route -> security -> parameters -> body -> handler or
canned answer -> (self-check) -> send.

Each stage lives in its own module; this one only sequences them and turns
their :class:`~mock_server.errors.ApiError` into Togai's ``ErrorResponse``.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .canned import CannedResponse, canned_answer
from .errors import VIOLATIONS_HEADER, ApiError, Violation, violations_header
from .handlers import Call, Handler
from .openapi.router import Router
from .openapi.spec import Operation, Spec
from .store import Store
from .validation.body import parse_body
from .validation.params import parse_parameters
from .validation.response import check_response
from .validation.security import check_security

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("mock_server")

_JSON = (b"content-type", b"application/json")


@dataclass(slots=True)
class Outcome:
    """What the pipeline decided for one request (also what the journal keeps)."""

    status: int
    body: Any
    headers: dict[str, str]
    operation_id: str | None = None
    violations: list[Violation] | None = None



class Pipeline:
    """The ASGI app that serves the operations of the spec."""

    def __init__(
        self,
        spec: Spec,
        store: Store,
        handlers: dict[str, Handler],
        canned: dict[str, CannedResponse],
        *,
        tokens: frozenset[str] | None = None,
        max_body: int = 1024 * 1024,
        self_check: bool = False,
    ) -> None:
        self.spec = spec
        self.router = Router(spec)
        self.store = store
        self.canned = canned
        self.tokens = tokens
        self.max_body = max_body
        self.self_check = self_check
        self._plans: dict[str, tuple[Handler | None, int]] = {}
        for op in spec.operations:
            success = op.success()
            status = int(success.status) if success and success.status.isdigit() else 200
            self._plans[op.operation_id] = (handlers.get(op.operation_id), status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outcome = await self.handle(scope, receive)
        await send_json(send, outcome.status, outcome.body, outcome.headers)

    async def handle(self, scope: Scope, receive: Receive) -> Outcome:
        """Run every stage for one request and say what to answer."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        op: Operation | None = None
        try:
            op, path_params = self.router.match(scope["method"], path)
            check_security(op, headers, self.tokens)
            params = parse_parameters(op, path_params, scope.get("query_string", b""), headers)
            raw = await read_body(receive, headers, self.max_body) if op.body else b""
            body = parse_body(op, headers.get("content-type"), raw)
            outcome = self.dispatch(op, params, body)
        except ApiError as exc:
            outcome = _rejection(exc, op)
        except Exception:  # a bug: answer, log, and keep serving
            log.exception("unexpected error in %s", op.operation_id if op else scope.get("path"))
            name = op.operation_id if op else "routing"
            outcome = Outcome(500, {"message": f"internal error in {name}"}, {}, name)
        if self.self_check and op is not None:
            outcome = self._self_check(op, outcome)
        return outcome

    def dispatch(self, op: Operation, params: dict[str, Any], body: Any) -> Outcome:
        """Run the operation's handler against the store, or answer canned."""
        handler, status = self._plans[op.operation_id]
        if handler is None:
            answer = canned_answer(op, self.canned)
            return Outcome(answer.status, answer.body, dict(answer.headers), op.operation_id)
        with self.store.lock:
            payload = handler(self.store, Call(params, body))
        return Outcome(status, payload, {}, op.operation_id)

    def _self_check(self, op: Operation, outcome: Outcome) -> Outcome:
        problems = check_response(op, outcome.status, outcome.body, outcome.headers)
        if not problems:
            return outcome
        text = "; ".join(str(p) for p in problems[:3])
        log.error("self-check: %s %d breaks the spec: %s", op.operation_id, outcome.status, text)
        message = f"self-check: the {outcome.status} answer of {op.operation_id} breaks the spec: {text}"
        return Outcome(500, {"message": message[:500]}, {}, op.operation_id, problems)


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The whole request body, or a 413 as soon as it is over ``limit`` bytes."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError.of(413, "body", f"must be at most {limit} bytes")


def _rejection(exc: ApiError, op: Operation | None) -> Outcome:
    headers = dict(exc.headers)
    if exc.violations:
        headers[VIOLATIONS_HEADER] = violations_header(exc.violations)
    return Outcome(
        exc.status,
        {"message": exc.message},
        headers,
        op.operation_id if op else None,
        exc.violations,
    )


async def send_json(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    """Send a complete JSON (or empty) response."""
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    raw_headers = [(b"content-length", str(len(payload)).encode())]
    if body is not None:
        raw_headers.append(_JSON)
    raw_headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
