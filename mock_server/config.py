"""Server settings, with the paths of the bundled spec and fixtures."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    """A data folder: inside the package when installed from a wheel, else the checkout's."""
    packaged = _PACKAGE / "_data" / name
    return packaged if packaged.exists() else _PACKAGE.parent / name


DEFAULT_SPEC = _bundled("spec") / "openapi.yaml"
CONTROL_SPEC = _bundled("spec") / "control.yaml"
DEFAULT_FIXTURES = _bundled("fixtures")
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass
class Config:
    """Everything :func:`mock_server.app.create_app` needs to build a server."""

    host: str = "127.0.0.1"
    port: int = 4010
    spec: Path = DEFAULT_SPEC
    fixtures: Path | None = DEFAULT_FIXTURES  # None: start empty
    seed: int | None = None
    clock: datetime | None = None  # --clock: a test clock frozen here, moved by POST /__mock/clock
    tokens: tuple[str, ...] = ()  # empty: any non-empty bearer token is accepted
    max_body: int = DEFAULT_MAX_BODY
    self_check: bool = False
    latency: tuple[float, float] | None = None  # seconds, (low, high)
    ingest_delay: float = 0.0  # seconds between accepting an event and processing it
    cors_origins: tuple[str, ...] = ()  # empty: any localhost / 127.0.0.1 origin
    log: str = "text"  # text, json or quiet
    journal_size: int = 1000
    journal_bytes: int = 128 * 1024 * 1024  # every tenant's journal together; the oldest entries go first
    allow_hosts: tuple[str, ...] = ()  # Host names the control API answers besides loopback and `host`
    proxy: str | None = None  # forward valid Togai requests to this URL instead of answering them
    proxy_timeout: float = 10.0  # seconds for a whole upstream exchange; then 504
    watch: bool = False  # reload spec and fixtures when their files change (mock_server/watch.py)
    state_file: Path | None = None  # --state-file: load the tenants from it, and keep it up to date
    tenancy: str = "shared"  # or "token": a tenant per bearer token
    max_tenants: int = 1000  # with --tenancy token; past it a new token gets 429
    record: Path | None = None  # --record DIR (with --proxy): keep the upstream's records as a fixture file there
    webhooks: tuple[str, ...] = ()  # --webhook URL: post notifications there (loopback or --allow-host only)
    webhook_secret: str | None = None  # --webhook-secret: sign each delivery (HMAC-SHA256)
