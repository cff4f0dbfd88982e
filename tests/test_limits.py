"""Every answer and every journal entry stays bounded, whatever the request."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import Api
from serverproc import running_server

AUTH = {"Authorization": "Bearer limits"}
JSON = {**AUTH, "Content-Type": "application/json"}
CONTROL = {"Content-Type": "application/json"}
MANY_ZEROS = b'{"billingInformation": {"emailRecipients": [' + b",".join([b"0"] * 300_000) + b"]}}"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--log", "quiet") as (url, mock):
        yield url
        assert mock.process.poll() is None, "the server died"


def _header_block(r: httpx.Response) -> int:
    return sum(len(k) + len(v) + 4 for k, v in r.headers.raw)


def test_300_000_violations_are_answered_fast_and_capped(server: str) -> None:
    httpx.delete(server + "/__mock/requests", headers=CONTROL)
    delays: list[float] = []

    def normal_requests() -> None:
        with httpx.Client(base_url=server, headers=AUTH) as client:
            client.get("/accounts/ACME-US")
            for _ in range(10):
                started = time.perf_counter()
                assert client.get("/accounts/ACME-US").status_code == 200
                delays.append(time.perf_counter() - started)

    started = time.perf_counter()
    other = threading.Thread(target=normal_requests)
    other.start()
    r = httpx.patch(server + "/accounts/ACME-US", headers=JSON, content=MANY_ZEROS, timeout=30)
    elapsed = time.perf_counter() - started
    other.join()
    assert r.status_code == 400
    assert elapsed < 1.5, elapsed
    listed = json.loads(r.headers["x-mock-violations"])
    assert len(listed) == 21
    assert listed[0] == "billingInformation.emailRecipients[0]: must be a string"
    assert listed[-1].startswith("(and at least ") and listed[-1].endswith(" more)")
    assert r.json()["message"].startswith("billingInformation.emailRecipients[0]: must be a string (and at least ")
    assert _header_block(r) < 8192
    assert max(delays) < 0.3, delays  # a concurrent client is not held up behind it
    [entry] = [e for e in httpx.get(server + "/__mock/requests").json()["requests"] if e["method"] == "PATCH"]
    assert entry["violations"] == listed


def test_300_000_broken_records_in_an_import_are_capped(server: str) -> None:
    state = {"customers": [0] * 300_000, "accounts": [], "invoiceGroups": []}
    started = time.perf_counter()
    r = httpx.put(server + "/__mock/state", headers=CONTROL, content=json.dumps(state), timeout=30)
    assert time.perf_counter() - started < 1.5
    assert r.status_code == 400
    listed = json.loads(r.headers["x-mock-violations"])
    assert len(listed) == 21 and listed[0] == "customers[0]: must be an object"
    assert _header_block(r) < 8192


def test_many_broken_records_are_capped(api: Api) -> None:
    state = api.get("/__mock/state").json()
    account = state["accounts"][0]
    state["accounts"] = [{**account, "id": f"A{i}", "status": "GONE", "netTermDays": -1} for i in range(3000)]
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400
    listed = json.loads(r.headers["x-mock-violations"])
    assert len(listed) == 21 and listed[-1].startswith("(and at least ")


def test_long_violations_keep_the_header_small(api: Api) -> None:
    body = {("k" * 5000) + str(i) + "\u00e9" * 300: 1 for i in range(50)}
    r = api.patch("/accounts/ACME-US", json=body)
    assert r.status_code == 400
    assert _header_block(r) < 8192
    listed = json.loads(r.headers["x-mock-violations"])
    assert 1 < len(listed) <= 21 and listed[-1].startswith("(and ")
    assert len(r.json()["message"]) <= 500


def _complete(answer: bytes) -> bool:
    """Whether ``answer`` holds a whole response: its head and as many body bytes as it announced."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def _raw(url: str, payload: bytes) -> bytes:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if _complete(b"".join(chunks)):
                    break  # the server keeps the connection open: do not wait for it to time out
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


@pytest.mark.parametrize(
    "headers",
    [
        b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 8000) for i in range(10)),  # 80 KB in ten headers
        b"X-Huge: " + b"a" * 10_000_000 + b"\r\n",  # one 10 MB header
    ],
    ids=["80KB-of-headers", "one-10MB-header"],
)
def test_request_headers_over_64_kib_get_431(server: str, headers: bytes) -> None:
    answer = _raw(server, b"GET /accounts HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\n" + headers + b"\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert json.loads(body) == {"message": "headers: must be at most 65536 bytes in all"}
    assert httpx.get(server + "/accounts", headers=AUTH).status_code == 200


def test_request_headers_over_64_kib_get_431_in_process(api: Api) -> None:
    r = api.get("/accounts", headers={f"X-Big-{i}": "a" * 8000 for i in range(10)})
    assert r.status_code == 431
    assert r.json() == {"message": "headers: must be at most 65536 bytes in all"}


def test_the_journal_keeps_at_most_64_kib_of_each_body(api: Api) -> None:
    big_name = "n" * 200_000
    api.patch("/accounts/ACME-US", json={"name": big_name})
    api.post("/__mock/overrides", json={"path": "/customers", "status": 200, "body": {"blob": "b" * 100_000}})
    assert len(api.get("/customers").content) > 100_000
    api.get("/accounts", headers={f"X-Mid-{i}": "m" * 6000 for i in range(9)})  # 54 KB: allowed, not all kept
    patch, get, headers = api.get("/__mock/requests").json()["requests"]
    assert isinstance(patch["requestBody"], str) and len(patch["requestBody"].encode()) <= 64 * 1024 + 100
    assert patch["requestBody"].startswith('{"name":"nnn')
    assert patch["truncated"] == ["requestBody"]
    assert isinstance(get["responseBody"], str) and len(get["responseBody"].encode()) <= 64 * 1024 + 100
    assert get["truncated"] == ["responseBody"]
    assert sum(len(k) + len(v) for k, v in headers["requestHeaders"].items()) <= 16 * 1024
    assert headers["truncated"] == ["requestHeaders"]
    small = api.get("/accounts/ACME-US")
    entry = api.get("/__mock/requests").json()["requests"][-1]
    assert entry["responseBody"] == small.json() and entry["truncated"] == []


@pytest.mark.parametrize("depth", [100, 300, 600, 1000])
def test_deeply_nested_override_bodies_are_refused(server: str, depth: int) -> None:
    body = b'{"path": "/accounts", "status": 200, "body": ' + b"[" * depth + b"]" * depth + b"}"
    r = httpx.post(server + "/__mock/overrides", headers=CONTROL, content=body)
    assert r.status_code == 400, r.text[:200]
    assert r.json()["message"].startswith("body: ")
    assert httpx.get(server + "/__mock/overrides").status_code == 200


@pytest.mark.parametrize("depth", [300, 900])
def test_the_journal_stays_valid_json_after_deep_bodies(server: str, depth: int) -> None:
    httpx.delete(server + "/__mock/requests", headers=CONTROL)
    r = httpx.patch(server + "/accounts/ACME-US", headers=JSON, content=b"[" * depth + b"]" * depth)
    assert r.status_code == 400
    listed = httpx.get(server + "/__mock/requests")
    assert listed.status_code == 200
    [entry] = listed.json()["requests"]
    assert entry["status"] == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"path": "/accounts", "status": 200, "body": {"a": 1e400}}', "body: 1e400 is out of range for a number"),
        (b'{"path": "/accounts", "status": 200, "body": [-1E+999]}', "body: -1E+999 is out of range for a number"),
    ],
)
def test_numbers_json_cannot_carry_are_refused_at_the_door(api: Api, body: bytes, message: str) -> None:
    r = api.post("/__mock/overrides", content=body, headers=CONTROL)
    assert r.status_code == 400
    assert r.json() == {"message": message}


def test_integral_floats_are_stored_as_integers(api: Api) -> None:
    r = api.patch("/accounts/ACME-US", content=b'{"netTermDays": 30.0}', headers=CONTROL)
    assert r.status_code == 200
    assert b'"netTermDays":30,' in r.content or b'"netTermDays":30}' in r.content
    assert api.get("/accounts/ACME-US").json()["netTermDays"] == 30
    assert '"netTermDays":30.0' not in api.get("/__mock/state").text
    r = api.patch("/accounts/ACME-US", content=b'{"netTermDays": 3e1}', headers=CONTROL)
    assert r.status_code == 200 and b'"netTermDays":30' in r.content
    assert api.patch("/accounts/ACME-US", content=b'{"netTermDays": 30.5}', headers=CONTROL).status_code == 400


def test_journal_shows_non_json_numbers_as_text(api: Api) -> None:
    api.patch("/accounts/ACME-US", content=b'{"netTermDays": NaN}', headers=CONTROL)
    api.patch("/accounts/ACME-US", content=b'{"netTermDays": 1e400}', headers=CONTROL)
    r = api.get("/__mock/requests")
    strict = json.loads(r.text, parse_constant=lambda name: pytest.fail(f"{name} in the journal"))
    bodies = [e["requestBody"] for e in strict["requests"]]
    assert bodies == ['{"netTermDays": NaN}', '{"netTermDays": 1e400}']
