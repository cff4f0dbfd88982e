"""The plugin explains itself (issue 24, item 5): a ready client and headers in every mode, shared mode
acting on the test's own tenant or saying why not, and --togai-mock-args VALUE whatever VALUE starts with."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from serverproc import running_server

from mock_server.pytest_plugin import join_option_values

CONSUMER = '''
import pytest

def test_client_and_headers(togai_mock):
    assert togai_mock.client.get("/accounts/ACME-US").status_code == 200
    togai_mock.override(method="GET", path="/invoice_groups", status=429, times=1)
    assert togai_mock.client.get("/invoice_groups").status_code == 429
    import httpx
    assert httpx.get(togai_mock.url + "/customers", headers=togai_mock.headers).status_code == 200
    assert togai_mock.verify("GET", "/invoice_groups", status=429, times=1) == 1
    assert len(togai_mock.requests()) == 3

def test_reset_between_tests_through_the_client(togai_mock):
    assert togai_mock.client.post("/customers", json={"id": "ONE", "name": "One Inc", "primaryEmail": "o@x.io", "address": {}}).status_code == 201
    assert [r["path"] for r in togai_mock.requests()] == ["/customers"]

def test_reset_between_tests_again(togai_mock):
    assert togai_mock.requests() == []
    assert togai_mock.client.get("/customers/ONE").status_code == 404
'''

SELF_CHECK = '''
def test_the_server_got_the_flag(togai_mock):
    assert "--self-check" in " ".join(togai_mock.process.args)
'''

OWN_TOKEN = '''
import httpx, pytest

def test_own_token_on_a_shared_server(togai_mock):
    httpx.get(togai_mock.url + "/customers", headers={"Authorization": "Bearer my-own-token"})
    with pytest.raises(AssertionError) as info:
        togai_mock.verify("GET", "/customers")
    assert "under --togai-mock-shared each worker has its own tenant" in str(info.value)
    assert "send togai_mock.headers" in str(info.value)
'''


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
                          cwd=folder, capture_output=True, text=True, timeout=180, env=env)


def test_client_and_headers_on_a_server_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER)
    proc = _pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


def test_client_and_headers_act_on_the_workers_tenant_of_a_shared_server(tmp_path: Path) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER)
    with running_server("--tenancy", "token") as (url, _):
        proc = _pytest(tmp_path, "--togai-mock-shared", url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


def test_a_test_sending_its_own_token_to_a_shared_server_is_told_why_the_journal_is_empty(tmp_path: Path) -> None:
    (tmp_path / "test_own.py").write_text(OWN_TOKEN)
    with running_server("--tenancy", "token") as (url, _):
        proc = _pytest(tmp_path, "--togai-mock-shared", url)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_togai_mock_args_takes_a_value_that_starts_with_a_dash(tmp_path: Path) -> None:
    (tmp_path / "test_flag.py").write_text(SELF_CHECK)
    for spelling in (["--togai-mock-args", "--self-check"], ["--togai-mock-args=--self-check"]):
        proc = _pytest(tmp_path, *spelling)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_join_option_values() -> None:
    assert join_option_values(["-q", "--togai-mock-args", "--self-check --latency 5ms", "tests"]) == [
        "-q", "--togai-mock-args=--self-check --latency 5ms", "tests"]
    assert join_option_values(["--togai-mock-args=--x"]) == ["--togai-mock-args=--x"]


def test_client_and_helpers_share_a_tenant_of_a_token_tenancy_server_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER)
    proc = _pytest(tmp_path, "--togai-mock-args", "--tenancy token")
    assert proc.returncode == 0, proc.stdout + proc.stderr
