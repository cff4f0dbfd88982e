"""``--watch``: reload the spec and the fixtures when their files change.

A thread polls the files' sizes and modification times (no extra
dependency, works on every file system and in containers with bind mounts)
and, a quarter of a second after a change settles, builds a whole new app.
If that fails (broken YAML, a fixture that breaks the new schemas) the old
app keeps serving and the error is logged and shown on the dashboard. If it
works, it replaces the old one between two requests and keeps:

- every tenant (the shared one, or each token's with ``--tenancy token``),
  with its journal and the overrides in force;
- each tenant's state, when only the spec changed: each record that still
  matches its resource's schema in the new spec is kept, the others are
  dropped (and counted in the log); if what is kept breaks a business rule of
  the store (say an account whose customer was dropped), that tenant starts
  again from the fixtures, and the log says why;
- when a fixture file changed, each tenant's state is the new fixtures' (that
  is what editing a fixture asks for);
- ``--state-file``: the new app takes over the old one's open file (its lock
  and writer) and writes the carried tenants to it.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from .app import MockApp, create_app
from .config import Config
from .control import Control
from .domain.core.memory import thaw
from .domain.core.store import Store
from .errors import ApiError
from .persistence import StateFile
from .tenants import SHARED, Tenants

POLL_S = 0.25
Signature = tuple[tuple[str, int, int], ...]
Logger = Callable[[str], None]


def _stderr(line: str) -> None:
    print(f"mock-server: {line}", file=sys.stderr, flush=True)


def _signature(paths: list[Path]) -> Signature:
    out = []
    for path in paths:
        try:
            stat = path.stat()
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            out.append((str(path), -1, -1))  # gone (or being replaced): a change too
    return tuple(out)


class Reloader:
    """The ASGI app ``--watch`` serves: whichever :class:`MockApp` was built last without error."""

    def __init__(self, config: Config, app: MockApp, log: Logger = _stderr) -> None:
        self.config = config
        self.app = app
        self.log = log
        self.lock = threading.Lock()  # one reload at a time
        app.state.info.watching = True
        self._spec = _signature([Path(config.spec)])
        self._fixtures = _signature(self.fixture_files())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def fixture_files(self) -> list[Path]:
        """The fixture files as they are now (a new file counts as a change)."""
        folder = self.config.fixtures
        if folder is None or not Path(folder).is_dir():
            return []
        return sorted([*Path(folder).glob("*.yaml"), *Path(folder).glob("*.yml")])

    def check(self) -> bool:
        """Reload when a file changed since the last look; True when something changed."""
        spec, fixtures = _signature([Path(self.config.spec)]), _signature(self.fixture_files())
        if spec == self._spec and fixtures == self._fixtures:
            return False
        spec_changed, fixtures_changed = spec != self._spec, fixtures != self._fixtures
        self._spec, self._fixtures = spec, fixtures
        self.reload(spec_changed=spec_changed, fixtures_changed=fixtures_changed)
        return True

    def reload(self, *, spec_changed: bool = True, fixtures_changed: bool = False) -> bool:
        """Build a new app from the files; swap it in, or keep the old one and say why."""
        with self.lock:
            old = self.app
            what = " and ".join(n for n, c in (("spec", spec_changed), ("fixtures", fixtures_changed)) if c)
            state_file: StateFile | None = old.state.state_file
            # The writer waits until the new app holds every tenant: it never writes a half-built one.
            with state_file.held() if state_file is not None else nullcontext():
                try:
                    new = create_app(self.config, state_file=state_file, adopt=old)
                except Exception as exc:  # SpecError, FixtureError, or anything a broken file can cause
                    if state_file is not None:
                        state_file.attach(old.state.tenants)  # the old app keeps its file
                    message = str(exc) or type(exc).__name__
                    old.state.info.error = message
                    self.log(f"{what} changed, reload failed, still serving the previous version: {message}")
                    return False
                # Requests on the old app wait (every tenant's lock): the state moves as a whole.
                with ExitStack() as stack:
                    for tenant in old.state.tenants:
                        stack.enter_context(tenant.store.lock)
                    kept = self._carry_tenants(old, new, keep_state=not fixtures_changed)
                    info = new.state.info
                    info.watching, info.reloads = True, old.state.info.reloads + 1
                    info.last_reload = f"{what} changed: {_operations_diff(old, new)}; {kept}"
                    # Said before the swap: whoever sees the new app can already read that it came.
                    self.log(f"reloaded: {info.last_reload}")
                    self.app = new
                    for tenant in old.state.tenants:
                        tenant.epoch.bump()  # a request that waited on the old app applies nothing
                thaw()  # the old app, frozen with the rest after start-up, can be freed
                if state_file is not None:
                    state_file.mark_all()
            return True

    def _carry_tenants(self, old: MockApp, new: MockApp, *, keep_state: bool) -> str:
        """Move every tenant of the old app into the new one; say what happened (to the first tenant)."""
        old_tenants: Tenants = old.state.tenants
        new_tenants: Tenants = new.state.tenants
        new_tenants.salt = old_tenants.salt  # token tenants are keyed by fingerprints with this salt
        said = []
        for tenant in old_tenants:
            if new_tenants.mode == SHARED:
                target = new_tenants.shared
                assert target is not None
            else:
                target = new_tenants.new_tenant(tenant.key, fixtures=not keep_state)
            said.append(self._carry_state(tenant.store, target.control, keep_state=keep_state))
            if tenant.journal is not None and target.journal is not None:
                target.journal.adopt(tenant.journal)
            if tenant.overrides is not None and target.overrides is not None:
                target.overrides.adopt(tenant.overrides)
            if new_tenants.mode != SHARED:
                new_tenants.add(target)
        if not said:
            return "state: no tenant yet"
        more = f" (and {len(said) - 1} more tenants)" if len(said) > 1 else ""
        return said[0] + more

    @staticmethod
    def _carry_state(store: Store, control: Control, *, keep_state: bool) -> str:
        """Move one old tenant's records into its new control where they still fit; say what happened."""
        if not keep_state:
            return "state: the new fixtures"
        exported: dict[str, list[dict[str, Any]]] = store.export()
        validators = control.record_validators
        kept: dict[str, list[dict[str, Any]]] = {}
        dropped: list[str] = []
        first_reason = ""
        for name, records in exported.items():
            validator = validators.get(name)
            if validator is None:
                dropped.append(f"{len(records)} {name}")
                continue
            fits = []
            for i, record in enumerate(records):
                problems = validator.violations(record, f"{name}[{i}]", limit=1)
                if problems:
                    first_reason = first_reason or str(problems[0])
                else:
                    fits.append(record)
            kept[name] = fits
            if len(fits) < len(records):
                dropped.append(f"{len(records) - len(fits)} {name}")
        try:
            control.import_state(kept)
        except ApiError as exc:
            return f"state: back to the fixtures, the kept records break a rule ({exc.message})"
        counts = ", ".join(f"{len(v)} {k}" for k, v in kept.items())
        if not dropped:
            return f"state kept ({counts})"
        return f"state kept ({counts}); dropped what no longer fits the spec: {', '.join(dropped)} ({first_reason})"

    def watch(self, stop: Callable[[], bool]) -> threading.Thread:
        """Poll the files in a daemon thread until ``stop()`` is true."""

        def loop() -> None:
            while not stop():
                time.sleep(POLL_S)
                try:
                    if self._settled_change():
                        self.check()
                except Exception as exc:  # never let the watcher die silently
                    self.log(f"watch: {exc!r}")

        thread = threading.Thread(target=loop, name="spec-watch", daemon=True)
        thread.start()
        return thread

    def _settled_change(self) -> bool:
        # An editor may write a file in several steps: wait until it stops changing.
        first = (_signature([Path(self.config.spec)]), _signature(self.fixture_files()))
        if first == (self._spec, self._fixtures):
            return False
        time.sleep(POLL_S)
        return (_signature([Path(self.config.spec)]), _signature(self.fixture_files())) == first


def _operations_diff(old: MockApp, new: MockApp) -> str:
    before = {op.operation_id for op in old.state.pipeline.spec.operations}
    after = {op.operation_id for op in new.state.pipeline.spec.operations}
    parts = [f"{len(after)} operations"]
    for sign, names in (("+", sorted(after - before)), ("-", sorted(before - after))):
        if names:
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            parts.append(f"{sign}{len(names)} ({shown})")
    return " ".join(parts)
