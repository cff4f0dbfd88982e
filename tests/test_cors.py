"""CORS for real frontend setups (issue 13): local origins always, more with --cors-origin, '*' for any,
credentials, and every preflight logged (a refused one naming the origin and the flag)."""
from __future__ import annotations

import io

from conftest import make_api
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server.cors import CorsMiddleware, CorsPolicy

LAN = "http://192.168.1.20:5173"


def _preflight(api, origin: str, path: str = "/accounts", headers: str = "authorization"):
    return api.client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": headers})


def test_policy_admits_local_origins_plus_configured_ones() -> None:
    default = CorsPolicy()
    assert default.admits("http://localhost:5173") and default.admits("https://127.0.0.1") and default.admits("http://[::1]:3000")
    assert not default.admits(LAN) and not default.admits("http://localhost.evil.example")
    added = CorsPolicy([LAN + "/"])
    assert added.admits(LAN) and added.admits("http://localhost:3000")  # adds, does not replace
    assert not added.admits("http://192.168.1.21:5173")
    assert CorsPolicy(["*"]).admits("http://10.0.0.7:8080")


def test_lan_origin_is_refused_with_a_json_error_saying_which_flag_admits_it() -> None:
    for api in make_api():
        r = _preflight(api, LAN)
        assert r.status_code == 403
        assert r.headers["x-mock-rejected-by"] == "cors"
        assert "access-control-allow-origin" not in r.headers
        assert r.json() == {"message": f"CORS preflight refused: origin {LAN} is not allowed; start the mock "
                                       f"with --cors-origin {LAN} (or --cors-origin '*' for any origin)"}
        # The refused preflight is journaled, so the dashboard shows it too.
        [entry] = api.get("/__mock/requests").json()["requests"]
        assert (entry["method"], entry["status"], entry["rejectedBy"]) == ("OPTIONS", 403, "cors")


def test_star_reflects_any_origin_with_credentials() -> None:
    for api in make_api(cors_origins=("*",)):
        r = _preflight(api, LAN, headers="authorization,content-type,x-requested-with")
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == LAN  # reflected, never a literal '*'
        assert r.headers["access-control-allow-credentials"] == "true"
        assert r.headers["access-control-allow-headers"] == "authorization,content-type,x-requested-with"
        assert "PATCH" in r.headers["access-control-allow-methods"]
        got = api.get("/accounts?pageSize=1000", headers={"Origin": LAN})
        assert got.status_code == 400
        assert got.headers["access-control-allow-origin"] == LAN
        assert got.headers["access-control-allow-credentials"] == "true"
        exposed = got.headers["access-control-expose-headers"].lower()
        assert "x-mock-violations" in exposed and "x-mock-rejected-by" in exposed
        assert "origin" in got.headers["vary"].lower()


def test_credentials_for_the_default_local_origins() -> None:
    for api in make_api():
        r = api.get("/accounts", headers={"Origin": "http://localhost:5173"})
        assert r.headers["access-control-allow-credentials"] == "true"
        assert r.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_every_preflight_is_logged_and_a_refused_actual_request_once() -> None:
    out = io.StringIO()
    app = create_app(Config(log="quiet"))
    app.togai_cors = CorsMiddleware(app.togai, CorsPolicy(), stream=out)
    client = TestClient(app, base_url="http://localhost")
    client.options("/accounts", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization,content-type"})
    client.options("/accounts", headers={"Origin": LAN, "Access-Control-Request-Method": "GET"})
    for _ in range(3):
        client.get("/accounts", headers={"Origin": LAN, "Authorization": "Bearer t"})
    lines = out.getvalue().splitlines()
    assert lines[0] == "CORS preflight POST /accounts from http://localhost:3000: allowed (headers: authorization,content-type)"
    assert lines[1] == (f"CORS preflight GET /accounts refused: origin {LAN} is not allowed; "
                        f"start the mock with --cors-origin {LAN} (or --cors-origin '*' for any origin)")
    assert lines[2].startswith(f"CORS: GET /accounts from {LAN}: the browser will hide the answer: origin {LAN}")
    assert len(lines) == 3  # the same origin is not repeated


def test_log_quiet_silences_cors_lines() -> None:
    out = io.StringIO()
    app = create_app(Config(log="quiet"))
    mw = CorsMiddleware(app.togai, CorsPolicy(), stream=out, log="quiet")
    app.togai_cors = mw
    TestClient(app).options("/accounts", headers={"Origin": LAN, "Access-Control-Request-Method": "GET"})
    assert out.getvalue() == ""


def test_control_origin_has_cors_too_but_is_not_journaled() -> None:
    for api in make_api():
        r = api.client.options("/__mock/reset", headers={"Origin": LAN, "Access-Control-Request-Method": "POST"})
        assert r.status_code == 403
        assert api.get("/__mock/requests").json() == {"requests": []}
