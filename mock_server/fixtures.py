"""Read ``fixtures/*.yaml`` into a store and a table of canned responses.

A fixture file may hold ``customers`` (each with optional ``accounts``),
``invoiceGroups`` and ``canned`` (operationId -> status, body, headers).
Tenant data goes through the same request schemas and business rules as the
API, so a fixture can never hold a state the API could not reach.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .canned import CannedResponse
from .errors import ApiError
from .openapi.spec import Spec
from .store import Store
from .store import accounts, customers, invoice_groups

_KNOWN_KEYS = {"customers", "invoiceGroups", "canned"}


class FixtureError(Exception):
    """A fixture cannot be loaded; the message names the file and the problem."""


def load_fixtures(directory: str | Path | None, spec: Spec, store: Store) -> dict[str, CannedResponse]:
    """Load every ``*.yaml``/``*.yml`` of ``directory`` (sorted by name) into ``store``."""
    canned: dict[str, CannedResponse] = {}
    if directory is None:
        return canned
    folder = Path(directory)
    if not folder.is_dir():
        raise FixtureError(f"{folder}: not a directory")
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise FixtureError(f"{path}: cannot read: {exc}") from None
        if not isinstance(data, dict):
            raise FixtureError(f"{path}: must be a mapping with {', '.join(sorted(_KNOWN_KEYS))}")
        unknown = set(data) - _KNOWN_KEYS
        if unknown:
            raise FixtureError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        _Loader(path, spec, store).load(data)
        canned.update(_canned(path, spec, data.get("canned") or {}))
    return canned


class _Loader:
    def __init__(self, path: Path, spec: Spec, store: Store) -> None:
        self.path, self.spec, self.store = path, spec, store

    def load(self, data: dict[str, Any]) -> None:
        for i, entry in enumerate(_list(self.path, data, "customers")):
            where = f"customers[{i}]"
            if not isinstance(entry, dict):
                raise FixtureError(f"{self.path}: {where}: must be a mapping")
            entry = dict(entry)
            extra_accounts = entry.pop("accounts", None) or []
            self._apply("createCustomer", where, entry, customers.create_customer)
            for j, account in enumerate(extra_accounts):
                body = {**account, "customerId": entry.get("id")} if isinstance(account, dict) else account
                self._apply("createAccount", f"{where}.accounts[{j}]", body, accounts.create_account)
        for i, entry in enumerate(_list(self.path, data, "invoiceGroups")):
            self._apply("createInvoiceGroup", f"invoiceGroups[{i}]", entry, invoice_groups.create_group)

    def _apply(self, operation_id: str, where: str, body: Any, rule: Any) -> None:
        op = self.spec.operation(operation_id)
        validator = op.body.validator if op.body else None
        problems = validator.violations(body) if validator else []
        if problems:
            raise FixtureError(f"{self.path}: {where}: {problems[0]}")
        try:
            rule(self.store, body)
        except ApiError as exc:
            raise FixtureError(f"{self.path}: {where}: {exc.message}") from None


def _list(path: Path, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise FixtureError(f"{path}: {key}: must be a list")
    return value


def _canned(path: Path, spec: Spec, table: Any) -> dict[str, CannedResponse]:
    if not isinstance(table, dict):
        raise FixtureError(f"{path}: canned: must map operationIds to responses")
    known = {op.operation_id: op for op in spec.operations}
    out: dict[str, CannedResponse] = {}
    for operation_id, entry in table.items():
        where = f"{path}: canned.{operation_id}"
        op = known.get(operation_id)
        if op is None:
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
