"""Forced answers: status, body, delay or fault for matching requests, N times or until removed."""
from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from typing import Any

_VAR = re.compile(r"\\{[^{}/]+\\}")


@dataclass(slots=True)
class Override:
    """One rule of ``POST /__mock/overrides``."""

    id: str
    spec: dict[str, Any]  # the request as given, for listing
    method: str | None
    pattern: re.Pattern[str] | None
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    fault: str | None
    remaining: int | None

    def to_json(self) -> dict[str, Any]:
        """The override as ``GET /__mock/overrides`` shows it."""
        return {**self.spec, "id": self.id, "remaining": self.remaining}


def path_pattern(template: str) -> re.Pattern[str]:
    """``/accounts/{id}`` matches one segment per ``{...}``; a trailing ``*`` matches the rest."""
    rest = template.endswith("*")
    body = re.escape(template[:-1] if rest else template)
    body = _VAR.sub("[^/]+", body)
    return re.compile(body + (".*" if rest else "") + r"\Z")


class Overrides:
    """The overrides in force, first added first matched."""

    def __init__(self) -> None:
        self._rules: list[Override] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._rules)

    def add(self, spec: dict[str, Any]) -> Override:
        """Add a rule from a validated ``NewOverride`` body."""
        rule = Override(
            id=f"ovr-{next(self._ids)}",
            spec=spec,
            method=spec.get("method"),
            pattern=path_pattern(spec["path"]) if "path" in spec else None,
            status=spec.get("status"),
            body=spec.get("body"),
            headers={k.lower(): v for k, v in spec.get("headers", {}).items()},
            delay=spec.get("delayMs", 0) / 1000,
            fault=spec.get("fault"),
            remaining=spec.get("times"),
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> Override | None:
        """The first rule matching the request, counting one use of it."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.method is not None and rule.method != method:
                    continue
                if rule.pattern is not None and not rule.pattern.match(path):
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

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._rules.clear()
