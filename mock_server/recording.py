"""``--proxy URL --record DIR``: keep what the upstream answered as a fixture file that serves it offline.

The proxy hands every checked upstream answer to :class:`Recorder.offer`,
which only queues it (bounded; a full queue drops and counts). A background
thread parses the answers, keeps the records by resource and key, and writes
them -- debounced, atomically (temporary file, then rename) -- to
``DIR/recorded.yaml``::

    # Recorded by mock-server --record from <upstream> ...
    records:
      customers:
      - {id: ACME, name: Acme Corp, ...}
      accounts:
      - {...}

``records`` is the state document of ``GET /__mock/state`` (``{resource:
[records]}``); the fixture loader imports it as ``PUT /__mock/state`` would,
with every rule, so ``--fixtures DIR`` serves the same records offline with
their ids. A new recording into the same folder merges with the file by
record key (the newest answer wins).

What is recorded: 2xx answers of the operations a resource's binding names
as its create, read, list (the page's ``data`` items) and update, that
conform to the contract (drift flags the others) and fit the resource's
record schema. Never recorded: request data (bearer tokens and API keys
travel only there), answers of operations bound to no resource (API tokens,
metrics), resources whose records hang on a path parameter (aliases of an
account, contacts, feature credit entries), and any record that contains
the bearer token or API key the request was sent with.
"""
from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .bindings.registry import BINDINGS, Bindings
from .journal import STRICT_JSON
from .jsonschemas import SchemaValidator
from .lazyimport import lazy_module
from .openapi.spec import Operation

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_module("httpx")  # only --proxy, --webhook and --record use it

log = logging.getLogger("mock_server")

FILE_NAME = "recorded.yaml"
RECORDS_KEY = "records"
# Answers waiting for the writer; past this the proxy drops them (and counts) rather than wait.
MAX_PENDING = 1024
# Records the recording holds in all; past this new keys are dropped (and counted), known keys still update.
MAX_RECORDS = 200_000
# The file is written this long after the last answer, and at the latest this long after the first unwritten one.
DEBOUNCE_S = 0.5
MAX_DELAY_S = 5.0
# Request credentials at least this long are looked for in recorded records.
MIN_SECRET = 8

try:
    _Dumper: Any = yaml.CSafeDumper
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Dumper, _Loader = yaml.SafeDumper, yaml.SafeLoader


class RecordError(ValueError):
    """The record folder or its file cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class _Target:
    """Where an operation's answer holds records of a resource."""

    resource: str
    key: str  # the record field that keys it (merge by this)
    many: bool  # a list page: the records are its ``data`` items
    path: tuple[str | int, ...] = ()  # where the record sits in a create answer (credits: ("credits", 0))


@dataclass(slots=True)
class _Answer:
    operation_id: str
    content: bytes
    encoding: str | None  # Content-Encoding, undone in the writer thread
    secrets: tuple[str, ...]  # the request's bearer token / API key: no record holding one is written


def targets(bindings: Bindings = BINDINGS) -> dict[str, _Target]:
    """operationId -> where its answer holds records, for every resource recording can keep."""
    out: dict[str, _Target] = {}
    for binding in bindings:
        resource = bindings.registry.by_name[binding.resource]
        if resource.exchange.owner_fields:
            continue  # their records name their owner only in the request path
        key = resource.exchange.key_field
        for role in ("read", "update"):
            op_id = getattr(binding, role)
            if op_id is not None:
                out[op_id] = _Target(binding.resource, key, False)
        if binding.create is not None:
            out[binding.create] = _Target(binding.resource, key, False, binding.fixtures.created_path)
        if binding.list is not None and binding.shapes.item is None:  # items that are not records are skipped
            out[binding.list] = _Target(binding.resource, key, True)
    return out


class Recorder:
    """Collects upstream answers into ``directory/recorded.yaml`` from a background thread."""

    def __init__(
        self,
        directory: str | Path,
        validators: dict[str, SchemaValidator],
        *,
        upstream: str = "",
        bindings: Bindings = BINDINGS,
        debounce: float = DEBOUNCE_S,
        max_pending: int = MAX_PENDING,
        max_records: int = MAX_RECORDS,
    ) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self.upstream = upstream
        self.validators = validators
        self.targets = targets(bindings)
        self.order = [r.name for r in bindings.registry]  # dependency order, as the loader imports
        self.debounce = debounce
        self.max_records = max_records
        self._queue: queue.Queue[_Answer | None] = queue.Queue(max_pending)
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        self._count = 0
        self.stats = {"recorded": 0, "dropped": 0, "withheld": 0, "unfit": 0, "writes": 0, "writeErrors": 0}
        self._stats_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._load()

    # -- the request side: never blocks ---------------------------------------------
    def observe(
        self, op: Operation, status: int, headers: httpx.Headers, content: bytes,
        request_headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Queue a conforming upstream answer of ``op`` if it may hold records; drop it when the queue is full.

        Called by the proxy on the event loop: only cheap checks here, the parsing is the writer's.
        """
        if not 200 <= status < 300 or op.operation_id not in self.targets or not content:
            return
        answer = _Answer(op.operation_id, content, headers.get("content-encoding"), request_secrets(request_headers))
        try:
            self._queue.put_nowait(answer)
        except queue.Full:
            self._bump("dropped")

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="record-writer", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)  # blocks only while the queue is full, which the writer empties
        thread.join(timeout)

    def flush(self, timeout: float = 10.0) -> None:
        """Write what is queued now (tests; the server writes it at shutdown)."""
        self.close(timeout)
        self.start()

    # -- the writer thread ------------------------------------------------------------
    def _run(self) -> None:
        dirty_since: float | None = None
        while True:
            wait = None
            if dirty_since is not None:
                wait = max(0.0, min(self.debounce, dirty_since + MAX_DELAY_S - time.monotonic()))
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:  # quiet for a debounce interval (or the longest delay passed)
                self._write()
                dirty_since = None
                continue
            if item is None:
                if dirty_since is not None:
                    self._write()
                return
            if self._take(item) and dirty_since is None:
                dirty_since = time.monotonic()
            if dirty_since is not None and time.monotonic() - dirty_since >= MAX_DELAY_S:
                self._write()
                dirty_since = None

    def _take(self, answer: _Answer) -> bool:
        """Merge the records of one answer; whether anything changed."""
        target = self.targets[answer.operation_id]
        try:
            body = _parse(answer.content, answer.encoding)
        except ValueError:
            self._bump("unfit")
            return False
        found = _records(body, target)
        validator = self.validators.get(target.resource)
        kept = self._records.setdefault(target.resource, {})
        changed = False
        for record in found:
            key = record.get(target.key) if isinstance(record, dict) else None
            if not isinstance(key, str) or (validator is not None and validator.violations(record)):
                self._bump("unfit")
                continue
            if answer.secrets and _holds(record, answer.secrets):
                self._bump("withheld")
                continue
            if key not in kept:
                if self._count >= self.max_records:
                    self._bump("dropped")
                    continue
                self._count += 1
            kept[key] = record
            changed = True
            self._bump("recorded")
        return changed

    def _write(self) -> None:
        document = {
            RECORDS_KEY: {name: list(self._records[name].values()) for name in self.order if self._records.get(name)}
        }
        header = (
            f"# Recorded by mock-server --proxy {self.upstream} --record {self.directory}.\n"
            "# Records as GET /__mock/state shows them; --fixtures on this folder serves them offline.\n"
        )
        try:
            text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
            _atomic_write(self.path, header + text)
        except (OSError, yaml.YAMLError) as exc:
            self._bump("writeErrors")
            log.error("--record: cannot write %s: %s", self.path, exc)
        else:
            self._bump("writes")

    def _load(self) -> None:
        """Start from the folder's earlier recording, so that this one merges with it."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordError(f"--record: cannot create {self.directory}: {exc.strerror}") from None
        if not self.directory.is_dir():
            raise RecordError(f"--record: {self.directory} is not a folder")
        if not self.path.exists():
            return
        try:
            data = yaml.load(self.path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506 - safe loader
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise RecordError(f"--record: cannot read {self.path}: {exc}") from None
        records = data.get(RECORDS_KEY) if isinstance(data, dict) else None
        if not isinstance(records, dict):
            raise RecordError(f"--record: {self.path} has no '{RECORDS_KEY}' mapping; not a recording to merge with")
        keys = {t.resource: t.key for t in self.targets.values()}
        for name, entries in records.items():
            if name not in keys or not isinstance(entries, list):
                continue  # kept by nobody: a resource this version does not record
            kept = self._records.setdefault(name, {})
            for record in entries:
                if isinstance(record, dict) and isinstance(record.get(keys[name]), str):
                    kept[record[keys[name]]] = record
        self._count = sum(len(v) for v in self._records.values())

    def _bump(self, name: str) -> None:
        with self._stats_lock:
            self.stats[name] += 1


def _parse(content: bytes, encoding: str | None) -> Any:
    if encoding:
        response = httpx.Response(200, headers={"content-encoding": encoding}, content=content)
        try:
            content = response.read()
        except httpx.DecodingError as exc:
            raise ValueError(str(exc)) from None
    try:
        return STRICT_JSON.decode(content.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def _records(body: Any, target: _Target) -> list[Any]:
    if target.many:
        items = body.get("data") if isinstance(body, dict) else None
        return items if isinstance(items, list) else []
    for step in target.path:
        try:
            body = body[step]
        except (KeyError, IndexError, TypeError):
            return []
    return [body]


def _holds(value: Any, secrets: tuple[str, ...]) -> bool:
    """Whether any string in ``value`` contains one of ``secrets``."""
    if isinstance(value, str):
        return any(secret in value for secret in secrets)
    if isinstance(value, dict):
        return any(_holds(k, secrets) or _holds(v, secrets) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds(v, secrets) for v in value)
    return False


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once: a reader sees the old file or the new one, never half."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def request_secrets(headers: list[tuple[bytes, bytes]]) -> tuple[str, ...]:
    """The credentials a request carries (bearer token, API key), which no recorded record may hold."""
    out = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"authorization":
            _, _, token = value.decode("latin-1").strip().partition(" ")
            out.append(token.strip())
        elif lowered in (b"x-api-key", b"api-key"):
            out.append(value.decode("latin-1").strip())
    # A credential shorter than this is no secret, and would match half the tenant's strings.
    return tuple(s for s in out if len(s) >= MIN_SECRET)
