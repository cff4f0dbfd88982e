"""The dashboard at ``GET /__mock/``: one HTML page, its script and style, shipped in the package.

The page is static (no data in it) and drives the control API like any other
client, same-origin: paged records (``GET /__mock/records/{resource}``), the
journal since the last id it has, the overrides, reset, and
``GET /__mock/server`` for what is served and how the last ``--watch``
reload went. This module serves the files and adds those control handlers.

An account's page, ``GET /__mock/accounts/{account_id}`` (a deep link), is
static too: its script reads ``GET /__mock/accounts/{account_id}/overview``
(:mod:`.account_view`) and moves the clock with ``POST /__mock/clock``; its
charts are drawn by uPlot, vendored under ``static/vendor/`` (no CDN).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..control_access import ControlAccess
from ..domain.core.cursors import paginate
from ..domain.core.store import Store
from ..errors import STAGE_HEADER, ApiError
from ..handlers import Call, Handler
from ..journal import Journal
from ..pipeline import send_json
from ..version import __version__
from . import account_view

if TYPE_CHECKING:
    from ..openapi.spec import Spec

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/__mock/"
ASSETS = PREFIX + "assets/"
ACCOUNTS = PREFIX + "accounts/"  # + an account id: the account's page (anything longer is the control API's)
_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
}
# The page loads nothing from elsewhere; say so to the browser too.
_CSP = b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'"
DEFAULT_PAGE = 50


@dataclass
class ServerInfo:
    """What ``GET /__mock/server`` shows; ``--watch`` updates the reload fields."""

    version: str
    spec: str
    fixtures: str | None
    operations: int
    stateful: int
    resources: list[str]
    watching: bool = False
    reloads: int = 0
    last_reload: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, spec: Spec, handlers: dict[str, Handler], store: Store, fixtures: Path | None) -> ServerInfo:
        """Describe a freshly built server."""
        return cls(
            version=__version__,
            spec=spec.source,
            fixtures=None if fixtures is None else str(fixtures),
            operations=len(spec.operations),
            stateful=len(handlers),
            resources=[r.name for r in store.registry],
        )

    def to_json(self) -> dict[str, Any]:
        """The body of ``GET /__mock/server``."""
        return {
            "version": self.version,
            "spec": self.spec,
            "fixtures": self.fixtures,
            "operations": self.operations,
            "statefulOperations": self.stateful,
            "resources": self.resources,
            "watch": {"enabled": self.watching, "reloads": self.reloads, "lastReload": self.last_reload,
                      "error": self.error},
        }


def control_handlers(store: Store, journal: Journal, info: ServerInfo) -> dict[str, Handler]:
    """The control operations the dashboard adds (and ``listRequests`` with ``after``/``limit``)."""

    def list_records(_: Store, call: Call) -> Any:
        name = call.params["resource"]
        resource = store.registry.by_name.get(name)
        if resource is None:
            known = ", ".join(r.name for r in store.registry)
            raise ApiError.of(404, "resource", f"no resource {name!r} (there are: {known})")
        with store.lock:
            collection = store.collections[name]
            records, extra = paginate(
                collection, call.params.get("nextToken"), call.params.get("pageSize") or DEFAULT_PAGE, context=False
            )
            return {"resource": name, "total": len(collection),
                    "data": [resource.to_json(store, r) for r in records], **extra}

    def list_requests(_: Store, call: Call) -> Any:
        if "after" not in call.params and "limit" not in call.params:
            return {"requests": journal.entries()}  # as before the dashboard came
        entries, oldest = journal.page(call.params.get("after", 0), call.params.get("limit"))
        return {"requests": entries, "oldestId": oldest}

    def account_overview(tenant: Store, call: Call) -> Any:
        days = call.params.get("days") or account_view.DEFAULT_DAYS
        return account_view.overview(tenant, call.params["account_id"], days)

    return {
        "listRecords": list_records,
        "listRequests": list_requests,
        "serverInfo": lambda s, c: info.to_json(),
        "accountOverview": account_overview,
    }


class Dashboard:
    """Serves the page and its assets under ``/__mock/``; everything else goes to ``control``."""

    def __init__(self, control: ASGIApp, access: ControlAccess) -> None:
        self.control = control
        self.access = access
        # By path under static/ ("dashboard.js", "vendor/uPlot.iife.min.js"): only these are ever served.
        self.files = {p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.suffix in _TYPES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        account_page = _is_account_page(path)
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(ASSETS) or account_page):
            await self.control(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_json(send, 405, {"message": f"{scope['method']}: the dashboard is read with GET"},
                            {"allow": "GET, HEAD", STAGE_HEADER: "route"})
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        if host is not None and not self.access.host_allowed(host):
            shown = host if len(host) <= 100 else host[:100] + "…"
            await send_json(send, 403, {"message": f"Host: {shown!r} is not a loopback address; start the mock "
                                        "with --allow-host to allow it"}, {STAGE_HEADER: "security"})
            return
        name = "index.html" if path == PREFIX else "account.html" if account_page else path[len(ASSETS):]
        file = self.files.get(name)
        if file is None:
            await send_json(send, 404, {"message": f"path: no dashboard file {name[:100]!r}"}, {STAGE_HEADER: "route"})
            return
        body = file.read_bytes()
        headers = [
            (b"content-type", _TYPES[file.suffix]),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-cache"),
            (b"content-security-policy", _CSP),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _is_account_page(path: str) -> bool:
    """``/__mock/accounts/{account_id}``: one non-empty segment after the prefix (the page reads the id)."""
    if not path.startswith(ACCOUNTS):
        return False
    rest = path[len(ACCOUNTS):]
    return bool(rest) and "/" not in rest
