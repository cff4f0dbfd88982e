"""What happens around a request: dropped connections, shutdown, reset while waiting."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from serverproc import running_server

AUTH = {"Authorization": "Bearer lifecycle"}
CONTROL = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--log", "quiet") as (url, mock):
        yield url
        assert mock.process.poll() is None, "the server died"


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _journal_when(url: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while True:
        entries = httpx.get(url + "/__mock/requests").json()["requests"]
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 5000\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\n1a\r\n"],
    ids=["content-length", "chunked"],
)
def test_a_truncated_body_is_never_applied(server: str, framing: bytes) -> None:
    httpx.post(server + "/__mock/reset", headers=CONTROL)
    body = b'{"name": "Truncated Name"}'  # valid JSON on its own: only the framing says it is cut
    with _connect(server) as sock:
        sock.sendall(b"PATCH /accounts/ACME-US HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\n"
                     b"Content-Type: application/json\r\n" + framing + body)
        time.sleep(0.2)
    [entry] = _journal_when(server, 1)
    assert (entry["method"], entry["status"]) == ("PATCH", 0)
    assert httpx.get(server + "/accounts/ACME-US", headers=AUTH).json()["name"] != "Truncated Name"
