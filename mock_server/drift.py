"""The drift report: how the answers of a real Togai (``--proxy``) differ from the spec.

Every upstream answer that breaks the spec is counted here, grouped by
operation and violation, with the first answer that showed each one as its
example. ``GET /__mock/drift`` shows it, so a team can run its suite once
through the proxy and read what differs. The report is bounded: at most
:data:`MAX_KEYS` distinct (operation, violation) groups, each example cut at
:data:`EXAMPLE_BYTES`.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import Violation
from .journal import STRICT_JSON
from .validation.body import deeper_than

# Distinct (operation, violation) groups kept; later ones are only counted.
MAX_KEYS = 1000
# An example's body is kept as JSON up to this size, else as text cut here.
EXAMPLE_BYTES = 4 * 1024
# The same break in item 3 and item 7 of a list is one violation, not two.
_INDEX = re.compile(r"\[\d+\]")
_FIELD_CHARS = 100
_RULE_CHARS = 200


def group_key(violation: Violation) -> str:
    """The violation as the report groups it: list indices as ``[*]``, bounded in length."""
    field = _INDEX.sub("[*]", violation.field)
    field = field if len(field) <= _FIELD_CHARS else field[: _FIELD_CHARS - 1] + "…"
    rule = violation.rule if len(violation.rule) <= _RULE_CHARS else violation.rule[: _RULE_CHARS - 1] + "…"
    return str(Violation(field, rule))


@dataclass(slots=True)
class _Group:
    operation_id: str
    method: str
    template: str
    violation: str
    count: int
    example: dict[str, Any]


@dataclass(slots=True)
class Answer:
    """One upstream answer, as an example of what it broke."""

    operation_id: str
    method: str  # of the request
    template: str  # the operation's path template
    path: str  # the request's path
    query: str
    status: int
    content: bytes


class Drift:
    """Contract breaks of upstream answers, grouped by (operation, violation). Thread-safe."""

    def __init__(self, upstream: str | None = None, max_keys: int = MAX_KEYS) -> None:
        self.upstream = upstream  # the --proxy URL, None when the mock answers itself
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], _Group] = {}
        self._flagged_by_op: dict[str, int] = {}
        self._checked = 0
        self._flagged = 0
        self._unlisted = 0

    def record(self, answer: Answer, violations: list[Violation]) -> None:
        """Count one checked upstream answer, and what it broke (nothing when it conforms).

        Each group counts an answer once, however often the answer breaks it.
        """
        keys = list(dict.fromkeys(group_key(v) for v in violations))  # in order, without repeats
        example: dict[str, Any] | None = None
        with self._lock:
            self._checked += 1
            if not keys:
                return
            self._flagged += 1
            op = answer.operation_id
            self._flagged_by_op[op] = self._flagged_by_op.get(op, 0) + 1
            for key in keys:
                group = self._groups.get((op, key))
                if group is not None:
                    group.count += 1
                elif len(self._groups) < self.max_keys:
                    example = example or _example(answer)  # shared by the groups this answer opens
                    self._groups[(op, key)] = _Group(op, answer.method, answer.template, key, 1, example)
                else:
                    self._unlisted += 1

    def clear(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._groups.clear()
            self._flagged_by_op.clear()
            self._checked = self._flagged = self._unlisted = 0

    def report(self) -> dict[str, Any]:
        """The report as ``GET /__mock/drift`` shows it: operations with most flagged answers first."""
        with self._lock:
            groups = list(self._groups.values())
            flagged_by_op = dict(self._flagged_by_op)
            head = {"upstream": self.upstream, "checked": self._checked, "flagged": self._flagged,
                    "unlisted": self._unlisted}
        operations: dict[str, dict[str, Any]] = {}
        for group in sorted(groups, key=lambda g: (-g.count, g.violation)):
            entry = operations.setdefault(group.operation_id, {
                "operationId": group.operation_id,
                "method": group.method,
                "path": group.template,
                "flagged": flagged_by_op.get(group.operation_id, 0),
                "violations": [],
            })
            entry["violations"].append({"violation": group.violation, "count": group.count, "example": group.example})
        ordered = sorted(operations.values(), key=lambda o: (-o["flagged"], o["operationId"]))
        return {**head, "operations": ordered}




def _example(answer: Answer) -> dict[str, Any]:
    return {
        "time": datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z"),
        "path": answer.path,
        "query": answer.query,
        "status": answer.status,
        "body": _body(answer.content),
    }


def _body(content: bytes) -> Any:
    """The example's body: JSON when small and parseable, else text cut at :data:`EXAMPLE_BYTES`."""
    if not content:
        return None
    if len(content) <= EXAMPLE_BYTES:
        try:
            value = STRICT_JSON.decode(content.decode("utf-8"))
        except (ValueError, RecursionError):
            pass
        else:
            if not deeper_than(value):  # the report must encode it
                return value
    text = content[:EXAMPLE_BYTES].decode("utf-8", errors="replace")
    return text + "…" if len(content) > EXAMPLE_BYTES else text
