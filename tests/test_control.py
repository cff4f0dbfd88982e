"""The control API: health, reset, state export/import, journal, overrides, Prefer, latency, CORS, log."""
from __future__ import annotations

import io
import json
import time

import httpx
import pytest
from conftest import Api, fresh, group_body, make_api
from serverproc import running_server

from mock_server.requestlog import request_logger

CONTROL = {"Content-Type": "application/json"}


def test_health_counts_the_tenant(api: Api) -> None:
    assert api.get("/__mock/health", auth=False).json() == {
        "status": "ok", "customers": 3, "accounts": 6, "invoiceGroups": 1, "addOns": 2, "aliases": 6,
        "accountAliases": 4, "customerContacts": 2, "features": 3, "settings": 5, "payments": 2, "credits": 3,
        "wallets": 2, "walletEntries": 3, "eventSchemas": 1, "usageMeters": 2, "events": 6, "pricePlans": 5,
        "accountSchedules": 2, "jobs": 1, "jobEntries": 2, "purchases": 2, "purchaseProposals": 1,
        "featureCreditEntries": 3, "invoices": 5, "licenseUpdates": 3, "namedLicenses": 3, "files": 2,
        "alerts": 1, "incidents": 0, "reports": 1,
    }


def test_reset_goes_back_to_the_fixtures_and_clears_journal_and_overrides(api: Api) -> None:
    api.post("/invoice_groups", json=group_body("ACME-US"))
    api.patch("/accounts/GLOBEX-US", json={"name": "Changed"})
    api.post("/__mock/overrides", json={"path": "/customers", "status": 500})
    fixtures = api.app.state.control.fixtures
    assert api.post("/__mock/reset", headers=CONTROL).json() == {"success": True}
    assert api.get("/accounts/GLOBEX-US").json()["name"] == "Globex Americas"
    assert len(api.get("/invoice_groups").json()["data"]) == 1
    assert api.get("/__mock/overrides").json() == {"overrides": []}
    assert [r["path"] for r in api.get("/__mock/requests").json()["requests"]] == ["/accounts/GLOBEX-US", "/invoice_groups"]
    assert api.app.state.control.fixtures is fixtures  # the snapshot itself is never handed out


def test_reset_empty(api: Api) -> None:
    api.post("/__mock/reset?empty=true", headers=CONTROL)
    assert api.get("/accounts").json()["data"] == []
    assert api.post("/__mock/reset?empty=maybe", headers=CONTROL).json() == {"message": "empty: must be true or false"}


def test_journal_records_requests_newest_last_with_violations(api: Api) -> None:
    api.get("/accounts?pageSize=2")
    api.post("/invoice_groups", json={"name": "x"})
    api.get("/__mock/health")  # control calls are not journaled
    entries = api.get("/__mock/requests").json()["requests"]
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in entries] == [
        ("GET", "/accounts", "pageSize=2", 200),
        ("POST", "/invoice_groups", "", 400),
    ]
    rejected = entries[1]
    assert rejected["operationId"] == "createInvoiceGroup"
    assert rejected["requestBody"] == {"name": "x"}
    assert "email: is required" in rejected["violations"]
    assert rejected["responseBody"]["message"] == f"{rejected['violations'][0]} (and {len(rejected['violations']) - 1} more)"
    api.delete("/__mock/requests", headers=CONTROL)
    assert api.get("/__mock/requests").json() == {"requests": []}


def test_journal_is_bounded() -> None:
    for api in make_api(journal_size=3):
        for _ in range(5):
            api.get("/accounts")
        assert [e["id"] for e in api.get("/__mock/requests").json()["requests"]] == [3, 4, 5]


def test_override_from_the_issue_works_as_written(api: Api) -> None:
    r = api.post("/__mock/overrides", json={"method": "GET", "path": "/invoice_groups", "status": 429, "times": 1})
    assert r.status_code == 201
    forced = api.get("/invoice_groups")
    assert forced.status_code == 429
    assert forced.json()["message"].startswith("forced by the mock")
    assert api.get("/invoice_groups").status_code == 200
    assert api.get("/__mock/overrides").json() == {"overrides": []}


def test_override_with_template_body_and_until_removed(api: Api) -> None:
    rule = api.post("/__mock/overrides", json={"path": "/accounts/{account_id}", "status": 200,
                                               "body": {"custom": True}, "headers": {"X-Forced": "yes"}}).json()
    assert rule["remaining"] is None
    for account in ("ACME-US", "NOPE"):
        r = api.get(f"/accounts/{account}")
        assert r.json() == {"custom": True} and r.headers["x-forced"] == "yes"
    assert api.get("/accounts").status_code == 200  # another path
    assert api.delete(f"/__mock/overrides/{rule['id']}", headers=CONTROL).json() == {"success": True}
    assert api.get("/accounts/NOPE").status_code == 404
    assert api.delete(f"/__mock/overrides/{rule['id']}", headers=CONTROL).status_code == 404


def test_forced_answers_change_no_state(api: Api) -> None:
    api.post("/__mock/overrides", json={"method": "POST", "path": "/invoice_groups", "status": 503})
    before = api.state()
    assert api.post("/invoice_groups", json=group_body("ACME-US")).status_code == 503
    assert api.state() == before


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"status": 99}, "status: must be >= 200"),
        ({"path": "accounts"}, "path: must match the pattern ^/"),
        ({"fault": "explode"}, "fault: must be one of: connection_reset, empty_response"),
        ({"times": 0}, "times: must be >= 1"),
        ({"delayMs": -5}, "delayMs: must be >= 0"),
        ({"method": "BREW"}, "method: must be one of: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
        ({"headers": {"x": "caf\u00e9"}}, r"headers.x: must match the pattern ^[\x20-\x7e]*$"),
    ],
)
def test_bad_overrides_are_rejected(api: Api, rule: dict, message: str) -> None:
    r = api.post("/__mock/overrides", json=rule)
    assert r.status_code == 400
    assert r.json() == {"message": message}


def test_override_delay_then_normal_answer(api: Api) -> None:
    api.post("/__mock/overrides", json={"path": "/customers/ACME", "delayMs": 200, "times": 1})
    started = time.perf_counter()
    r = api.get("/customers/ACME")
    assert r.status_code == 200 and r.json()["id"] == "ACME"
    assert time.perf_counter() - started >= 0.2


def test_global_latency() -> None:
    for api in make_api(latency=(0.1, 0.15)):
        started = time.perf_counter()
        api.get("/accounts")
        assert time.perf_counter() - started >= 0.1


def test_state_export_import_round_trip(api: Api) -> None:
    api.post("/invoice_groups", json=group_body("ACME-US", "GLOBEX-US"))
    exported = api.get("/__mock/state").json()
    assert exported == api.app.state.store.export()
    api.post("/__mock/reset?empty=true", headers=CONTROL)
    assert api.request("PUT", "/__mock/state", json=exported).json() == {"success": True}
    assert api.get("/__mock/state").json() == exported
    assert api.get("/accounts/ACME-US?includeGroupDetails=true").json()["invoiceGroupDetails"]["invoiceCurrency"] == "USD"
    # Ids stay unique after an import.
    created = api.post("/invoice_groups", json=group_body("GLOBEX-UK")).json()
    assert created["id"] not in {g["id"] for g in exported["invoiceGroups"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["accounts"][0].update(status="GONE"), "accounts[0].status: must be one of: ACTIVE, DRAFT, ARCHIVED"),
        (lambda s: s["accounts"][0].update(customerId="NOPE"), "accounts[0].customerId: no customer 'NOPE'"),
        (lambda s: s["accounts"].append(dict(s["accounts"][0])), "accounts[6].id: 'ACME-US' is used twice"),
        (lambda s: s["invoiceGroups"][0]["accounts"].append("ACME-US"), "invoiceGroups[0].accounts[2]: account 'ACME-US' is not invoiced in EUR"),
        (lambda s: s["invoiceGroups"][0].update(accounts=[]), "invoiceGroups[0].accounts: a group needs at least one account"),
        (lambda s: s.update(extra=[]), "extra: is not a resource of this mock"),
        # States the API can never produce (issue 8, item 12).
        (lambda s: s["customers"][0].update(id=""), "customers[0].id: must be"),
        (lambda s: s["customers"][1].update(togaiCustomerId=s["customers"][0]["togaiCustomerId"]), "customers[1].togaiCustomerId: "),
        (lambda s: s["customers"][0].update(status="ARCHIVED"), "accounts[0].status: an archived customer's accounts are archived"),
        (lambda s: s["customers"][0].update(updatedAt="2000-01-01T00:00:00.000Z"), "customers[0].updatedAt: is before createdAt"),
    ],
)
def test_bad_state_is_rejected_and_changes_nothing(api: Api, change, message: str) -> None:
    state = api.get("/__mock/state").json()
    change(state)
    before = api.state()
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400
    assert r.json()["message"].startswith(message)
    assert api.state() == before


def test_prefer_code_and_example(api: Api) -> None:
    before = api.state()
    r = api.patch("/accounts/ACME-US", json={"name": "Not applied"}, headers={"Prefer": "code=404"})
    assert r.status_code == 404 and "message" in r.json()
    r = api.get("/accounts/ACME-US", headers={"Prefer": "example=seed"})
    assert r.status_code == 200 and r.json()["id"] == "G234DZZKBKACATFFGVGEMERFI"
    r = api.get("/accounts/ACME-US", headers={"Prefer": "code=429"})
    assert r.status_code == 429 and r.json() == {"message": "Too many requests"}
    r = api.get("/accounts/ACME-US", headers={"Prefer": "example=nope"})
    assert r.status_code == 400 and r.json()["message"] == "Prefer: getAccount 200 has no example 'nope' (it has: seed)"
    assert api.state() == before
    # Prefer does not skip validation.
    assert api.patch("/accounts/ACME-US", json={"name": "x"}, headers={"Prefer": "code=200"}).status_code == 400


def test_cors_preflight_from_localhost(api: Api) -> None:
    r = api.client.options("/invoice_groups", headers={
        "Origin": "http://localhost:3000",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    })
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    simple = api.post("/invoice_groups", json={}, headers={"Origin": "http://127.0.0.1:5173"})
    assert simple.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    assert "x-mock-violations" in simple.headers["access-control-expose-headers"].lower()
    other = api.client.options("/invoice_groups", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_configured_origins() -> None:
    for api in make_api(cors_origins=("https://app.example",)):
        ok = api.get("/accounts", headers={"Origin": "https://app.example"})
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        # Issue 13: configured origins add to the local default instead of replacing it.
        local = api.get("/accounts", headers={"Origin": "http://localhost:3000"})
        assert local.headers["access-control-allow-origin"] == "http://localhost:3000"
        other = api.get("/accounts", headers={"Origin": "https://other.example"})
        assert "access-control-allow-origin" not in other.headers


def test_request_log_lines() -> None:
    text, js = io.StringIO(), io.StringIO()
    request_logger("text", text)("POST", "/invoice_groups", 400, 1.25, None)
    assert text.getvalue() == "POST /invoice_groups 400 1.2ms\n"
    from mock_server.errors import Violation
    request_logger("json", js)("GET", "/x", 404, 2.0, [Violation("path", "no operation at /x")])
    record = json.loads(js.getvalue())
    assert record.pop("time").endswith("Z")  # every JSON line has its time (tests/test_newcomer_logs.py)
    assert record == {"method": "GET", "path": "/x", "status": 404, "ms": 2.0, "violation": "path: no operation at /x"}
    assert request_logger("quiet") is None


def test_faults_and_log_against_the_real_server() -> None:
    with running_server("--latency", "1-2ms") as (url, mock):
        mock.override(path="/accounts/{account_id}", fault="connection_reset", times=1)
        mock.override(path="/customers", fault="empty_response", times=1)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/accounts/ACME-US", headers={"Authorization": "Bearer t"})
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/customers", headers={"Authorization": "Bearer t"})
        assert httpx.get(f"{url}/accounts/ACME-US", headers={"Authorization": "Bearer t"}).status_code == 200
        assert httpx.post(f"{url}/invoice_groups", json={}, headers={"Authorization": "Bearer t"}).status_code == 400
        assert [e["status"] for e in mock.requests()] == [0, 0, 200, 400]
        lines = mock.output().splitlines()
        assert "GET /accounts/ACME-US 200 " in "\n".join(lines)
        assert any(line.startswith("POST /invoice_groups 400 ") and ": is required" in line for line in lines)
        assert "returned without starting response" not in mock.output()


def test_shared_app_is_as_new(api: Api) -> None:
    """The suite shares one app per process and resets it per test: that must equal a new app.

    Records, the id generator, the seeded clock, the journal and the overrides
    after a reset match a freshly built app's, after a test changed all of them.
    """
    api.post("/customers", json={"id": "AS-NEW", "name": "Changed", "primaryEmail": "a@example.com",
                                 "address": {"country": "US"}})
    api.post("/__mock/overrides", json={"method": "GET", "path": "/accounts", "status": 503})
    fresh(api)
    for new in make_api():
        assert api.state() == new.state()
        assert api.get("/__mock/requests").json() == new.get("/__mock/requests").json()
        assert api.get("/__mock/overrides").json() == new.get("/__mock/overrides").json()
        made = api.post("/customers", json={"id": "N1", "name": "N", "primaryEmail": "n@example.com",
                                            "address": {"country": "US"}}).json()
        made_new = new.post("/customers", json={"id": "N1", "name": "N", "primaryEmail": "n@example.com",
                                                "address": {"country": "US"}}).json()
        assert made == made_new  # same ids and timestamps from the generator and the seeded clock
