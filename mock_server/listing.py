"""The start-up listing: what is served, where its state came from, for whom, and where the dashboard is."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .app import MockApp
from .config import DEFAULT_FIXTURES, DEFAULT_SPEC, Config
from .cors import ANY
from .version import __version__

# Counts shown on the state line; the rest are summed up ("and 9 more kinds").
SHOWN_COUNTS = 6


@dataclass
class StartupFacts:
    """What only the start-up knows: whether the state file existed, which fixture entries a spec skipped."""

    state_file_existed: bool = False
    # "customers (no createCustomer)", ... from every fixture file the spec could not load completely
    skipped: list[str] = field(default_factory=list)


def _shown(path: Path) -> str:
    """A path as a user would type it: relative to the working directory when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _counts(counts: dict[str, int]) -> str:
    held = [(name, n) for name, n in counts.items() if n]
    if not held:
        return "empty"
    text = ", ".join(f"{n} {name}" for name, n in held[:SHOWN_COUNTS])
    more = len(held) - SHOWN_COUNTS
    return text + (f" and {more} more kinds" if more > 0 else "")


def _state_line(app: MockApp, config: Config, facts: StartupFacts) -> str:
    """Where the state came from: a state file (and its path), fixtures (and their folder), or nothing."""
    if config.proxy:
        return (f"  state: none used: every valid request goes to {config.proxy} "
                "(the control API's /__mock/state is the mock's own, unused tenant)")
    held = _counts(app.state.store.counts())
    tenants = app.state.tenants
    if config.state_file is not None and facts.state_file_existed:
        if config.tenancy == "token":
            return f"  state: {len(tenants)} tenant(s) from the state file {_shown(config.state_file)}, kept up to date"
        return f"  state: from the state file {_shown(config.state_file)} ({held}), kept up to date"
    kept = (f"; kept in {_shown(config.state_file)} from the first change (the file does not exist yet)"
            if config.state_file is not None else "")
    if config.fixtures is None:
        source = "empty (--no-fixtures)"
    else:
        name = "the bundled demo fixtures" if Path(config.fixtures).resolve() == DEFAULT_FIXTURES.resolve() \
            else "fixtures"
        source = f"{name} ({_shown(Path(config.fixtures))}/)"
        if facts.skipped:
            loaded = "nothing loaded" if held == "empty" else f"loaded {held}"
            return (f"  state: {source}: {loaded}; {len(facts.skipped)} kinds of record left out, the spec has "
                    f"no operation to create them{kept}")
        source += f" ({held})"
    if config.tenancy == "token":
        return f"  state: each token's tenant starts from {source}{kept}"
    return f"  state: {source}{kept}"


def startup_listing(app: MockApp, config: Config, url: str, facts: StartupFacts | None = None) -> list[str]:
    """A few lines for stderr, printed once the server is ready (after its URL on stdout)."""
    facts = facts or StartupFacts()
    info = app.state.info
    canned = info.operations - info.stateful
    spec = "the bundled Togai spec" if Path(config.spec).resolve() == DEFAULT_SPEC.resolve() \
        else _shown(Path(config.spec))
    if config.proxy:
        what = (f"{info.operations} operations of {spec}, checked, then forwarded to {config.proxy} "
                f"(timeout {config.proxy_timeout:g} s; its answers' drift from the spec: /__mock/drift)")
    elif info.stateful == 0:
        what = f"{info.operations} operations of {spec}, answered from its examples and schemas"
    else:
        what = f"{info.operations} operations of {spec} ({info.stateful} stateful, {canned} canned)"
    tokens = f"{len(config.tokens)} accepted token(s)" if config.tokens else "any bearer token"
    tenancy = ("a tenant per bearer token, at most " f"{config.max_tenants}" if config.tenancy == "token"
               else "one tenant, shared by every token")
    origins = [o for o in config.cors_origins if o != ANY]
    cors = "any origin" if ANY in config.cors_origins else "localhost origins" + (
        f" and {', '.join(origins)}" if origins else "")
    lines = [
        f"mock-server {__version__}: {what}",
        _state_line(app, config, facts),
        f"  clients: {tenancy}; {tokens}",
        f"  dashboard: {url}/__mock/   control API: {url}/__mock/health",
        f"  CORS: {cors}" + ("; watching the spec and fixtures for changes" if config.watch else ""),
    ]
    return lines


def summarize_skipped(records: Sequence[str]) -> list[str]:
    """The fixture entries a spec could not load, from the fixture loader's warnings, one per kind."""
    kinds: list[str] = []
    for record in records:
        _, _, listed = record.partition("the spec has no operation to create them: ")
        kinds += [kind.strip() for kind in listed.split("), ") if kind.strip()]
    return kinds
