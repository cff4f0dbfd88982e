"""--proxy URL --record DIR: a real tenant (played by a second mock) taken offline, and served by a third."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from serverproc import running_server
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.cli import config_from_args
from mock_server.config import Config
from mock_server.domain.registry import REGISTRY
from mock_server.pytest_plugin import TogaiMock
from mock_server.recording import FILE_NAME, Recorder
from mock_server.stateimport import record_validators

TOKEN = "sandbox-key-5f1c9a7e"  # the "real" tenant's API key: never in a recorded file
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def customer(cid: str, name: str, account: str) -> dict[str, Any]:
    return {"id": cid, "name": name, "primaryEmail": f"ap@{cid.lower()}.example",
            "address": {"line1": "1 Main St", "country": "US"},
            "account": {"id": account, "name": f"{name} main", "invoiceCurrency": "USD"}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[TogaiMock]:
    """The "real Togai": an empty mock, whose records the proxy reads."""
    with running_server("--no-fixtures", "--seed", "3", "--log", "quiet") as (_, mock):
        yield mock


def direct(upstream: TogaiMock, method: str, path: str, **kw: Any) -> httpx.Response:
    r = httpx.request(method, upstream.url + path, headers=AUTH, timeout=10, **kw)
    assert r.status_code < 300, r.text
    return r


def proxy_client(upstream: TogaiMock, folder: Path) -> TestClient:
    app = create_app(Config(proxy=upstream.url, record=folder, fixtures=None, seed=9))
    return TestClient(app, base_url="http://localhost")


def test_a_recording_serves_the_upstream_records_offline_and_a_rerecord_merges(
    upstream: TogaiMock, tmp_path: Path
) -> None:
    upstream.reset()
    direct(upstream, "POST", "/customers", json=customer("INITECH", "Initech Corp", "INITECH-US"))
    direct(upstream, "POST", "/customers", json=customer("GLOBEX", "Globex Corp", "GLOBEX-EU"))
    # A record that holds the request's key (a careless name): never written.
    direct(upstream, "POST", "/customers", json=customer("LEAKY", f"Leaky {TOKEN}", "LEAKY-1"))

    with proxy_client(upstream, tmp_path) as proxy:  # leaving it (the shutdown) writes what is left
        assert proxy.get("/customers", headers=AUTH).status_code == 200
        assert proxy.get("/accounts", headers=AUTH).status_code == 200
        seen = proxy.get("/accounts/INITECH-US", headers=AUTH).json()
        assert proxy.get("/customers/NOPE", headers=AUTH).status_code == 404  # not a record
    recorded = tmp_path / FILE_NAME
    text = recorded.read_text()
    assert TOKEN not in text and "Bearer" not in text
    records = yaml.safe_load(text)["records"]
    assert sorted(c["id"] for c in records["customers"]) == ["GLOBEX", "INITECH"]
    assert sorted(a["id"] for a in records["accounts"]) == ["GLOBEX-EU", "INITECH-US"]  # LEAKY-1's name holds the key
    assert not [p for p in tmp_path.iterdir() if p.name != FILE_NAME]  # no temporary file stays

    # Offline: a third mock serves the same records with their ids, under every rule.
    with TestClient(create_app(Config(fixtures=tmp_path, seed=1)), base_url="http://localhost") as offline:
        assert offline.get("/accounts/INITECH-US", headers=AUTH).json() == seen
        assert offline.get("/customers/GLOBEX", headers=AUTH).json()["name"] == "Globex Corp"
        # The state is live: a rule still holds (one id, one account).
        again = offline.post("/accounts", headers=AUTH, json={"id": "INITECH-US", "customerId": "INITECH",
                                                              "name": "Twice", "invoiceCurrency": "USD"})
        assert again.status_code == 400 and "already exists" in again.json()["message"]

    # A re-record merges by id: the changed record replaces its old copy, the others stay.
    direct(upstream, "PATCH", "/customers/GLOBEX", json={"name": "Globex Worldwide"})
    with proxy_client(upstream, tmp_path) as proxy:
        assert proxy.get("/customers/GLOBEX", headers=AUTH).status_code == 200
    merged = yaml.safe_load(recorded.read_text())["records"]
    names = {c["id"]: c["name"] for c in merged["customers"]}
    assert names == {"INITECH": "Initech Corp", "GLOBEX": "Globex Worldwide"}
    assert len(merged["accounts"]) == 2


def test_answers_that_break_the_contract_are_not_recorded(upstream: TogaiMock, tmp_path: Path) -> None:
    upstream.reset()
    direct(upstream, "POST", "/customers", json=customer("INITECH", "Initech Corp", "INITECH-US"))
    broken = {"id": "INITECH", "name": 42}  # name must be a string
    httpx.post(upstream.url + "/__mock/overrides", timeout=10,
               json={"method": "GET", "path": "/customers/INITECH", "status": 200, "body": broken}).raise_for_status()
    with proxy_client(upstream, tmp_path) as proxy:
        r = proxy.get("/customers/INITECH", headers=AUTH)
        assert r.status_code == 200 and "x-mock-violations" in r.headers  # flagged, passed on
        app: Any = proxy.app
        recorder = app.state.recorder
    assert not (tmp_path / FILE_NAME).exists() or "INITECH" not in (tmp_path / FILE_NAME).read_text()
    assert recorder.stats["recorded"] == 0


def test_a_partial_recording_still_loads_without_its_orphans(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text(yaml.safe_dump({"records": {
        "accounts": [{"id": "ORPHAN", "customerId": "GONE", "name": "Orphan", "invoiceCurrency": "USD",
                      "status": "ACTIVE"}],
        "customers": [{"id": "KEPT", "name": "Kept Corp", "primaryEmail": "ap@kept.example",
                       "address": {"line1": "1 Main St", "country": "US"}}],
    }}))
    with TestClient(create_app(Config(fixtures=tmp_path, seed=1)), base_url="http://localhost") as offline:
        assert offline.get("/customers/KEPT", headers=AUTH).status_code == 200
        assert offline.get("/accounts/ORPHAN", headers=AUTH).status_code == 404


def test_the_writer_is_debounced_bounded_and_off_the_request_path(tmp_path: Path) -> None:
    from mock_server.config import DEFAULT_SPEC
    from mock_server.openapi.spec import load_spec

    spec = load_spec(DEFAULT_SPEC)
    recorder = Recorder(tmp_path, record_validators(REGISTRY, spec), debounce=0.05, max_pending=2, max_records=1)
    op = spec.operation("getCustomer")
    body = b'{"id": "A", "name": "Alpha Corp", "primaryEmail": "a@a.example", "address": {"line1": "1", "country": "US"}}'
    headers = httpx.Headers({"content-type": "application/json"})
    for _ in range(3):  # not started: the queue holds two, the third is dropped, nothing waits
        recorder.observe(op, 200, headers, body, [(b"authorization", b"Bearer some-long-token")])
    assert recorder.stats["dropped"] == 1
    recorder.start()
    recorder.observe(op, 200, headers, body.replace(b'"A"', b'"B"'), [])  # past max_records: dropped
    recorder.close()
    records = yaml.safe_load((tmp_path / FILE_NAME).read_text())["records"]
    assert [c["id"] for c in records["customers"]] == ["A"]
    assert recorder.stats["dropped"] == 2 and recorder.stats["writes"] >= 1


@pytest.mark.parametrize(("args", "error"), [
    (["--record", "x"], "--record needs --proxy"),
])
def test_record_flags_are_checked(args: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        config_from_args(args)
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err


def test_record_flags_reach_the_config(tmp_path: Path) -> None:
    config, _ = config_from_args(["--proxy", "http://127.0.0.1:9", "--record", str(tmp_path)])
    assert config.record == tmp_path
