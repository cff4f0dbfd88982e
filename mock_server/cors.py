"""CORS for real frontend setups: local origins always, more with ``--cors-origin``, ``*`` for any.

Differences from Starlette's ``CORSMiddleware`` that frontends run into:

- Origins given with ``--cors-origin`` are admitted *besides* any
  ``localhost``/``127.0.0.1``/``[::1]`` origin, not instead of them.
- ``--cors-origin '*'`` admits every origin (a LAN address, a dev container)
  by reflecting it, so credentialed requests (``fetch(..., {credentials:
  'include'})``, axios ``withCredentials``) work: a literal ``*`` is not
  allowed with credentials.
- Every admitted answer says ``Access-Control-Allow-Credentials: true``.
- Every preflight is logged; a refused one names the origin and the flag that
  admits it, and is answered with Togai's ``ErrorResponse`` (403, stage
  ``cors``) instead of a bare text. An actual request from an origin that is
  not admitted is served (the browser hides the answer), and logged once per
  origin with the same hint, so a "silent CORS error" is never silent here.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import STAGE_HEADER, VIOLATIONS_HEADER, Violation
from .journal import Journal
from .pipeline import send_json
from .requestlog import message_logger, printable

# Browsers on any local port may call the mock whatever else is configured.
LOCAL_ORIGINS = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?")
ANY = "*"
# Headers a script may read besides the CORS-safelisted ones. Listed by name:
# with credentials a browser reads "*" as a header literally named "*".
EXPOSED = (VIOLATIONS_HEADER, STAGE_HEADER, "allow", "x-mock-override", "retry-after", "location")
_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
MAX_AGE = "600"
# A request header value is at most this long in a log line.
_SHOWN = 200

Logger = Callable[[str], None]


def _shown(text: str) -> str:
    text = printable(text)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


class CorsPolicy:
    """Which origins may call the mock from a browser."""

    def __init__(self, origins: Iterable[str] = ()) -> None:
        given = [o.strip().rstrip("/") for o in origins if o.strip()]
        self.any = ANY in given
        self.origins = frozenset(o.lower() for o in given if o != ANY)

    def admits(self, origin: str) -> bool:
        """Whether ``origin`` (the ``Origin`` header's value) may read the mock's answers."""
        if self.any:
            return True
        lowered = origin.strip().lower()
        return lowered in self.origins or LOCAL_ORIGINS.fullmatch(lowered) is not None

    def hint(self, origin: str) -> str:
        """What to tell a developer whose origin was refused."""
        shown = _shown(origin)
        return (
            f"origin {shown} is not allowed; start the mock with --cors-origin {shown} "
            "(or --cors-origin '*' for any origin)"
        )


class CorsMiddleware:
    """Answer preflights and add CORS headers to answers for admitted origins.

    Only requests that carry ``Origin`` come here (see :class:`~mock_server.app.MockApp`).
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: CorsPolicy,
        *,
        log: str = "text",
        journal: Journal | None = None,
        logger: Logger | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.app = app
        self.policy = policy
        self.quiet = log == "quiet"
        self.journal = journal  # preflights to the Togai API are journaled, so the dashboard shows them
        # With --log json every line is a JSON object with its time, CORS lines included.
        self.logger: Logger = logger or message_logger(log, stream, event="cors")
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin", "")
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(scope, headers, origin, send)
            return
        if not self.policy.admits(origin):
            self._warn_once(origin, scope)
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-")]
                raw.extend(self._allow(origin))
                raw.append((b"access-control-expose-headers", ", ".join(EXPOSED).encode()))
                message = {**message, "headers": _vary(raw)}
            await send(message)

        await self.app(scope, receive, with_cors)

    def _allow(self, origin: str) -> list[tuple[bytes, bytes]]:
        # Always the request's own origin: "*" would forbid credentials.
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
        ]

    async def _preflight(self, scope: Scope, headers: dict[str, str], origin: str, send: Send) -> None:
        started = time.perf_counter()
        method = headers.get("access-control-request-method", "")
        asked = headers.get("access-control-request-headers", "")
        path = scope["path"]
        if self.policy.admits(origin):
            status = 200
            out: dict[str, str] = {
                "access-control-allow-origin": origin,
                "access-control-allow-credentials": "true",
                "access-control-allow-methods": _METHODS,
                "access-control-max-age": MAX_AGE,
                "vary": "Origin",
            }
            if asked:  # any header the page asks for, Authorization included
                out["access-control-allow-headers"] = asked
            violations = None
            body = None
            line = f"CORS preflight {method} {path} from {origin}: allowed"
            if asked:
                line += f" (headers: {asked})"
        else:
            status = 403
            hint = self.policy.hint(origin)
            violations = [Violation("Origin", hint)]
            out = {STAGE_HEADER: "cors", "vary": "Origin"}
            body = {"message": f"CORS preflight refused: {hint}"}
            line = f"CORS preflight {method} {path} refused: {hint}"
        payload = await send_json(send, status, body, out)
        if not self.quiet:
            self.logger(printable(line))
        if self.journal is not None:
            self.journal.record(
                time=time.time(), method="OPTIONS", path=path,
                query=scope.get("query_string", b"").decode("latin-1"), headers=scope["headers"],
                request_body=b"", status=status, operation_id=None,
                duration_ms=(time.perf_counter() - started) * 1000, response_body=payload,
                violations=violations, override=None, rejected_by="cors" if status != 200 else None,
            )

    def _warn_once(self, origin: str, scope: Scope) -> None:
        with self._lock:
            if origin in self._warned or len(self._warned) > 1000:
                return
            self._warned.add(origin)
        if not self.quiet:
            self.logger(printable(
                f"CORS: {scope['method']} {scope['path']} from {origin}: the browser will hide the answer: "
                + self.policy.hint(origin)
            ))


def _vary(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Add ``Vary: Origin`` (the answer depends on it), keeping any other Vary."""
    for i, (name, value) in enumerate(raw):
        if name.lower() == b"vary":
            if b"origin" not in value.lower():
                raw[i] = (name, value + b", Origin")
            return raw
    raw.append((b"vary", b"Origin"))
    return raw
