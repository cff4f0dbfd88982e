"""What happens around a request: dropped connections, shutdown, reset while waiting."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
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


def _wait_exit(mock, within: float) -> int | None:
    try:
        return mock.process.wait(timeout=within)
    except Exception:
        mock.process.kill()
        return None


def _half_sent_body(sock: socket.socket) -> None:
    sock.sendall(b"PATCH /accounts/ACME-US HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\": ")


def _waiting_for_continue(sock: socket.socket) -> None:
    sock.sendall(b"PATCH /accounts/ACME-US HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 100")


def _half_sent_headers(sock: socket.socket) -> None:
    sock.sendall(b"GET /accounts HTTP/1.1\r\nHost: localhost\r\nAuthoriz")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("client", [_half_sent_body, _waiting_for_continue, _half_sent_headers],
                         ids=["half-sent-body", "expect-100-continue", "half-sent-headers"])
def test_shutdown_completes_while_a_client_holds_a_request(sig: int, client) -> None:
    with running_server("--log", "quiet") as (url, mock):
        with _connect(url) as sock:
            client(sock)
            time.sleep(0.3)
            started = time.monotonic()
            mock.process.send_signal(sig)
            assert _wait_exit(mock, 8) == 0
            assert time.monotonic() - started < 5
            answer = sock.recv(65536)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 503"), answer  # never uvicorn's bare 500
        assert "Traceback" not in mock.output()


def test_shutdown_completes_during_an_override_delay() -> None:
    with running_server("--log", "quiet") as (url, mock):
        mock.override(path="/accounts", delayMs=60_000)
        waiting = threading.Thread(target=lambda: _ignore(httpx.get, url + "/accounts", headers=AUTH, timeout=30))
        waiting.start()
        time.sleep(0.3)
        started = time.monotonic()
        mock.process.send_signal(signal.SIGTERM)
        assert _wait_exit(mock, 8) == 0
        assert time.monotonic() - started < 5
        waiting.join()
        assert "Traceback" not in mock.output()


def test_exit_with_parent_completes_while_a_client_holds_a_request() -> None:
    script = (
        "import sys\n"
        "from mock_server.pytest_plugin import start_server\n"
        "m = start_server(['--log', 'quiet'])\n"
        "print(m.process.pid, m.url, flush=True)\n"
        "sys.stdin.readline()\n"
        "import os; os._exit(0)\n"  # dies without stopping the server
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pid_text, url = parent.stdout.readline().split()
    pid = int(pid_text)
    try:
        with _connect(url) as sock:
            _half_sent_body(sock)
            time.sleep(0.3)
            parent.stdin.write("\n")
            parent.stdin.flush()
            parent.wait(timeout=10)
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            assert not _alive(pid), "the server outlived its parent"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ignore(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except httpx.HTTPError:
        pass


@pytest.mark.parametrize("cut", ["reset", "import"])
def test_a_request_waiting_across_a_reset_changes_neither_state_nor_journal(server: str, cut: str) -> None:
    httpx.post(server + "/__mock/reset", headers=CONTROL)
    exported = httpx.get(server + "/__mock/state").json()
    httpx.post(server + "/__mock/overrides", headers=CONTROL,
               json={"method": "PATCH", "path": "/accounts/{id}", "delayMs": 600, "times": 1})
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(httpx.patch(
        server + "/accounts/ACME-US", json={"name": "Stale Name"}, headers=AUTH, timeout=10)))
    waiting.start()
    time.sleep(0.2)
    if cut == "reset":
        assert httpx.post(server + "/__mock/reset", headers=CONTROL).status_code == 200
    else:
        assert httpx.put(server + "/__mock/state", json=exported, headers=CONTROL).status_code == 200
    waiting.join()
    assert answers[0].status_code == 503
    assert answers[0].json() == {"message": "the mock was reset or its state replaced while this request waited; nothing was applied"}
    assert httpx.get(server + "/accounts/ACME-US", headers=AUTH).json()["name"] != "Stale Name"
    assert [e["method"] for e in httpx.get(server + "/__mock/requests").json()["requests"]] == ["GET"]
