"""Requests routed and parsed before skip those two stages (Pipeline._bound), and nothing else changes:
security still runs, a refused request is never remembered, headers that are parameters are always read,
what a handler gets is its own, and the memory is bounded."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server import pipeline as pipeline_module


def _bound(api: Any) -> dict[Any, Any]:
    memo: dict[Any, Any] = api.app.state.pipeline._bound
    return memo


def test_a_remembered_request_still_passes_security(api: Any) -> None:
    assert api.get("/accounts/ACME-US").status_code == 200
    assert ("GET", "/accounts/ACME-US", b"") in _bound(api)
    refused = api.get("/accounts/ACME-US", auth=False)
    assert refused.status_code == 401 and refused.headers["x-mock-rejected-by"] == "security"
    assert api.get("/accounts/ACME-US").status_code == 200


def test_a_refused_request_is_not_remembered_and_is_refused_again(api: Any) -> None:
    for _ in range(2):
        bad = api.get("/accounts", params={"pageSize": "x"})
        assert bad.status_code == 400 and bad.headers["x-mock-rejected-by"] == "parameters"
    assert not any(key[1] == "/accounts" and b"pageSize=x" in key[2] for key in _bound(api))
    assert api.get("/accounts/NOPE").status_code == 404  # routed, parsed, then not found by the domain
    assert api.get("/accounts/NOPE").status_code == 404


def test_the_handler_gets_its_own_parameters(api: Any) -> None:
    api.get("/accounts", params={"pageSize": "2"})
    key = ("GET", "/accounts", b"pageSize=2")
    op, kept, _ = _bound(api)[key]
    kept_before = dict(kept)
    page = api.get("/accounts", params={"pageSize": "2"})
    assert page.status_code == 200 and len(page.json()["data"]) == 2
    assert _bound(api)[key][1] == kept_before == {"pageSize": 2}


def test_the_memory_is_bounded(api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(pipeline_module, "_BOUND_MAX", 8)
    for i in range(20):
        api.get(f"/accounts/ACME-{i}")
    assert len(_bound(api)) <= 8
    long_query = "pageSize=2&" + "x" * 600
    api.get(f"/accounts?{long_query}")
    assert not any(len(key[2]) > 512 for key in _bound(api))


def test_an_operation_with_header_parameters_reads_them_every_time(tmp_path: Path) -> None:
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/things/{id}": {"get": {
        "operationId": "getThing",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "X-Version", "in": "header", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"type": "object"}, "example": {"ok": True}}}}}}}}}
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(spec))
    client = TestClient(create_app(Config(spec=path, fixtures=None)), base_url="http://localhost")
    assert client.get("/things/a", headers={"X-Version": "2"}).status_code == 200
    assert client.get("/things/a", headers={"X-Version": "0"}).status_code == 400
    assert client.get("/things/a").status_code == 400
