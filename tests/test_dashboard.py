"""The dashboard's page and the control calls it uses, in-process (the browser tests drive the page)."""
from __future__ import annotations

import time
from typing import Any

from conftest import Api, make_api

from mock_server.config import CONTROL_SPEC, DEFAULT_SPEC
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


# ---- the account view's data (GET /__mock/accounts/{account_id}/overview) ------------------------------

def _overview(api: Api, account: str, **params: int) -> dict[str, Any]:
    r = api.get(f"/__mock/accounts/{account}/overview", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _rides_pro_account(api: Api) -> str:
    """VIEW-1 (USD, net 10 days) on the demo's Rides Pro from 2024-01-01: monthly, grace 3 days; a ride costs
    49 flat for the first 100 a cycle, a km 0.20 for the first 1 000."""
    plan = next(p["id"] for p in api.get("/price_plans").json()["data"] if p["name"] == "Rides Pro")
    r = api.post("/accounts", json={"id": "VIEW-1", "customerId": "ACME", "name": "View one", "invoiceCurrency": "USD",
                                    "netTermDays": 10})
    assert r.status_code == 201, r.text
    r = api.post("/accounts/VIEW-1/price_plans", json={"mode": "ASSOCIATE", "pricePlanId": plan,
                                                       "effectiveFrom": "2024-01-01", "effectiveUntil": "2099-01-01"})
    assert r.status_code == 200, r.text
    return plan


def test_account_overview_charts_hand_computed_daily_usage(api: Api) -> None:
    assert api.post("/__mock/clock", json={"to": "2024-01-10T12:00:00Z"}).status_code == 200
    plan = _rides_pro_account(api)
    rides = [("a", "2024-01-03T08:00:00Z", "10"), ("b", "2024-01-03T20:00:00Z", "2.5"), ("c", "2024-01-05T09:00:00Z", "7")]
    r = api.post("/ingestBatch", json={"events": [
        {"id": f"view-{n}", "schemaName": "rides", "accountId": "VIEW-1", "timestamp": at,
         "attributes": [{"name": "distance", "value": km}], "dimensions": {"city": "x"}} for n, at, km in rides]})
    assert r.status_code == 202, r.text
    clock = api.get("/__mock/clock").json()

    view = _overview(api, "VIEW-1", days=10)
    usage = view["usage"]
    # Ten UTC days, the clock's (January 10th) last.
    assert usage["timestamps"] == [f"2024-01-{d:02d}T00:00:00Z" for d in range(1, 11)]
    assert (usage["startTime"], usage["endTime"], usage["currency"]) == (
        "2024-01-01T00:00:00.000Z", "2024-01-11T00:00:00.000Z", "USD")
    zeros = [0] * 10

    def on(values: dict[int, float]) -> list[float]:  # day of January -> value
        return [values.get(d, 0) for d in range(1, 11)]

    # Rides: two on the 3rd, one on the 5th. Revenue per day is what the day adds to the cycle's price:
    # the first ride of the cycle brings the flat 49, the others nothing (still under 100).
    # Distance: 10 + 2.5 km on the 3rd, 7 km on the 5th, at 0.20 a km: 2.5 and 1.4.
    assert [(m["name"], m["units"], m["revenue"]) for m in usage["meters"]] == [
        ("Ride count", on({3: 2, 5: 1}), on({3: 49})),
        ("Ride distance", on({3: 12.5, 5: 7}), on({3: 2.5, 5: 1.4})),
    ]
    assert zeros not in [m["units"] for m in usage["meters"]]
    assert view["plan"] == {
        "scheduleId": view["schedules"][0]["id"], "pricePlanId": plan, "pricePlanName": "Rides Pro", "version": 1,
        "startDate": "2024-01-01T00:00:00Z", "endDate": "2099-01-01T00:00:00Z",
        "cycleStart": "2024-01-01T00:00:00.000Z", "cycleEnd": "2024-02-01T00:00:00.000Z",
        "interval": "MONTHLY", "gracePeriodDays": 3}
    assert [(s["pricePlanName"], s["current"]) for s in view["schedules"]] == [("Rides Pro", True)]
    assert view["account"] == {"id": "VIEW-1", "name": "View one", "status": "ACTIVE", "customerId": "ACME",
                               "invoiceCurrency": "USD", "netTermDays": 10}
    assert (view["credits"]["availableBalance"], view["wallet"]) == (0, None)
    # The view reads the clock without ticking a seeded one (the dashboard polls it).
    assert view["clock"] == clock == api.get("/__mock/clock").json()


def test_account_overview_shows_the_invoice_the_clock_built(api: Api) -> None:
    """The January cycle of the rides above, billed by a clock move: 49 + 0.20 x 19.5 km = 52.90; a 5 USD credit
    takes 5 (47.90 left), the wallet's 20 nets 20 as it becomes DUE at the end of the 3-day grace period:
    PARTIALLY_PAID, 20 paid; invoice date 2024-02-04 (grace over), due 10 days later."""
    assert api.post("/__mock/clock", json={"to": "2024-01-10T12:00:00Z"}).status_code == 200
    _rides_pro_account(api)
    r = api.post("/ingestBatch", json={"events": [
        {"id": f"bill-{n}", "schemaName": "rides", "accountId": "VIEW-1", "timestamp": "2024-01-04T10:00:00Z",
         "attributes": [{"name": "distance", "value": km}], "dimensions": {"city": "x"}}
        for n, km in enumerate(("10", "2.5", "7"))]})
    assert r.status_code == 202, r.text
    r = api.post("/credits", json={"creditRequests": [{"accountId": "VIEW-1", "purpose": "Promo", "priority": 1,
                                                       "effectiveFrom": "2024-01-01", "creditAmount": 5}]})
    assert r.status_code == 200, r.text
    assert api.post("/accounts/VIEW-1/wallet_topup", json={"topupAmount": 20}).status_code == 200
    before = _overview(api, "VIEW-1")
    assert (before["credits"]["availableBalance"], before["wallet"]["balance"]) == (5, 20)

    assert api.post("/__mock/clock", json={"to": "2024-02-05T00:00:00Z"}).status_code == 200
    view = _overview(api, "VIEW-1")
    january = [i for i in view["invoices"]["data"] if i["startDate"] == "2024-01-01T00:00:00.000Z"]
    assert [(i["invoiceType"], i["status"], i["totalAmount"], i["paidAmount"], i["currency"]) for i in january] == [
        ("STANDARD", "PARTIALLY_PAID", 47.9, 20, "USD")]
    assert (january[0]["invoiceDate"], january[0]["dueDate"]) == ("2024-02-04T00:00:00.000Z", "2024-02-14T00:00:00.000Z")
    # Newest first: February's ongoing invoice, nothing earned yet.
    assert [(i["startDate"][:10], i["status"], i["totalAmount"]) for i in view["invoices"]["data"]] == [
        ("2024-02-01", "DRAFT", 0), ("2024-01-01", "PARTIALLY_PAID", 47.9)]
    assert view["invoices"]["total"] == 2
    assert (view["credits"]["availableBalance"], view["wallet"]["balance"]) == (0, 0)
    assert view["plan"]["cycleStart"] == "2024-02-01T00:00:00.000Z"
    # The same invoice as the API shows it.
    shown = api.get(f"/invoices/{january[0]['id']}").json()
    assert (shown["totalAmount"], shown["paidAmount"], shown["status"]) == (47.9, 20, "PARTIALLY_PAID")


def test_account_overview_refusals(api: Api) -> None:
    missing = api.get("/__mock/accounts/NOPE/overview")
    assert (missing.status_code, missing.json()) == (404, {"message": "account_id: no account with id 'NOPE'"})
    for days in (0, 301):
        r = api.get(f"/__mock/accounts/ACME-US/overview?days={days}")
        assert r.status_code == 400 and r.json()["message"].startswith("days: ")
    # An account without a plan, invoices or wallet: nulls and empty lists, one series of days without meters.
    view = _overview(api, "ACME-EU", days=3)
    assert (view["plan"], view["schedules"], view["invoices"], view["wallet"]) == (
        None, [], {"total": 0, "data": []}, None)
    assert (len(view["usage"]["timestamps"]), view["usage"]["meters"]) == (3, [])


def test_account_page_is_served_for_a_deep_link(api: Api) -> None:
    page = api.get("/__mock/accounts/ACME-US", auth=False)
    assert page.status_code == 200 and page.headers["content-type"] == HTML
    assert "/__mock/assets/account.js" in page.text and "/__mock/assets/vendor/uPlot.iife.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    chart = api.get("/__mock/assets/vendor/uPlot.iife.min.js", auth=False)
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("text/javascript")
    assert chart.text.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")  # the version the README names
    assert api.get("/__mock/assets/vendor/uPlot.min.css", auth=False).status_code == 200
    # Only the page itself: deeper paths are the control API's (here an unknown route).
    assert api.get("/__mock/accounts/ACME-US/nothing").status_code == 404
    assert api.get("/__mock/accounts/", auth=False).headers["content-type"] != HTML


def test_account_overview_example_holds_to_its_closed_schema() -> None:
    op = load_spec(CONTROL_SPEC).operation("accountOverview")
    [example] = op.responses["200"].examples.values()
    validator = op.responses["200"].validator
    assert validator.violations(example, "body") == []
    assert validator.violations({**example, "extra": 1}, "body") != []  # closed: the self-check catches a stray field
