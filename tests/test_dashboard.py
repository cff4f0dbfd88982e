"""The dashboard's page and the control calls it uses, in-process (the browser tests drive the page)."""
from __future__ import annotations

import time

from conftest import Api, make_api

from mock_server.config import DEFAULT_SPEC
from mock_server.openapi.spec import load_spec

HTML = "text/html; charset=utf-8"


def test_page_and_assets_are_served_offline(api: Api) -> None:
    page = api.get("/__mock/", auth=False)
    assert page.status_code == 200 and page.headers["content-type"] == HTML
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # Nothing is loaded from elsewhere: every src/href is the mock's own.
    text = page.text
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    for asset in ("/__mock/assets/dashboard.js", "/__mock/assets/dashboard.css"):
        assert asset in text
        r = api.get(asset, auth=False)
        assert r.status_code == 200 and "https://" not in r.text
    assert api.get("/__mock/assets/../control.py", auth=False).status_code == 404
    missing = api.get("/__mock/assets/nope.js", auth=False)
    assert missing.status_code == 404 and missing.json() == {"message": "path: no dashboard file 'nope.js'"}
    post = api.post("/__mock/", auth=False)
    assert post.status_code == 405 and post.json()["message"]


def test_page_follows_the_host_rule() -> None:
    for api in make_api():
        r = api.get("/__mock/", auth=False, headers={"Host": "rebound.example"})
        assert r.status_code == 403 and "loopback" in r.json()["message"]


def test_records_are_paged_per_resource(api: Api) -> None:
    first = api.get("/__mock/records/accounts?pageSize=4").json()
    assert (first["resource"], first["total"], len(first["data"])) == ("accounts", 6, 4)
    rest = api.get(f"/__mock/records/accounts?pageSize=4&nextToken={first['nextToken']}").json()
    assert [a["id"] for a in first["data"] + rest["data"]] == [a["id"] for a in api.get("/__mock/state").json()["accounts"]]
    assert "nextToken" not in rest
    groups = api.get("/__mock/records/invoiceGroups").json()["data"]
    assert groups == api.get("/__mock/state").json()["invoiceGroups"]  # the exported shape
    assert api.get("/__mock/records/nope").status_code == 404
    assert api.get("/__mock/records/accounts?pageSize=501").status_code == 400
    assert api.get("/__mock/records/accounts?nextToken=bogus").json() == {"message": "nextToken: is not a page token issued by this server"}


def test_a_page_of_100_000_records_is_small_and_fast(empty_api: Api) -> None:
    store = empty_api.app.state.store
    customers = store.collections["customers"]
    template = {"name": "Customer", "primaryEmail": "c@example.com", "status": "ACTIVE", "address": {},
                "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z"}
    for i in range(100_000):
        customers.add(f"C{i}", {"id": f"C{i}", "togaiCustomerId": f"customer.x.{i}", **template})
    assert empty_api.get("/__mock/health").json()["customers"] == 100_000
    started = time.perf_counter()
    r = empty_api.get("/__mock/records/customers")
    assert time.perf_counter() - started < 0.5
    assert r.json()["total"] == 100_000 and len(r.json()["data"]) == 50
    assert len(r.content) < 20_000


def test_journal_since_an_id_newest_limited(api: Api) -> None:
    for _ in range(5):
        api.get("/customers")
    everything = api.get("/__mock/requests").json()
    assert list(everything) == ["requests"] and len(everything["requests"]) == 5  # unchanged without paging
    ids = [e["id"] for e in everything["requests"]]
    newer = api.get(f"/__mock/requests?after={ids[1]}").json()
    assert [e["id"] for e in newer["requests"]] == ids[2:] and newer["oldestId"] == ids[0]
    assert [e["id"] for e in api.get("/__mock/requests?after=0&limit=2").json()["requests"]] == ids[3:]
    api.delete("/__mock/requests", headers={"Content-Type": "application/json"})
    assert api.get(f"/__mock/requests?after={ids[-1]}").json() == {"requests": [], "oldestId": None}


def test_rejected_requests_name_their_stage_in_the_journal(api: Api) -> None:
    api.get("/accounts?pageSize=0")
    api.get("/accounts", auth=False)
    api.get("/accounts")
    assert [e["rejectedBy"] for e in api.get("/__mock/requests").json()["requests"]] == ["parameters", "security", None]


def test_server_info(api: Api) -> None:
    info = api.get("/__mock/server").json()
    # Every operation of Togai's API is answered from the state (issue 10); none is canned.
    assert info["operations"] == info["statefulOperations"] == len(load_spec(DEFAULT_SPEC).operations)
    assert info["resources"][:4] == ["customers", "accounts", "invoiceGroups", "addOns"]
    assert info["watch"] == {"enabled": False, "reloads": 0, "lastReload": None, "error": None}
