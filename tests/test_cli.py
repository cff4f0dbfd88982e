"""The command line: URL on start, flags, clean stop, readable start-up errors."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serverproc import running_server

AUTH = {"Authorization": "Bearer t"}


def test_prints_its_url_and_serves_the_demo_tenant() -> None:
    with running_server() as (url, _):
        assert url.startswith("http://127.0.0.1:")
        r = httpx.get(f"{url}/accounts?pageSize=1", headers=AUTH)
        assert r.status_code == 200
        assert r.json()["data"][0]["id"] == "ACME-US"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_cleanly_on_signals(sig: int) -> None:
    with running_server() as (url, mock):
        mock.process.send_signal(sig)
        assert mock.process.wait(timeout=10) == 0
        assert "Traceback" not in mock.output()


def test_token_flag_limits_accepted_tokens() -> None:
    with running_server("--token", "one", "--token", "two") as (url, _):
        for token, status in (("one", 200), ("two", 200), ("three", 401)):
            r = httpx.get(f"{url}/customers", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == status


def test_same_seed_gives_same_ids_and_timestamps() -> None:
    def run() -> tuple[dict, dict]:
        with running_server("--seed", "42") as (url, _):
            group = {"name": "G", "email": "g@x.io", "dailyInvoiceConsolidation": True,
                     "accountIds": ["ACME-US"], "address": {}}
            created = httpx.post(f"{url}/invoice_groups", json=group, headers=AUTH).json()
            return httpx.get(f"{url}/customers/ACME", headers=AUTH).json(), created

    first, second = run(), run()
    assert first == second
    assert first[0]["createdAt"].startswith("2024-01-01T00:00:")


def test_no_fixtures_starts_empty() -> None:
    with running_server("--no-fixtures") as (url, _):
        assert httpx.get(f"{url}/accounts", headers=AUTH).json()["data"] == []


def _start_error(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", *args],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_broken_spec_stops_start_up_naming_the_file(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("openapi: 3.1.0\npaths: [\n")
    assert f"{spec}: not valid YAML" in _start_error("--spec", str(spec))
    assert "cannot read the spec" in _start_error("--spec", str(tmp_path / "missing.yaml"))


def test_broken_fixture_stops_start_up_naming_the_file_and_entry(tmp_path: Path) -> None:
    (tmp_path / "tenant.yaml").write_text("customers:\n  - id: C1\n    name: ab\n    primaryEmail: a@b.c\n    address: {}\n")
    err = _start_error("--fixtures", str(tmp_path))
    assert f"{tmp_path / 'tenant.yaml'}: customers[0]: name: must be at least 3 characters long" in err


def test_port_in_use_is_a_clear_error() -> None:
    with running_server() as (url, _):
        port = url.rsplit(":", 1)[1]
        proc = subprocess.run([sys.executable, "-m", "mock_server", "--port", port],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
