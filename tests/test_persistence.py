"""--state-file: state survives restarts; writes are debounced, crash-safe and never torn."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serverproc import running_server
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server.persistence import FORMAT, VERSION

AUTH = {"Authorization": "Bearer t"}
JSON = {"Content-Type": "application/json"}


def _customer(cid: str) -> dict[str, Any]:
    return {"id": cid, "name": f"Customer {cid}", "primaryEmail": "c@example.com", "address": {"country": "US"}}


class InProcess:
    """An app with a state file, closed (final write) on exit."""

    def __init__(self, path: Path, **config: Any) -> None:
        self.app = create_app(Config(seed=3, self_check=True, log="quiet", state_file=path, **config))
        self.client = TestClient(self.app, base_url="http://localhost")

    def __enter__(self) -> TestClient:
        return self.client.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)
        assert self.app.state.state_file.close()


def _wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_changes_are_written_within_a_second_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with InProcess(path) as client:
        assert not path.exists()  # nothing changed yet
        started = time.monotonic()
        client.post("/customers", headers=AUTH, json=_customer("KEPT"))
        _wait_for(path.exists)
        assert time.monotonic() - started < 1.5
        doc = json.loads(path.read_bytes())
        assert (doc["format"], doc["version"], doc["tenancy"]) == (FORMAT, VERSION, "shared")
        assert "KEPT" in {c["id"] for c in doc["tenants"]["shared"]["state"]["customers"]}
        exported = client.get("/__mock/state").json()
    with InProcess(path) as client:
        assert client.get("/customers/KEPT", headers=AUTH).status_code == 200
        assert client.get("/__mock/state").json() == exported


def test_a_burst_is_debounced_into_few_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with InProcess(path) as client:
        for i in range(60):
            client.patch("/accounts/ACME-US", headers=AUTH, json={"name": f"Name {i}"})
        state_file = client.app.state.state_file  # type: ignore[attr-defined]
        _wait_for(lambda: state_file.writes >= 1)
        assert state_file.writes <= 3
    assert json.loads(path.read_bytes())["tenants"]["shared"]["state"]["accounts"][0]["name"] == "Name 59"


def test_reset_goes_back_to_the_fixtures_and_writes_that(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with InProcess(path) as client:
        client.post("/customers", headers=AUTH, json=_customer("GONE"))
        client.post("/__mock/reset", headers=JSON)
    with InProcess(path) as client:
        assert client.get("/customers/GONE", headers=AUTH).status_code == 404
        assert client.get("/__mock/health").json()["customers"] == 3


def test_a_seeded_tenant_goes_on_after_a_restart_as_if_it_never_stopped(tmp_path: Path) -> None:
    def first(client: TestClient) -> None:
        client.post("/customers", headers=AUTH, json={**_customer("ONE"), "account": {"id": "ONE-1", "name": "One acc"}})
        client.patch("/accounts/ONE-1", headers=AUTH, json={"name": "Renamed"})

    def second(client: TestClient) -> None:
        client.post("/customers", headers=AUTH, json={**_customer("TWO"), "account": {"id": "TWO-1", "name": "Two acc"}})
        client.patch("/customers/ONE", headers=AUTH, json={"name": "Later name"})
        client.post("/invoice_groups", headers=AUTH, json={"name": "G", "email": "g@x.io", "dailyInvoiceConsolidation": True,
                                                           "accountIds": ["ONE-1", "TWO-1"], "address": {}})

    with InProcess(tmp_path / "a.json") as client:
        first(client)
    with InProcess(tmp_path / "a.json") as client:
        second(client)
        restarted = client.get("/__mock/state").json()
    with InProcess(tmp_path / "b.json") as client:
        first(client)
        second(client)
        assert client.get("/__mock/state").json() == restarted  # same ids, same timestamps
    one = next(c for c in restarted["customers"] if c["id"] == "ONE")
    assert one["updatedAt"] > one["createdAt"]


def test_tenants_are_persisted_under_a_hash_of_their_token(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    a, b = {"Authorization": "Bearer secret-token-a"}, {"Authorization": "Bearer secret-token-b"}
    with InProcess(path, tenancy="token") as client:
        client.post("/customers", headers=a, json=_customer("OF-A"))
        client.get("/accounts", headers=b)
    raw = path.read_text()
    assert "secret-token" not in raw
    doc = json.loads(raw)
    assert len(doc["tenants"]) == 2 and all(k.startswith("sha256:") for k in doc["tenants"])
    with InProcess(path, tenancy="token") as client:
        assert client.get("/customers/OF-A", headers=a).status_code == 200
        assert client.get("/customers/OF-A", headers=b).status_code == 404
        assert client.get("/__mock/health").json()["tenants"] == 2


# -- start-up refusals, against the real command line ----------------------------------


def _start(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mock_server", "--port", "0", "--log", "quiet", *args],
                          capture_output=True, text=True, timeout=60)


def _good_file(tmp_path: Path) -> bytes:
    path = tmp_path / "good.json"
    with InProcess(path) as client:
        client.post("/customers", headers=AUTH, json=_customer("X"))
    return path.read_bytes()


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda raw: raw[: len(raw) // 2], "is not a complete JSON document"),
        (lambda raw: b"", "is not a complete JSON document"),
        (lambda raw: raw.replace(b'"version":1', b'"version":2'), "has format version 2; this mock reads version 1 only"),
        (lambda raw: raw.replace(FORMAT.encode(), b"other"), "is not a mock state file"),
        (lambda raw: raw.replace(b'"tenancy":"shared"', b'"tenancy":"token"'), "was written with --tenancy token"),
        (lambda raw: raw.replace(b'"customerId":"ACME"', b'"customerId":"NOBODY"', 1),
         "tenants['shared'].state: accounts[0].customerId: no customer 'NOBODY'"),
        (lambda raw: raw.replace(b'"primaryEmail":"c@example.com"', b'"primaryEmail":7'),
         "tenants['shared'].state: customers[3].primaryEmail: "),
        (lambda raw: raw.replace(b'"sequence":', b'"sequence":-'), "tenants['shared'].generator.sequence: must be a non-negative integer"),
    ],
    ids=["truncated", "empty", "version", "format", "tenancy", "rule", "schema", "generator"],
)
def test_a_bad_state_file_stops_start_up_and_is_left_alone(tmp_path: Path, mutate: Any, problem: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(mutate(_good_file(tmp_path)))
    before = path.read_bytes()
    proc = _start("--state-file", str(path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"mock-server: {path}: ")
    assert problem in proc.stderr and "Traceback" not in proc.stderr
    assert path.read_bytes() == before


def test_one_server_per_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with running_server("--state-file", str(path)):
        proc = _start("--state-file", str(path))
    assert proc.returncode == 2 and "is in use by another mock server" in proc.stderr


def test_sigterm_right_after_a_change_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with running_server("--state-file", str(path)) as (url, mock):
        assert httpx.post(f"{url}/customers", headers=AUTH, json=_customer("LAST")).status_code == 201
        assert mock.process is not None
        mock.process.send_signal(signal.SIGTERM)  # well within the debounce delay
        assert mock.process.wait(timeout=10) == 0
    with running_server("--state-file", str(path)) as (url, _):
        assert httpx.get(f"{url}/customers/LAST", headers=AUTH).status_code == 200


@pytest.mark.conformance  # a long run (whole pytest sessions / kill -9 rounds): make conformance, which CI runs
def test_kill_9_during_a_burst_of_writes_leaves_a_consistent_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for round_ in range(3):
        acknowledged: list[tuple[float, str]] = []
        stop = threading.Event()
        with running_server("--state-file", str(path), "--tenancy", "token") as (url, mock):
            assert mock.process is not None

            def burst(worker: int, round_: int = round_, stop: threading.Event = stop,
                      acknowledged: list[tuple[float, str]] = acknowledged) -> None:
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer w{worker}"}) as client:
                    i = 0
                    while not stop.is_set():
                        cid = f"R{round_}-W{worker}-{i}"
                        body = {**_customer(cid), "account": {"id": f"{cid}-A", "name": f"Account {cid}"}}
                        try:
                            r = client.post("/customers", json=body)
                            if r.status_code == 201:
                                acknowledged.append((time.monotonic(), f"w{worker}:{cid}"))
                            client.patch(f"/accounts/{cid}-A", json={"name": f"Renamed {cid}"})
                        except httpx.TransportError:
                            return  # killed
                        i += 1

            threads = [threading.Thread(target=burst, args=(w,)) for w in range(3)]
            for t in threads:
                t.start()
            time.sleep(1.2 + 0.37 * round_)  # several writes in, and one likely under way
            killed_at = time.monotonic()
            os.kill(mock.process.pid, signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join()
            mock.process.wait()
        assert len(acknowledged) > 50
        json.loads(path.read_bytes())  # whole, never torn
        with running_server("--state-file", str(path), "--tenancy", "token") as (url, _):
            assert not list(tmp_path.glob(".state.json.*.tmp"))  # what a kill mid-write left is cleaned
            for worker in range(3):
                auth = {"Authorization": f"Bearer w{worker}"}
                state = httpx.get(f"{url}/__mock/state", headers=auth).json()
                customers = {c["id"] for c in state["customers"]}
                accounts = {a["id"] for a in state["accounts"]}
                # Consistent: each customer has its account (created together), nothing half-made.
                assert {c + "-A" for c in customers if c.startswith("R")} == {a for a in accounts if a.startswith("R")}
                # At most about a second lost.
                old = {cid for at, key in acknowledged if at < killed_at - 1.2
                       for w, _, cid in [key.partition(":")] if w == f"w{worker}"}
                assert old <= customers, sorted(old - customers)[:5]


def test_a_reader_never_sees_a_torn_file_while_writes_go_on(tmp_path: Path) -> None:
    # What a kill -9 in the middle of a write would leave is what a reader sees then.
    path = tmp_path / "state.json"
    with InProcess(path) as client:
        state = client.get("/__mock/state").json()
        state["accounts"] += [{**state["accounts"][0], "id": f"BIG-{i}", "togaiAccountId": f"account.big.{i}",
                               "aliases": []} for i in range(3000)]
        assert client.put("/__mock/state", headers=JSON, json=state).status_code == 200
        state_file = client.app.state.state_file  # type: ignore[attr-defined]
        state_file.flush()
        tenant = client.app.state.tenants.shared  # type: ignore[attr-defined]
        done = threading.Event()

        def rewrite() -> None:
            for _ in range(40):
                state_file.mark(tenant)
                state_file.flush()
            done.set()

        writer = threading.Thread(target=rewrite)
        writer.start()
        reads = 0
        while not done.is_set():
            assert len(json.loads(path.read_bytes())["tenants"]["shared"]["state"]["accounts"]) == 3006
            reads += 1
        writer.join()
        assert reads > 10
