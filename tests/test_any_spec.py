"""Any valid OpenAPI 3.0/3.1 document is served, as `prism mock` serves it (issue 13)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import ROOT
from serverproc import running_server
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server.config import DEFAULT_FIXTURES
from mock_server.domain.registry import REGISTRY
from mock_server.openapi.compat import normalize
from mock_server.openapi.spec import load_spec

PETSTORE = ROOT / "tests" / "data" / "petstore" / "openapi.yaml"


@pytest.fixture
def pets() -> TestClient:
    # The bundled fixtures too, as a user running `mock-server other.yaml` gets them.
    return TestClient(create_app(Config(spec=PETSTORE, self_check=True)), base_url="http://localhost")


def _fixture_kinds() -> int:
    """How many kinds of record the bundled fixtures hold (counted: other branches add kinds)."""
    doc = yaml.safe_load((DEFAULT_FIXTURES / "tenant.yaml").read_text(encoding="utf-8"))
    return sum(1 for key in doc if key in REGISTRY.by_name)


def test_a_foreign_30_spec_with_the_bundled_fixtures_starts_and_answers(pets: TestClient) -> None:
    assert pets.get("/__mock/health").json()["customers"] == 0  # no Togai operation to load them with
    listed = pets.get("/pets")
    assert listed.status_code == 200
    assert listed.json() == [{"id": 0, "name": "string", "tag": "string"}]  # made from the schema
    assert pets.get("/pets/7").json() == {"id": 1, "name": "Rex", "tag": None}  # its example, nullable tag


def test_answers_made_from_schemas_meet_their_bounds(pets: TestClient) -> None:
    species = pets.get("/species?size=2")
    assert species.status_code == 200 and species.json() == {"kind": "dog", "legs": 2, "born": "2024-01-01T00:00:00Z"}
    # exclusiveMinimum: true with minimum: 1 (3.0) means > 1.
    r = pets.get("/species?size=1")
    assert r.status_code == 400 and r.json() == {"message": "size: must be > 1"}


def test_a_schema_no_value_can_be_made_for_answers_501_saying_what_to_add(pets: TestClient) -> None:
    r = pets.get("/codes")
    assert r.status_code == 501
    assert r.json()["message"].startswith("operationId: getCode has no handler, fixture or example, and no value could be made")
    assert r.json()["message"].endswith("add an example to the spec or a canned fixture")


def test_operation_without_operation_id_is_served(pets: TestClient) -> None:
    created = pets.post("/pets", json={"name": "Rex"})
    assert created.status_code == 201 and set(created.json()) == {"id", "name", "tag"}
    # Rejections are ErrorResponses, even for statuses the foreign spec does not declare (self-check on).
    bad = pets.post("/pets", json={"name": ""})
    assert bad.status_code == 400 and bad.headers["x-mock-rejected-by"] == "body"
    assert bad.json() == {"message": "name: must be at least 1 character long"}
    assert pets.get("/__mock/requests").json()["requests"][0]["operationId"] == "post_pets"


def test_recursive_schemas_are_validated_at_every_depth(pets: TestClient) -> None:
    ok = {"value": "root", "children": [{"value": "a", "children": [{"value": "b"}]}]}
    assert pets.post("/trees", json=ok).status_code == 204
    deep = {"value": "root", "children": [{"value": "a", "children": [{"value": 3}]}]}
    r = pets.post("/trees", json=deep)
    assert r.status_code == 400 and r.json() == {"message": "children[0].children[0].value: must be a string"}
    tree = pets.get("/trees")
    assert tree.status_code == 200 and tree.json()["value"] == "string"


def test_normalize_rewrites_30_keywords_and_names_operations() -> None:
    doc = {"openapi": "3.0.0", "paths": {
        "/a/{id}": {"get": {"responses": {}}, "post": {"operationId": "get_a_id", "responses": {}}},
        "/b": {"get": {"responses": {}, "parameters": [{"schema": {
            "type": "string", "enum": ["x"], "nullable": True}}]}},
    }, "components": {"schemas": {
        "N": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 9, "exclusiveMaximum": False},
        "R": {"$ref": "#/components/schemas/N", "nullable": True},
        "P": {"type": "object", "properties": {"nullable": {"type": "boolean"}}},
    }}}
    out = normalize(doc)
    assert out["paths"]["/a/{id}"]["get"]["operationId"] == "get_a_id_2"  # unique
    assert out["paths"]["/b"]["get"]["operationId"] == "get_b"
    assert out["paths"]["/b"]["get"]["parameters"][0]["schema"] == {"type": ["string", "null"], "enum": ["x", None]}
    schemas = out["components"]["schemas"]
    assert schemas["N"] == {"type": "integer", "exclusiveMinimum": 0, "maximum": 9}
    assert schemas["R"] == {"anyOf": [{"$ref": "#/components/schemas/N"}, {"type": "null"}]}
    assert schemas["P"] == doc["components"]["schemas"]["P"]  # a property named "nullable" stays
    assert "operationId" not in doc["paths"]["/b"]["get"]  # the input is left alone


def test_mutually_recursive_schemas_compile_whichever_is_met_first(tmp_path: Path) -> None:
    spec = tmp_path / "m.yaml"
    spec.write_text("""openapi: 3.1.0
info: {title: m, version: '1'}
paths:
  /a: {get: {operationId: getA, responses: {'200': {description: a, content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}}}}
  /b: {get: {operationId: getB, responses: {'200': {description: b, content: {application/json: {schema: {$ref: '#/components/schemas/B'}}}}}}}
components:
  schemas:
    A: {type: object, properties: {b: {$ref: '#/components/schemas/B'}, name: {type: string}}}
    B: {type: object, properties: {a: {$ref: '#/components/schemas/A'}, n: {type: integer}}}
""")
    loaded = load_spec(spec)
    get_b = loaded.operation("getB").success()
    assert get_b is not None and get_b.validator is not None
    assert get_b.validator.is_valid({"a": {"b": {"a": {"name": "x"}}}})
    assert not get_b.validator.is_valid({"a": {"b": {"a": {"name": 1}}}})


def test_positional_spec_like_prism_on_the_real_server() -> None:
    with running_server(str(PETSTORE)) as (url, mock):
        assert httpx.get(f"{url}/pets/1").json()["name"] == "Rex"
        output = mock.output()
        assert "Traceback" not in output
        # One line sums up what the bundled fixtures could not load (not a warning naming 23 kinds).
        assert "not loaded, the spec has no operation" not in output
        assert f"state: the bundled demo fixtures (fixtures/): nothing loaded; {_fixture_kinds()} kinds of record left out" in output
        assert "7 operations of tests/data/petstore/openapi.yaml, answered from its examples and schemas" in output


def test_spec_given_twice_is_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "mock_server", str(PETSTORE), "--spec", str(PETSTORE)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "give the spec once" in proc.stderr
