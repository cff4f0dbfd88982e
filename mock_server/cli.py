"""Command line: parse flags, build the app, print the URL when ready, serve."""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from .config import DEFAULT_FIXTURES, DEFAULT_MAX_BODY, DEFAULT_SPEC, Config
from .fixtures import FixtureError
from .openapi.spec import SpecError


def build_parser() -> argparse.ArgumentParser:
    """The ``mock-server`` argument parser."""
    p = argparse.ArgumentParser(
        prog="mock-server", description="A local, stateful mock of Togai's accounts and invoice-groups API."
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4010, help="port to listen on; 0 picks a free one (default 4010)")
    p.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="OpenAPI document to serve")
    p.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="folder of fixture YAML files")
    p.add_argument("--no-fixtures", action="store_true", help="start with an empty tenant")
    p.add_argument("--seed", type=int, help="same seed, same ids and timestamps")
    p.add_argument(
        "--token", action="append", default=[], metavar="TOKEN",
        help="accept only this bearer token (repeatable); without it any non-empty token is accepted",
    )
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES",
                   help=f"largest request body accepted, larger gets 413 (default {DEFAULT_MAX_BODY})")
    p.add_argument("--self-check", action="store_true",
                   help="validate every response against the spec; a mismatch becomes a 500")
    return p


def config_from_args(argv: list[str] | None = None) -> Config:
    """Parse ``argv`` into a :class:`Config` (exits with a usage error on bad flags)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.max_body < 0:
        parser.error("--max-body must not be negative")
    return Config(
        host=args.host,
        port=args.port,
        spec=args.spec,
        fixtures=None if args.no_fixtures else args.fixtures,
        seed=args.seed,
        tokens=tuple(args.token),
        max_body=args.max_body,
        self_check=args.self_check,
    )


class _Server(uvicorn.Server):
    """Prints the URL once the server accepts connections."""

    url = ""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(self.url, flush=True)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after its graceful shutdown; a stop that
        # was asked for is a clean exit (status 0), not a death by signal.
        self._captured_signals.clear()


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; return the exit status."""
    config = config_from_args(argv)
    from .app import create_app

    try:
        app = create_app(config)
    except (SpecError, FixtureError) as exc:
        print(f"mock-server: {exc}", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        print(f"mock-server: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    host = f"[{config.host}]" if family == socket.AF_INET6 else config.host
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    server.url = f"http://{host}:{port}"
    server.run(sockets=[sock])
    return 0
