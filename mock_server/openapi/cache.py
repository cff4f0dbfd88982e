"""A cache of parsed specs, keyed by the hash of the document's text.

YAML parsing is most of the start-up time with the full Togai spec (~0.3 s of
~0.5 s); the same document as JSON loads in a few milliseconds. An entry is
written only after the document passed every check (schemas, examples), so a
hit also means those checks need not run again. The cache is best effort: a
missing, unreadable or unwritable folder only costs the YAML parse.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - optional accelerator
    _orjson = None  # type: ignore[assignment]
_VERSION = "1"


def folder() -> Path | None:
    """Where entries live: ``$TOGAI_MOCK_CACHE``, else the user's cache folder; None disables."""
    chosen = os.environ.get("TOGAI_MOCK_CACHE")
    if chosen == "":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "togai-mock-server"


def _entry(text: bytes) -> Path | None:
    place = folder()
    if place is None:
        return None
    digest = hashlib.sha256(_VERSION.encode() + b"\0" + text).hexdigest()
    return place / f"spec-{digest}.json"


def read(text: bytes) -> Any | None:
    """The parsed document cached for ``text``, or None."""
    entry = _entry(text)
    if entry is None:
        return None
    try:
        data = entry.read_bytes()
        return _orjson.loads(data) if _orjson is not None else json.loads(data)
    except (OSError, ValueError):
        return None


def write(text: bytes, document: Any) -> None:
    """Remember ``document`` as the parse of ``text`` (atomically; errors are ignored)."""
    entry = _entry(text)
    if entry is None:
        return
    try:
        payload = json.dumps(document, separators=(",", ":")).encode()
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=entry.parent, delete=False, suffix=".tmp") as tmp:
            tmp.write(payload)
        os.replace(tmp.name, entry)
    except (OSError, TypeError, ValueError):
        pass
