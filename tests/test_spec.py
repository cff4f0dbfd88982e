"""The hand-written spec is a valid OpenAPI 3.1 document whose schemas can all be satisfied."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import find
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from mock_server.config import DEFAULT_SPEC
from mock_server.handlers import bind
from mock_server.openapi.spec import SpecError, compile_spec, load_spec

RAW = yaml.safe_load(DEFAULT_SPEC.read_text())
SPEC = load_spec(DEFAULT_SPEC)
COMPONENTS = SPEC.document["components"]["schemas"]


def test_is_a_valid_openapi_31_document() -> None:
    assert RAW["openapi"].startswith("3.1")
    validate(RAW)


PUBLISHED = yaml.safe_load((Path(__file__).parent / "data" / "togai-published.yaml").read_text())


def test_serves_every_operation_of_the_published_contract() -> None:
    published = {
        (method.upper(), path, op["operationId"])
        for path, item in PUBLISHED["paths"].items()
        for method, op in item.items()
    }
    ours = {(op.method, op.path, op.operation_id) for op in SPEC.operations}
    # Ours also serves the operations of Togai's newer contract (tests/test_contracts.py).
    assert published <= ours


def test_every_handler_is_bound_to_an_operation_of_the_spec() -> None:
    ids = {op.operation_id for op in SPEC.operations}
    assert set(bind(SPEC)) <= ids


def test_every_operation_requires_bearer_auth() -> None:
    for op in SPEC.operations:
        [requirement] = op.security.schemes
        assert list(requirement) == ["bearerAuth"]
        assert requirement["bearerAuth"]["scheme"] == "bearer"


def _witness(schema: dict[str, Any]) -> Any:
    """A small instance of ``schema`` (enough for the subset this spec uses)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if "$ref" in schema:
        return _witness(COMPONENTS[schema["$ref"].split("/")[-1]])
    if "anyOf" in schema:
        return _witness(schema["anyOf"][0])
    if kind == "object" or (kind is None and "properties" in schema):
        names = list(schema.get("required", []))
        names += [n for n in schema.get("properties", {}) if n not in names][: max(0, schema.get("minProperties", 0) - len(names))]
        return {name: _witness(schema["properties"][name]) for name in names}
    if kind == "array":
        return [_witness(schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        fmt = {"date-time": "2024-01-01T00:00:00Z", "date": "2024-01-01", "email": "a@example.com", "duration": "P1D"}
        if schema.get("format") in fmt:
            return fmt[schema["format"]]
        if "pattern" in schema:
            lo, hi = schema.get("minLength", 0), schema.get("maxLength", 10**6)
            return find(st.from_regex(schema["pattern"], fullmatch=True), lambda s: lo <= len(s) <= hi)
        return "x" * max(schema.get("minLength", 0), 1 if "maxLength" not in schema else 0)
    if isinstance(kind, list):
        return _witness({**schema, "type": next(k for k in kind if k != "null")})
    if "const" in schema:
        return schema["const"]
    if kind == "integer":
        return schema.get("minimum", 0)
    if kind == "number":
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind is None:
        return {}
    raise AssertionError(f"no witness for {schema}")


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_every_component_schema_is_satisfiable(name: str) -> None:
    schema = COMPONENTS[name]
    Draft202012Validator.check_schema(schema)
    assert Draft202012Validator(schema).is_valid(_witness(schema))


def test_every_example_matches_its_schema() -> None:
    checked = 0
    for op in SPEC.operations:
        for response in op.responses.values():
            for name, example in response.examples.items():
                problems = response.validator.violations(example, "body")
                assert not problems, f"{op.operation_id} {response.status} example {name}: {problems}"
                checked += 1
    assert checked >= 17


def test_every_request_body_has_examples_that_match_its_schema() -> None:
    """A newcomer learns a body's shape from the spec: each has at least one example, and each example is valid."""
    checked, missing = 0, []
    for path_item in RAW["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            op = SPEC.operation(operation["operationId"])
            body = SPEC.document["paths"][op.path][op.method.lower()].get("requestBody")
            if not body:
                continue
            examples = body["content"]["application/json"].get("examples", {})
            if not examples:
                missing.append(op.operation_id)
            for name, example in examples.items():
                problems = op.body.validator.violations(example["value"])
                assert not problems, f"{op.operation_id} request example {name}: {[str(p) for p in problems]}"
                checked += 1
    assert missing == [], f"request bodies without an example: {missing}"
    assert checked >= 50


def test_every_response_with_a_body_has_an_example() -> None:
    missing = [
        f"{op.operation_id} {status}"
        for op in SPEC.operations
        for status, response in op.responses.items()
        if response.validator is not None and not response.examples
    ]
    assert missing == []


# Keywords a schema object of this spec may use (JSON Schema 2020-12 as OpenAPI 3.1 reads it, plus
# OpenAPI's own and the x- extensions). A description written as a YAML flow map with a comma
# (`{type: string, description: Street, PO box}`) makes a keyword such as `PO box`.
SCHEMA_KEYWORDS = {
    "$ref", "$defs", "type", "enum", "const", "format", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items", "prefixItems", "minItems", "maxItems",
    "uniqueItems", "contains", "properties", "patternProperties", "additionalProperties", "required",
    "minProperties", "maxProperties", "propertyNames", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    "dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "title", "description",
    "default", "examples", "example", "deprecated", "readOnly", "writeOnly", "discriminator", "xml",
    "externalDocs", "nullable", "contentMediaType", "contentEncoding",
}


def _schemas(node: Any, where: str) -> Any:
    """Every schema object of the document under ``node``, with where it is."""
    if not isinstance(node, dict):
        return
    yield node, where
    for key in ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"):
        if isinstance(node.get(key), dict):
            yield from _schemas(node[key], f"{where}.{key}")
    for key in ("properties", "patternProperties", "$defs", "dependentSchemas"):
        for name, sub in (node.get(key) or {}).items():
            yield from _schemas(sub, f"{where}.{key}.{name}")
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for i, sub in enumerate(node.get(key) or []):
            yield from _schemas(sub, f"{where}.{key}[{i}]")


def _all_schemas(document: dict[str, Any]) -> Any:
    """The schemas of components, parameters, request bodies and responses, wherever they are written."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        yield from _schemas(schema, f"components.schemas.{name}")

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "schema" and isinstance(value, dict):
                    yield from _schemas(value, f"{where}.schema")
                elif key not in ("examples", "example", "schemas"):
                    yield from walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, f"{where}[{i}]")

    yield from walk(document, "")


@pytest.mark.parametrize("document", ["openapi.yaml", "control.yaml"])
def test_no_schema_has_an_unknown_keyword(document: str) -> None:
    raw = RAW if document == "openapi.yaml" else yaml.safe_load((DEFAULT_SPEC.parent / document).read_text())
    stray = [
        f"{where}: {key!r}"
        for schema, where in _all_schemas(raw)
        for key in schema
        if key not in SCHEMA_KEYWORDS and not key.startswith("x-")
    ]
    assert stray == []


def test_the_unknown_keyword_check_catches_a_flow_map_description() -> None:
    broken = yaml.safe_load("components: {schemas: {A: {properties: {line1: {type: string, description: Street, PO box}}}}}")
    assert [key for schema, _ in _all_schemas(broken) for key in schema if key not in SCHEMA_KEYWORDS] == ["PO box"]


def test_published_allof_trap_is_not_copied() -> None:
    # Togai's InvoiceGroups = allOf(closed object, more properties) accepts nothing.
    group = COMPONENTS["InvoiceGroup"]
    assert "allOf" not in group
    assert {"accountsCount", "createdAt", "updatedAt", "invoiceCurrency"} <= set(group["properties"])


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "must be a mapping"),
        ({"openapi": "2.0", "paths": {}}, "3.x version"),
        ({"openapi": "3.1.0"}, "'paths' must be a mapping"),
        # (A missing operationId is no longer refused: it is named from method and path, tests/test_any_spec.py.)
        ({"openapi": "3.1.0", "paths": {"/a/{x}": {"get": {"operationId": "a", "responses": {"200": {"description": "x"}}}}}}, "path parameter 'x'"),
        ({"openapi": "3.1.0", "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"$ref": "#/nowhere"}}}}}}, "points nowhere"),
        ({"openapi": "3.1.0", "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"description": "x", "content": {"application/json": {"schema": {"type": 5}}}}}}}}}, "invalid schema"),
        ({"openapi": "3.1.0", "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"description": "x", "content": {"application/json": {"schema": {"type": "integer"}, "examples": {"bad": {"value": "seven"}}}}}}}}}}, "example 'bad' breaks its schema"),
        ({"openapi": "3.1.0", "components": {"schemas": {"A": {"$ref": "#/components/schemas/A"}}}, "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"description": "x", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}}}}, "cycle"),
    ],
)
def test_broken_specs_are_refused_with_a_message(doc: Any, problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        compile_spec(doc, "test.yaml")


def test_a_checked_spec_is_read_from_the_cache_and_serves_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGAI_MOCK_CACHE", str(tmp_path))
    first = load_spec(DEFAULT_SPEC)
    [entry] = list(tmp_path.glob("spec-*.json"))
    second = load_spec(DEFAULT_SPEC)
    assert second.document == first.document
    op = second.operation("createCustomer")
    assert op.body is not None and op.body.validator is not None
    assert [str(v) for v in op.body.validator.violations({})] == [str(v) for v in first.operation("createCustomer").body.validator.violations({})]
    # A damaged entry is ignored, not trusted.
    entry.write_text("{not json")
    assert load_spec(DEFAULT_SPEC).document == first.document


def test_a_spec_that_fails_its_checks_is_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGAI_MOCK_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"openapi": "3.1.0", "paths": {"/a": {"get": {"operationId": "a", "responses": {"200": {"description": "x", "content": {"application/json": {"schema": {"type": "integer"}, "examples": {"bad": {"value": "seven"}}}}}}}}}}))
    for _ in range(2):
        with pytest.raises(SpecError, match="breaks its schema"):
            load_spec(bad)
    assert not list((tmp_path / "cache").glob("spec-*.json")) if (tmp_path / "cache").exists() else True
