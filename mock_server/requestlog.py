"""One console line per request: readable text, JSON, or nothing."""
from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from .errors import Violation


class LogLine(Protocol):
    """Logs one request: method, path, status, milliseconds, its violations and the override that decided it."""

    def __call__(
        self, method: str, path: str, status: int, ms: float, violations: list[Violation] | None,
        override: str | None = None,
    ) -> None: ...


# Control characters (and Unicode line separators) decoded into a path or a
# violation would start a forged line or repaint a terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def printable(text: str) -> str:
    """``text`` with control characters percent-encoded, as they came in the URL."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def timestamp(now: float | None = None) -> str:
    """UTC, RFC 3339 with milliseconds (``2025-03-14T09:30:00.123Z``): what each JSON log line starts with."""
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def json_line(event: str, message: str, **fields: Any) -> str:
    """A JSON log line (no newline) that is not a request: a CORS decision, a start-up warning."""
    return json.dumps({"time": timestamp(), "event": event, "message": message, **fields})


def message_logger(kind: str, stream: TextIO | None = None, event: str = "message") -> Callable[[str], None]:
    """Writes one message per line: as it is for ``text``, as a :func:`json_line` for ``json``."""

    def write(line: str) -> None:
        out = stream or sys.stderr
        out.write((json_line(event, line) if kind == "json" else line) + "\n")
        out.flush()

    return write


def request_logger(kind: str, stream: TextIO | None = None) -> LogLine | None:
    """A function that logs one request, or ``None`` for ``quiet``."""
    out = stream or sys.stderr
    if kind == "quiet":
        return None
    if kind == "json":

        def log_json(
            method: str, path: str, status: int, ms: float, violations: list[Violation] | None,
            override: str | None = None,
        ) -> None:
            record: dict[str, Any] = {
                "time": timestamp(), "method": method, "path": path, "status": status, "ms": round(ms, 2),
            }
            if violations:
                record["violation"] = str(violations[0])
            if override is not None:
                record["override"] = override
            out.write(json.dumps(record) + "\n")
            out.flush()

        return log_json

    def log_text(
        method: str, path: str, status: int, ms: float, violations: list[Violation] | None,
        override: str | None = None,
    ) -> None:
        line = f"{method} {printable(path)} {status} {ms:.1f}ms"
        if override is not None:
            line += f"  override {printable(override)}"
        if violations:
            line += f"  {printable(str(violations[0]))}"
        out.write(line + "\n")
        out.flush()

    return log_text
