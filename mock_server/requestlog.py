"""One console line per request: readable text, JSON, or nothing."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TextIO

from .errors import Violation

LogLine = Callable[[str, str, int, float, "list[Violation] | None"], None]


def request_logger(kind: str, stream: TextIO | None = None) -> LogLine | None:
    """A function that logs one request, or ``None`` for ``quiet``."""
    out = stream or sys.stderr
    if kind == "quiet":
        return None
    if kind == "json":

        def log_json(method: str, path: str, status: int, ms: float, violations: list[Violation] | None) -> None:
            record = {"method": method, "path": path, "status": status, "ms": round(ms, 2)}
            if violations:
                record["violation"] = str(violations[0])
            out.write(json.dumps(record) + "\n")
            out.flush()

        return log_json

    def log_text(method: str, path: str, status: int, ms: float, violations: list[Violation] | None) -> None:
        line = f"{method} {path} {status} {ms:.1f}ms"
        if violations:
            line += f"  {violations[0]}"
        out.write(line + "\n")
        out.flush()

    return log_text
