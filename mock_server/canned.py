"""Answers for operations without a stateful handler: a fixture, else the spec's example."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .openapi.spec import Operation


@dataclass(frozen=True, slots=True)
class CannedResponse:
    """A fixed answer: status, JSON body (``None`` for none) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def canned_answer(op: Operation, table: dict[str, CannedResponse]) -> CannedResponse:
    """The fixture's canned response for ``op``, else its first 2xx example."""
    fixed = table.get(op.operation_id)
    if fixed is not None:
        return fixed
    success = op.success()
    if success is None:
        raise ApiError.of(501, "operationId", f"{op.operation_id} has no handler, fixture or 2xx response")
    status = op.success_status
    if success.media_type is None:
        return CannedResponse(status)
    if not success.examples:
        raise ApiError.of(
            501, "operationId", f"{op.operation_id} has no handler, fixture or example to answer with"
        )
    return CannedResponse(status, next(iter(success.examples.values())))
