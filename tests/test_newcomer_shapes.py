"""Another spec, its own shapes (issue 24, item 6): Prefer, override and the mock's own rejections answer
the error shape the spec declares for the status; Togai's {"message": ...} only where it declares nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.config import Config

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Shop", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Pet": {"type": "object", "required": ["id", "name"],
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
            # No "message": Togai's ErrorResponse would break it.
            "Problem": {"type": "object", "additionalProperties": False, "required": ["code", "error"],
                        "properties": {"code": {"type": "integer", "minimum": 400}, "error": {"type": "string"}}},
        },
    },
    "paths": {
        "/pets/{id}": {"get": {
            "operationId": "getPet",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {
                "200": {"description": "a pet", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Pet"}, "example": {"id": 1, "name": "Rex"}}}},
                "404": {"description": "no such pet", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}},
            }}},
        "/pets": {"post": {
            "operationId": "addPet",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Pet"}}}},
            "responses": {
                "201": {"description": "added", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Pet"}, "example": {"id": 2, "name": "Tom"}}}},
                "default": {"description": "any error", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": {"code": 400, "error": "the pet is not valid"}}}},
            }}},
        "/secure": {"get": {
            "operationId": "secure", "security": [{"bearer": []}],
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"type": "object"}, "example": {}}}}}}},
    },
}


@pytest.fixture(params=[False, True], ids=["plain", "self-check"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> TestClient:
    spec = tmp_path / "shop.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    app = create_app(Config(spec=spec, fixtures=None, log="quiet", self_check=request.param))
    return TestClient(app, base_url="http://localhost")


def _is_problem(body: object) -> bool:
    return isinstance(body, dict) and set(body) == {"code", "error"} and isinstance(body["code"], int)


def test_prefer_code_answers_a_body_made_from_the_declared_error_schema(shop: TestClient) -> None:
    r = shop.get("/pets/1", headers={"Prefer": "code=404"})
    assert r.status_code == 404 and _is_problem(r.json()) and r.json()["code"] >= 400


def test_an_override_without_a_body_answers_the_declared_shape(shop: TestClient) -> None:
    shop.post("/__mock/overrides", json={"method": "GET", "path": "/pets/{id}", "status": 404})
    r = shop.get("/pets/7")
    assert r.status_code == 404 and _is_problem(r.json())
    shop.post("/__mock/overrides", json={"method": "POST", "path": "/pets", "status": 409})
    r = shop.post("/pets", json={"id": 3, "name": "Kit"})
    assert (r.status_code, r.json()) == (409, {"code": 400, "error": "the pet is not valid"})  # default's example


def test_a_rejection_answers_the_declared_shape_and_keeps_its_violations_in_the_header(shop: TestClient) -> None:
    r = shop.post("/pets", json={"name": 5})
    assert r.status_code == 400
    assert r.json() == {"code": 400, "error": "the pet is not valid"}
    assert r.headers["x-mock-rejected-by"] == "body"
    assert any("id" in v for v in json.loads(r.headers["x-mock-violations"]))


def test_togai_shape_where_the_spec_declares_nothing_for_the_status(shop: TestClient) -> None:
    r = shop.get("/secure")  # no token: a 401 the operation does not declare
    assert (r.status_code, r.headers["x-mock-rejected-by"]) == (401, "security")
    assert set(r.json()) == {"message"}
    assert shop.get("/nowhere").json().keys() == {"message"}  # no operation at all


def test_the_togai_spec_keeps_its_error_response() -> None:
    client = TestClient(create_app(Config(log="quiet", self_check=True)), base_url="http://localhost")
    auth = {"Authorization": "Bearer t"}
    assert set(client.get("/accounts/NOPE", headers=auth).json()) == {"message"}
    client.post("/__mock/overrides", json={"method": "GET", "path": "/accounts", "status": 503})
    r = client.get("/accounts", headers=auth)
    assert r.status_code == 503 and "forced by the mock" in r.json()["message"]
