"""Binding: which handler answers which ``operationId``, checked against the spec.

Handlers come from the resource registry (each resource's own rules, else
the registry's generic create/read/list/update/delete). The success status
comes from the spec (the first 2xx it declares), so it is not repeated here.
Operations without a handler are answered canned (see :mod:`mock_server.canned`).
"""
from __future__ import annotations

from .bindings.call import Answer, Call, Handler
from .bindings.registry import BINDINGS, Bindings
from .openapi.spec import Spec, SpecError

__all__ = ["Answer", "Call", "Handler", "bind"]


def bind(spec: Spec, bindings: Bindings = BINDINGS, *, strict: bool = True) -> dict[str, Handler]:
    """The handlers of ``bindings`` for the operations of ``spec``.

    With ``strict`` (the bundled spec), a handler bound to an operationId the
    spec does not have is a start-up error, so a renamed operation cannot
    silently fall back to a canned answer. Otherwise (any other spec) the
    handlers whose operations the spec lacks are left out.
    """
    schemas = spec.document.get("components", {}).get("schemas", {})
    handlers = bindings.handlers(schemas)
    known = {op.operation_id for op in spec.operations}
    missing = sorted(set(handlers) - known)
    if missing and strict:
        raise SpecError(f"{spec.source}: no operation for the bound handler(s) {', '.join(missing)}")
    return {op_id: handler for op_id, handler in handlers.items() if op_id in known}
