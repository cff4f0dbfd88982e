"""Answers for operations without a stateful handler: a fixture, else the spec's example."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .openapi.sample import sample
from .openapi.spec import Operation, ResponseSpec


@dataclass(frozen=True, slots=True)
class CannedResponse:
    """A fixed answer: status, JSON body (``None`` for none) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def canned_answer(op: Operation, table: dict[str, CannedResponse]) -> CannedResponse:
    """The fixture's canned response for ``op``, else its first 2xx example, else a value made from its schema."""
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
        return CannedResponse(status, generated(op, success))
    return CannedResponse(status, next(iter(success.examples.values())))


# Operations answered with a generated value, made once: (the response, its value or the refusal).
_GENERATED: dict[int, tuple[ResponseSpec, Any, ApiError | None]] = {}


def generated(op: Operation, response: ResponseSpec) -> Any:
    """A value made from the response schema (as ``prism mock`` does), or a 501 saying why there is none.

    A schema whose constraints the generator cannot meet (a ``pattern``, a
    ``not``) gets the 501 rather than an answer that breaks the spec.
    """
    cached = _GENERATED.get(id(response))
    if cached is None or cached[0] is not response:
        value: Any = None
        refusal = None
        if response.validator is None:
            refusal = ApiError.of(501, "operationId", f"{op.operation_id} has no handler, fixture, example or schema")
        else:
            value = sample(response.validator.schema)
            problems = response.validator.violations(value, "generated answer")
            if problems:
                refusal = ApiError.of(
                    501, "operationId",
                    f"{op.operation_id} has no handler, fixture or example, and no value could be made from "
                    f"its schema ({problems[0]}); add an example to the spec or a canned fixture",
                )
        cached = _GENERATED[id(response)] = (response, value, refusal)
    if cached[2] is not None:
        raise cached[2]
    return copy.deepcopy(cached[1])
