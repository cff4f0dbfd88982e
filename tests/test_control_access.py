"""The control API is not an open door: Host, token, JSON-only changes, masked credentials."""
from __future__ import annotations

import httpx
import pytest
from conftest import Api, make_api
from serverproc import running_server

from mock_server.pytest_plugin import TogaiMockError

CONTROL = {"Content-Type": "application/json"}


def test_with_token_the_control_api_needs_one_too() -> None:
    with running_server("--token", "secret", "--token", "other") as (url, mock):
        assert httpx.get(f"{url}/__mock/health").status_code == 401
        assert httpx.get(f"{url}/__mock/state", headers={"Authorization": "Bearer nope"}).status_code == 401
        r = httpx.post(f"{url}/__mock/reset?empty=true", headers=CONTROL)
        assert r.status_code == 401 and set(r.json()) == {"message"}
        assert httpx.get(f"{url}/accounts", headers={"Authorization": "Bearer other"}).json()["data"]  # not emptied
        assert httpx.get(f"{url}/__mock/health", headers={"Authorization": "Bearer other"}).status_code == 200
        mock.reset()  # the plugin passes the first token
        assert mock.state()["accounts"]


def test_plugin_refuses_nothing_without_token_and_reports_refusals() -> None:
    with running_server("--token", "secret") as (url, mock):
        mock.token = "wrong"
        with pytest.raises(TogaiMockError, match="401"):
            mock.requests()


def test_the_journal_never_shows_credentials(api: Api) -> None:
    api.get("/accounts", headers={"Authorization": "Bearer very-secret-token", "Cookie": "session=abc123"})
    r = api.get("/__mock/requests")
    assert "very-secret-token" not in r.text and "abc123" not in r.text
    headers = r.json()["requests"][0]["requestHeaders"]
    assert headers["authorization"] == "Bearer ***"
    assert headers["cookie"] == "***"


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("POST", "/__mock/reset", {}, b""),
        ("POST", "/__mock/reset", {"Content-Type": "text/plain"}, b""),
        ("POST", "/__mock/reset?empty=true", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=b"),
        ("DELETE", "/__mock/requests", {}, b""),
        ("DELETE", "/__mock/overrides", {"Content-Type": "multipart/form-data; boundary=x"}, b""),
        ("PUT", "/__mock/state", {"Content-Type": "text/plain"}, b'{"customers": [], "accounts": [], "invoiceGroups": []}'),
        ("POST", "/__mock/overrides", {"Content-Type": "text/plain"}, b'{"path": "/accounts", "status": 500}'),
    ],
    ids=["reset-bare", "reset-text", "reset-form", "clear-journal", "clear-overrides-multipart", "state-text", "override-text"],
)
def test_changes_without_json_are_refused_and_change_nothing(api: Api, method: str, path: str, headers: dict, body: bytes) -> None:
    api.patch("/accounts/ACME-US", json={"name": "Changed Name"})
    api.post("/__mock/overrides", json={"path": "/customers", "status": 503})
    before = (api.state(), api.get("/__mock/requests").json(), api.get("/__mock/overrides").json())
    r = api.request(method, path, headers=headers, content=body)
    assert r.status_code == 415, r.text
    assert r.json() == {"message": "Content-Type: must be application/json for a call that changes the mock"}
    assert (api.state(), api.get("/__mock/requests").json(), api.get("/__mock/overrides").json()) == before


def test_reset_with_json_content_type_and_no_body(api: Api) -> None:
    assert api.post("/__mock/reset", headers=CONTROL).json() == {"success": True}
    assert api.post("/__mock/reset", headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:4010", "localhost.evil.example", "127.0.0.1.nip.io", "[::2]:80"])
def test_foreign_host_names_are_refused(api: Api, host: str) -> None:
    before = api.state()
    for method, path in (("GET", "/__mock/state"), ("POST", "/__mock/reset?empty=true"), ("GET", "/__mock/nowhere")):
        r = api.request(method, path, headers={"Host": host, **CONTROL})
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["message"].startswith(f"Host: {host!r} is not a loopback address")
    assert api.state() == before
    assert api.get("/accounts", headers={"Host": host}).status_code == 200  # the Togai API is not concerned


@pytest.mark.parametrize("host", ["localhost", "localhost:4010", "127.0.0.1", "127.3.4.5:80", "[::1]:4010", "LOCALHOST"])
def test_loopback_host_names_are_allowed(api: Api, host: str) -> None:
    assert api.get("/__mock/health", headers={"Host": host}).status_code == 200


def test_allow_host_adds_names() -> None:
    for api in make_api(allow_hosts=("mock.internal", "box:8080")):
        assert api.get("/__mock/health", headers={"Host": "mock.internal:4010"}).status_code == 200
        assert api.get("/__mock/health", headers={"Host": "box:8080"}).status_code == 200
        assert api.get("/__mock/health", headers={"Host": "box:9090"}).status_code == 403
        assert api.get("/__mock/health", headers={"Host": "other.internal"}).status_code == 403


def test_allow_host_flag_on_the_real_server() -> None:
    with running_server("--allow-host", "mock.internal") as (url, _):
        assert httpx.get(f"{url}/__mock/health", headers={"Host": "mock.internal"}).status_code == 200
        assert httpx.get(f"{url}/__mock/health", headers={"Host": "evil.example"}).status_code == 403


def test_listening_beyond_loopback_without_token_warns() -> None:
    with running_server("--host", "0.0.0.0") as (url, mock):
        warnings = [line for line in mock.output().splitlines() if "warning" in line]
        assert warnings == [
            "mock-server: warning: listening on 0.0.0.0 without --token: anyone who can reach this port "
            "can read and change the mock"
        ]
        mock.reset()  # the plugin still finds the URL, and the listen address is an allowed Host
    with running_server("--host", "0.0.0.0", "--token", "t") as (url, mock):
        assert "warning" not in mock.output()
    with running_server() as (url, mock):
        assert "warning" not in mock.output()
