"""The start-up listing: what is served, for whom, and where the dashboard is."""
from __future__ import annotations

from .app import MockApp
from .config import Config
from .cors import ANY
from .version import __version__


def startup_listing(app: MockApp, config: Config, url: str) -> list[str]:
    """A few lines for stderr, printed once the server is ready (after its URL on stdout)."""

    info = app.state.info
    counts = app.state.store.counts()
    canned = info.operations - info.stateful
    fixtures = "no fixtures" if config.fixtures is None else f"fixtures {config.fixtures}"
    held = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing"
    tokens = f"{len(config.tokens)} accepted token(s)" if config.tokens else "any bearer token"
    origins = [o for o in config.cors_origins if o != ANY]
    cors = "any origin" if ANY in config.cors_origins else "localhost origins" + (
        f" and {', '.join(origins)}" if origins else "")
    lines = [
        f"mock-server {__version__}: {info.operations} operations of {info.spec} "
        f"({info.stateful} stateful, {canned} canned)",
        f"  tenant: one, shared by every token ({fixtures}: {held}); {tokens}",
        f"  dashboard: {url}/__mock/   control API: {url}/__mock/health",
        f"  CORS: {cors}" + ("; watching the spec and fixtures for changes" if config.watch else ""),
    ]
    return lines
