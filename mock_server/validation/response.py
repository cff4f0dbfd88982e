"""The self-check: does an outgoing answer match what the spec declares?"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Violation
from ..openapi.spec import Operation


def check_response(
    op: Operation, status: int, body: Any, headers: Mapping[str, str]
) -> list[Violation]:
    """Every way the response breaks the spec; empty when it conforms."""
    declared = op.response_for(status)
    if declared is None:
        return [Violation("status", f"{status} is not declared")]
    if declared.validator is None:
        return [Violation("body", "the spec declares no body")] if body is not None else []
    if body is None:
        return [Violation("body", "is missing")]
    problems = declared.validator.violations(body, "body")
    for name, validator in declared.headers.items():
        if name in headers:
            problems.extend(validator.violations(headers[name], name))
    return problems
