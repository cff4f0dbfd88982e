"""uvicorn's HTTP protocol with a bound on the request head.

uvicorn's httptools protocol buffers a request line and headers of any size
before the app sees them, so one client could make the process hold
gigabytes. This one answers 431 (an ``ErrorResponse``) and closes the
connection as soon as an unfinished head passes :data:`MAX_HEAD_BYTES`; the
app's own, lower limit (``pipeline.MAX_HEADER_BYTES``) answers the requests
that fit under it.

It also hands each request its connection's transport (``pipeline.TRANSPORT_KEY``: fault injection
closes it), so that no wrapper coroutine runs per request to find it.
"""
from __future__ import annotations

import json
from typing import Any

from .pipeline import MAX_HEADER_BYTES, TRANSPORT_KEY

# Twice the app's limit: below it the app answers (and journals) the 431 itself.
MAX_HEAD_BYTES = 2 * MAX_HEADER_BYTES
_BODY = json.dumps({"message": f"headers: must be at most {MAX_HEADER_BYTES} bytes in all"}).encode()
_ANSWER = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_BODY), _BODY)
)

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - without httptools uvicorn uses h11, which has its own limit
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


# Whether the protocol below puts the transport in each request's scope (else cli.py wraps the app to).
EXPOSES_TRANSPORT = HttpToolsProtocol is not None


def server_options() -> dict[str, Any]:
    """The ``uvicorn.Config`` options that bound request heads."""
    if HttpToolsProtocol is None:  # pragma: no cover
        return {"http": "h11", "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
    return {"http": BoundedHttpToolsProtocol}


if HttpToolsProtocol is not None:
    # The base methods, called directly: these run for every request, and in Python 3.11 a
    # super() call costs more than the counting itself (~1.3k instructions each).
    _data_received = HttpToolsProtocol.data_received
    _headers_complete = HttpToolsProtocol.on_headers_complete
    _message_complete = HttpToolsProtocol.on_message_complete
    _connection_lost = HttpToolsProtocol.connection_lost

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """Counts the bytes of each request head; too many: 431 and close."""

        _head_bytes = 0
        _in_body = False

        def data_received(self, data: bytes) -> None:
            if not self._in_body:
                self._head_bytes += len(data)
            _data_received(self, data)
            # Checked after parsing, so a chunk that ends the head and starts the body does not count.
            if not self._in_body and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self.transport.write(_ANSWER)
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._in_body = True
            self._head_bytes = 0
            # Before the request's task is made from the scope (an extra key: not in uvicorn's TypedDict).
            self.scope[TRANSPORT_KEY] = self.transport  # type: ignore[literal-required]
            _headers_complete(self)

        def on_message_complete(self) -> None:
            self._in_body = False  # the next bytes are the next request's head
            _message_complete(self)

        def connection_lost(self, exc: Exception | None) -> None:
            self._in_body = True  # nothing more to count
            _connection_lost(self, exc)

