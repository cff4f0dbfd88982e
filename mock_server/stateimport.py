"""Check a state document and load it into a store: ``PUT /__mock/state`` and the state file.

A document maps each resource of the registry to a list of records in the
shape of its Togai schema. Fields the server makes (ids, ``togaiCustomerId``,
timestamps, ``status``, ``billingAddress`` ...) may be left out, as in a
hand-written fixture: they are filled as creation would fill them. Schema
problems are answered as stage ``body``, broken business rules as ``rule``.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from .config import CONTROL_SPEC
from .domain.core.errors import DomainError
from .domain.core.importer import import_state
from .domain.core.resource import Completer, Registry
from .domain.core.store import Store
from .errors import SEARCH_LIMIT, STAGE_HEADER, ApiError, Violation, Violations
from .jsonschemas import SchemaValidator
from .openapi.spec import Spec, load_spec


@cache
def _mock_schemas() -> dict[str, Any]:
    return dict(load_spec(CONTROL_SPEC).document.get("components", {}).get("schemas", {}))


def record_schemas(togai: Spec) -> dict[str, Any]:
    """The schemas records are checked against: Togai's, and the mock's own for what Togai
    publishes no shape of (a stored file: ``MockFile`` in ``spec/control.yaml``)."""
    return {**_mock_schemas(), **togai.document.get("components", {}).get("schemas", {})}


def record_validators(registry: Registry, togai: Spec) -> dict[str, SchemaValidator]:
    """A validator per resource for imported records: its Togai schema (or the mock's own) plus its owner
    fields, minus what the server derives (never imported) or makes (filled in when left out) from ``required``."""
    schemas = record_schemas(togai)
    validators = {}
    for resource in registry:
        schema = dict(schemas.get(resource.schema, {}))
        if resource.exchange.owner_fields:
            owners = {name: {"type": "string", "minLength": 1} for name in resource.exchange.owner_fields}
            schema["properties"] = {**schema.get("properties", {}), **owners}
            schema["required"] = [*schema.get("required", []), *resource.exchange.owner_fields]
        optional = {*resource.exchange.not_exported, *resource.generated_fields(schema)}
        schema["required"] = [r for r in schema.get("required", []) if r not in optional]
        if resource.exchange.hidden:
            schema["properties"] = {**schema.get("properties", {}), **resource.exchange.hidden}
        validators[resource.name] = SchemaValidator(schema)
    return validators


def completers(registry: Registry, togai: Spec) -> dict[str, Completer]:
    """What fills the server-made fields of each resource, from ``togai``'s schemas."""
    return registry.completers(record_schemas(togai))


def check_and_import(
    store: Store,
    data: dict[str, Any],
    validators: dict[str, SchemaValidator],
    fill: dict[str, Completer] | None = None,
) -> None:
    """Replace ``store``'s state with ``data``, or raise a 400 naming the problems (nothing changes).

    Schema problems come first (``X-Mock-Rejected-By: body``); only a
    document that matches the schemas is completed and checked against the
    business rules (``rule``).
    """
    problems = Violations()
    problems.extend(
        Violation(key, f"is not a resource of this mock ({', '.join(validators)})")
        for key in data
        if key not in validators
    )
    for key, validator in validators.items():
        for i, record in enumerate(data.get(key, [])):
            found = validator.violations(record, f"{key}[{i}]")
            problems.extend(found)
            if not found.complete or len(problems) > SEARCH_LIMIT:
                # Enough to answer; 300 000 broken records need not all be explained.
                problems.complete = False
                raise ApiError(400, problems, {STAGE_HEADER: "body"})
    if problems:
        raise ApiError(400, problems, {STAGE_HEADER: "body"})
    try:
        import_state(store, data, fill)
    except DomainError as exc:
        raise ApiError(400, exc.violations, {STAGE_HEADER: "rule"}) from None
