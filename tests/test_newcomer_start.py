"""A newcomer's start (issue 24, items 2-4 and the logs of 7): every flag works or is refused, the
start-up listing says where the state came from, `make run` installs the server only, JSON logs."""
from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import ROOT
from serverproc import running_server
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.cli import config_from_args
from mock_server.config import DEFAULT_FIXTURES, Config
from mock_server.cors import CorsMiddleware, CorsPolicy
from mock_server.domain.registry import REGISTRY
from mock_server.errors import Violation
from mock_server.listing import startup_listing
from mock_server.requestlog import request_logger

PETSTORE = ROOT / "tests" / "data" / "petstore" / "openapi.yaml"
AUTH = {"Authorization": "Bearer dev"}


# -- item 3: every flag either works or is refused at start ----------------------------------------
@pytest.mark.parametrize(("args", "names", "fix"), [
    (["--cors-origin", "192.168.1.20:5173"], "--cors-origin", "try --cors-origin http://192.168.1.20:5173"),
    (["--cors-origin", "http://192.168.1.20:5173/app"], "--cors-origin", "with no path"),
    (["--cors-origin", "ws://localhost:5173"], "--cors-origin", "http(s)://host[:port]"),
    (["--max-tenants", "5"], "--max-tenants", "add --tenancy token"),
    (["--proxy-timeout", "3"], "--proxy-timeout", "add --proxy URL"),
    (["--fixtures", "fixtures", "--no-fixtures"], "--no-fixtures", "give one of them"),
    (["--proxy", "http://127.0.0.1:9", "--ingest-delay", "2"], "--ingest-delay", "leave one of them out"),
    (["--proxy", "http://127.0.0.1:9", "--state-file", "s.json"], "--state-file", "leave one of them out"),
    (["--token", ""], "--token", "empty"),
    (["--allow-host", " "], "--allow-host", "empty"),
])
def test_a_flag_that_would_do_nothing_is_refused_naming_it_and_the_fix(
    args: list[str], names: str, fix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        config_from_args(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert names in err and fix in err


@pytest.mark.parametrize("args", [
    ["--cors-origin", "http://192.168.1.20:5173"],
    ["--cors-origin", "https://app.example.com/"],
    ["--cors-origin", "http://[fd00::1]:8080"],
    ["--cors-origin", "*"],
    ["--tenancy", "token", "--max-tenants", "5"],
    ["--proxy", "http://127.0.0.1:9", "--proxy-timeout", "3"],
    ["--no-fixtures"],
])
def test_flags_that_mean_something_are_accepted(args: list[str]) -> None:
    config_from_args(args)


def _fixture_kinds() -> int:
    """How many kinds of record the bundled fixtures hold (counted: other branches add kinds)."""
    doc = yaml.safe_load((DEFAULT_FIXTURES / "tenant.yaml").read_text(encoding="utf-8"))
    return sum(1 for key in doc if key in REGISTRY.by_name)


def test_defaults_are_kept_when_the_flags_are_left_out() -> None:
    config, _ = config_from_args([])
    assert (config.max_tenants, config.proxy_timeout) == (1000, 10.0)
    assert config.fixtures is not None and config.fixtures.name == "fixtures"


def test_the_refusal_is_an_exit_status_2_of_the_real_command() -> None:
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "mock_server", "--port", "0",
                           "--cors-origin", "192.168.1.20:5173"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "argument --cors-origin: not an origin" in proc.stderr and "Traceback" not in proc.stderr


# -- item 2: the start-up listing says what is true -------------------------------------------------
def test_the_listing_names_the_proxy_upstream_not_stateful_counts() -> None:
    config = Config(proxy="http://127.0.0.1:9", proxy_timeout=2.5, log="quiet")
    lines = startup_listing(create_app(config), config, "http://127.0.0.1:4010")
    assert "forwarded to http://127.0.0.1:9 (timeout 2.5 s" in lines[0]
    assert "stateful" not in lines[0]
    assert lines[1].startswith("  state: none used: every valid request goes to http://127.0.0.1:9")


def test_the_listing_of_an_empty_start_says_so() -> None:
    config = Config(fixtures=None, log="quiet", tenancy="token", max_tenants=7)
    lines = startup_listing(create_app(config), config, "http://127.0.0.1:4010")
    assert lines[1] == "  state: each token's tenant starts from empty (--no-fixtures)"
    assert lines[2] == "  clients: a tenant per bearer token, at most 7; any bearer token"


def test_state_loaded_from_a_state_file_is_labelled_with_its_path(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with running_server("--state-file", str(state)) as (url, mock):
        assert "the file does not exist yet" in mock.output()
        httpx.patch(f"{url}/accounts/ACME-US", json={"name": "From the file"}, headers=AUTH)
    with running_server("--state-file", str(state)) as (_, mock):
        [line] = [line for line in mock.output().splitlines() if line.startswith("  state:")]
        assert line.startswith(f"  state: from the state file {state} (3 customers, 6 accounts")
        assert "fixtures" not in line


def test_another_spec_gets_a_short_listing() -> None:
    with running_server(str(PETSTORE)) as (_, mock):
        output = mock.output()
    listing = [line for line in output.splitlines() if not line.startswith("http://")]
    assert len(listing) == 5, output
    assert "answered from its examples and schemas" in listing[0]
    assert f"{_fixture_kinds()} kinds of record left out" in listing[1]
    assert " 0 " not in output and "not loaded" not in output


# -- item 4: `make run` installs the server only ----------------------------------------------------
def _make_dry_run(target: str) -> str:
    """The commands `make TARGET` would run on a fresh machine (every target remade, nothing run)."""
    # Under `make test` this runs inside make: without its variables, and without the directory lines
    # a sub-make prints ("make[1]: Entering directory ...").
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    proc = subprocess.run(["make", "--no-print-directory", "-n", "-B", target], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_run_installs_the_runtime_dependencies_only() -> None:
    commands = _make_dry_run("run")
    assert "pip install --quiet -e .\n" in commands
    assert "[test]" not in commands and "npm" not in commands
    assert commands.rstrip().endswith("-m mock_server")


def test_make_install_and_make_test_add_the_test_tools_and_the_openapi_linter() -> None:
    assert "pip install --quiet -e '.[test]'" in _make_dry_run("install")
    commands = _make_dry_run("test")
    assert "pip install --quiet -e '.[test]'" in commands
    assert "npm ci" in commands and "tools/openapi_lint.py" in commands


# -- item 7: JSON log lines are JSON with their time; the override is named -------------------------
def test_request_lines_name_the_override_that_decided_them() -> None:
    text, js = io.StringIO(), io.StringIO()
    request_logger("text", text)("GET", "/invoice_groups", 429, 0.4, None, "ovr_1")
    assert text.getvalue() == "GET /invoice_groups 429 0.4ms  override ovr_1\n"
    request_logger("json", js)("GET", "/x", 404, 2.0, [Violation("path", "nope")], "ovr_2")
    record = json.loads(js.getvalue())
    assert record["override"] == "ovr_2" and record["time"].endswith("Z") and record["time"][4] == "-"


def test_cors_lines_are_json_under_log_json() -> None:
    out = io.StringIO()
    app = create_app(Config(log="quiet"))
    cors = CorsMiddleware(app.state.pipeline, CorsPolicy(()), log="json", stream=out)
    client = TestClient(cors, base_url="http://localhost")
    client.options("/accounts", headers={"Origin": "http://192.168.1.20:5173", "Access-Control-Request-Method": "GET"})
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "cors" and record["time"].endswith("Z")
    assert "start the mock with --cors-origin http://192.168.1.20:5173" in record["message"]


def test_every_line_of_a_json_logging_server_is_json_with_a_time() -> None:
    with running_server("--log", "json") as (url, mock):
        rule = mock.override(method="GET", path="/invoice_groups", status=429, times=1)
        delay = mock.override(method="GET", path="/customers", delayMs=1, times=1)
        httpx.get(f"{url}/invoice_groups", headers=AUTH)
        httpx.get(f"{url}/customers", headers=AUTH)
        httpx.options(f"{url}/accounts", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"})
        httpx.get(f"{url}/accounts", headers={**AUTH, "Origin": "http://evil.example"})
        output = mock.output()
    records = [json.loads(line) for line in output.splitlines() if not line.startswith("http://")]
    assert all("time" in record for record in records), output
    overridden = {r["path"]: r.get("override") for r in records if "status" in r}
    assert overridden["/invoice_groups"] == rule["id"]
    assert overridden["/customers"] == delay["id"]  # a delay alone decided when it was answered
    assert sum(1 for r in records if r.get("event") == "cors") == 2


def test_make_screenshots_remakes_the_dashboard_picture_from_the_running_mock() -> None:
    assert "tools/dashboard_screenshot.py" in _make_dry_run("screenshots")
