"""``--proxy URL``: forward valid Togai requests to a real Togai and check its answers.

The pipeline validates a request as always; a valid one comes here instead of
the store. It is forwarded with its method, path, query, body and end-to-end
headers (``Authorization`` included), over a pooled HTTP/1.1 keep-alive
client. The upstream's status, headers (minus hop-by-hop ones) and bytes go
back unchanged; the answer is checked against the operation's declared
responses, and what it breaks is flagged (``X-Mock-Violations``, journal, log
line and :mod:`~mock_server.drift`), never turned into an error. When the
upstream cannot be reached or is too slow, the client gets a 502 or 504
``ErrorResponse`` naming the upstream and the reason.
"""
from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .drift import Answer, Drift
from .errors import VIOLATIONS_HEADER, ApiError, Violation, shown, violations_header
from .journal import STRICT_JSON
from .lazyimport import lazy_module
from .openapi.spec import Operation
from .validation.body import MAX_DEPTH, deeper_than
from .validation.response import check_response

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_module("httpx")  # only --proxy, --webhook and --record use it

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# Told of every upstream answer that conforms: (operation, status, answer headers, bytes, request headers).
# ``--record`` listens here; it must only queue, never block.
Observer = Callable[[Operation, int, "httpx.Headers", bytes, list[tuple[bytes, bytes]]], None]

DEFAULT_TIMEOUT = 10.0
# An upstream answer larger than this is refused (502) rather than held in memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# Larger answers are parsed and checked off the event loop.
_INLINE_CHECK = 64 * 1024
# Encoded bytes per decoding step: deflate inflates at most about 1000:1, so a step yields at most ~1 MB.
_SLICE = 1024
# Headers of one connection, not of the message (RFC 9110, 7.6.1); never forwarded either way.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# Request headers httpx sets from the upstream URL and the body it sends; Expect
# was already answered by the server in front.
_REQUEST_OWN = frozenset({"host", "content-length", "expect"})
# Answer headers the server in front sets itself: uvicorn adds its own Date and
# Server (two of either is invalid), and the length follows from the bytes sent.
# nginx's proxy_pass drops Date and Server the same way.
_ANSWER_OWN = frozenset({"content-length", "date", "server"})
_BODILESS = frozenset({204, 304})
_VIOLATIONS = VIOLATIONS_HEADER.encode()


def parse_upstream(url: str) -> httpx.URL:
    """``url`` as an upstream base URL (http or https, a host, no query); ValueError otherwise."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    if parsed.query or parsed.fragment:
        raise ValueError(f"an upstream URL has no query or fragment: {url!r}")
    return parsed


@dataclass(slots=True)
class Forwarded:
    """An upstream answer on its way back: status, headers and bytes as they came."""

    status: int
    headers: list[tuple[bytes, bytes]]  # lowercase names, hop-by-hop and framing ones removed
    content: bytes
    violations: list[Violation] = field(default_factory=list)  # how it breaks the spec, bounded by shown()

    def mock_headers(self) -> dict[str, str]:
        """What the proxy adds: ``X-Mock-Violations`` when the answer breaks the spec."""
        return {VIOLATIONS_HEADER: violations_header(self.violations)} if self.violations else {}

    async def send(self, send: Send, extra: Mapping[str, str]) -> bytes:
        """Send the answer with ``extra`` headers (which replace the upstream's of that name); return the bytes."""
        own = {name.lower().encode("latin-1") for name in extra}
        raw = [(k, v) for k, v in self.headers if k not in own]
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())
        bodiless = self.status in _BODILESS or self.status < 200
        if not bodiless:
            raw.append((b"content-length", str(len(self.content)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": b"" if bodiless else self.content})
        return b"" if bodiless else self.content


class Upstream:
    """The Togai that ``--proxy`` forwards to, with one pooled client per event loop."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT, drift: Drift | None = None) -> None:
        if not timeout > 0 or not math.isfinite(timeout):
            raise ValueError(f"the upstream timeout must be a positive number of seconds, got {timeout}")
        self.base = parse_upstream(url)
        self.url = str(self.base).rstrip("/")  # as messages name it
        self.timeout = timeout
        self.drift = drift if drift is not None else Drift(self.url)
        self._prefix = self.base.raw_path.rstrip(b"/")  # a base such as https://host/v1
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.observer: Observer | None = None  # --record's Recorder.observe

    def _pool(self) -> httpx.AsyncClient:
        # Created in the loop that serves requests: an httpx client must not change loops.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
                follow_redirects=False,  # a redirect is an answer to pass on, not to follow
                trust_env=False,  # no proxy, netrc or certificate settings from the environment
            )
            # httpx would add its own Accept, Accept-Encoding and User-Agent; send only the client's.
            self._client.headers.clear()
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pooled connections (at shutdown)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def forward(
        self, op: Operation, scope: MutableMapping[str, Any], body: bytes, drift: Drift | None = None
    ) -> Forwarded:
        """Forward one validated request; the upstream's answer, checked, or a 502/504 ``ApiError``.

        ``drift``: the report of the tenant the request came from (its answers were fetched with its
        key, so no other tenant may read or clear them); the upstream's own report otherwise.
        """
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if _has_dot_segment(raw_path):
            # The request was validated as the path it names; a client library would send the path with
            # "." and ".." resolved (GET /accounts/.. becomes GET /), which is not the operation checked.
            raise ApiError.of(400, "path", "must not have '.' or '..' segments: the proxy forwards what it checked")
        query = scope.get("query_string", b"")
        target = self.base.copy_with(raw_path=self._prefix + raw_path + (b"?" + query if query else b""))
        headers = _request_headers(scope["headers"])
        try:
            async with asyncio.timeout(self.timeout):  # the whole exchange, also an answer that trickles
                status, answer_headers, content = await self._exchange(scope["method"], target, headers, body)
        except TimeoutError:
            raise self._error(504, f"did not answer within {self.timeout:g} s") from None
        except httpx.TimeoutException as exc:
            raise self._error(504, f"did not answer within {self.timeout:g} s ({_reason(exc)})") from None
        except httpx.ConnectError as exc:
            raise self._error(502, f"could not connect: {_reason(exc)}") from None
        except httpx.RemoteProtocolError as exc:
            raise self._error(502, f"broke the connection: {_reason(exc)}") from None
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise self._error(502, _reason(exc)) from None
        if len(content) > _INLINE_CHECK or "content-encoding" in answer_headers:
            # Decoding and checking a large (or compressed, so maybe large) answer takes milliseconds
            # to seconds; meanwhile the event loop keeps serving others.
            problems = await asyncio.to_thread(check_answer, op, status, answer_headers, content)
        else:
            problems = check_answer(op, status, answer_headers, content)
        path = scope["path"]
        (drift if drift is not None else self.drift).record(
            Answer(op.operation_id, scope["method"], op.path, path, query.decode("latin-1"), status, content),
            problems,
        )
        if self.observer is not None and not problems:  # an answer drift flags is not kept
            self.observer(op, status, answer_headers, content, scope["headers"])
        dropped = _dropped(answer_headers)
        kept = [(k.lower(), v) for k, v in answer_headers.raw if k.lower() not in dropped]
        return Forwarded(status, kept, content, shown(problems))

    async def _exchange(
        self, method: str, target: httpx.URL, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, httpx.Headers, bytes]:
        client = self._pool()
        request = client.build_request(method, target, headers=headers, content=body)
        response = await client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():  # the bytes as they came, still encoded
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise self._error(502, f"answered more than {MAX_ANSWER_BYTES} bytes")
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response.status_code, response.headers, b"".join(chunks)

    def _error(self, status: int, reason: str) -> ApiError:
        return ApiError.of(status, "upstream", f"{self.url} {reason}")


def _has_dot_segment(raw_path: bytes) -> bool:
    """Whether a path has a ``.`` or ``..`` segment, percent-encoded or not."""
    path = raw_path.partition(b"?")[0].lower().replace(b"%2e", b".")
    return any(segment in (b".", b"..") for segment in path.split(b"/"))


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names listed in ``Connection``: hop-by-hop too (RFC 9110, 7.6.1)."""
    return {
        token.strip().lower()
        for name, value in headers if name.lower() == b"connection"
        for token in value.split(b",") if token.strip()
    }


def _request_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The client's end-to-end headers, as the upstream should get them."""
    drop = _connection_tokens(headers)
    return [
        (name, value) for name, value in headers
        if name.lower() not in drop and name.lower().decode("latin-1") not in HOP_BY_HOP | _REQUEST_OWN
    ]


def _dropped(headers: httpx.Headers) -> set[bytes]:
    names = {name.encode() for name in HOP_BY_HOP | _ANSWER_OWN}
    return names | _connection_tokens(headers.raw)


def check_answer(op: Operation, status: int, headers: httpx.Headers, content: bytes) -> list[Violation]:
    """Every way an upstream answer breaks ``op``'s declared responses; empty when it conforms."""
    declared = op.response_for(status)
    if declared is None:
        return [Violation("status", f"{status} is not declared")]
    if not content:
        return check_response(op, status, None, headers)
    problems: list[Violation] = []
    media_type = headers.get("content-type", "")
    if declared.media_type is not None and not _same_media_type(media_type, declared.media_type):
        given = media_type or "missing"
        problems.append(Violation("Content-Type", f"is {given}, the spec declares {declared.media_type}"))
    try:
        text = _decoded(status, headers, content).decode("utf-8")
        body = STRICT_JSON.decode(text)
    except AnswerTooLarge as exc:
        return [*problems, Violation("body", str(exc))]
    except (ValueError, httpx.DecodingError) as exc:
        return [*problems, Violation("body", f"is not JSON ({exc})")]
    except RecursionError:
        return [*problems, Violation("body", "is nested too deeply to check")]
    if deeper_than(body):
        return [*problems, Violation("body", f"is nested more than {MAX_DEPTH} levels deep; not checked")]
    return problems + check_response(op, status, body, headers)


class AnswerTooLarge(ValueError):
    """An encoded answer that decodes to more than :data:`MAX_ANSWER_BYTES`."""


@functools.cache
def _slices() -> Callable[[bytes], httpx.SyncByteStream]:
    """The stream type below, made when first needed (httpx is imported on first use)."""

    class Slices(httpx.SyncByteStream):
        """Encoded bytes fed to the decoder a little at a time, so that no single step inflates much."""

        def __init__(self, content: bytes) -> None:
            self.content = content

        def __iter__(self) -> Iterator[bytes]:
            for start in range(0, len(self.content), _SLICE):
                yield self.content[start : start + _SLICE]

    return Slices


def _decoded(status: int, headers: httpx.Headers, content: bytes) -> bytes:
    """The body with its Content-Encoding (gzip, br, ...) undone, for checking only.

    Decoded in slices and stopped past :data:`MAX_ANSWER_BYTES`: the cap on
    what the upstream may send counts encoded bytes, and 28 KB of gzip can
    inflate to hundreds of megabytes.
    """
    if "content-encoding" not in headers:
        return content
    response = httpx.Response(status, headers=headers, stream=_slices()(content))
    parts: list[bytes] = []
    size = 0
    for part in response.iter_bytes():
        size += len(part)
        if size > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(f"decodes to more than {MAX_ANSWER_BYTES} bytes; not checked")
        parts.append(part)
    return b"".join(parts)


def _same_media_type(given: str, declared: str) -> bool:
    kind = given.partition(";")[0].strip().lower()
    wanted = declared.lower()
    if wanted == "*/*":
        return True
    if wanted.endswith("/*"):
        return kind.startswith(wanted[:-1])
    return kind == wanted


