"""Path, query and header parameters: parse the text into typed values and check them."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from ..errors import ApiError, Violation
from ..openapi.spec import Operation, Parameter

_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")  # not \d, which also matches "５"
_NOT_PARSED = object()


def parse_parameters(
    op: Operation,
    path_params: Mapping[str, str],
    query_string: bytes,
    headers: Mapping[str, str],
) -> dict[str, Any]:
    """Typed values of the declared parameters, or a 400 naming every problem."""
    if not op.parameters:
        return {}
    query: dict[str, list[str]] = {}
    if query_string:
        text = query_string.decode("utf-8", errors="replace")
        for key, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
            query.setdefault(key, []).append(value)
    values: dict[str, Any] = {}
    problems: list[Violation] = []
    for param in op.parameters:
        raw: str | None
        if param.location == "path":
            raw = path_params.get(param.name)
        elif param.location == "query":
            given = query.get(param.name)
            if given is not None and len(given) > 1:
                problems.append(Violation(param.name, "must be given once"))
                continue
            raw = given[0] if given else None
        else:
            raw = headers.get(param.name)
        if raw is None:
            if param.required:
                problems.append(Violation(param.name, "is required"))
            continue
        value = _parse(param, raw)
        if value is _NOT_PARSED:
            problems.append(Violation(param.name, _KIND_RULES[param.kind]))
            continue
        found = param.validator.violations(value, param.name)
        if found:
            problems.extend(found)
        else:
            values[param.name] = value
    if problems:
        raise ApiError(400, problems)
    return values


_KIND_RULES = {
    "integer": "must be an integer",
    "number": "must be a number",
    "boolean": "must be true or false",
}


def _parse(param: Parameter, raw: str) -> Any:
    kind = param.kind
    if kind == "integer":
        return int(raw) if _INTEGER.fullmatch(raw) else _NOT_PARSED
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            return _NOT_PARSED
        if not math.isfinite(number):
            return _NOT_PARSED
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return _NOT_PARSED
    return raw
