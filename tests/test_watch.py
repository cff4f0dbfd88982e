"""--watch: the spec and fixtures reload on change, the state stays where it fits, a broken
file leaves the old version serving (issue 13)."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml
from serverproc import running_server
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server.app import close_background
from mock_server.config import DEFAULT_FIXTURES, DEFAULT_SPEC
from mock_server.openapi.spec import load_spec
from mock_server.watch import Reloader

# The bundled spec's operations plus the one a test adds (derived: other operations are being added).
GROWN = len(load_spec(DEFAULT_SPEC).operations) + 1

AUTH = {"Authorization": "Bearer t"}
JSON = {"Content-Type": "application/json"}
USAGE = {"get": {"operationId": "getUsage", "responses": {"200": {"description": "usage", "content": {
    "application/json": {"schema": {"type": "object", "properties": {"units": {"type": "integer"}}},
                         "example": {"units": 3}}}}}}}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    spec = tmp_path / "openapi.yaml"
    shutil.copy(DEFAULT_SPEC, spec)
    fixtures = tmp_path / "fixtures"
    shutil.copytree(DEFAULT_FIXTURES, fixtures)
    return spec, fixtures


def _edit_spec(spec: Path, change) -> None:
    doc = yaml.safe_load(spec.read_text())
    change(doc)
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))


def _reloader(spec: Path, fixtures: Path) -> tuple[Reloader, TestClient, list[str]]:
    config = Config(spec=spec, fixtures=fixtures, self_check=True, watch=True)
    lines: list[str] = []
    reloader = Reloader(config, create_app(config), log=lines.append)
    return reloader, TestClient(reloader, base_url="http://localhost"), lines


def test_a_spec_change_reloads_and_keeps_state_journal_and_overrides(files: tuple[Path, Path]) -> None:
    spec, fixtures = files
    reloader, client, lines = _reloader(spec, fixtures)
    created = client.post("/customers", headers=AUTH, json={"id": "KEEP", "name": "Kept Inc", "primaryEmail": "k@x.io", "address": {}})
    assert created.status_code == 201
    client.post("/__mock/overrides", headers=JSON, json={"method": "GET", "path": "/accounts", "status": 429})
    assert client.get("/usage", headers=AUTH).status_code == 404

    _edit_spec(spec, lambda doc: doc["paths"].__setitem__("/usage", USAGE))
    assert reloader.check()
    assert client.get("/usage", headers=AUTH).json() == {"units": 3}  # the new operation
    assert client.get("/customers/KEEP", headers=AUTH).json()["name"] == "Kept Inc"  # the state
    assert client.get("/accounts", headers=AUTH).status_code == 429  # the override
    paths = [e["path"] for e in client.get("/__mock/requests").json()["requests"]]
    assert paths[:2] == ["/customers", "/usage"]  # the journal, from before the reload on
    [line] = lines
    assert line.startswith(f"reloaded: spec changed: {GROWN} operations +1 (getUsage); state kept (4 customers, 6 accounts, ")
    info = client.get("/__mock/server").json()["watch"]
    assert (info["enabled"], info["reloads"], info["error"]) == (True, 1, None)
    assert not reloader.check()  # nothing changed since


def test_records_that_no_longer_fit_are_dropped_and_counted(files: tuple[Path, Path]) -> None:
    spec, fixtures = files
    reloader, client, lines = _reloader(spec, fixtures)
    long_name = "N" * 200
    r = client.post("/addons", headers=AUTH, json={"name": long_name, "type": "FIXED_FEE"})
    assert r.status_code in (200, 201), r.text
    assert client.get("/__mock/health").json()["addOns"] == 3
    _edit_spec(spec, lambda doc: doc["components"]["schemas"]["AddOn"]["properties"]["name"].__setitem__("maxLength", 100))
    assert reloader.check()
    health = client.get("/__mock/health").json()
    assert (health["customers"], health["accounts"], health["invoiceGroups"], health["addOns"]) == (3, 6, 1, 2), lines
    assert "dropped what no longer fits the spec: 1 addOns (addOns[2].name: must be at most 100 characters long)" in lines[0]


def test_a_broken_spec_keeps_the_old_version_serving_and_says_why(files: tuple[Path, Path]) -> None:
    spec, fixtures = files
    reloader, client, lines = _reloader(spec, fixtures)
    good = spec.read_text()
    spec.write_text("openapi: 3.1.0\npaths: [\n")
    assert reloader.check()
    assert client.get("/accounts/ACME-US", headers=AUTH).status_code == 200  # still served
    error = client.get("/__mock/server").json()["watch"]["error"]
    assert error.startswith(f"{spec}: not valid YAML")
    assert lines[-1].startswith(f"spec changed, reload failed, still serving the previous version: {spec}: not valid YAML")
    spec.write_text(good)
    assert reloader.check()
    assert client.get("/__mock/server").json()["watch"]["error"] is None


def test_a_fixture_change_loads_the_new_fixtures(files: tuple[Path, Path]) -> None:
    spec, fixtures = files
    reloader, client, lines = _reloader(spec, fixtures)
    (fixtures / "extra.yaml").write_text("customers:\n  - {id: NEW, name: New Corp, primaryEmail: n@x.io, address: {}}\n")
    assert reloader.check()
    assert client.get("/customers/NEW", headers=AUTH).status_code == 200
    assert lines[-1].endswith("state: the new fixtures")
    (fixtures / "extra.yaml").write_text("customers:\n  - {id: BAD, name: x, primaryEmail: n@x.io, address: {}}\n")
    assert reloader.check()
    assert "customers[0]: name: must be at least 3 characters long" in client.get("/__mock/server").json()["watch"]["error"]
    assert client.get("/customers/NEW", headers=AUTH).status_code == 200


def test_the_real_server_reloads_within_about_a_second(files: tuple[Path, Path]) -> None:
    spec, fixtures = files
    with running_server("--spec", str(spec), "--fixtures", str(fixtures), "--watch") as (url, mock):
        assert "watching the spec and fixtures for changes" in mock.output()
        _edit_spec(spec, lambda doc: doc["paths"].__setitem__("/usage", USAGE))
        started = time.monotonic()
        while httpx.get(f"{url}/usage", headers=AUTH).status_code != 200:
            assert time.monotonic() - started < 5, mock.output()
            time.sleep(0.05)
        assert time.monotonic() - started < 1.5
        assert f"mock-server: reloaded: spec changed: {GROWN} operations +1 (getUsage)" in mock.output()


# -- issue 21, item 4: every tenant, and the state file, survive a reload --------------------------------


def test_a_reload_keeps_every_token_tenant_its_journal_and_overrides(files: tuple[Path, Path]) -> None:
    spec, fixtures = files
    config = Config(spec=spec, fixtures=fixtures, self_check=True, watch=True, tenancy="token")
    lines: list[str] = []
    reloader = Reloader(config, create_app(config), log=lines.append)
    client = TestClient(reloader, base_url="http://localhost")
    a, b = {"Authorization": "Bearer token-a"}, {"Authorization": "Bearer token-b"}
    for who, cid in ((a, "ONLY-A"), (b, "ONLY-B")):
        r = client.post("/customers", headers=who, json={"id": cid, "name": cid, "primaryEmail": "k@x.io", "address": {}})
        assert r.status_code == 201
    client.post("/__mock/overrides", headers={**a, **JSON}, json={"method": "GET", "path": "/accounts", "status": 429})

    _edit_spec(spec, lambda doc: doc["paths"].__setitem__("/usage", USAGE))
    assert reloader.check()
    assert "(and 1 more tenants)" in lines[-1]
    assert client.get("/customers/ONLY-A", headers=a).status_code == 200  # before: every tenant's records gone
    assert client.get("/customers/ONLY-B", headers=b).status_code == 200
    assert client.get("/customers/ONLY-A", headers=b).status_code == 404  # still apart
    assert client.get("/accounts", headers=a).status_code == 429  # A's override
    assert client.get("/accounts", headers=b).status_code == 200
    journal = client.get("/__mock/requests", headers=a).json()["requests"]
    assert "/customers" in [e["path"] for e in journal]


def test_a_reload_with_a_state_file_takes_the_file_over_and_writes_the_carried_state(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    spec, fixtures = files
    path = tmp_path / "state.json"
    config = Config(spec=spec, fixtures=fixtures, self_check=True, watch=True, state_file=path)
    lines: list[str] = []
    reloader = Reloader(config, create_app(config), log=lines.append)
    client = TestClient(reloader, base_url="http://localhost")
    client.post("/customers", headers=AUTH, json={"id": "KEEP", "name": "Kept Inc", "primaryEmail": "k@x.io", "address": {}})
    _edit_spec(spec, lambda doc: doc["paths"].__setitem__("/usage", USAGE))
    assert reloader.check()
    assert lines[-1].startswith("reloaded:"), lines  # before: "is in use by another mock server", no reload
    assert client.get("/usage", headers=AUTH).json() == {"units": 3}
    client.post("/customers", headers=AUTH, json={"id": "AFTER", "name": "After Inc", "primaryEmail": "a@x.io", "address": {}})
    assert reloader.app.state.state_file.close()
    reopened = create_app(Config(spec=spec, fixtures=fixtures, state_file=path))
    try:
        ids = {c["id"] for c in reopened.state.store.export()["customers"]}
        assert {"KEEP", "AFTER"} <= ids
    finally:
        reopened.state.state_file.close()


# -- the background threads: one --record writer and one --webhook sender, whatever the reloads ------------


def _threads(name: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name == name and t.is_alive())


def test_a_reload_keeps_the_one_record_writer_and_webhook_sender(files: tuple[Path, Path], tmp_path: Path) -> None:
    spec, fixtures = files
    writers, senders = _threads("record-writer"), _threads("webhook-sender")
    config = Config(spec=spec, fixtures=fixtures, watch=True, proxy="http://127.0.0.1:9",
                    record=str(tmp_path / "recorded"), webhooks=("http://127.0.0.1:9/hook",))
    first = create_app(config)
    reloader = Reloader(config, first, log=[].append)
    client = TestClient(reloader, base_url="http://localhost")
    old_checks = first.state.recorder.validators
    try:
        _edit_spec(spec, lambda doc: doc["paths"].__setitem__("/usage", USAGE))
        assert reloader.reload(spec_changed=True)
        assert reloader.app is not first
        # The new app carries on with the old pair: one thread each, the same delivery log, the new spec's checks.
        assert reloader.app.state.recorder is first.state.recorder
        assert reloader.app.state.webhooks is first.state.webhooks
        assert (_threads("record-writer") - writers, _threads("webhook-sender") - senders) == (1, 1)
        assert reloader.app.state.recorder.validators is not old_checks
        assert client.get("/__mock/server").status_code == 200
    finally:
        close_background(reloader.app.state)
        close_background(first.state)
    assert (_threads("record-writer"), _threads("webhook-sender")) == (writers, senders)
