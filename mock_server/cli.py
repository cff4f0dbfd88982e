"""Command line: parse flags, build the app, print the URL when ready, serve."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from .app import close_background, create_app
from .config import DEFAULT_FIXTURES, DEFAULT_MAX_BODY, DEFAULT_SPEC, Config
from .control_access import is_loopback
from .domain.core.errors import DomainError
from .domain.core.times import parse_time
from .fixtures import FixtureError
from .httpprotocol import EXPOSES_TRANSPORT, server_options
from .listing import StartupFacts, startup_listing, summarize_skipped
from .openapi.spec import SpecError
from .persistence import StateFileError
from .pipeline import TRANSPORT_KEY
from .proxy import parse_upstream
from .recording import RecordError
from .requestlog import json_line, message_logger
from .tenants import DEFAULT_MAX_TENANTS, TENANCIES
from .version import __version__
from .watch import Reloader
from .webhooks import WebhookError, check_target

# How long a stop waits for requests in flight before cancelling them.
SHUTDOWN_GRACE_S = 2


def build_parser() -> argparse.ArgumentParser:
    """The ``mock-server`` argument parser."""
    p = argparse.ArgumentParser(
        prog="mock-server",
        description="A local, stateful, spec-driven mock of Togai's billing API (or of any OpenAPI document).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("-p", "--port", type=int, default=4010, help="port to listen on; 0 picks a free one (default 4010)")
    p.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="OpenAPI document to serve")
    # As `prism mock spec.yaml`: the spec may also be given without --spec.
    p.add_argument("spec_file", nargs="?", type=Path, metavar="SPEC", help="OpenAPI document to serve (same as --spec)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--watch", action="store_true",
                   help="reload the spec and the fixtures when their files change (keeps the state that still fits)")
    p.add_argument("--fixtures", type=Path, default=None,
                   help="folder of fixture YAML files (default: the bundled demo tenant)")
    p.add_argument("--no-fixtures", action="store_true", help="start with an empty tenant")
    p.add_argument("--seed", type=int, help="same seed, same ids and timestamps")
    p.add_argument("--clock", metavar="DATE-TIME",
                   help="start a test clock frozen at DATE-TIME (RFC 3339); it moves only with POST /__mock/clock, "
                   "which closes the pricing cycles and bills what falls due on the way")
    p.add_argument(
        "--token", action="append", default=[], metavar="TOKEN", type=parse_nonempty("--token"),
        help="accept only this bearer token (repeatable); without it any non-empty token is accepted",
    )
    p.add_argument(
        "--allow-host", action="append", default=[], metavar="HOST", type=parse_nonempty("--allow-host"),
        help="also answer control calls (/__mock) whose Host header names HOST (repeatable); "
        "default: loopback names and addresses only",
    )
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES",
                   help=f"largest request body accepted, larger gets 413 (default {DEFAULT_MAX_BODY})")
    p.add_argument("--self-check", action="store_true",
                   help="validate every response against the spec; a mismatch becomes a 500")
    p.add_argument("--latency", type=parse_latency, metavar="DELAY",
                   help="delay every answer: 200ms, 1.5s, or a range such as 100-400ms")
    p.add_argument("--ingest-delay", type=float, default=0.0, metavar="SECONDS",
                   help="process ingested events this long after they are accepted, so a frontend can "
                   "show them in progress (default 0: at once)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN", type=parse_origin,
                   help="also allow this browser origin, scheme://host[:port] (repeatable), or '*' for any; "
                   "any localhost/127.0.0.1 origin is always allowed")
    p.add_argument("--log", choices=("text", "json", "quiet"), default="text",
                   help="one line per request on stderr: text (default), json or quiet")
    p.add_argument("--journal-size", type=int, default=1000, metavar="N",
                   help="how many requests GET /__mock/requests keeps (default 1000)")
    p.add_argument("--journal-bytes", type=int, default=128 * 1024 * 1024, metavar="BYTES",
                   help="memory every tenant's journal shares; past it the oldest entries of all go first "
                        "(default 128 MiB)")
    p.add_argument("--proxy", type=parse_proxy, metavar="URL",
                   help="forward every valid Togai request to URL (e.g. Togai's sandbox) and check its answers")
    p.add_argument("--proxy-timeout", type=parse_timeout, default=None, metavar="SECONDS",
                   help="how long an upstream exchange may take before a 504 (default 10)")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop when the process that started the server goes away (used by the pytest plugin)")
    p.add_argument("--state-file", type=Path, metavar="PATH",
                   help="load the tenants from PATH when it exists, and write every change back to it "
                   "(within about a second, and at shutdown)")
    p.add_argument("--tenancy", choices=TENANCIES, default="shared",
                   help="shared: one tenant for every client (default); token: one per bearer token")
    p.add_argument("--max-tenants", type=int, default=None, metavar="N",
                   help=f"with --tenancy token, at most N tenants; a new token past that gets 429 "
                   f"(default {DEFAULT_MAX_TENANTS})")
    # --record and --webhook: checked by check_record_and_webhooks.
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="with --proxy: keep the records the upstream answers in DIR/recorded.yaml (merged with "
                   "an earlier recording); --fixtures DIR serves them offline later")
    p.add_argument("--webhook", action="append", default=[], metavar="URL",
                   help="post a notification to URL when the mock creates or changes an account or generates, "
                   "finalizes, pays or changes an invoice (repeatable; loopback or --allow-host hosts only)")
    p.add_argument("--webhook-secret", metavar="SECRET",
                   help="sign each webhook delivery: X-Mock-Webhook-Signature: t=<unix>,v1=<HMAC-SHA256 hex>")
    return p


def parse_nonempty(flag: str) -> Callable[[str], str]:
    """A parser that refuses an empty value for ``flag`` (an empty token or host matches nothing)."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{flag} needs a value, got an empty one")
        return text

    return parse


# An origin as a browser sends it: scheme, host, optional port; nothing after.
_ORIGIN = re.compile(r"(https?)://([^/?#@\s:\[\]]+|\[[0-9a-fA-F:.]+\])(:[0-9]{1,5})?/?", re.IGNORECASE)


def parse_origin(text: str) -> str:
    """A ``--cors-origin``: ``'*'`` or ``http(s)://host[:port]``, as the ``Origin`` header carries it.

    Without a scheme (``192.168.1.20:5173``) no browser origin can ever equal it, so every
    preflight from that page would be refused: refuse it at start instead, with the fix.
    """
    value = text.strip()
    if value == "*" or _ORIGIN.fullmatch(value):
        return value
    hint = f"; try --cors-origin http://{value.rstrip('/')}" if value and "://" not in value else ""
    raise argparse.ArgumentTypeError(
        f"not an origin: {text!r} (an origin is http(s)://host[:port], as the browser's Origin header "
        f"says, with no path; or '*' for any){hint}"
    )


def check_record_and_webhooks(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse --record without --proxy, a --webhook target off this machine, a secret without a target."""
    if args.record is not None and args.proxy is None:
        parser.error("--record needs --proxy: it keeps what the upstream answers")
    if args.record is not None and args.record.exists() and not args.record.is_dir():
        parser.error(f"--record: {args.record} is not a folder")
    for url in args.webhook:
        try:
            check_target(url, args.allow_host)
        except WebhookError as exc:
            parser.error(str(exc))
    if args.webhook_secret is not None and not args.webhook:
        parser.error("--webhook-secret signs what --webhook posts; give --webhook too")
    if args.webhook_secret is not None and not args.webhook_secret:
        parser.error("--webhook-secret must not be empty")


def parse_proxy(text: str) -> str:
    """An upstream URL for ``--proxy``: http(s), with a host."""
    try:
        parse_upstream(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def parse_timeout(text: str) -> float:
    """Seconds for ``--proxy-timeout``: more than 0, at most an hour."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"not a timeout: {text!r} (seconds, more than 0, at most 3600)")
    return value


def parse_latency(text: str) -> tuple[float, float]:
    """``200ms`` / ``1.5s`` / ``200`` (ms) / ``100-400ms`` -> (low, high) in seconds."""
    value = text.strip().lower()
    scale = 1.0
    if value.endswith("ms"):
        value, scale = value[:-2], 0.001
    elif value.endswith("s"):
        value = value[:-1]
    else:
        scale = 0.001
    low_text, _, high_text = value.partition("-")
    try:
        low = float(low_text) * scale
        high = float(high_text or low_text) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a delay: {text!r} (try 200ms or 100-400ms)") from None
    if not 0 <= low <= high <= 60:
        raise argparse.ArgumentTypeError(f"not a delay: {text!r} (0 to 60 s, low before high)")
    return low, high


def config_from_args(argv: list[str] | None = None) -> tuple[Config, bool]:
    """Parse ``argv`` into a :class:`Config` and the exit-with-parent flag."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.max_body < 0:
        parser.error("--max-body must not be negative")
    if args.journal_size < 0:
        parser.error("--journal-size must not be negative")
    if args.journal_bytes < 64 * 1024:
        parser.error("--journal-bytes must be at least 65536 (one request and its answer)")
    if args.spec_file is not None:
        if args.spec != DEFAULT_SPEC:
            parser.error("give the spec once: as SPEC or with --spec")
        args.spec = args.spec_file
    if args.ingest_delay < 0:
        parser.error("--ingest-delay must not be negative")
    if args.max_tenants is not None and args.max_tenants < 1:
        parser.error("--max-tenants must be at least 1")
    for problem in meaningless(args):
        parser.error(problem)
    check_record_and_webhooks(parser, args)
    clock = None
    if args.clock is not None:
        try:
            clock = parse_time(args.clock, "--clock")
        except DomainError:
            parser.error(f"--clock: {args.clock!r} is not an RFC 3339 date-time")
        if clock.year > 9998:
            parser.error("--clock must be before the year 9999")
    return Config(
        host=args.host,
        port=args.port,
        spec=args.spec,
        fixtures=None if args.no_fixtures else (args.fixtures or DEFAULT_FIXTURES),
        seed=args.seed,
        clock=clock,
        tokens=tuple(args.token),
        max_body=args.max_body,
        self_check=args.self_check,
        latency=args.latency,
        ingest_delay=args.ingest_delay,
        cors_origins=tuple(args.cors_origin),
        log=args.log,
        journal_size=args.journal_size,
        journal_bytes=args.journal_bytes,
        allow_hosts=tuple(args.allow_host),
        proxy=args.proxy,
        proxy_timeout=10.0 if args.proxy_timeout is None else args.proxy_timeout,
        watch=args.watch,
        state_file=args.state_file,
        tenancy=args.tenancy,
        max_tenants=DEFAULT_MAX_TENANTS if args.max_tenants is None else args.max_tenants,
        record=args.record,
        webhooks=tuple(args.webhook),
        webhook_secret=args.webhook_secret,
    ), args.exit_with_parent


def meaningless(args: argparse.Namespace) -> list[str]:
    """Flag combinations that would be accepted and then do nothing, each with its fix.

    Start-up refuses them (exit 2), so a flag given is a flag that works.
    """
    problems = []
    if args.max_tenants is not None and args.tenancy != "token":
        problems.append("--max-tenants limits the tenants of --tenancy token; add --tenancy token, "
                        "or leave --max-tenants out (with --tenancy shared there is one tenant)")
    if args.fixtures is not None and args.no_fixtures:
        problems.append("--fixtures and --no-fixtures contradict each other; give one of them")
    if args.proxy_timeout is not None and args.proxy is None:
        problems.append("--proxy-timeout bounds the upstream exchanges of --proxy; add --proxy URL, "
                        "or leave --proxy-timeout out")
    if args.proxy is not None and args.ingest_delay:
        problems.append("--ingest-delay delays the mock's own processing of events, but --proxy forwards "
                        "ingested events to the upstream; leave one of them out")
    if args.proxy is not None and args.state_file is not None:
        problems.append("--state-file keeps the mock's own tenant, which --proxy never uses (requests go "
                        "to the upstream); leave one of them out")
    return problems


class _Server(uvicorn.Server):
    """Prints the URL once the server accepts connections."""

    url = ""
    listing: list[str] = []  # what is served, on stderr after the URL

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(self.url, flush=True)
            for line in self.listing:
                print(line, file=sys.stderr, flush=True)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after its graceful shutdown; a stop that
        # was asked for is a clean exit (status 0), not a death by signal.
        self._captured_signals.clear()


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; return the exit status."""
    config, exit_with_parent = config_from_args(argv)
    say = message_logger(config.log, event="mock-server")
    _log_as(config.log)
    facts = StartupFacts(state_file_existed=config.state_file is not None and config.state_file.exists())
    # Under another spec the bundled fixtures' "not loaded" warning names every kind of record;
    # the listing sums it up in one line instead (see listing.StartupFacts).
    skipped = _SkippedFixtures(config.log != "quiet")
    logging.getLogger("mock_server").addFilter(skipped)
    try:
        app = create_app(config)
    except (SpecError, FixtureError, StateFileError, RecordError) as exc:
        say(f"mock-server: {exc}")
        return 2
    finally:
        logging.getLogger("mock_server").removeFilter(skipped)
    facts.skipped = skipped.kinds
    reloader = Reloader(config, app) if config.watch else None
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        say(f"mock-server: cannot listen on {config.host}:{config.port}: {exc.strerror}")
        return 2
    port = sock.getsockname()[1]
    if not config.tokens and not is_loopback(config.host):
        say(f"mock-server: warning: listening on {config.host} without --token: anyone who can reach "
            "this port can read and change the mock")
    host = f"[{config.host}]" if family == socket.AF_INET6 else config.host
    server = _Server(uvicorn.Config(
        # The bounded protocol puts the transport in each scope itself; h11's needs a wrapper.
        _served(reloader or app) if EXPOSES_TRANSPORT else _expose_transport(reloader or app),
        interface="asgi3",  # MockApp.route is a plain function returning the awaitable: no guessing
        log_level="warning", access_log=False,
        # Nothing in the mock reads the client's address or the scheme, which is all that uvicorn's
        # X-Forwarded-* middleware would rewrite, in one more layer on every request.
        proxy_headers=False,
        lifespan="on",  # at shutdown --proxy closes its upstream connections
        # A client holding a half-sent body or an Expect: 100-continue, or a
        # request in an override delay, would otherwise keep the process alive.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        **server_options(),  # request heads are bounded (431)
    ))
    server.url = f"http://{host}:{port}"
    if config.log == "text":  # JSON logs stay one JSON object per line
        server.listing = startup_listing(app, config, server.url, facts)
    logging.getLogger("uvicorn.error").addFilter(_QuietFaults())
    if exit_with_parent:
        _watch_parent(server)
    if reloader is not None:
        reloader.watch(lambda: server.should_exit)
    # What start-up built (the spec, validators, fixtures) lives as long as the server: out of the
    # collector's sight, so that each collection walks only what requests made (~1.5% of a request).
    gc.collect()
    gc.freeze()
    server.run(sockets=[sock])
    close_background(app.state)  # the last of --record written (lifespan did it unless it failed)
    state_file = app.state.state_file
    if state_file is not None and not state_file.close():  # writes what the last second changed
        say(f"mock-server: the last changes could not be written to {state_file.path}")
        return 1
    return 0


class _SkippedFixtures(logging.Filter):
    """Holds back the fixture loader's "not loaded, the spec has no operation" warnings at start-up,
    keeping the kinds of record they name for the listing's state line."""

    def __init__(self, summarized: bool) -> None:
        super().__init__()
        self.summarized = summarized  # with --log quiet there is no listing: let the warning through
        self.kinds: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "not loaded, the spec has no operation to create them" not in message:
            return True
        self.kinds += summarize_skipped([message])
        return not self.summarized


class _JsonFormatter(logging.Formatter):
    """The mock's own log records as JSON lines with their time, like the request lines of ``--log json``."""

    def format(self, record: logging.LogRecord) -> str:
        return json_line("mock-server", record.getMessage(), level=record.levelname.lower())


def _log_as(kind: str) -> None:
    """With ``--log json`` the mock's warnings (a reload, a state-file write) are JSON lines too."""
    if kind != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    logger = logging.getLogger("mock_server")
    logger.addHandler(handler)
    logger.propagate = False


class _QuietFaults(logging.Filter):
    """A fault drops the connection on purpose, and a stop cancels requests still
    waiting after the grace period; uvicorn need not print a traceback for either."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            return False
        return "returned without starting response" not in record.getMessage()


def _served(app: ASGIApp) -> ASGIApp:
    """What uvicorn calls: the app's :meth:`~mock_server.app.MockApp.route` when it has one (no coroutine
    of its own per request), else the app."""
    route: ASGIApp | None = getattr(app, "route", None)
    return route if route is not None else app


def _expose_transport(app: ASGIApp) -> ASGIApp:
    """Hand uvicorn's transport to the pipeline, which needs it to inject faults."""

    async def exposed(scope: Scope, receive: Receive, send: Send) -> None:
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:
            scope[TRANSPORT_KEY] = transport
        await app(scope, receive, send)

    return exposed


def _watch_parent(server: uvicorn.Server) -> None:
    """Stop the server when its parent dies, so that no test run leaves one behind."""
    parent = os.getppid()

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != parent:
                server.should_exit = True
                return
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
