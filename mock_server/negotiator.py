"""Answers the client asks for instead of the stateful one: ``Prefer`` and overrides."""
from __future__ import annotations

import re
from typing import Any

from .errors import ApiError
from .openapi.sample import sample
from .openapi.spec import Operation, ResponseSpec
from .overrides import Override, Rendering

# ASCII digits only: str.isdigit() also accepts "²" and "５", which int() then rejects or reads.
_STATUS = re.compile(r"[0-9]{3}")


def parse_prefer(value: str) -> dict[str, str]:
    """``code=404, example=missing`` (Prism's syntax; ``;`` also separates)."""
    prefs: dict[str, str] = {}
    for part in value.replace(";", ",").split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            prefs[key.strip().lower()] = val.strip().strip('"')
    return prefs


def preferred_answer(op: Operation, prefs: dict[str, str]) -> tuple[int, Any] | None:
    """The declared answer that ``Prefer`` picks, or ``None`` when it picks nothing."""
    code_text, example = prefs.get("code"), prefs.get("example")
    if code_text is None and example is None:
        return None
    if code_text is not None:
        if not _STATUS.fullmatch(code_text) or not 100 <= int(code_text) <= 599:
            raise ApiError.of(400, "Prefer", f"code must be an HTTP status, got {code_text!r}")
        status = int(code_text)
        declared = op.response_for(status)
    else:
        declared = op.success()
        status = op.success_status
    if declared is None:
        raise ApiError.of(400, "Prefer", f"{op.operation_id} declares no response {code_text}")
    if example is not None:
        if example not in declared.examples:
            names = ", ".join(declared.examples) or "none"
            raise ApiError.of(
                400, "Prefer", f"{op.operation_id} {status} has no example {example!r} (it has: {names})"
            )
        return status, declared.examples[example]
    if declared.examples:
        return status, next(iter(declared.examples.values()))
    if declared.validator is None:
        return status, None
    made = declared_body(op, status, f"forced by Prefer: code={status}")
    if made is _NONE:
        raise ApiError.of(400, "Prefer", f"{op.operation_id} {status} has no example to answer with, and no "
                          "valid value can be made from its schema")
    return status, made


def forced_answer(
    rule: Override, rendering: Rendering | None = None, op: Operation | None = None
) -> tuple[int, Any, dict[str, str]]:
    """What an override with a ``status`` answers; its templates rendered over ``rendering``'s request.

    Without a ``body``, an error status answers what ``op`` declares for it (see :func:`error_body`).
    """
    assert rule.status is not None
    body, headers = rule.body, dict(rule.headers)
    if rendering is not None and rule.templates:
        body = rendering.value(body, rule.templates)
        headers = {name: rendering.header(name, value, rule.templates) for name, value in headers.items()}
    if body is None and rule.status >= 400:
        body = error_body(op, rule.status, f"forced by the mock (override {rule.id}): {rule.status}")
    return rule.status, body, headers


# What declared_body answers when the spec declares a body it cannot meet (no example, no valid value).
_NONE: Any = object()
# Per declared response (kept alive here, so its id is never reused): the body to answer when the
# message body does not fit, or None when Togai's {"message": ...} does.
_SHAPES: dict[int, tuple[ResponseSpec, Any]] = {}


def declared_body(op: Operation | None, status: int, message: str) -> Any:
    """The body ``op`` declares for ``status``: Togai's ``{"message": ...}`` when that fits (or nothing is
    declared), else the response's first example, else a value made from its schema
    (``openapi/sample.py``); :data:`_NONE` when the schema refuses every value made."""
    declared = op.response_for(status) if op is not None else None
    if declared is None or declared.validator is None:
        return {"message": message}
    key = id(declared)
    if key not in _SHAPES:
        _SHAPES[key] = (declared, _other_shape(declared))
    shape = _SHAPES[key][1]
    return {"message": message} if shape is None else shape


def _other_shape(declared: ResponseSpec) -> Any:
    """None when ``{"message": ...}`` is valid for ``declared``, else its example or a value made from its schema."""
    assert declared.validator is not None
    if declared.validator.is_valid({"message": "x"}):
        return None
    if declared.examples:
        return next(iter(declared.examples.values()))
    made = sample(declared.validator.schema)
    return made if declared.validator.is_valid(made) else _NONE


def error_body(op: Operation | None, status: int, message: str) -> Any:
    """The body of the mock's own rejection or forced error: Togai's ``{"message": ...}`` unless the
    spec declares another shape for ``status``, then that shape (an example or a value made from it)."""
    body = declared_body(op, status, message)
    return {"message": message} if body is _NONE else body
