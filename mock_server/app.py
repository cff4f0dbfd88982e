"""``create_app``: the one place where spec, store, fixtures and pipelines are wired."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import CONTROL_SPEC, DEFAULT_FIXTURES, DEFAULT_SPEC, Config
from .control import Control
from .control_access import ControlAccess
from .cors import CorsMiddleware, CorsPolicy
from .dashboard import Dashboard, ServerInfo
from .dashboard import control_handlers as dashboard_handlers
from .domain.core.store import Store
from .domain.registry import REGISTRY
from .drift import Drift
from .epoch import Epoch
from .fixtures import load_fixtures
from .handlers import Handler, bind
from .journal import Journal, JournalBudget
from .jsonschemas import field_rules
from .openapi.spec import Spec, load_spec
from .overrides import Overrides
from .persistence import StateFile
from .pipeline import Pipeline
from .proxy import Upstream
from .recording import Recorder
from .requestlog import request_logger
from .stateimport import record_validators
from .tenants import DEFAULT_MAX_TENANTS, SHARED, Tenant, TenantApp, Tenants
from .webhooks import Webhooks, check_target

# A whole exported tenant (PUT /__mock/state) is far larger than any Togai request.
CONTROL_MAX_BODY = 256 * 1024 * 1024
CONTROL_PREFIX = "/__mock/"


class MockApp:
    """The ASGI app: ``/__mock/*`` to the control pipeline, the rest to the Togai one.

    Each pipeline routes, validates and answers errors itself, so a Starlette
    application object (router plus two exception middlewares) would only
    add a third of the request time; Starlette's CORS middleware wraps both.
    """

    def __init__(self, togai: ASGIApp, control: ASGIApp, cors: dict[str, Any], state: State) -> None:
        self.togai = togai
        self.control = control
        self.togai_cors: ASGIApp = CorsMiddleware(togai, **cors)
        # Control calls are not journaled, preflights included.
        self.control_cors: ASGIApp = CorsMiddleware(control, **{**cors, "journal": None})
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.route(scope, receive, send)

    def route(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """What serves the request, as an awaitable: :meth:`__call__` without a coroutine of its own, which
        the CLI's server (told the app is ASGI 3) awaits directly, one frame less on every request."""
        kind = scope["type"]
        if kind == "http":
            control = scope["path"].startswith(CONTROL_PREFIX)
            # Only browsers send Origin; everyone else skips the CORS layer.
            target: ASGIApp = self.control if control else self.togai
            for name, _ in scope["headers"]:  # a plain loop: this runs on every request
                if name == b"origin":
                    target = self.control_cors if control else self.togai_cors
                    break
            return target(scope, receive, send)
        if kind == "lifespan":
            return _lifespan(receive, send, self.state)
        # websockets are not part of the API
        return send({"type": "websocket.close", "code": 1003})


async def _lifespan(receive: Receive, send: Send, state: State) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            close_background(state)
            upstream = getattr(state, "upstream", None)
            if upstream is not None:
                await upstream.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


def close_background(state: State) -> None:
    """Write what --record holds and stop the webhook sender (at shutdown; idempotent)."""
    recorder = getattr(state, "recorder", None)
    if recorder is not None:
        recorder.close()
    webhooks = getattr(state, "webhooks", None)
    if webhooks is not None:
        webhooks.close()


def create_app(
    config: Config | None = None, *, state_file: StateFile | None = None, adopt: MockApp | None = None
) -> MockApp:
    """Build the ASGI app; raises ``SpecError``/``FixtureError``/``StateFileError`` on bad input files,
    ValueError on a bad proxy URL.

    ``state_file``: an open state file to take over instead of opening ``config.state_file`` (``--watch``
    rebuilds the app while the old one holds the file's lock); its tenants are not loaded again.
    ``adopt``: the app this one replaces (``--watch``); its ``--record`` writer and ``--webhook`` sender
    carry on in the new app (what they hold, their threads), rather than a second pair writing the same
    file and posting the same events.
    """
    config = config or Config()
    spec = load_spec(config.spec)
    schemas = spec.document.get("components", {}).get("schemas", {})
    store = Store(REGISTRY, seed=config.seed, schemas=schemas, ingest_delay=config.ingest_delay, clock=config.clock,
                  field_rules=field_rules(schemas))
    # The bundled spec must bind every handler; another spec serves what it has.
    bundled = Path(config.spec).resolve() == DEFAULT_SPEC.resolve()
    handlers = bind(spec, strict=bundled)
    # The bundled fixtures are written for the bundled spec: under another spec
    # what it cannot serve is skipped; fixtures the user chose must all load.
    bundled_fixtures = config.fixtures is not None and Path(config.fixtures).resolve() == DEFAULT_FIXTURES.resolve()
    canned = load_fixtures(config.fixtures, spec, store, handlers, strict=bundled or not bundled_fixtures)
    budget = JournalBudget(config.journal_bytes)  # shared by every tenant's journal
    journal = Journal(config.journal_size, budget)
    overrides = Overrides()
    epoch = Epoch()  # bumped by reset and import; requests from before are not applied
    # --proxy: valid Togai requests go to the upstream, whose answers the drift report sums up.
    upstream = Upstream(config.proxy, config.proxy_timeout) if config.proxy else None
    drift = upstream.drift if upstream is not None else Drift()
    recorder, webhooks = _background(config, spec, upstream, adopt.state if adopt is not None else None)
    togai = Pipeline(
        spec,
        store,
        handlers,
        canned,
        tokens=frozenset(config.tokens) or None,
        max_body=config.max_body,
        self_check=config.self_check,
        journal=journal,
        overrides=overrides,
        latency=config.latency,
        log_line=request_logger(config.log),
        epoch=epoch,
        proxy=upstream,
    )
    control = Control.create(store, journal, overrides, spec, epoch)
    control.drift = drift
    control.webhooks = webhooks
    access = ControlAccess.create(config.tokens, config.allow_hosts, config.host)
    info = ServerInfo.create(spec, handlers, store, config.fixtures)
    control_pipeline = Pipeline(
        load_spec(CONTROL_SPEC),
        store,
        {**control.handlers(), **dashboard_handlers(store, journal, info)},
        max_body=CONTROL_MAX_BODY,
        self_check=config.self_check,
        prefer=False,
        access=access,
        # A clock move processes months of cycles in slices, releasing the store between them.
        offloaded=frozenset({"moveClock"}),
    )
    if webhooks is not None:  # tenants copy the pipelines, and the observer with them
        togai.observer = control_pipeline.observer = webhooks
    # Local origins always; --cors-origin adds more, '*' any (see mock_server/cors.py).
    cors: dict[str, Any] = {"policy": CorsPolicy(config.cors_origins), "log": config.log, "journal": journal}
    # Tenancy and the state file (mock_server/tenants.py, persistence.py); this tenant is the template.
    template = Tenant(SHARED, store, journal, overrides, epoch, control, togai, control_pipeline)
    tenants, persisted, togai_app, control_app = serve_tenants(
        template, config.tenancy, state_file=config.state_file, adopted=state_file, max_tenants=config.max_tenants,
        tokens=frozenset(config.tokens) or None, journal_size=config.journal_size, journal_budget=budget,
        # The dashboard's own control calls act on the caller's tenant too.
        extra_control=lambda tenant: (
            dashboard_handlers(tenant.store, tenant.journal, info) if tenant.journal is not None else {}
        ),
    )
    state = State({"pipeline": togai, "control": control, "store": store, "config": config, "info": info,
                   "upstream": upstream, "tenants": tenants, "state_file": persisted, "recorder": recorder,
                   "webhooks": webhooks})
    if recorder is not None:
        if adopt is not None:  # nothing below can fail: the adopted writer checks records against the new spec
            recorder.validators = record_validators(REGISTRY, spec)
        recorder.start()
    if webhooks is not None:
        webhooks.start()
    return MockApp(togai_app, Dashboard(control_app, access), cors, state)


def _background(
    config: Config, spec: Spec, upstream: Upstream | None, adopted: State | None = None
) -> tuple[Recorder | None, Webhooks | None]:
    """--record's writer (listening to the upstream's answers) and --webhook's sender, not yet started
    (or those of the app being replaced, ``adopted``).

    ValueError (RecordError, WebhookError) naming the flag when they cannot be used.
    """
    recorder: Recorder | None = getattr(adopted, "recorder", None)
    if config.record is not None:
        if upstream is None:
            raise ValueError("--record needs --proxy: it keeps what the upstream answers")
        if recorder is None:
            recorder = Recorder(config.record, record_validators(REGISTRY, spec), upstream=upstream.url)
        upstream.observer = recorder.observe
    webhooks: Webhooks | None = getattr(adopted, "webhooks", None)
    if webhooks is not None:
        return recorder, webhooks
    if config.webhooks:
        targets = [check_target(url, config.allow_hosts) for url in config.webhooks]
        webhooks = Webhooks(targets, config.webhook_secret)
    elif config.webhook_secret is not None:
        raise ValueError("--webhook-secret signs what --webhook posts; give --webhook too")
    return recorder, webhooks


def serve_tenants(
    template: Tenant,
    mode: str = SHARED,
    *,
    state_file: Path | None = None,
    adopted: StateFile | None = None,
    max_tenants: int = DEFAULT_MAX_TENANTS,
    tokens: frozenset[str] | None = None,
    journal_size: int = 1000,
    journal_budget: JournalBudget | None = None,
    extra_control: Callable[[Tenant], dict[str, Handler]] | None = None,
) -> tuple[Tenants, StateFile | None, ASGIApp, ASGIApp]:
    """The tenants of a server, its state file (loaded and writing, or ``adopted`` from an app it
    replaces), and the Togai and control apps.

    Raises :class:`~mock_server.persistence.StateFileError` when the state file cannot be used.
    """
    tenants = Tenants(
        template, mode, max_tenants=max_tenants, tokens=tokens, journal_size=journal_size,
        extra_control=extra_control, journal_budget=journal_budget,
    )
    persisted = None
    if adopted is not None:
        persisted = adopted
        adopted.attach(tenants)
    elif state_file is not None:
        persisted = StateFile(state_file, tenants)
        persisted.open()
        persisted.start()
    if mode == SHARED and persisted is None:
        return tenants, None, template.togai, template.control_pipeline  # no lookup, no overhead
    return tenants, persisted, TenantApp(tenants, control=False), TenantApp(tenants, control=True)
