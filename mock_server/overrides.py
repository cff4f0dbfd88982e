"""Forced answers: status, body, delay or fault for matching requests, N times or until removed."""
from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .pathtemplate import PathTemplate, parse_template, split_path
from .validation.body import MAX_DEPTH, deeper_than

# Rules kept at once: each is matched against every request.
MAX_OVERRIDES = 1000
# Headers that frame the answer; the mock sets them from the body it sends.
_FRAMING = frozenset({"content-length", "transfer-encoding", "trailer", "upgrade"})
_CONTROL = "/__mock"
# A route as the router sees it: its segments, None for a variable.
Route = tuple[str | None, ...]


@dataclass(slots=True)
class Override:
    """One rule of ``POST /__mock/overrides``."""

    id: str
    spec: dict[str, Any]  # the request as given, for listing
    method: str | None
    template: PathTemplate | None
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    fault: str | None
    remaining: int | None

    def to_json(self) -> dict[str, Any]:
        """The override as ``GET /__mock/overrides`` shows it."""
        return {**self.spec, "id": self.id, "remaining": self.remaining}


def check_rule(spec: dict[str, Any], routes: Sequence[Route] | None = None) -> PathTemplate | None:
    """Refuse (400) a schema-valid rule that would break HTTP or do nothing; return its parsed path.

    ``routes`` are the served spec's; a path none of them can match is refused.
    """
    status = spec.get("status")
    if status in (204, 304) and "body" in spec:
        raise ApiError.of(400, "body", f"a {status} answer has no body")
    if deeper_than(spec.get("body")):
        raise ApiError.of(400, "body", f"is nested more than {MAX_DEPTH} levels deep")
    seen: set[str] = set()
    for name in spec.get("headers", {}):
        lowered = name.lower()
        if lowered in _FRAMING:
            raise ApiError.of(400, f"headers.{name}", "is set by the mock")
        if lowered in seen:
            raise ApiError.of(400, f"headers.{name}", "is given twice")
        seen.add(lowered)
    if "fault" in spec:
        if any(key in spec for key in ("status", "body", "headers")):
            raise ApiError.of(400, "fault", "drops the connection, so status, body and headers would never be sent")
    elif status is None:
        for key in ("body", "headers"):
            if key in spec:
                raise ApiError.of(400, key, "needs status (without it the operation answers as usual)")
        if not spec.get("delayMs"):
            raise ApiError.of(400, "", "the override does nothing: give status, delayMs or fault")
    path = spec.get("path")
    if path is None:
        return None
    if path == _CONTROL or path.startswith(_CONTROL + "/"):
        raise ApiError.of(400, "path", "control calls (/__mock/) are never overridden")
    template = parse_template(path)
    if routes is not None and not any(template.meets_route(route) for route in routes):
        shown = path if len(path) <= 100 else path[:100] + "…"
        raise ApiError.of(400, "path", f"no operation of the spec matches {shown}")
    return template


class Overrides:
    """The overrides in force, first added first matched."""

    def __init__(self) -> None:
        self._rules: list[Override] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._rules)

    def add(self, spec: dict[str, Any], routes: Sequence[Route] | None = None) -> Override:
        """Add a rule from a schema-valid ``NewOverride`` body; a 400 when :func:`check_rule` refuses it."""
        template = check_rule(spec, routes)
        rule = Override(
            id="",
            spec=spec,
            method=spec.get("method"),
            template=template,
            status=spec.get("status"),
            body=spec.get("body"),
            headers={k.lower(): v for k, v in spec.get("headers", {}).items()},
            delay=spec.get("delayMs", 0) / 1000,
            fault=spec.get("fault"),
            remaining=spec.get("times"),
        )
        with self._lock:
            if len(self._rules) >= MAX_OVERRIDES:
                raise ApiError.of(400, "overrides", f"at most {MAX_OVERRIDES} can be in force; remove some first")
            rule.id = f"ovr-{next(self._ids)}"
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> Override | None:
        """The first rule matching the request, counting one use of it."""
        if not self._rules:
            return None
        parts = split_path(path)  # decoded: a rule on "-" also catches "%2D"
        with self._lock:
            for rule in self._rules:
                if rule.method is not None and rule.method != method:
                    continue
                if rule.template is not None and not rule.template.matches(parts):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule
        return None

    def list(self) -> list[dict[str, Any]]:
        """Every rule in force."""
        with self._lock:
            return [r.to_json() for r in self._rules]

    def remove(self, rule_id: str) -> bool:
        """Drop one rule; False when there is none with that id."""
        with self._lock:
            for rule in self._rules:
                if rule.id == rule_id:
                    self._rules.remove(rule)
                    return True
        return False

    def adopt(self, other: Overrides) -> None:
        """Take over ``other``'s rules and id sequence (a ``--watch`` reload keeps the overrides)."""
        with other._lock:
            rules, ids = list(other._rules), other._ids
        with self._lock:
            self._rules = rules
            self._ids = ids

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._rules.clear()
