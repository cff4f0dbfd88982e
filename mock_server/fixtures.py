"""Read ``fixtures/*.yaml`` into a store and a table of canned responses.

A fixture file maps resource names of the registry (``customers``,
``accounts``, ``invoiceGroups``, ``addOns`` ...) to lists of entries, plus
``canned`` (operationId -> status, body, headers). Each entry is the request
body of the resource's create operation and goes through the same request
schema and handler as the API, so a fixture can never hold a state the API
could not reach. A record whose id the server makes (a feature) is named as
``$ref:<resource>:<name>`` (``$ref:features:Rides``): the id of the record of
that resource with that ``name``, loaded before.

A file may also hold ``records``: a state document (``{resource: [records]}``,
as ``GET /__mock/state`` shows it) imported as ``PUT /__mock/state`` would,
after the file's other entries. ``--proxy URL --record DIR`` writes such a
file (:mod:`mock_server.recording`); a record whose reference names a record
the recording never saw is left out with a warning, so that a partial
recording still loads.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from .bindings.binding import Binding
from .bindings.registry import BINDINGS, Bindings
from .canned import CannedResponse
from .domain.core.errors import DomainError
from .domain.core.resource import Resource
from .domain.core.store import Store
from .errors import ApiError
from .handlers import Call, Handler
from .openapi.spec import Spec
from .stateimport import check_and_import, completers, record_validators

# libyaml's loader when PyYAML has it: the demo tenant reads five times faster than with the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

log = logging.getLogger("mock_server")


class FixtureError(Exception):
    """A fixture cannot be loaded; the message names the file and the problem."""


def load_fixtures(
    directory: str | Path | None,
    spec: Spec,
    store: Store,
    handlers: dict[str, Handler],
    *,
    strict: bool = True,
    bindings: Bindings = BINDINGS,
) -> dict[str, CannedResponse]:
    """Load every ``*.yaml``/``*.yml`` of ``directory`` (sorted by name) into ``store``.

    With ``strict`` off (a spec other than the bundled one), entries whose
    operation the spec does not serve are skipped with a warning.
    """
    canned: dict[str, CannedResponse] = {}
    if directory is None:
        return canned
    folder = Path(directory)
    if not folder.is_dir():
        raise FixtureError(f"{folder}: not a directory")
    known_keys = {r.name for r in store.registry} | {"canned", RECORDS}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}  # noqa: S506 - a safe loader
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise FixtureError(f"{path}: cannot read: {exc}") from None
        if not isinstance(data, dict):
            raise FixtureError(f"{path}: must be a mapping with {', '.join(sorted(known_keys))}")
        unknown = set(data) - known_keys
        if unknown:
            raise FixtureError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        skipped: list[str] = []
        for resource in store.registry:
            entries = data.get(resource.name) or []
            if not isinstance(entries, list):
                raise FixtureError(f"{path}: {resource.name}: must be a list")
            binding = bindings.by_resource.get(resource.name)
            op_id = None if binding is None else binding.fixtures.op or binding.create
            if op_id is None:
                if entries and not strict:  # records of the bundled spec's resources; another spec has no use for them
                    skipped.append(f"{resource.name} (records of the bundled spec)")
                elif entries:  # no operation makes them (files, named licenses): records, as in PUT /__mock/state
                    _import(path, spec, store, resource.name, entries)
                continue
            handler = handlers.get(op_id)
            if entries and handler is None:
                if strict:
                    raise FixtureError(
                        f"{path}: {resource.name}: {spec.source} has no operation {op_id} to create them"
                    )
                skipped.append(f"{resource.name} (no {op_id})")
                continue
            for i, entry in enumerate(entries):
                assert handler is not None and op_id is not None and binding is not None
                where = f"{resource.name}[{i}]"
                entry = _resolve(path, where, store, entry)
                params, body = _split(path, where, binding.fixtures.params, entry)
                pinned, body = _pinned_id(path, where, resource, body)
                answer = _apply(path, where, spec, op_id, handler, store, body, params)
                if pinned is not None:
                    _rekey(path, where, store, resource.name, binding, answer, pinned)
        if data.get(RECORDS) is not None:
            if strict:
                _import_records(path, spec, store, data[RECORDS])
            else:  # records in the bundled spec's shapes; another spec has no use for them
                skipped.append(RECORDS)
        if skipped:  # one line per file: under a foreign spec that is usually every resource
            log.warning("%s: not loaded, the spec has no operation to create them: %s", path, ", ".join(skipped))
        canned.update(_canned(path, spec, data.get("canned") or {}, strict))
    return canned


_REF = "$ref:"
RECORDS = "records"  # a state document in a fixture file (what --record writes)


def _resolve(path: Path, where: str, store: Store, value: Any) -> Any:
    """``value`` with each ``$ref:<resource>:<name>`` replaced by that record's id."""
    if isinstance(value, dict):
        return {k: _resolve(path, where, store, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(path, where, store, v) for v in value]
    if not isinstance(value, str) or not value.startswith(_REF):
        return value
    resource, _, name = value[len(_REF):].partition(":")
    collection = store.collections.get(resource)
    found = None if collection is None else next(
        (r for r in collection.items.values() if r.get("name") == name), None
    )
    if found is None:
        raise FixtureError(f"{path}: {where}: {value}: no {resource} named {name!r} is loaded before it")
    return found["id"]


def _import(path: Path, spec: Spec, store: Store, name: str, entries: list[Any]) -> None:
    """Add records of a resource that no operation creates, checked as ``PUT /__mock/state`` checks them.

    Ids left out are drawn from ``store`` itself (so they never repeat an
    earlier file's), and its id generator and clock go on as they were: the
    import only adds these records.
    """
    resource = store.registry.by_name[name]
    with store.lock:
        records = [dict(e) if isinstance(e, dict) else e for e in entries]
        for record in records:
            if isinstance(record, dict) and resource.ids is not None and "id" not in record:
                record["id"] = store.new_id(resource.ids, store.collections[name])
        generator = store.generator_state()
        state = store.export()
        state[name] = [*state[name], *records]
        try:
            check_and_import(store, state, record_validators(store.registry, spec), completers(store.registry, spec))
        except ApiError as exc:
            raise FixtureError(f"{path}: {exc.message}") from None
        store.set_generator_state(generator)


def _import_records(path: Path, spec: Spec, store: Store, records: Any) -> None:
    """Add a state document's records to ``store`` (a record with a key already loaded replaces it).

    Records that name a record absent from both (an account whose customer was never
    recorded) are left out, with a warning that counts them.
    """
    registry = store.registry
    if not isinstance(records, dict) or any(not isinstance(v, list) for v in records.values()):
        raise FixtureError(f"{path}: {RECORDS}: must map resource names to lists of records")
    unknown = sorted(set(records) - set(registry.by_name))
    if unknown:
        raise FixtureError(f"{path}: {RECORDS}: unknown resource(s) {', '.join(map(str, unknown))}")
    with store.lock:
        generator = store.generator_state()
        state = store.export()
        known: dict[str, set[Any]] = {}
        left_out: dict[str, int] = {}
        for resource in registry:  # dependency order: a dropped customer drops its accounts next
            key = resource.exchange.key_field
            added = [dict(r) for r in records.get(resource.name) or [] if isinstance(r, dict)]
            kept = [
                r for r in added
                if all(r.get(f) is None or r.get(f) in known[t] for f, t in resource.references.items())
            ]
            if len(kept) < len(added):
                left_out[resource.name] = len(added) - len(kept)
            replaced = {r.get(key) for r in kept}
            state[resource.name] = [r for r in state[resource.name] if r.get(key) not in replaced] + kept
            known[resource.name] = {r.get("id") for r in state[resource.name]}
        try:
            check_and_import(store, state, record_validators(registry, spec), completers(registry, spec))
        except ApiError as exc:
            raise FixtureError(f"{path}: {RECORDS}: {exc.message}") from None
        store.set_generator_state(generator)
    if left_out:
        counts = ", ".join(f"{n} {name}" for name, n in left_out.items())
        log.warning("%s: left out records that name a record it does not hold: %s", path, counts)


def _pinned_id(path: Path, where: str, resource: Resource, body: Any) -> tuple[str | None, Any]:
    """The ``id`` a fixture entry gives a record whose ids the server makes, and the body without it.

    So that other fixtures can name it (a license update names its license
    add-on); the record is still created through its operation.
    """
    if resource.ids is None or not isinstance(body, dict) or "id" not in body:
        return None, body
    if resource.indexes and resource.writes.on_write is None:
        # Rules keep these indexes by id, and a pinned id is given after creation. Indexes kept by
        # on_write hold positions (features), which the rename keeps.
        raise FixtureError(f"{path}: {where}: id: {resource.name} get their ids from the server")
    pinned = body["id"]
    if not isinstance(pinned, str) or not 0 < len(pinned) <= 512:
        raise FixtureError(f"{path}: {where}: id: must be a string of 1 to 512 characters")
    return pinned, {k: v for k, v in body.items() if k != "id"}


def _rekey(path: Path, where: str, store: Store, name: str, binding: Binding, answer: Any, pinned: str) -> None:
    """Move the record just created to the id its fixture entry gives."""
    for step in binding.fixtures.created_path:
        answer = answer[step]
    collection = store.collections[name]
    if collection.get(pinned) is not None:
        raise FixtureError(f"{path}: {where}: id: {pinned!r} is already used")
    record = collection.get(answer["id"])
    collection.rename(answer["id"], pinned)
    record["id"] = pinned


def _split(path: Path, where: str, names: tuple[str, ...], entry: Any) -> tuple[dict[str, Any], Any]:
    """The path parameters an entry names (say ``account_id`` of a wallet top-up), and its body."""
    if not names:
        return {}, entry
    if not isinstance(entry, dict) or any(not isinstance(entry.get(name), str) for name in names):
        raise FixtureError(f"{path}: {where}: needs {', '.join(names)} (a string) beside the request body")
    return {name: entry[name] for name in names}, {k: v for k, v in entry.items() if k not in names}


def _apply(
    path: Path,
    where: str,
    spec: Spec,
    op_id: str,
    handler: Handler,
    store: Store,
    body: Any,
    params: dict[str, Any] | None = None,
) -> Any:
    op = spec.operation(op_id)
    validator = op.body.validator if op.body else None
    problems = validator.violations(body) if validator else []
    if problems:
        raise FixtureError(f"{path}: {where}: {problems[0]}")
    try:
        with store.lock:
            return handler(store, Call(params or {}, body))
    except DomainError as exc:
        raise FixtureError(f"{path}: {where}: {exc.violations[0]}") from None


def _canned(path: Path, spec: Spec, table: Any, strict: bool) -> dict[str, CannedResponse]:
    if not isinstance(table, dict):
        raise FixtureError(f"{path}: canned: must map operationIds to responses")
    known = {op.operation_id: op for op in spec.operations}
    out: dict[str, CannedResponse] = {}
    for operation_id, entry in table.items():
        where = f"{path}: canned.{operation_id}"
        op = known.get(operation_id)
        if op is None:
            if not strict:
                log.warning("%s: skipped: the spec has no such operation", where)
                continue
            raise FixtureError(f"{where}: no operation with this operationId in {spec.source}")
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), int):
            raise FixtureError(f"{where}: needs an integer 'status'")
        status, body = entry["status"], entry.get("body")
        declared = op.response_for(status)
        if declared is None:
            raise FixtureError(f"{where}: status {status} is not declared by {operation_id}")
        if body is not None and declared.validator is not None:
            problems = declared.validator.violations(body)
            if problems:
                raise FixtureError(f"{where}: body does not match the spec: {problems[0]}")
        headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        out[operation_id] = CannedResponse(status, body, headers)
    return out
