"""Answers the client asks for instead of the stateful one: ``Prefer`` and overrides."""
from __future__ import annotations

import re
from typing import Any

from .errors import ApiError
from .openapi.spec import Operation
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
    if status >= 400:
        return status, {"message": f"forced by Prefer: code={status}"}
    raise ApiError.of(400, "Prefer", f"{op.operation_id} {status} has no example to answer with")


def forced_answer(rule: Override, rendering: Rendering | None = None) -> tuple[int, Any, dict[str, str]]:
    """What an override with a ``status`` answers; its templates rendered over ``rendering``'s request."""
    assert rule.status is not None
    body, headers = rule.body, dict(rule.headers)
    if rendering is not None and rule.templates:
        body = rendering.value(body, rule.templates)
        headers = {name: rendering.header(name, value, rule.templates) for name, value in headers.items()}
    if body is None and rule.status >= 400:
        body = {"message": f"forced by the mock (override {rule.id}): {rule.status}"}
    return rule.status, body, headers
