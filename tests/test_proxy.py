"""--proxy: the mock in front of a real Togai, played here by a second mock whose overrides break the contract."""
from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import AUTH, Api, group_body, make_api
from serverproc import running_server

from mock_server.cli import config_from_args
from mock_server.config import DEFAULT_SPEC
from mock_server.drift import EXAMPLE_BYTES, Answer, Drift
from mock_server.errors import Violation
from mock_server.openapi.spec import load_spec
from mock_server.proxy import Upstream, check_answer
from mock_server.pytest_plugin import TogaiMock

CONTROL = {"Content-Type": "application/json"}
# A conforming account, for overrides that break only one thing.
ACCOUNT = {
    "id": "ACME-US", "name": "Acme US", "customerId": "ACME", "status": "ACTIVE",
    "togaiAccountId": "account.aaaaaaaa.bbbbb", "togaiCustomerId": "customer.aaaaaaaa.bbbbb",
}


@pytest.fixture(scope="module")
def upstream_server() -> Iterator[TogaiMock]:
    """The "real Togai": a mock over the demo tenant, seeded."""
    with running_server("--seed", "1", "--log", "quiet") as (_, mock):
        yield mock


@pytest.fixture
def upstream(upstream_server: TogaiMock) -> TogaiMock:
    """The upstream, reset (fixtures back, no journal, no overrides)."""
    upstream_server.reset()
    return upstream_server


@pytest.fixture
def proxy(upstream: TogaiMock) -> Iterator[Api]:
    """An in-process mock proxying to the upstream, with the self-check on."""
    yield from make_api(proxy=upstream.url, proxy_timeout=2)


def direct(upstream: TogaiMock, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, upstream.url + path, headers=AUTH, timeout=10, **kw)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- forwarding -------------------------------------------------------------------


def test_reads_are_forwarded_and_answered_unchanged(proxy: Api, upstream: TogaiMock) -> None:
    r = proxy.get("/accounts?pageSize=2", headers={"X-Trace": "t-1", "Connection": "keep-alive, X-Hop", "X-Hop": "1",
                                                   "Proxy-Authorization": "Basic cHJveHk="})
    assert r.status_code == 200
    assert r.content == direct(upstream, "GET", "/accounts?pageSize=2").content  # byte for byte
    assert "x-mock-violations" not in r.headers
    seen, _ = upstream.requests()  # then the direct call
    assert (seen["method"], seen["path"], seen["query"], seen["status"]) == ("GET", "/accounts", "pageSize=2", 200)
    headers = seen["requestHeaders"]
    assert headers["authorization"] == "Bearer ***" and headers["x-trace"] == "t-1"
    assert headers["host"] == upstream.url.removeprefix("http://")
    # Hop-by-hop headers (and those Connection names) stay with the proxy.
    assert not {"x-hop", "connection", "proxy-authorization"} & set(headers)


def test_the_authorization_header_reaches_the_upstream() -> None:
    with running_server("--token", "sandbox-key", "--log", "quiet") as (url, _):
        for api in make_api(proxy=url):
            assert api.get("/accounts/ACME-US", headers={"Authorization": "Bearer sandbox-key"}).status_code == 200
            refused = api.get("/accounts/ACME-US", headers={"Authorization": "Bearer another"})
            assert refused.status_code == 401  # the upstream's answer, passed on
            assert refused.json()["message"] == direct_message(url, "another")


def direct_message(url: str, token: str) -> str:
    r = httpx.get(url + "/accounts/ACME-US", headers={"Authorization": f"Bearer {token}"})
    return str(r.json()["message"])


def test_writes_are_forwarded_and_land_upstream(proxy: Api, upstream: TogaiMock) -> None:
    local = proxy.state()
    created = proxy.post("/invoice_groups", json=group_body("ACME-US", name="Through the proxy"))
    assert created.status_code == 200, created.text
    group_id = created.json()["id"]
    assert direct(upstream, "GET", f"/invoice_groups/{group_id}").json()["name"] == "Through the proxy"
    patched = proxy.patch("/accounts/GLOBEX-US", json={"name": "Renamed upstream"})
    assert patched.status_code == 200 and patched.json()["name"] == "Renamed upstream"
    assert direct(upstream, "GET", "/accounts/GLOBEX-US").json()["name"] == "Renamed upstream"
    assert [r["requestBody"] for r in upstream.requests() if r["method"] != "GET"] == [
        group_body("ACME-US", name="Through the proxy"), {"name": "Renamed upstream"}]
    # A business rule of the upstream answers through the proxy too (the account is taken now).
    taken = proxy.post("/invoice_groups", json=group_body("ACME-US"))
    assert taken.status_code == 400 and "already belongs" in taken.json()["message"]
    assert proxy.state() == local  # the proxy's own tenant is not used


def test_a_path_prefix_of_the_upstream_url_is_kept(upstream: TogaiMock) -> None:
    for api in make_api(proxy=upstream.url + "/v1/"):
        assert api.get("/accounts").status_code == 404  # the upstream has no /v1: its 404 passes through
    assert [r["path"] for r in upstream.requests()] == ["/v1/accounts"]


# -- answers that break the contract ------------------------------------------------------------


@pytest.mark.parametrize(("rule", "violation"), [
    ({"status": 200, "body": {**ACCOUNT, "id": 5}}, "body.id: must be a string"),
    ({"status": 200, "body": {**ACCOUNT, "status": "DRAFTY"}}, "body.status: must be one of: ACTIVE, DRAFT, ARCHIVED"),
    ({"status": 200, "body": ACCOUNT, "headers": {"Content-Type": "text/plain"}},
     "Content-Type: is text/plain, the spec declares application/json"),
    ({"status": 204}, "body: is missing"),
    ({"status": 500, "body": "oops"}, "body: must be an object"),
])
def test_an_answer_that_breaks_the_spec_passes_through_flagged(
    proxy: Api, upstream: TogaiMock, rule: dict[str, Any], violation: str
) -> None:
    upstream.override(method="GET", path="/accounts/{account_id}", headers={"X-Up": "yes", **rule.pop("headers", {})},
                      **rule)
    r = proxy.get("/accounts/ACME-US")
    raw = direct(upstream, "GET", "/accounts/ACME-US")
    # Not a 500 of the self-check: the upstream's status, headers and bytes.
    assert (r.status_code, r.content, r.headers["x-up"]) == (raw.status_code, raw.content, "yes")
    assert r.headers.get("content-type") == raw.headers.get("content-type")
    flagged = json.loads(r.headers["x-mock-violations"])
    assert violation in flagged
    entry = proxy.get("/__mock/requests").json()["requests"][-1]
    assert entry["violations"] == flagged
    assert entry["operationId"] == "getAccount" and entry["status"] == rule["status"]
    assert entry["responseBody"] == (None if rule["status"] == 204 else rule.get("body"))


def test_a_conforming_answer_is_not_flagged(proxy: Api, upstream: TogaiMock) -> None:
    upstream.override(method="GET", path="/accounts/{account_id}", status=200, body=ACCOUNT)
    r = proxy.get("/accounts/ACME-US")
    assert r.json() == ACCOUNT and "x-mock-violations" not in r.headers
    assert proxy.get("/__mock/requests").json()["requests"][-1]["violations"] == []


def test_flags_are_capped_like_every_violation_list(proxy: Api, upstream: TogaiMock) -> None:
    upstream.override(method="GET", path="/accounts", status=200, body={"data": [{"id": i} for i in range(50)]})
    flagged = json.loads(proxy.get("/accounts").headers["x-mock-violations"])
    assert len(flagged) == 21 and flagged[-1].startswith("(and ")


def test_the_log_line_hop_by_hop_and_date_against_the_real_server(upstream: TogaiMock) -> None:
    upstream.override(method="GET", path="/accounts/{account_id}", status=200, body={**ACCOUNT, "id": 5},
                      headers={"Keep-Alive": "timeout=99", "X-Up": "yes"})
    with running_server("--proxy", upstream.url) as (url, mock):
        r = httpx.get(url + "/accounts/ACME-US", headers=AUTH)
        assert r.status_code == 200 and r.headers["x-up"] == "yes"
        assert "keep-alive" not in r.headers  # the upstream's hop-by-hop headers are dropped
        assert len(r.headers.get_list("date")) == 1 and len(r.headers.get_list("server")) == 1
        assert int(r.headers["content-length"]) == len(r.content)
        [operation] = mock.drift()["operations"]
        assert operation["operationId"] == "getAccount" and operation["flagged"] == 1
        # The log line is written after the answer is sent: give it a moment.
        deadline = time.monotonic() + 5
        while "body.id: must be a string" not in (output := mock.output()) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "GET /accounts/ACME-US 200" in output and "body.id: must be a string" in output


def test_gzip_answers_are_checked_decoded() -> None:
    op = load_spec(DEFAULT_SPEC).operation("getAccount")
    headers = httpx.Headers({"content-type": "application/json", "content-encoding": "gzip"})
    assert check_answer(op, 200, headers, gzip.compress(json.dumps(ACCOUNT).encode())) == []
    broken = gzip.compress(json.dumps({**ACCOUNT, "id": 5}).encode())
    assert check_answer(op, 200, headers, broken) == [Violation("body.id", "must be a string")]
    assert check_answer(op, 200, headers, b"not gzip")[0].rule.startswith("is not JSON")
    assert check_answer(op, 200, httpx.Headers({"content-type": "application/json"}), b'{"id": NaN}')[0].field == "body"


# -- requests that break the spec ---------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "kw", "status", "stage"), [
    ("POST", "/invoice_groups", {"json": {"name": "x"}}, 400, "body"),
    ("GET", "/accounts?pageSize=1000", {}, 400, "parameters"),
    ("GET", "/accounts", {"auth": False}, 401, "security"),
    ("GET", "/nowhere", {}, 404, "route"),
    ("POST", "/invoice_groups", {"content": b"{", "headers": {"Content-Type": "application/json"}}, 400, "body"),
])
def test_an_invalid_request_is_refused_locally_and_never_forwarded(
    proxy: Api, upstream: TogaiMock, method: str, path: str, kw: dict[str, Any], status: int, stage: str
) -> None:
    r = proxy.request(method, path, **kw)
    assert (r.status_code, r.headers["x-mock-rejected-by"]) == (status, stage)
    assert set(r.json()) == {"message"}
    assert upstream.requests() == []


# -- the upstream fails -------------------------------------------------------------------------


def test_an_unreachable_upstream_is_a_quick_502() -> None:
    port = closed_port()
    for api in make_api(proxy=f"http://127.0.0.1:{port}"):
        started = time.monotonic()
        r = api.get("/accounts")
        assert time.monotonic() - started < 2
        assert r.status_code == 502 and r.headers["x-mock-rejected-by"] == "upstream"
        assert r.json()["message"].startswith(f"upstream: http://127.0.0.1:{port} could not connect")
        entry = api.get("/__mock/requests").json()["requests"][-1]
        assert entry["status"] == 502 and entry["violations"][0].startswith("upstream: ")


def test_a_slow_upstream_is_a_504_at_the_timeout(upstream: TogaiMock) -> None:
    upstream.override(method="GET", path="/accounts", delayMs=5000)
    for api in make_api(proxy=upstream.url, proxy_timeout=0.5):
        started = time.monotonic()
        r = api.get("/accounts")
        assert 0.4 < time.monotonic() - started < 2
        assert r.status_code == 504
        assert r.json() == {"message": f"upstream: {upstream.url} did not answer within 0.5 s"}


@pytest.mark.parametrize("fault", ["connection_reset", "empty_response"])
def test_an_upstream_that_drops_the_connection_is_a_502(proxy: Api, upstream: TogaiMock, fault: str) -> None:
    upstream.override(method="GET", path="/accounts", fault=fault)
    r = proxy.get("/accounts")
    assert r.status_code == 502
    assert r.json()["message"].startswith(f"upstream: {upstream.url} ")


# -- what the mock still does in front ------------------------------------------------------------


def test_overrides_prefer_and_control_calls_answer_without_forwarding(proxy: Api, upstream: TogaiMock) -> None:
    proxy.post("/__mock/overrides", json={"method": "GET", "path": "/accounts", "status": 503, "times": 1})
    assert proxy.get("/accounts").status_code == 503
    assert proxy.get("/accounts/ACME-US", headers={"Prefer": "code=404"}).status_code == 404
    assert proxy.get("/__mock/health").json()["status"] == "ok"
    assert upstream.requests() == []
    proxy.post("/__mock/overrides", json={"method": "GET", "path": "/accounts", "delayMs": 300, "times": 1})
    started = time.monotonic()
    assert proxy.get("/accounts").status_code == 200  # delayed, then forwarded
    assert time.monotonic() - started >= 0.3
    assert [r["path"] for r in upstream.requests()] == ["/accounts"]


def test_latency_delays_forwarded_answers(upstream: TogaiMock) -> None:
    for api in make_api(proxy=upstream.url, latency=(0.3, 0.3)):
        started = time.monotonic()
        assert api.get("/accounts").status_code == 200
        assert time.monotonic() - started >= 0.3
    assert len(upstream.requests()) == 1


def test_faults_work_in_proxy_mode(upstream: TogaiMock) -> None:
    with running_server("--proxy", upstream.url, "--log", "quiet") as (url, mock):
        mock.override(method="GET", path="/accounts", fault="connection_reset", times=1)
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/accounts", headers=AUTH)
        assert httpx.get(url + "/accounts", headers=AUTH).status_code == 200
    assert len(upstream.requests()) == 1


# -- the drift report -------------------------------------------------------------------------


def test_drift_groups_flagged_answers_by_operation_and_violation(proxy: Api, upstream: TogaiMock) -> None:
    upstream.override(method="GET", path="/accounts", status=200, body={"data": [{**ACCOUNT, "id": 1}, {**ACCOUNT, "id": 2}]})
    upstream.override(method="GET", path="/accounts/{account_id}", status=200, body={**ACCOUNT, "status": "DRAFTY"})
    proxy.get("/accounts?pageSize=5")
    proxy.get("/accounts")
    proxy.get("/accounts/ACME-US")
    proxy.get("/customers")  # conforms: checked, not flagged
    report = proxy.get("/__mock/drift").json()  # the self-check holds it to spec/control.yaml
    assert {k: report[k] for k in ("upstream", "checked", "flagged", "unlisted")} == {
        "upstream": upstream.url, "checked": 4, "flagged": 3, "unlisted": 0}
    listing, single = report["operations"]
    assert (listing["operationId"], listing["method"], listing["path"], listing["flagged"]) == (
        "getAccounts", "GET", "/accounts", 2)
    [violation] = listing["violations"]  # items 0 and 1 break the same rule: one group
    assert (violation["violation"], violation["count"]) == ("body.data[*].id: must be a string", 2)
    example = violation["example"]
    assert (example["path"], example["query"], example["status"]) == ("/accounts", "pageSize=5", 200)
    assert example["body"]["data"][0]["id"] == 1
    assert single["operationId"] == "getAccount"
    assert [(v["violation"], v["count"]) for v in single["violations"]] == [
        ("body.status: must be one of: ACTIVE, DRAFT, ARCHIVED", 1)]
    # A reset is about the tenant: the report stays; DELETE empties it.
    proxy.post("/__mock/reset", headers=CONTROL)
    assert proxy.get("/__mock/drift").json()["flagged"] == 3
    assert proxy.delete("/__mock/drift", headers=CONTROL).json() == {"success": True}
    assert proxy.get("/__mock/drift").json() == {
        "upstream": upstream.url, "checked": 0, "flagged": 0, "unlisted": 0, "operations": []}


def test_drift_without_proxy_is_empty(api: Api) -> None:
    assert api.get("/__mock/drift").json() == {"upstream": None, "checked": 0, "flagged": 0, "unlisted": 0,
                                               "operations": []}


def test_drift_is_bounded_and_cuts_examples() -> None:
    drift = Drift("http://up", max_keys=2)
    big = json.dumps({"data": "x" * EXAMPLE_BYTES}).encode()
    answer = Answer("listAccounts", "GET", "/accounts", "/accounts", "", 200, big)
    drift.record(answer, [Violation(f"body.f{i}", "is wrong") for i in range(3)])
    drift.record(answer, [Violation("body.f0", "is wrong"), Violation("body.f0", "is wrong")])  # once per answer
    report = drift.report()
    assert report["unlisted"] == 1 and report["flagged"] == 2
    [operation] = report["operations"]
    assert [(v["violation"], v["count"]) for v in operation["violations"]] == [("body.f0: is wrong", 2),
                                                                              ("body.f1: is wrong", 1)]
    body = operation["violations"][0]["example"]["body"]
    assert isinstance(body, str) and len(body) == EXAMPLE_BYTES + 1 and body.endswith("…")


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "error"), [
    (["--proxy", "ftp://example.com"], "not an http(s) URL with a host"),
    (["--proxy", "http://"], "not an http(s) URL with a host"),
    (["--proxy", "http://127.0.0.1:1/?x=1"], "no query or fragment"),
    (["--proxy-timeout", "0"], "not a timeout"),
    (["--proxy-timeout", "nan"], "not a timeout"),
])
def test_bad_proxy_flags_are_refused(args: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        config_from_args(args)
    assert exc.value.code == 2 and error in capsys.readouterr().err


def test_proxy_flags_reach_the_config() -> None:
    config, _ = config_from_args(["--proxy", "https://sandbox-api.togai.com", "--proxy-timeout", "2.5"])
    assert (config.proxy, config.proxy_timeout) == ("https://sandbox-api.togai.com", 2.5)
    assert Upstream(config.proxy, config.proxy_timeout).url == "https://sandbox-api.togai.com"


def test_the_upstream_connections_close_at_shutdown(upstream: TogaiMock) -> None:
    for api in make_api(proxy=upstream.url):
        assert api.get("/accounts").status_code == 200
        forwarder = api.app.state.upstream
        assert forwarder._client is not None and not forwarder._client.is_closed
        client = forwarder._client
    assert client.is_closed and forwarder._client is None  # the lifespan's shutdown closed the pool
