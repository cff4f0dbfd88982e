"""Load and check the OpenAPI document, resolve its ``$ref``s, compile validators.

Everything the request path needs is computed here once, at start-up, into
plain objects (:class:`Operation`, :class:`Parameter`, ...). Nothing on the
hot path looks at the YAML again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..jsonschemas import SchemaInvalid, SchemaValidator
from . import cache as spec_cache
from .compat import normalize

# libyaml's loader is ~10x faster than the pure-Python one; both are safe loaders.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TEMPLATE_VAR = re.compile(r"{([^{}/]+)}")


class SpecError(Exception):
    """The spec cannot be served; the message names the file and the problem."""


@dataclass(slots=True)
class Parameter:
    """A path, query or header parameter with its compiled schema."""

    name: str
    location: str
    required: bool
    kind: str  # the JSON type the raw text is parsed into
    validator: SchemaValidator


@dataclass(slots=True)
class RequestBody:
    """What an operation accepts as its body."""

    required: bool
    media_types: tuple[str, ...]
    validator: SchemaValidator | None


@dataclass(slots=True)
class ResponseSpec:
    """One declared response: its status key, schema and named examples."""

    status: str
    media_type: str | None
    validator: SchemaValidator | None
    examples: dict[str, Any]
    headers: dict[str, SchemaValidator]


@dataclass(slots=True)
class Security:
    """The alternatives an operation accepts (empty: no authentication)."""

    schemes: list[dict[str, dict[str, Any]]]


@dataclass(slots=True)
class Operation:
    """One operation of the spec, ready to serve."""

    operation_id: str
    method: str
    path: str
    parameters: list[Parameter]
    body: RequestBody | None
    responses: dict[str, ResponseSpec]
    security: Security

    def response_for(self, status: int) -> ResponseSpec | None:
        """The declared response for ``status``: exact, then ``4XX``, then default."""
        key = str(status)
        return (
            self.responses.get(key)
            or self.responses.get(f"{key[0]}XX")
            or self.responses.get("default")
        )

    def success(self) -> ResponseSpec | None:
        """The first declared 2xx response, else the first 3xx (a redirect such as ``GET /files/{id}``)."""
        for first in ("2", "3"):
            for key, response in self.responses.items():
                if key.startswith(first):
                    return response
        return None

    @property
    def success_status(self) -> int:
        """The status a successful call answers: the first declared 2xx (200 for ``2XX``)."""
        success = self.success()
        if success is None or not (success.status.isascii() and success.status.isdigit()):
            return 200
        return int(success.status)


@dataclass(slots=True)
class Spec:
    """The whole document, resolved, with its operations compiled."""

    source: str
    document: dict[str, Any]
    operations: list[Operation] = field(default_factory=list)

    def operation(self, operation_id: str) -> Operation:
        """Look an operation up by its ``operationId``."""
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)


def load_spec(path: str | Path) -> Spec:
    """Read, check and compile the spec at ``path``; raise :class:`SpecError`.

    Parsing 12 000 lines of YAML is most of the start-up, so a document that
    was checked before is read from a JSON cache keyed by the hash of its
    text (see :mod:`mock_server.openapi.cache`); its validators are then
    compiled on first use instead of all at start.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{source}: cannot read the spec: {exc}") from None
    cached = spec_cache.read(data)
    if cached is not None:
        return compile_spec(cached, source, checked=True)
    try:
        raw = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {exc}") from None
    spec = compile_spec(raw, source)
    spec_cache.write(data, raw)
    return spec


def compile_spec(raw: Any, source: str = "<spec>", *, checked: bool = False) -> Spec:
    """Check and compile an already parsed OpenAPI document."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: the document must be a mapping")
    version = str(raw.get("openapi", ""))
    if not version.startswith("3."):
        raise SpecError(f"{source}: 'openapi' must be a 3.x version, got {version!r}")
    if not isinstance(raw.get("paths"), dict):
        raise SpecError(f"{source}: 'paths' must be a mapping")
    raw = normalize(raw)  # 3.0 schemas and missing operationIds, as any valid document may have
    document = _Resolver(raw, source).resolve(raw)
    spec = Spec(source=source, document=document)
    seen: set[str] = set()
    cache = Cache(checked)
    global_security = document.get("security", [])
    schemes = document.get("components", {}).get("securitySchemes", {})
    for path, item in document["paths"].items():
        if not isinstance(item, dict) or not str(path).startswith("/"):
            raise SpecError(f"{source}: path {path!r} must start with '/' and be a mapping")
        for method in HTTP_METHODS:
            if method not in item:
                continue
            where = f"{source}: {method.upper()} {path}"
            op = _compile_operation(item, method, path, where, global_security, schemes, cache)
            if op.operation_id in seen:
                raise SpecError(f"{where}: operationId {op.operation_id!r} is used twice")
            seen.add(op.operation_id)
            spec.operations.append(op)
    if not checked:
        _check_examples(spec)
    return spec


def _check_examples(spec: Spec) -> None:
    """An example that breaks its own schema would be served as an answer: refuse the spec."""
    for op in spec.operations:
        for response in op.responses.values():
            if response.validator is None:
                continue
            for name, example in response.examples.items():
                problems = response.validator.violations(example, "example")
                if problems:
                    raise SpecError(
                        f"{spec.source}: {op.method} {op.path} response {response.status} "
                        f"example {name!r} breaks its schema: {problems[0]}"
                    )


def _compile_operation(
    item: dict[str, Any],
    method: str,
    path: str,
    where: str,
    global_security: list[Any],
    schemes: dict[str, Any],
    cache: Cache,
) -> Operation:
    raw = item[method]
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: the operation must be a mapping")
    operation_id = raw.get("operationId")
    if not isinstance(operation_id, str) or not operation_id:
        raise SpecError(f"{where}: every operation needs an operationId")
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for param in [*item.get("parameters", []), *raw.get("parameters", [])]:
        merged[(param.get("name"), param.get("in"))] = param
    parameters = [_compile_parameter(p, where, cache) for p in merged.values() if p.get("in") != "cookie"]
    declared = {p.name for p in parameters if p.location == "path"}
    for var in _TEMPLATE_VAR.findall(path):
        if var not in declared:
            raise SpecError(f"{where}: path parameter {var!r} is not declared")
    requirements = raw.get("security", global_security)
    for requirement in requirements:
        for name in requirement:
            if name not in schemes:
                raise SpecError(f"{where}: unknown security scheme {name!r}")
    security = Security([{name: schemes[name] for name in req} for req in requirements])
    responses = {
        str(status): _compile_response(str(status), response, f"{where} response {status}", cache)
        for status, response in (raw.get("responses") or {}).items()
    }
    if not responses:
        raise SpecError(f"{where}: declares no responses")
    return Operation(
        operation_id=operation_id,
        method=method.upper(),
        path=path,
        parameters=parameters,
        body=_compile_body(raw.get("requestBody"), where, cache),
        responses=responses,
        security=security,
    )


def _compile_parameter(param: dict[str, Any], where: str, cache: Cache) -> Parameter:
    name, location = param.get("name"), param.get("in")
    if not isinstance(name, str) or location not in ("path", "query", "header"):
        raise SpecError(f"{where}: parameter {name!r} needs a name and a location")
    schema = param.get("schema", {})
    kind = schema.get("type", "string") if isinstance(schema, dict) else "string"
    if isinstance(kind, list):
        kind = next((t for t in kind if t != "null"), "string")
    return Parameter(
        name=name if location != "header" else name.lower(),
        location=location,
        required=bool(param.get("required", location == "path")),
        kind=kind,
        validator=_compile_schema(schema, f"{where} parameter {name}", cache),
    )


def _compile_body(raw: dict[str, Any] | None, where: str, cache: Cache) -> RequestBody | None:
    if raw is None:
        return None
    content = raw.get("content") or {}
    if not content:
        raise SpecError(f"{where}: requestBody declares no content")
    media_types = tuple(m.lower() for m in content)
    json_type = next((m for m in content if "json" in m.lower()), None)
    schema = content[json_type].get("schema") if json_type else None
    validator = _compile_schema(schema, f"{where} requestBody", cache) if schema is not None else None
    return RequestBody(bool(raw.get("required", False)), media_types, validator)


def _compile_response(status: str, raw: dict[str, Any], where: str, cache: Cache) -> ResponseSpec:
    content = raw.get("content") or {}
    media_type = next(iter(content), None)
    validator = None
    examples: dict[str, Any] = {}
    if media_type is not None:
        media = content[media_type] or {}
        if "schema" in media:
            validator = _compile_schema(media["schema"], where, cache)
        for name, example in (media.get("examples") or {}).items():
            if isinstance(example, dict) and "value" in example:
                examples[name] = example["value"]
        if "example" in media:
            examples.setdefault("default", media["example"])
    headers = {
        name.lower(): _compile_schema(header.get("schema", {}), f"{where} header {name}", cache)
        for name, header in (raw.get("headers") or {}).items()
    }
    return ResponseSpec(status, media_type, validator, examples, headers)


class Cache:
    """Validators by schema while one spec compiles.

    The resolver hands out one object per $ref target, so a schema used by many
    operations (ErrorResponse, Account, ...) is compiled once per spec. Keyed by
    id(); the entry holds the schema itself so the id cannot be reused meanwhile.
    ``checked``: the document passed every check before, so schemas are
    compiled lazily, on first use.
    """

    def __init__(self, checked: bool = False) -> None:
        self.done: dict[int, tuple[Any, SchemaValidator]] = {}
        self.checked = checked


def _compile_schema(schema: Any, where: str, cache: Cache) -> SchemaValidator:
    cached = cache.done.get(id(schema))
    if cached is not None:
        return cached[1]
    try:
        validator = SchemaValidator(schema, lazy=cache.checked)
    except SchemaInvalid as exc:
        raise SpecError(f"{where}: invalid schema: {exc}") from None
    cache.done[id(schema)] = (schema, validator)
    return validator


def cycle_id(ref: str) -> str:
    """The ``$id`` a recursive schema gets, so that it can refer to itself."""
    return "urn:togai-mock:ref:" + ref[2:]


class _Resolver:
    """Inline local ``$ref``s; the result shares one object per target.

    A recursive schema (a tree, a comment with replies) cannot be inlined:
    where it refers to itself it keeps a ``$ref`` to an ``$id`` set on its
    outermost copy (:func:`cycle_id`), which JSON Schema resolves.
    """

    def __init__(self, root: dict[str, Any], source: str) -> None:
        self.root = root
        self.source = source
        self.done: dict[str, Any] = {}
        self.active: set[str] = set()
        self.open: set[str] = set()  # targets whose self-reference sits in the subtree being built

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._follow(ref)
        return {k: self.resolve(v) for k, v in node.items()}

    def _follow(self, ref: str) -> Any:
        if ref in self.done:
            return self.done[ref]
        if not ref.startswith("#/"):
            raise SpecError(f"{self.source}: only local $refs are supported, got {ref!r}")
        target: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise SpecError(f"{self.source}: $ref {ref!r} points nowhere")
            target = target[part]
        if ref in self.active:
            if not isinstance(target, dict) or "$ref" in target:
                raise SpecError(f"{self.source}: $ref cycle through {ref!r}")  # an alias of itself
            self.open.add(ref)
            return {"$ref": cycle_id(ref)}
        outer, self.open = self.open, set()
        self.active.add(ref)
        resolved = self.resolve(target)
        self.active.discard(ref)
        inner, self.open = self.open, outer
        if ref in inner:
            resolved = {"$id": cycle_id(ref), **resolved}
        others = inner - {ref}
        self.open |= others
        if not others:
            # Complete in itself; a copy holding another target's self-reference
            # is only valid inside that target, so it is built again elsewhere.
            self.done[ref] = resolved
        return resolved
