"""One console line per request: readable text, JSON, or nothing."""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import TextIO

from .errors import Violation

LogLine = Callable[[str, str, int, float, "list[Violation] | None"], None]

# Control characters (and Unicode line separators) decoded into a path or a
# violation would start a forged line or repaint a terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def printable(text: str) -> str:
    """``text`` with control characters percent-encoded, as they came in the URL."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


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
        line = f"{method} {printable(path)} {status} {ms:.1f}ms"
        if violations:
            line += f"  {printable(str(violations[0]))}"
        out.write(line + "\n")
        out.flush()

    return log_text
