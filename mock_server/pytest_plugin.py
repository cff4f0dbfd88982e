"""The ``togai_mock`` pytest fixture: one server subprocess per test session (per
xdist worker), reset before every test.

Installed with the package through the ``pytest11`` entry point, so a test
needs nothing but ``def test_x(togai_mock): ...``. Options (command line wins
over ini): ``--togai-mock-fixtures DIR`` / ``togai_mock_fixtures``,
``--togai-mock-seed N`` / ``togai_mock_seed``, ``--togai-mock-args "..."`` /
``togai_mock_args`` (extra server flags). A relative fixture folder in an ini
file is relative to the pytest root (``rootdir``); on the command line, to
the current directory.

Fixtures: ``togai_mock`` (function scope) is the session's server reset
before the test; ``togai_mock_server`` (session scope) is the same server
without the reset, for session-scoped fixtures of your own. Both are a
:class:`TogaiMock`. A failed start or control call raises
:class:`TogaiMockError` (``from mock_server.pytest_plugin import TogaiMockError``).

``togai_mock_args`` (extra server flags), ``--togai-mock-shared URL`` /
``togai_mock_shared`` (use a running server started with ``--tenancy token``
instead of starting one: each worker gets its own token, hence its own tenant).
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

_URL_PREFIX = "http://"
_UNSET: Any = object()  # body=None matches an empty body, so "not given" needs its own value


def _matcher(
    method: str | None, path: str | None, operation_id: str | None, status: int | None,
    query: dict[str, Any] | None, headers: dict[str, Any] | None, body: Any,
) -> dict[str, Any]:
    """The ``RequestMatcher`` of ``POST /__mock/requests/find`` from the helpers' keyword arguments."""
    def text(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    matcher: dict[str, Any] = {}
    if method is not None:
        matcher["method"] = method.upper()
    if path is not None:
        matcher["path"] = path
    if operation_id is not None:
        matcher["operationId"] = operation_id
    if status is not None:
        matcher["status"] = status
    if query:
        matcher["query"] = {name: text(value) for name, value in query.items()}
    if headers:
        matcher["headers"] = {name: text(value) for name, value in headers.items()}
    if body is not _UNSET:
        matcher["body"] = body
    return matcher


def _expectation(times: int | None, at_least: int | None, at_most: int | None) -> tuple[int, int | None, str]:
    """The bounds on a count, and how to say them."""
    if times is not None:
        if at_least is not None or at_most is not None:
            raise TypeError("verify(): give times, or at_least/at_most, not both")
        return times, times, f"exactly {times}"
    low = 1 if at_least is None and at_most is None else (at_least or 0)
    if at_most is None:
        return low, None, f"at least {low}"
    return low, at_most, f"at most {at_most}" if low == 0 else f"between {low} and {at_most}"


def _describe(entry: dict[str, Any]) -> str:
    """One journal entry on one line, for an assertion message."""
    query = f"?{entry['query']}" if entry.get("query") else ""
    body = json.dumps(entry.get("requestBody"), separators=(",", ":"))
    body = body if len(body) <= 120 else body[:119] + "…"
    return f"#{entry['id']} {entry['method']} {entry['path']}{query} -> {entry['status']} body={body}"


class TogaiMockError(RuntimeError):
    """The server did not start, or a control call failed."""


class MockClock:
    """The tenant's clock (``togai_mock.clock``): read it, and move a test clock (``--clock``) forward."""

    def __init__(self, mock: TogaiMock) -> None:
        self._mock = mock

    def now(self) -> str:
        """The clock's now, RFC 3339 in UTC."""
        now: str = self._mock._call("GET", "/__mock/clock")["now"]
        return now

    def advance(self, duration: str) -> dict[str, Any]:
        """Move forward by an ISO 8601 duration (``"P1M"``, ``"P14D"``, ``"PT6H"``), processing what falls due;
        the answer: the new ``now`` and a ``summary`` (cycles closed, invoices drafted and finalized)."""
        moved: dict[str, Any] = self._mock._call("POST", "/__mock/clock", {"by": duration})
        return moved

    def set(self, moment: str) -> dict[str, Any]:
        """Move forward to ``moment`` (a date-time, not before now), processing what falls due on the way."""
        moved: dict[str, Any] = self._mock._call("POST", "/__mock/clock", {"to": moment})
        return moved


# The bearer token of a server that accepts any: one fixed value, so a test's own requests and the
# helpers' control calls name the same tenant even under --tenancy token.
DEFAULT_TOKEN = "togai-mock"


class _ClientHelpers:
    """``headers`` and ``client``: what a test needs to call the mock as the helpers do (same URL, same token).

    In every mode the token is the one the helpers use, so requests sent with these land in the
    tenant whose journal, overrides and reset the helpers act on (under ``--togai-mock-shared``
    that is this worker's own tenant).
    """

    url: str
    token: str | None
    _client: httpx.Client | None = None

    @property
    def bearer(self) -> str:
        """The token the helpers send: ``--token``'s first, the worker's own when shared, else a fixed one."""
        return self.token or DEFAULT_TOKEN

    @property
    def headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for a test's own HTTP client."""
        return {"Authorization": f"Bearer {self.bearer}"}

    @property
    def client(self) -> httpx.Client:
        """An ``httpx.Client`` with the server's base URL and the test's token, kept for the session."""
        if self._client is None or self._client.is_closed or str(self._client.base_url).rstrip("/") != self.url:
            self._client = httpx.Client(base_url=self.url, headers=self.headers, timeout=30)
        return self._client

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _shared_hint(self, journaled: int) -> str:
        """Why a shared server's helpers may see nothing: the test's requests went to another tenant."""
        if not getattr(self, "shared", False) or journaled:
            return ""
        return (
            "\nthis worker's tenant journaled no request at all: under --togai-mock-shared each worker has its own "
            "tenant, chosen by the bearer token, and the helpers (requests, verify, override, reset) act on the "
            f"tenant of {self.bearer!r}; send togai_mock.headers (or use togai_mock.client) instead of a token of "
            "your own, so that your requests reach that tenant"
        )


class TogaiMock(_ClientHelpers):
    """A running mock server and its control API."""

    def __init__(
        self, url: str, process: subprocess.Popen[bytes] | None, log_path: Path | None, token: str | None = None
    ) -> None:
        self.url = url
        self.process = process  # None: a shared server this session did not start
        self.log_path = log_path
        # Sent to the control API when the server was started with --token; on a
        # shared server, this worker's own token: send it to the Togai API too.
        self.token = token
        self._final_output: str | None = None  # kept once the log file is deleted
        self.clock = MockClock(self)  # start the server with --clock to move it (--togai-mock-args)

    @property
    def shared(self) -> bool:
        """True when this is a shared server (``--togai-mock-shared``), not one of this session's."""
        return self.process is None

    # -- control API -------------------------------------------------------------
    def reset(self, empty: bool = False) -> None:
        """Back to the fixtures (or an empty tenant); clears journal and overrides."""
        self._call("POST", "/__mock/reset" + ("?empty=true" if empty else ""))

    def requests(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        body: Any = _UNSET,
        query: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        operation_id: str | None = None,
        status: int | None = None,
    ) -> list[dict[str, Any]]:
        """The journal, newest last: dicts with method, path, query, status, bodies...

        With arguments, only the entries that match them all (as :meth:`verify` counts them).
        """
        matcher = _matcher(method, path, operation_id, status, query, headers, body)
        if not matcher:
            requests: list[dict[str, Any]] = self._call("GET", "/__mock/requests")["requests"]
            return requests
        found: list[dict[str, Any]] = self._call("POST", "/__mock/requests/find", matcher)["requests"]
        return found[::-1]  # find answers newest first

    def verify(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        body: Any = _UNSET,
        query: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        operation_id: str | None = None,
        status: int | None = None,
        times: int | None = None,
        at_least: int | None = None,
        at_most: int | None = None,
    ) -> int:
        """Assert how many journaled requests match (default: at least one); return that count.

        ``path`` may be a template (``/accounts/{account_id}``); ``body`` is a JSON subset
        (every key given must be there, equal); ``headers`` names are case-insensitive.
        The ``AssertionError`` says what was expected, how many matched, and the
        closest requests with the parts each failed.
        """
        matcher = _matcher(method, path, operation_id, status, query, headers, body)
        low, high, wanted = _expectation(times, at_least, at_most)
        count: int = self._call("POST", "/__mock/requests/count", matcher)["count"]
        if count >= low and (high is None or count <= high):
            return count
        lines = [f"expected {wanted} request(s) matching {json.dumps(matcher)}, found {count}"]
        if high is not None and count > high:  # too many: show the newest of them
            found = self._call("POST", "/__mock/requests/find?limit=5", matcher)["requests"]
            lines.append("matched (newest first):")
            lines += [f"  {_describe(entry)}" for entry in found]
        else:
            misses = self._call("POST", "/__mock/requests/near-misses", matcher)["nearMisses"]
            lines.append("near misses (closest first):" if misses else "near misses: none (no other request journaled)")
            lines += [f"  {_describe(m['request'])}: failed {', '.join(m['failed'])}" for m in misses]
            if not misses and count == 0:
                lines[-1] += self._shared_hint(0)
        raise AssertionError("\n".join(lines))

    def clear_requests(self) -> None:
        """Empty the journal."""
        self._call("DELETE", "/__mock/requests")

    def state(self) -> dict[str, Any]:
        """The whole tenant as JSON."""
        state: dict[str, Any] = self._call("GET", "/__mock/state")
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the tenant (checked like the API would check it)."""
        self._call("PUT", "/__mock/state", state)

    def override(self, **rule: Any) -> dict[str, Any]:
        """Force matching requests: ``override(method="GET", path="/invoice_groups", status=429, times=1)``."""
        added: dict[str, Any] = self._call("POST", "/__mock/overrides", rule)
        return added

    def clear_overrides(self) -> None:
        """Remove every override."""
        self._call("DELETE", "/__mock/overrides")

    def drift(self) -> dict[str, Any]:
        """With ``--proxy``: how the upstream's answers differed from the spec (``GET /__mock/drift``)."""
        report: dict[str, Any] = self._call("GET", "/__mock/drift")
        return report

    def remove_override(self, override_id: str) -> None:
        """Remove one override, by the ``id`` that :meth:`override` returned."""
        self._call("DELETE", "/__mock/overrides/" + urllib.parse.quote(override_id, safe=""))

    def output(self) -> str:
        """What the server has printed so far."""
        if self._final_output is not None:
            return self._final_output
        if self.log_path is None:
            return f"(a shared server at {self.url}: its output is where it was started)"
        return self.log_path.read_text(errors="replace")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if method != "GET":  # the control API refuses changes that are not JSON, body or not
            request.add_header("Content-Type", "application/json")
        if self.token is not None:  # without one, a --tenancy token server answers the tenant count only
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise TogaiMockError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from None

    # -- process -----------------------------------------------------------------
    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and delete its log file.

        On a shared server: forget this worker's tenant, and leave the server running.
        """
        self._close_client()
        if self.process is None:
            if self._final_output is None:
                self._final_output = self.output()
                try:
                    self._call("DELETE", "/__mock/tenant")
                except (TogaiMockError, OSError):
                    pass  # the server is gone, or the tenant already is
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._final_output is None and self.log_path is not None:
            try:
                self._final_output = self.log_path.read_text(errors="replace")
                self.log_path.unlink()
            except OSError:
                self._final_output = ""


def start_server(args: list[str] | tuple[str, ...] = (), timeout: float = 20.0) -> TogaiMock:
    """Start ``python -m mock_server --port 0`` with this interpreter and wait for its URL.

    The server's output goes to a file (never a pipe that could fill up); on
    failure the error shows it.
    """
    log = tempfile.NamedTemporaryFile(prefix="togai-mock-", suffix=".log", delete=False)
    command = [sys.executable, "-m", "mock_server", "--port", "0", "--exit-with-parent", *args]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log_path = Path(log.name)
    log.close()
    mock = TogaiMock("", process, log_path, _token(command) or _tenancy_token(command))
    atexit.register(mock.stop)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The URL is the first line on stdout; a warning on stderr may come before it.
        lines = log_path.read_text(errors="replace").splitlines()
        url = next((line.strip() for line in lines if line.startswith(_URL_PREFIX)), None)
        if url is not None:
            mock.url = url
            return mock
        if process.poll() is not None:
            break
        time.sleep(0.05)
    status = process.poll()
    mock.stop()
    if status is not None:  # it died: say so, rather than wait out the timeout
        raise TogaiMockError(
            f"the mock server exited with status {status} before it was ready ({shlex.join(command)}); "
            f"its output:\n{mock.output()}"
        )
    raise TogaiMockError(
        f"the mock server did not start within {timeout:.0f} s ({shlex.join(command)}); its output:\n{mock.output()}"
    )


def attach_shared(url: str, token: str | None = None) -> TogaiMock:
    """Use a running server started with ``--tenancy token``, with a tenant of our own.

    ``token`` defaults to one made for this process (xdist worker id plus
    random digits), so concurrent workers and CI jobs never share a tenant.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    mock = TogaiMock(url.rstrip("/"), None, None, token or f"togai-mock-{worker}-{secrets.token_hex(8)}")
    try:
        health = mock._call("GET", "/__mock/health")
    except OSError as exc:
        raise TogaiMockError(f"the shared mock server at {url} does not answer: {exc}") from None
    if not isinstance(health, dict) or "tenants" not in health:
        raise TogaiMockError(
            f"the shared mock server at {url} must run with --tenancy token, else every worker shares one tenant"
        )
    atexit.register(mock.stop)
    return mock


def _tenancy_token(command: list[str]) -> str | None:
    """With ``--tenancy token`` among the flags, the helpers and ``client`` share :data:`DEFAULT_TOKEN`'s tenant."""
    joined = " ".join(command)
    return DEFAULT_TOKEN if "--tenancy token" in joined or "--tenancy=token" in joined else None


def _token(command: list[str]) -> str | None:
    """The first ``--token`` in the server's command line, for its control API."""
    for i, arg in enumerate(command):
        if arg == "--token" and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith("--token="):
            return arg.partition("=")[2]
    return None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("togai-mock", "Togai mock server")
    group.addoption("--togai-mock-fixtures", help="fixture folder for the togai_mock server")
    group.addoption("--togai-mock-seed", help="seed for the togai_mock server's ids and clock")
    # nargs="?": argparse would read a lone "--self-check" after it as an option of its own and stop
    # with "expected one argument"; pytest_load_initial_conftests below joins the pair first.
    group.addoption("--togai-mock-args", nargs="?", const="", metavar="ARGS",
                    help='extra flags for the togai_mock server, as one string: --togai-mock-args "--self-check"')
    group.addoption("--togai-mock-shared", metavar="URL",
                    help="use this running mock (started with --tenancy token) instead of starting one per worker")
    parser.addini("togai_mock_fixtures", "fixture folder for the togai_mock server")
    parser.addini("togai_mock_seed", "seed for the togai_mock server's ids and clock")
    parser.addini("togai_mock_args", "extra flags for the togai_mock server, as one string")
    parser.addini("togai_mock_shared", "URL of a running mock (--tenancy token) to share between workers")


_ARGS_OPTION = "--togai-mock-args"


def join_option_values(args: list[str]) -> list[str]:
    """``--togai-mock-args VALUE`` as ``--togai-mock-args=VALUE``, whatever VALUE starts with.

    A value such as ``--self-check`` looks like an option to argparse; pytest's own options that
    take such values are given with ``=``. Joining the pair lets both spellings work.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == _ARGS_OPTION and i + 1 < len(args):
            out.append(f"{_ARGS_OPTION}={args[i + 1]}")
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Join ``--togai-mock-args VALUE`` before pytest's final parse of the command line."""
    args[:] = join_option_values(args)


def _server_args(config: pytest.Config) -> list[str]:
    def pick(name: str) -> str:
        return config.getoption(f"--togai-mock-{name}") or config.getini(f"togai_mock_{name}") or ""

    args: list[str] = []
    fixtures = config.getoption("--togai-mock-fixtures")
    if fixtures:  # from the command line: relative to where pytest was started
        args += ["--fixtures", str(Path(fixtures).resolve())]
    elif config.getini("togai_mock_fixtures"):  # from an ini file: relative to the pytest root
        args += ["--fixtures", str((config.rootpath / config.getini("togai_mock_fixtures")).resolve())]
    if pick("seed"):
        args += ["--seed", pick("seed")]
    return args + shlex.split(pick("args"))


@pytest.fixture(scope="session")
def togai_mock_server(request: pytest.FixtureRequest) -> Iterator[TogaiMock]:
    """The session's server (one per xdist worker), stopped at the end of the run;
    or, with ``--togai-mock-shared``, this worker's tenant of a running server."""
    config = request.config
    shared = config.getoption("--togai-mock-shared") or config.getini("togai_mock_shared")
    mock = attach_shared(shared) if shared else start_server(_server_args(config))
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def togai_mock(togai_mock_server: TogaiMock) -> TogaiMock:
    """The mock server, reset to its fixtures before the test."""
    togai_mock_server.reset()
    return togai_mock_server
