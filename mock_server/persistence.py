"""``--state-file``: the tenants survive a restart.

At start-up the tenants are read from the file when it exists (else they
come from the fixtures). Every change marks its tenant dirty; a writer
thread waits :data:`DEBOUNCE_S` for the burst to settle, encodes the dirty
tenants (each under its store's lock, a few microseconds for a fixture-sized
tenant) and writes the whole file outside any lock, so a request never waits
for the disk. Writes are crash-safe: a temporary file in the same folder,
flushed and ``fsync``-ed, then renamed over the old one (and the folder
``fsync``-ed), so a ``kill -9`` at any moment leaves the previous or the
next complete file. Shutdown (SIGINT, SIGTERM) writes what is left.

The file (JSON)::

    {"format": "togai-mock-state", "version": 1, "tenancy": "shared" | "token",
     "salt": "<32 hex digits>",
     "tenants": {"shared" | "sha256:<hex>": {"state": <GET /__mock/state>,
                                             "generator": <Store.generator_state()>}}}

Tokens are never written: a tenant's key is ``HMAC-SHA256(salt, token)``.
A file of another format version, a truncated one, or one whose state breaks
the schemas or rules stops start-up (:class:`StateFileError`) and is left as
it is. One server per file: a lock file next to it (``.NAME.lock``) refuses
a second one.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .errors import ApiError
from .pipeline import encode_json
from .stateimport import check_and_import
from .tenants import SHARED, TOKEN, Tenant, Tenants

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock file
    fcntl = None  # type: ignore[assignment]

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - optional accelerator
    _orjson = None  # type: ignore[assignment]

log = logging.getLogger("mock_server")

FORMAT = "togai-mock-state"
VERSION = 1
# How long a burst of changes may go on before it is written: ~1 s lost on kill -9 at most.
DEBOUNCE_S = 0.5
# Writes never hold the tenants' locks more than about a fifth of the time: a tenant so large
# that encoding it takes longer than DEBOUNCE_S / BACKOFF is written less often.
BACKOFF = 4
_RETRY_S = 1.0


# The fields of Store.generator_state(), as its errors name them.
_GENERATOR_FIELDS = ("rng", "sequence", "idOffset", "clock", "testClock")


class StateFileError(Exception):
    """The state file cannot be used; the message names the file and the problem."""


class StateFile:
    """Loads the tenants from a file, then keeps the file up to date."""

    def __init__(self, path: str | Path, tenants: Tenants, debounce: float = DEBOUNCE_S) -> None:
        self.path = Path(path)  # as the user named it, for messages
        # The file itself: a symbolic link is followed, so the lock and every write are the target's
        # (another name of the same file cannot slip past the lock, and the link stays a link).
        self.target = self.path.resolve()
        self.tenants = tenants
        self.debounce = debounce
        self.writes = 0  # files written, and the time spent encoding and writing them
        self.write_seconds = 0.0
        self.encode_seconds = 0.0  # of the last write: the time requests may have waited
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._write_lock = threading.RLock()  # the writer thread, close(), a test, or a --watch handover
        self._fragments: dict[str, bytes] = {}  # each tenant's encoded entry, until it changes
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None

    # -- start-up ------------------------------------------------------------------
    def open(self) -> None:
        """Take the file's lock and load it if it exists; :class:`StateFileError` otherwise."""
        self._take_lock()
        try:
            for stale in self.target.parent.glob(f".{self.target.name}.*.tmp"):
                with suppress(OSError):  # left by a kill -9 in the middle of a write
                    stale.unlink()
            if self.target.exists():
                self._load()
        except BaseException:
            self._release_lock()
            raise
        self.tenants.on_change = self.mark
        self.tenants.on_drop = self._mark_key

    def _fail(self, problem: str) -> StateFileError:
        return StateFileError(f"{self.path}: {problem}")

    def _take_lock(self) -> None:
        if self.target.is_dir():
            raise self._fail("is a folder, not a file")
        with suppress(FileNotFoundError):
            links = self.target.stat().st_nlink
            if links > 1:
                # Each write replaces the file, so the other names would keep an old copy, and a second
                # server reaching it by another name would take another lock: refused, not guessed.
                raise self._fail(f"has {links} hard links; use one name for it (a symbolic link is fine)")
        lock_path = self.target.with_name(f".{self.target.name}.lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._fail(f"cannot create {lock_path.name} in {lock_path.parent}: {exc.strerror}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._fail("is in use by another mock server (one server per state file)") from None
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _load(self) -> None:
        try:
            raw = self.target.read_bytes()
        except OSError as exc:
            raise self._fail(f"cannot read: {exc.strerror}") from None
        doc = _parse(raw)
        if doc is None:
            raise self._fail("is not a complete JSON document (truncated, or not a state file)")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise self._fail(f"is not a mock state file (no \"format\": \"{FORMAT}\")")
        version = doc.get("version")
        if version != VERSION:
            raise self._fail(f"has format version {version!r}; this mock reads version {VERSION} only")
        tenancy = doc.get("tenancy")
        if tenancy != self.tenants.mode:
            raise self._fail(
                f"was written with --tenancy {tenancy}; start with --tenancy {tenancy}, or use another --state-file"
            )
        salt = doc.get("salt")
        try:
            self.tenants.salt = bytes.fromhex(salt if isinstance(salt, str) and salt else "?")
        except ValueError:
            raise self._fail("salt: must be hex digits") from None
        entries = doc.get("tenants")
        if not isinstance(entries, dict):
            raise self._fail("tenants: must be an object")
        if len(entries) > self.tenants.max_tenants:
            raise self._fail(f"holds {len(entries)} tenants, more than --max-tenants {self.tenants.max_tenants}")
        for key, entry in entries.items():
            self._load_tenant(key, entry)

    def _load_tenant(self, key: str, entry: Any) -> None:
        where = f"tenants[{key!r}]"
        expected = "'shared'" if self.tenants.mode == SHARED else "'sha256:' and 64 hex digits"
        if (key != SHARED) if self.tenants.mode == SHARED else not _is_fingerprint(key):
            raise self._fail(f"{where}: a tenant's key must be {expected}")
        if not isinstance(entry, dict) or not isinstance(entry.get("state"), dict):
            raise self._fail(f"{where}: must be an object with \"state\" and \"generator\"")
        state = entry["state"]
        for name, records in state.items():
            if not isinstance(records, list):
                raise self._fail(f"{where}.state.{name}: must be a list of records")
        tenant = self.tenants.shared if self.tenants.mode == SHARED else self.tenants.new_tenant(key, fixtures=False)
        assert tenant is not None
        control = tenant.control
        try:
            check_and_import(tenant.store, state, control.record_validators, control.completers)
        except ApiError as exc:
            raise self._fail(f"{where}.state: {exc.message}") from None
        try:
            tenant.store.set_generator_state(entry.get("generator"))
        except ValueError as exc:
            text = str(exc)
            joined = "." if text.partition(":")[0] in _GENERATOR_FIELDS else ": "
            raise self._fail(f"{where}.generator{joined}{text}") from None
        if tenant.store.seed is None:
            # Ids answered after the last write (a kill -9) are not in the file: an unseeded tenant
            # draws the random part of its next ids afresh, so it never hands one of them out again.
            tenant.store.fresh_randomness()
        if self.tenants.mode == TOKEN:
            self.tenants.add(tenant)

    def attach(self, tenants: Tenants) -> None:
        """Keep the file of ``tenants`` from now on (``--watch`` swapped in a new app): same lock,
        same writer; the tenants are carried over by the caller, and :meth:`mark_all` writes them."""
        tenants.salt = self.tenants.salt  # tenants' keys in the file are fingerprints with this salt
        self.tenants = tenants
        tenants.on_change = self.mark
        tenants.on_drop = self._mark_key
        with self._write_lock:
            self._fragments.clear()  # the old app's records, as they were encoded

    @contextmanager
    def held(self) -> Iterator[None]:
        """No write while inside (``--watch`` swaps the app the file is written from)."""
        with self._write_lock:
            yield

    def mark_all(self) -> None:
        """Every tenant may have changed: write them all within about a second."""
        for tenant in self.tenants:
            self.mark(tenant)

    # -- writing -------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="state-file", daemon=True)
        self._thread.start()

    def mark(self, tenant: Tenant) -> None:
        """``tenant`` may have changed: write it within about a second."""
        self._mark_key(tenant.key)

    def _mark_key(self, key: str) -> None:
        with self._dirty_lock:
            self._dirty.add(key)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            # Let the burst settle: a burst of changes costs one write.
            if self._stop.wait(max(self.debounce, BACKOFF * self.encode_seconds)):
                return  # close() writes what is left
            self._wake.clear()
            if not self.flush():
                self._stop.wait(_RETRY_S)
                self._wake.set()

    def flush(self) -> bool:
        """Write the dirty tenants now; False (logged) when the file cannot be written."""
        with self._write_lock:
            with self._dirty_lock:
                dirty, self._dirty = self._dirty, set()
            if not dirty:
                return True
            started = time.perf_counter()
            for key in dirty:
                self._fragments.pop(key, None)
            try:
                _atomic_write(self.target, self._document())
            except OSError as exc:
                log.error("cannot write the state file %s: %s (retrying)", self.path, exc.strerror or exc)
                with self._dirty_lock:
                    self._dirty |= dirty
                return False
            self.writes += 1
            self.write_seconds += time.perf_counter() - started
            return True

    def _document(self) -> bytes:
        tenants = list(self.tenants)
        live = {t.key for t in tenants}
        for key in [k for k in self._fragments if k not in live]:
            del self._fragments[key]  # forgotten tenants
        parts = []
        started = time.perf_counter()
        for tenant in tenants:
            fragment = self._fragments.get(tenant.key)
            if fragment is None:
                fragment = self._fragments[tenant.key] = _encode_tenant(tenant)
            parts.append(encode_json(tenant.key) + b":" + fragment)
        self.encode_seconds = time.perf_counter() - started
        head = {"format": FORMAT, "version": VERSION, "tenancy": self.tenants.mode, "salt": self.tenants.salt.hex()}
        return encode_json(head)[:-1] + b',"tenants":{' + b",".join(parts) + b"}}\n"

    def close(self) -> bool:
        """Stop the writer and write what is left (at shutdown); False if that write failed."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        ok = self.flush()
        self._release_lock()
        return ok


def _encode_tenant(tenant: Tenant) -> bytes:
    store = tenant.store
    # Encoding is the copy: the lock is held only while the bytes are made, never while writing.
    # The collector is paused meanwhile: its passes over the freshly rendered records tripled
    # the time (100k accounts: ~400 -> ~130 ms), and the event loop waits for this lock anyway.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with store.lock:
            return encode_json({"state": store.export(deep=False), "generator": store.generator_state()})
    finally:
        if collecting:
            gc.enable()


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves the old or the new file, whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    # The rename itself is durable once the folder is.
    with suppress(OSError):
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _parse(raw: bytes) -> Any:
    """The JSON document, or ``None`` when it is not one (truncated, empty, not UTF-8)."""
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass  # the stdlib also reads what orjson refuses (escaped lone surrogates)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _is_fingerprint(key: str) -> bool:
    digits = key.removeprefix("sha256:")
    return key.startswith("sha256:") and len(digits) == 64 and all(c in "0123456789abcdef" for c in digits)
