"""CLI and plugin polish (issue 13): --version, -p, the start-up listing, an early exit reported as
such, ini fixtures relative to the pytest root, removing one override."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serverproc import running_server

from mock_server import __version__
from mock_server.config import DEFAULT_SPEC
from mock_server.openapi.spec import load_spec
from mock_server.pytest_plugin import TogaiMockError, start_server


def test_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "mock_server", "--version"], capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"mock-server {__version__}")


def test_short_port_flag_and_start_up_listing() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with running_server("-p", str(port)) as (url, mock):
        assert url == f"http://127.0.0.1:{port}"
        output = mock.output()
        operations = len(load_spec(DEFAULT_SPEC).operations)  # counted: other branches add operations
        assert f"mock-server {__version__}: {operations} operations of " in output
        assert "stateful" in output and "canned" in output
        assert "state: the bundled demo fixtures (fixtures/) (3 customers" in output
        assert "clients: one tenant, shared by every token" in output
        assert f"dashboard: {url}/__mock/" in output
        assert httpx.get(f"{url}/__mock/", headers={"Host": f"127.0.0.1:{port}"}).status_code == 200


def test_json_log_gets_no_listing() -> None:
    with running_server("--log", "json") as (_, mock):
        assert "dashboard:" not in mock.output()


def test_plugin_reports_an_early_exit_with_its_status(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(TogaiMockError, match="exited with status 2 before it was ready") as info:
        start_server(["--spec", str(tmp_path / "missing.yaml")])
    assert "did not start within" not in str(info.value)
    assert "cannot read the spec" in str(info.value)
    assert time.monotonic() - started < 15


CONSUMER = '''
def test_ini_fixtures_and_remove_override(togai_mock):
    assert [c["id"] for c in togai_mock.state()["customers"]] == ["SOLO"]
    first = togai_mock.override(method="GET", path="/customers", status=503)
    togai_mock.override(method="GET", path="/accounts", status=429)
    togai_mock.remove_override(first["id"])
    assert [o["path"] for o in togai_mock._call("GET", "/__mock/overrides")["overrides"]] == ["/accounts"]


def test_session_server_fixture(togai_mock_server):
    assert togai_mock_server.url.startswith("http://")
'''


def test_ini_fixtures_are_relative_to_the_pytest_root(tmp_path: Path) -> None:
    (tmp_path / "fx").mkdir()
    (tmp_path / "fx" / "t.yaml").write_text(
        "customers:\n  - {id: SOLO, name: Solo Inc, primaryEmail: s@x.io, address: {}}\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntogai_mock_fixtures = fx\n")
    tests = tmp_path / "tests" / "deep"
    tests.mkdir(parents=True)
    (tests / "test_consumer.py").write_text(CONSUMER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
                          cwd=tests, capture_output=True, text=True, timeout=120, env=env)  # started below the root
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
