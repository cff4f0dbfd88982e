"""The pytest plugin, used as a consumer would: a suite in a temporary folder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

CONSUMER_TESTS = '''
import json, urllib.request

def call(mock, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(mock.url + path, data=data, method=method,
                                 headers={"Authorization": "Bearer consumer", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

def test_creates_a_group(togai_mock):
    status, group = call(togai_mock, "POST", "/invoice_groups", {
        "name": "G", "email": "g@x.io", "dailyInvoiceConsolidation": True,
        "accountIds": ["ACME-US"], "address": {}})
    assert status == 200 and group["accountsCount"] == 1
    [entry] = togai_mock.requests()
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/invoice_groups", 200)

def test_state_is_clean_again(togai_mock):
    status, page = call(togai_mock, "GET", "/invoice_groups")
    assert [g["name"] for g in page["data"]] == ["Europe"]
    assert togai_mock.requests()[-1]["path"] == "/invoice_groups"

def test_forced_429_in_one_call(togai_mock):
    togai_mock.override(method="GET", path="/invoice_groups", status=429, times=1)
    assert call(togai_mock, "GET", "/invoice_groups")[0] == 429
    assert call(togai_mock, "GET", "/invoice_groups")[0] == 200

def test_fails_on_purpose_and_still_cleans_up(togai_mock):
    assert FAIL_ONE is False
'''


def _run_consumer(tmp_path: Path, *args: str, fail: bool = False) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_consumer.py").write_text(f"FAIL_ONE = {fail}\n" + CONSUMER_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env,
    )


def _servers_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "mock_server" in cmdline and marker in cmdline:
                found.append(int(pid))
    return found


@pytest.mark.conformance  # a long run (whole pytest sessions / kill -9 rounds): make conformance, which CI runs
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_consumer_suite_with_only_the_installed_plugin(tmp_path: Path, workers: list[str]) -> None:
    marker = f"--journal-size {4000 + len(workers)}"
    proc = _run_consumer(tmp_path, "--togai-mock-args", marker, *workers)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
    assert _servers_with(marker) == []


def test_a_failing_consumer_test_leaves_no_server(tmp_path: Path) -> None:
    marker = "--journal-size 4321"
    proc = _run_consumer(tmp_path, "--togai-mock-args", marker, fail=True)
    assert proc.returncode == 1
    assert "1 failed, 3 passed" in proc.stdout
    assert _servers_with(marker) == []


def test_ini_options_choose_fixtures_and_seed(tmp_path: Path) -> None:
    fixtures = tmp_path / "fx"
    fixtures.mkdir()
    (fixtures / "t.yaml").write_text(
        "customers:\n  - {id: SOLO, name: Solo Inc, primaryEmail: s@x.io, address: {}, account: {id: SOLO-1, name: Solo one}}\n"
    )
    (tmp_path / "pytest.ini").write_text(f"[pytest]\ntogai_mock_fixtures = {fixtures}\ntogai_mock_seed = 5\n")
    (tmp_path / "test_ini.py").write_text(
        "def test_it(togai_mock):\n"
        "    state = togai_mock.state()\n"
        "    assert [a['id'] for a in state['accounts']] == ['SOLO-1']\n"
        "    assert state['customers'][0]['createdAt'].startswith('2024-01-01T00:00:01')\n"
    )
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_start_failure_shows_the_server_output(tmp_path: Path) -> None:
    from mock_server.pytest_plugin import TogaiMockError, start_server

    with pytest.raises(TogaiMockError, match="not valid YAML"):
        broken = tmp_path / "broken.yaml"
        broken.write_text("paths: [")
        start_server(["--spec", str(broken)])


def test_server_exits_when_its_parent_dies(tmp_path: Path) -> None:
    marker = "--journal-size 4777"
    script = (
        "import os, sys\n"
        "from mock_server.pytest_plugin import start_server\n"
        f"m = start_server({marker.split()!r})\n"
        "print(m.process.pid, flush=True)\n"
        "os._exit(0)\n"  # dies without cleaning up
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pid = int(proc.stdout.split()[0])
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _servers_with(marker):
        time.sleep(0.2)
    assert _servers_with(marker) == [], f"server {pid} outlived its parent"


SHARED_CONSUMER = '''
import json, os, urllib.request
import pytest

def call(mock, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(mock.url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {mock.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

@pytest.mark.parametrize("i", range(12))
def test_each_worker_has_its_own_tenant(togai_mock, i):
    assert togai_mock.shared and togai_mock.process is None
    # The same customer id in every test, on every worker: a shared tenant would answer 409.
    status, _ = call(togai_mock, "POST", "/customers", {"id": "SAME", "name": "Same name", "primaryEmail": "s@x.io", "address": {}})
    assert status == 201
    assert togai_mock.state()["customers"][-1]["id"] == "SAME"
    assert [r["path"] for r in togai_mock.requests()] == ["/customers"]
    with open(os.path.join(os.environ["TOKENS_DIR"], togai_mock.token), "w"):
        pass
'''


@pytest.mark.conformance  # a long run (whole pytest sessions / kill -9 rounds): make conformance, which CI runs
def test_workers_share_one_server_each_with_its_own_tenant(tmp_path: Path) -> None:
    from serverproc import running_server

    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tmp_path / "test_shared.py").write_text(SHARED_CONSUMER)
    marker = "--journal-size 4555"
    with running_server("--tenancy", "token", *marker.split()) as (url, mock):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | {"TOKENS_DIR": str(tokens)}
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--togai-mock-shared", url],
            cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "12 passed" in proc.stdout
        assert len(list(tokens.iterdir())) == 2  # one token, one tenant, per worker
        assert len(_servers_with(marker)) == 1  # no server started besides the shared one
        # Each session forgot its tenant (asked without a token, which would make one).
        assert httpx.get(f"{url}/__mock/health").json()["tenants"] == 0


def test_a_shared_server_must_run_with_token_tenancy() -> None:
    from serverproc import running_server

    from mock_server.pytest_plugin import TogaiMockError, attach_shared

    with running_server() as (url, _):
        with pytest.raises(TogaiMockError, match="must run with --tenancy token"):
            attach_shared(url)
