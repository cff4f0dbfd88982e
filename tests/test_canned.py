"""Operations without a handler are still routed, validated and answered canned."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server.config import DEFAULT_SPEC
from mock_server.fixtures import FixtureError

AUTH = {"Authorization": "Bearer t"}


@pytest.fixture(scope="module")
def usage_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled spec plus an operation that only exists in this test, written once for the module
    (one file, so the spec cache compiles it once)."""
    return _spec_with_usage(tmp_path_factory.mktemp("spec"))


def _spec_with_usage(tmp_path: Path) -> Path:
    """The bundled spec plus an operation that only exists in this test."""
    doc = yaml.load(DEFAULT_SPEC.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    doc["paths"]["/usage/{account_id}"] = {
        "parameters": [
            {"name": "account_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 5}},
        ],
        "get": {
            "operationId": "getUsage",
            "parameters": [
                {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            ],
            "responses": {
                "200": {
                    "description": "usage",
                    "content": {"application/json": {
                        "schema": {"type": "object", "required": ["units"], "properties": {"units": {"type": "integer"}}},
                        "examples": {"small": {"value": {"units": 3}}, "big": {"value": {"units": 3000}}},
                    }},
                },
                "default": {"$ref": "#/components/responses/Error"},
            },
        },
        "post": {
            "operationId": "postUsage",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["units"], "additionalProperties": False,
                "properties": {"units": {"type": "integer"}}}}}},
            "responses": {"204": {"description": "accepted"}, "default": {"$ref": "#/components/responses/Error"}},
        },
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_operation_without_handler_answers_its_first_example(usage_spec: Path) -> None:
    client = TestClient(create_app(Config(spec=usage_spec, fixtures=None, self_check=True)))
    r = client.get("/usage/A1?days=2", headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {"units": 3}
    assert client.get("/usage/A1?days=0", headers=AUTH).json() == {"message": "days: must be >= 1"}
    assert client.get("/usage/TOOLONG", headers=AUTH).status_code == 400
    assert client.get("/usage/A1", headers={}).status_code == 401
    r = client.post("/usage/A1", json={"units": 2}, headers=AUTH)
    assert r.status_code == 204 and r.content == b""
    assert client.post("/usage/A1", json={"units": "2"}, headers=AUTH).json() == {"message": "units: must be an integer"}


def test_fixture_canned_response_wins(tmp_path: Path, usage_spec: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "canned.yaml").write_text(
        "canned:\n  getUsage:\n    status: 200\n    body: {units: 99}\n    headers: {x-source: fixture}\n"
    )
    client = TestClient(create_app(Config(spec=usage_spec, fixtures=fixtures, self_check=True)))
    r = client.get("/usage/A1", headers=AUTH)
    assert r.json() == {"units": 99}
    assert r.headers["x-source"] == "fixture"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("canned:\n  nope: {status: 200}\n", "canned.nope: no operation with this operationId"),
        ("canned:\n  getUsage: {status: '200'}\n", "canned.getUsage: needs an integer 'status'"),
        ("canned:\n  getUsage: {status: 200, body: {units: x}}\n", "body does not match the spec: units: must be an integer"),
        ("canned:\n  getUsage: {status: 200, body: {}}\n", "body does not match the spec: units: is required"),
        ("surprise: 1\n", "unknown key(s) surprise"),
        ("- 1\n", "must be a mapping"),
    ],
)
def test_bad_canned_fixtures_are_refused(tmp_path: Path, usage_spec: Path, text: str, problem: str) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "canned.yaml").write_text(text)
    with pytest.raises(FixtureError, match="canned.yaml: ") as info:
        create_app(Config(spec=usage_spec, fixtures=fixtures))
    assert problem in str(info.value)
