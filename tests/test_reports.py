"""GET /reports (issue 22): the reports the tenant's state holds, by whose they are (``fetchFor``).

No operation makes a report (Togai makes them in its app), so these come in
with PUT /__mock/state, as from a fixture or the state file (README, "Reports").
"""
from __future__ import annotations

from typing import Any

import pytest
from conftest import Api

REPORTS = [
    {"name": "Organization usage", "status": "COMPLETED", "type": "TEMPLATE", "reportTemplateId": "usage_by_meter"},
    {"name": "ACME-US invoices", "account_id": "ACME-US", "status": "COMPLETED", "type": "CUSTOM"},
    {"name": "GLOBEX-US rides", "account_id": "GLOBEX-US", "status": "RUNNING", "type": "QUERY",
     "queryInput": {"selects": [{"columnName": "usage"}], "baseDataSource": "usage", "limit": 100,
                    "sort": [{"column": {"columnName": "usage"}, "sortOrder": "DESC"}]}},
    {"name": "Organization revenue", "status": "QUEUED", "type": "TEMPLATE"},
]


@pytest.fixture
def loaded(api: Api) -> dict[str, str]:
    state = api.get("/__mock/state").json()
    state["reports"] = REPORTS
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    return {r["name"]: r["id"] for r in api.get("/__mock/state").json()["reports"]}


def names(api: Api, **params: Any) -> list[str]:
    r = api.get("/reports", params=params)
    assert r.status_code == 200, r.text
    return [x["name"] for x in r.json()["data"]]


def test_the_demo_tenant_has_one_report_on_a_stored_file(api: Api) -> None:
    [report] = api.get("/reports").json()["data"]
    assert (report["name"], report["account_id"], report["status"]) == ("ACME-US usage, March 2024", "ACME-US",
                                                                         "COMPLETED")
    assert api.get(f"/files/{report['fileId']}/download_url").status_code == 200
    assert api.get("/reports", params={"fetchFor": "ORGANIZATION"}).json()["data"] == []


def test_fetch_for_chooses_whose_reports(api: Api, loaded: dict[str, str]) -> None:
    everything = ["Organization usage", "ACME-US invoices", "GLOBEX-US rides", "Organization revenue"]
    assert names(api) == everything
    assert names(api, fetchFor="ALL") == everything
    assert names(api, fetchFor="ORGANIZATION") == ["Organization usage", "Organization revenue"]
    assert names(api, fetchFor="ACCOUNTS", account_id="ACME-US") == ["ACME-US invoices"]
    assert names(api, fetchFor="ALL", account_id="GLOBEX-US") == [
        "Organization usage", "GLOBEX-US rides", "Organization revenue"]
    assert names(api, fetchFor="ACCOUNTS", account_id="GLOBEX-UK") == []


def test_reports_page_and_complete_their_server_made_fields(api: Api, loaded: dict[str, str]) -> None:
    seen, query = [], {"pageSize": 1, "fetchFor": "ORGANIZATION"}
    while True:
        page = api.get("/reports", params=query).json()
        seen += [r["id"] for r in page["data"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"], "fetchFor": "ORGANIZATION"}
    assert seen == [loaded["Organization usage"], loaded["Organization revenue"]]
    assert all(i.startswith("report.") for i in loaded.values())
    first = api.get("/reports").json()["data"][0]
    assert first["createdAt"] == first["updatedAt"]


@pytest.mark.parametrize(("params", "message"), [
    ({"fetchFor": "ORGANIZATION", "account_id": "ACME-US"}, "account_id: cannot be given with fetchFor=ORGANIZATION"),
    ({"fetchFor": "ACCOUNTS"}, "account_id: is required with fetchFor=ACCOUNTS"),
    ({"account_id": "NOBODY"}, "account_id: no account with id 'NOBODY'"),
    ({"fetchFor": "EVERYONE"}, "fetchFor"),
    ({"pageSize": 0}, "pageSize"),
])
def test_bad_queries_are_400(api: Api, loaded: dict[str, str], params: dict[str, Any], message: str) -> None:
    r = api.get("/reports", params=params)
    assert r.status_code == 400 and message in r.json()["message"], r.text


def test_an_import_naming_an_unknown_account_is_refused(api: Api) -> None:
    state = api.get("/__mock/state").json()
    before = dict(state)
    state["reports"] = [{"name": "Lost", "account_id": "NOBODY"}]
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and "reports[0].account_id" in r.text
    assert api.get("/__mock/state").json() == before
