"""Tenants: which state a request acts on.

``--tenancy shared`` (the default): one tenant for every client, as before.
``--tenancy token``: each distinct bearer token gets its own tenant -- store,
journal, overrides and epoch -- created from the fixtures on first use and
isolated from every other. Control calls act on the tenant of their token.

A tenant is served by its own shallow copies of the two pipelines built by
:func:`mock_server.app.create_app` (the *template*): routes, validators and
handler plans are shared, only the state differs. The lookup is one dict
access per request; in shared mode without a state file the pipelines are
served directly, with no lookup at all.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .control import Control
from .domain.core.memory import thaw
from .domain.core.store import Store
from .drift import Drift
from .epoch import Epoch
from .errors import STAGE_HEADER, ApiError
from .handlers import Call, Handler
from .journal import Journal, JournalBudget
from .overrides import Overrides
from .pipeline import Pipeline, Receive, Scope, Send, send_json

if TYPE_CHECKING:
    pass

SHARED = "shared"
TOKEN = "token"
TENANCIES = (SHARED, TOKEN)
DEFAULT_MAX_TENANTS = 1000
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Control calls that change the tenant's records (the journal and overrides are not persisted).
_STATE_CALLS = ("/__mock/reset", "/__mock/state", "/__mock/tenant", "/__mock/clock")


@dataclass(eq=False)
class Tenant:
    """One isolated state and the pipelines that serve it."""

    key: str  # "shared", or the fingerprint of the token (never the token itself)
    store: Store
    journal: Journal | None
    overrides: Overrides | None
    epoch: Epoch
    control: Control
    togai: Pipeline
    control_pipeline: Pipeline


class Tenants:
    """Bearer token -> tenant, bounded; one tenant for everyone in shared mode."""

    def __init__(
        self,
        template: Tenant,
        mode: str = SHARED,
        *,
        max_tenants: int = DEFAULT_MAX_TENANTS,
        tokens: frozenset[str] | None = None,
        journal_size: int = 1000,
        extra_control: Callable[[Tenant], dict[str, Handler]] | None = None,
        journal_budget: JournalBudget | None = None,
    ) -> None:
        if mode not in TENANCIES:
            raise ValueError(f"tenancy must be one of {', '.join(TENANCIES)}")
        self.template = template
        self.mode = mode
        self.max_tenants = max_tenants
        self.tokens = tokens  # with --token, only these get tenants
        self.journal_size = journal_size
        self.journal_budget = journal_budget  # the bytes every tenant's journal shares
        self.extra_control = extra_control  # more control handlers per tenant (the dashboard's)
        self.salt = os.urandom(16)  # the state file's, once one is loaded
        self.on_change: Callable[[Tenant], None] | None = None  # the state file marks it dirty
        self.on_drop: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._by_key: dict[str, Tenant] = {}
        self._by_token: dict[str, Tenant] = {}  # a cache of fingerprint lookups
        self.shared: Tenant | None = None
        self._control_base = template.control_pipeline  # what each tenant's control pipeline copies
        if mode == SHARED:
            self.shared = template
            self._by_key[SHARED] = template
            template.control_pipeline = _control_pipeline(self, template, self._control_base)
        # Token mode: a request without an accepted token is served by the template,
        # which rejects it (every Togai operation needs a bearer token) and keeps no journal.
        self.anonymous = dataclasses.replace(
            template,
            journal=None,
            togai=_rebind(template.togai, journal=None),
            control_pipeline=_anonymous_control(self, self._control_base),
        )

    # -- lookup --------------------------------------------------------------------
    def fingerprint(self, token: str) -> str:
        """The key a token's tenant has in memory and in the state file: HMAC-SHA256 with the file's salt."""
        return "sha256:" + hmac.new(self.salt, token.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def resolve(self, token: str | None) -> Tenant | None:
        """The tenant a request acts on; ``None`` when a new one would pass ``max_tenants``."""
        if self.shared is not None:
            return self.shared
        if token is None or (self.tokens is not None and token not in self.tokens):
            return self.anonymous
        tenant = self._by_token.get(token)
        if tenant is not None:
            return tenant
        key = self.fingerprint(token)
        with self._lock:
            tenant = self._by_key.get(key)
            if tenant is None:
                if len(self._by_key) >= self.max_tenants:
                    return None
                tenant = self._by_key[key] = self.new_tenant(key)
            self._by_token[token] = tenant
        return tenant

    def new_tenant(self, key: str, fixtures: bool = True) -> Tenant:
        """A tenant holding the fixtures (or nothing), not yet registered."""
        template = self.template
        store = template.store.sibling()
        if fixtures:
            store.restore(template.control.fixtures)
        journal, overrides, epoch = Journal(self.journal_size, self.journal_budget), Overrides(), Epoch()
        # Each tenant's own drift report: the upstream answered it with that tenant's key.
        drift = Drift(template.control.drift.upstream)
        control = dataclasses.replace(
            template.control, store=store, journal=journal, overrides=overrides, epoch=epoch, drift=drift
        )
        togai = _rebind(template.togai, store=store, journal=journal, overrides=overrides, epoch=epoch, drift=drift)
        tenant = Tenant(key, store, journal, overrides, epoch, control, togai, self._control_base)
        tenant.control_pipeline = _control_pipeline(self, tenant, self._control_base)
        return tenant

    def add(self, tenant: Tenant) -> None:
        """Register a tenant made by :meth:`new_tenant` (the state file's, at start-up)."""
        with self._lock:
            self._by_key[tenant.key] = tenant

    def get(self, key: str) -> Tenant | None:
        """The tenant with this key, if any."""
        return self._by_key.get(key)

    def __iter__(self) -> Iterator[Tenant]:
        with self._lock:
            return iter(list(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)

    # -- changes -------------------------------------------------------------------
    def changed(self, tenant: Tenant) -> None:
        """A request may have changed ``tenant``'s records."""
        if self.on_change is not None and tenant.key in self._by_key:
            self.on_change(tenant)

    def check_reset_all(self) -> None:
        """Refuse ``reset?all=true`` unless the server names its tokens (``--token``).

        Without ``--token`` any bearer token makes a tenant, so any caller could
        wipe everyone else's; with it, only the operator's tokens have tenants.
        """
        if self.tokens is None:
            raise ApiError.of(
                403, "all",
                "resetting every tenant needs a bearer token given with --token (any token makes a tenant "
                "here); reset your own tenant without all=true",
            )

    def reset_all(self, empty: bool = False) -> None:
        """``POST /__mock/reset?all=true``: every tenant back to the fixtures (or empty)."""
        for tenant in self:
            tenant.control.reset(empty)
            self.changed(tenant)

    def drop(self, tenant: Tenant) -> None:
        """``DELETE /__mock/tenant``: forget a tenant (its token starts afresh next time)."""
        tenant.epoch.bump()  # requests still waiting on it are not applied
        with self._lock:
            self._by_key.pop(tenant.key, None)
            for token in [t for t, known in self._by_token.items() if known is tenant]:
                del self._by_token[token]
        thaw()  # its store is in reference cycles: the collector frees it only if it is not frozen
        if self.on_drop is not None:
            self.on_drop(tenant.key)


def _rebind(template: Pipeline, handlers: dict[str, Handler] | None = None, **state: Any) -> Pipeline:
    """A copy of ``template`` that shares its spec, router and plans but acts on other state."""
    pipeline = copy.copy(template)
    for name, value in state.items():
        setattr(pipeline, name, value)
    if handlers is not None:
        # The plans are (handler, status, path parameters, conflict status) by operationId.
        plans = template._plans
        pipeline._plans = {op: (handlers.get(op), p[1], p[2], p[3]) for op, p in plans.items()}
    return pipeline


def _control_handlers(tenants: Tenants, tenant: Tenant) -> dict[str, Handler]:
    """The control handlers of ``tenant``: its Control's, with ``reset?all=true`` and
    ``DELETE /__mock/tenant``, and the tenant count in ``health`` (token mode)."""
    control = tenant.control
    handlers = control.handlers()
    if tenants.extra_control is not None:
        handlers.update(tenants.extra_control(tenant))
    base_health = handlers["health"]

    def reset(_: Store, call: Call) -> Any:
        empty = call.params.get("empty", False)
        if call.params.get("all", False) and tenants.mode == TOKEN:
            tenants.check_reset_all()
            tenants.reset_all(empty)
        else:  # shared mode: "every tenant" is this one
            control.reset(empty)
        return {"success": True}

    def health(store: Store, call: Call) -> Any:
        return {**base_health(store, call), "tenants": len(tenants)}

    def drop(_: Store, __: Call) -> Any:
        if tenants.mode != TOKEN:
            raise ApiError.of(400, "tenancy", "only a server started with --tenancy token has tenants to forget")
        tenants.drop(tenant)
        return {"success": True}

    handlers["reset"] = reset
    handlers["dropTenant"] = drop
    if tenants.mode == TOKEN:
        handlers["health"] = health
    return handlers


def _control_pipeline(tenants: Tenants, tenant: Tenant, base: Pipeline) -> Pipeline:
    """``base`` (the control pipeline built by ``create_app``) acting on ``tenant``."""
    return _rebind(base, handlers=_control_handlers(tenants, tenant), store=tenant.store)


def _anonymous_control(tenants: Tenants, base: Pipeline) -> Pipeline:
    """Control calls without a token (token mode): only what acts on no tenant in particular."""

    def refuse(_: Store, __: Call) -> Any:
        raise ApiError.of(
            401, "Authorization",
            "control calls act on the tenant of their bearer token (--tenancy token); send one",
            **{STAGE_HEADER: "security"},
        )

    def reset(store: Store, call: Call) -> Any:
        if not call.params.get("all", False):
            refuse(store, call)
        raise ApiError.of(
            403, "all",
            "resetting every tenant needs a bearer token given with --token; without one, reset your own tenant",
        )

    def health(_: Store, __: Call) -> Any:
        return {"status": "ok", "tenants": len(tenants)}

    handlers: dict[str, Handler] = {op: refuse for op in base._plans}
    handlers.update(health=health, reset=reset)
    return _rebind(base, handlers=handlers)


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the last such header, as the
    security stage reads it), or ``None``."""
    value = None
    for name, raw in headers:
        if name == b"authorization":
            value = raw
    if value is None:
        return None
    scheme, _, token = value.decode("latin-1").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class TenantApp:
    """ASGI app: hands each request to its tenant's Togai or control pipeline."""

    def __init__(self, tenants: Tenants, control: bool) -> None:
        self.tenants = tenants
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = self.tenants.resolve(bearer_token(scope["headers"]))
        if tenant is None:
            limit = self.tenants.max_tenants
            message = (
                f"Authorization: this mock already holds {limit} tenants (--max-tenants), one per bearer "
                "token; reuse a token, or forget one with DELETE /__mock/tenant"
            )
            await send_json(send, 429, {"message": message}, {"retry-after": "60"})
            return
        app = tenant.control_pipeline if self.control else tenant.togai
        try:
            await app(scope, receive, send)
        finally:
            if scope["method"] in _CHANGES and (not self.control or scope["path"].startswith(_STATE_CALLS)):
                self.tenants.changed(tenant)
