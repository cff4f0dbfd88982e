"""``create_app``: the one place where spec, store, fixtures and pipeline are wired."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from .config import Config
from .fixtures import load_fixtures
from .handlers import HANDLERS
from .openapi.spec import load_spec
from .pipeline import Pipeline
from .store import Store
from .errors import VIOLATIONS_HEADER

# Browsers on any local port may call the mock unless origins are configured.
_LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


def create_app(config: Config | None = None) -> Starlette:
    """Build the ASGI app; raises ``SpecError``/``FixtureError`` on bad input files."""
    config = config or Config()
    spec = load_spec(config.spec)
    store = Store(seed=config.seed)
    canned = load_fixtures(config.fixtures, spec, store)
    pipeline = Pipeline(
        spec,
        store,
        HANDLERS,
        canned,
        tokens=frozenset(config.tokens) or None,
        max_body=config.max_body,
        self_check=config.self_check,
    )
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_origin_regex=None if config.cors_origins else _LOCAL_ORIGINS,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[VIOLATIONS_HEADER, "allow"],
        max_age=600,
    )
    app = Starlette(middleware=[cors])
    # Everything that is not a control route goes through the spec-driven pipeline.
    app.router.default = pipeline
    app.router.redirect_slashes = False
    app.state.pipeline = pipeline
    app.state.store = store
    app.state.config = config
    return app
