"""``create_app``: the one place where spec, store, fixtures and pipelines are wired."""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount

from .config import CONTROL_SPEC, Config
from .control import Control
from .errors import STAGE_HEADER, VIOLATIONS_HEADER
from .fixtures import load_fixtures
from .handlers import HANDLERS
from .journal import Journal
from .openapi.spec import load_spec
from .overrides import Overrides
from .pipeline import Pipeline
from .requestlog import request_logger
from .store import Store

# A whole exported tenant (PUT /__mock/state) is far larger than any Togai request.
CONTROL_MAX_BODY = 256 * 1024 * 1024
# Browsers on any local port may call the mock unless origins are configured.
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


def create_app(config: Config | None = None) -> Starlette:
    """Build the ASGI app; raises ``SpecError``/``FixtureError`` on bad input files."""
    config = config or Config()
    spec = load_spec(config.spec)
    store = Store(seed=config.seed)
    canned = load_fixtures(config.fixtures, spec, store)
    journal = Journal(config.journal_size)
    overrides = Overrides()
    togai = Pipeline(
        spec,
        store,
        HANDLERS,
        canned,
        tokens=frozenset(config.tokens) or None,
        max_body=config.max_body,
        self_check=config.self_check,
        journal=journal,
        overrides=overrides,
        latency=config.latency,
        log_line=request_logger(config.log),
    )
    control = Control.create(store, journal, overrides, spec)
    control_pipeline = Pipeline(
        load_spec(CONTROL_SPEC),
        store,
        control.handlers(),
        max_body=CONTROL_MAX_BODY,
        self_check=config.self_check,
        prefer=False,
    )
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_origin_regex=None if config.cors_origins else LOCAL_ORIGINS,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[VIOLATIONS_HEADER, STAGE_HEADER, "allow"],
        max_age=600,
    )
    app = Starlette(routes=[Mount("/__mock", app=control_pipeline)], middleware=[cors])
    # Everything else goes through the Togai pipeline, routed by the spec.
    app.router.default = togai
    app.router.redirect_slashes = False
    app.state.pipeline = togai
    app.state.control = control
    app.state.store = store
    app.state.config = config
    return app
