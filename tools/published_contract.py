"""Build ``tests/data/togai-published.yaml``: Togai's published contract, facts only.

Merges the 25 per-tag files of ``../shared/reference/togai-published/`` into
one OpenAPI 3.0.3 document, drops Togai's prose (descriptions, summaries,
titles, examples) and applies the deviations listed in ``spec/DEVIATIONS.md``
that fix the contract's defects. The conformance suite runs Schemathesis with
this document against the mock, so the mock is held to Togai's contract and
not only to our own spec.

    python tools/published_contract.py [REFERENCE_DIR] [OUT]
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "togai-published"
DEFAULT_OUT = ROOT / "tests" / "data" / "togai-published.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
PROSE = ("description", "summary", "title", "example", "examples", "externalDocs")
# Lists whose own documentation caps a page at 50 (the rest say 100).
PAGE_50 = {"getEvents", "listInvoices"}


def merge(reference: Path) -> dict[str, Any]:
    """One document from the per-tag files (they agree where they overlap)."""
    doc: dict[str, Any] = {"paths": {}, "components": {}}
    for path in sorted(reference.glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8"))
        for url, item in part["paths"].items():
            doc["paths"].setdefault(url, {}).update(item)
        for section, entries in (part.get("components") or {}).items():
            doc["components"].setdefault(section, {}).update(entries)
    return doc


def strip_prose(node: Any, in_properties: bool = False) -> Any:
    """Drop Togai's words, keep the facts; a property *named* like a prose key stays."""
    if isinstance(node, list):
        return [strip_prose(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in PROSE and not in_properties:
            continue
        out[key] = strip_prose(value, in_properties=key == "properties" and isinstance(value, dict))
    return out


def _deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].split("/")[-1]
        node = doc["components"]["schemas"][name]
    return node


def flatten(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """An ``allOf`` of objects written as one object (closed when a branch was closed)."""
    flat: dict[str, Any] = {"type": "object", "properties": {}}
    required: list[str] = []
    closed = False
    for branch in schema["allOf"]:
        branch = _deref(doc, branch)
        if "allOf" in branch:
            branch = flatten(doc, branch)
        flat["properties"].update(copy.deepcopy(branch.get("properties", {})))
        required += [r for r in branch.get("required", []) if r not in required]
        closed = closed or branch.get("additionalProperties") is False
    if required:
        flat["required"] = required
    if closed:
        flat["additionalProperties"] = False
    return flat


def _flatten_all(doc: dict[str, Any], node: Any) -> Any:
    if isinstance(node, list):
        return [_flatten_all(doc, v) for v in node]
    if not isinstance(node, dict):
        return node
    if "allOf" in node:
        node = flatten(doc, node)
    return {k: _flatten_all(doc, v) for k, v in node.items()}


def apply_deviations(doc: dict[str, Any]) -> dict[str, Any]:
    """The fixes of spec/DEVIATIONS.md that change what a request or answer may be."""
    schemas = doc["components"]["schemas"]
    # 1. allOf with a closed branch accepts nothing: write it flat.
    for name in list(schemas):
        schemas[name] = _flatten_all(doc, schemas[name])
    for item in doc["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                for key in ("requestBody", "responses"):
                    if key in op:
                        op[key] = _flatten_all(doc, op[key])
    # 2. The seeds: accounts carry billingInformation.
    billing = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "emailRecipients": {"type": "array", "items": {"type": "string", "maxLength": 320}},
            "additionalEmailRecipients": {"type": "array", "items": {"type": "string", "maxLength": 320}},
        },
    }
    schemas["BillingInformation"] = billing
    for name in ("Account", "UpdateAccountRequest", "CreateAccountRequest", "CreateAccountRequestWithoutCustomerId"):
        ref = {"$ref": "#/components/schemas/BillingInformation"}
        schemas[name].setdefault("properties", {})["billingInformation"] = ref
    # 3. PATCH /license_updates/{license_id} never declares license_id.
    patch = doc["paths"]["/license_updates/{license_id}"]["patch"]
    declared = {p.get("name") for p in patch.get("parameters", [])}
    if "license_id" not in declared:
        patch.setdefault("parameters", []).append(
            {"name": "license_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 50}}
        )
    # 4. An empty page of events is legal.
    schemas["GetEventsResponse"]["properties"]["events"].pop("minItems", None)
    # 5. PATCH /event_schema/{event_schema_name} has no operationId.
    doc["paths"]["/event_schema/{event_schema_name}"]["patch"].setdefault("operationId", "updateEventSchema")
    # 6. Page sizes: whole numbers, 1..100 (1..50 for events and invoices).
    params = doc["components"]["parameters"]
    for item in doc["paths"].values():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            for i, param in enumerate(op.get("parameters", [])):
                target = params[param["$ref"].split("/")[-1]] if "$ref" in param else param
                if target.get("name") == "pageSize":
                    fixed = copy.deepcopy(target)
                    top = 50 if op["operationId"] in PAGE_50 else 100
                    fixed["schema"] = {"type": "integer", "minimum": 1, "maximum": top}
                    op["parameters"][i] = fixed
    # 7. JobEntriesResponse requires `comments` but does not declare it (and is closed).
    schemas["JobEntriesResponse"]["properties"].setdefault("comments", {"type": "string"})
    # 8. Every request body is required: a create or change without one means nothing.
    bodies = [*doc["components"].get("requestBodies", {}).values()]
    bodies += [op["requestBody"] for item in doc["paths"].values() for op in item.values() if "requestBody" in op]
    for body in bodies:
        if "$ref" not in body:
            body["required"] = True
    # 9. Every operation can fail: three entitlement operations declare only their 200.
    for item in doc["paths"].values():
        for op in item.values():
            op["responses"].setdefault("default", {"$ref": "#/components/responses/ErrorResponse"})
    # 15. Invoice line items nest the lines they are made of (Togai's example and client do).
    schemas["InvoiceLineItem"]["properties"].setdefault(
        "lineItems", {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/InvoiceLineItem"}}
    )
    # 16. The newer contract's compatible additions (togai-client 1.0.3), which the mock serves.
    currency = {"type": "string", "minLength": 3, "maxLength": 3, "pattern": "^[A-Z]{3}$"}
    pipeline = schemas["EventPipelineInfo"]["properties"]
    pipeline.setdefault("baseCurrency", dict(currency))
    pipeline.setdefault("invoiceCurrency", dict(currency))
    schemas["UsageMeter"]["properties"].setdefault("eventSchema", {"$ref": "#/components/schemas/EventSchema"})
    line = schemas["CustomInvoiceLineItem"]
    line["properties"].setdefault("billableId", {"type": "string", "minLength": 1, "maxLength": 50})
    if "description" in line.get("required", []):
        line["required"].remove("description")
        if not line["required"]:
            del line["required"]
    # 10. Only the bearer scheme is used; the unused apiKeyAuth goes.
    doc["components"].get("securitySchemes", {}).pop("apiKeyAuth", None)
    return doc


def build(reference: Path) -> dict[str, Any]:
    """The facts-only, fixed contract as a plain document."""
    merged = merge(reference)
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Togai published API (facts only, deviations applied)", "version": "1.0"},
        "security": [{"bearerAuth": []}],
        "paths": merged["paths"],
        "components": merged["components"],
    }
    return facts_only(doc, {"title": "Togai published API (facts only, deviations applied)", "version": "1.0"})


def facts_only(doc: dict[str, Any], info: dict[str, str]) -> dict[str, Any]:
    """``doc`` with the deviations applied, the prose stripped and ``info`` set (the client contract too)."""
    doc = strip_prose(apply_deviations(doc))
    # OpenAPI requires a description on every response object: an empty one.
    responses = [*doc["components"].get("responses", {}).values()]
    for item in doc["paths"].values():
        for method in METHODS:
            if method in item:
                item[method]["responses"] = {str(k): v for k, v in item[method]["responses"].items()}
                responses += item[method]["responses"].values()
    for response in responses:
        if "$ref" not in response:
            response["description"] = ""
    doc["info"] = info
    return dict(doc)


def write(doc: dict[str, Any], out: Path, header: str) -> None:
    """Write ``doc`` as YAML under ``header`` and say how many operations it has."""
    out.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=120), encoding="utf-8")
    print(f"{out}: {sum(1 for i in doc['paths'].values() for m in METHODS if m in i)} operations")


def main(argv: list[str]) -> int:
    reference = Path(argv[1]) if len(argv) > 1 else DEFAULT_REFERENCE
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    write(build(reference), out, "# Generated by tools/published_contract.py from Togai's published OpenAPI: "
                                 "facts only, see spec/DEVIATIONS.md.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
