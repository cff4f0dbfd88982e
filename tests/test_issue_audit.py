"""Audit of issues 19 and 20 as a user of the mock: the defects found and the behaviour no test held.

Expected values are read off the issues' words ("a clock `to` that is not a date-time ... 400 naming the
field, nothing changed"; "per tenant under --tenancy token"; the pytest plugin's ``togai_mock.clock``), never
from the code under test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, make_api
from test_billing import MONTHLY, move, ride, setup_account

START = datetime(2024, 1, 1, tzinfo=UTC)
NOW = "2024-01-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def _clock_app() -> Iterator[Api]:
    yield from make_api(clock=START)


@pytest.fixture
def capi(_clock_app: Api) -> Api:
    """The demo tenant on a test clock frozen at 2024-01-01, reset for each test (the clock too)."""
    _clock_app.app.state.control.reset()
    return _clock_app


@pytest.mark.parametrize("to", [
    "2024-06-01",  # a bare date is no date-time (it moved the clock to midnight before)
    "2024-06-01T",
    "",
])
def test_a_clock_to_that_is_no_date_time_is_refused_and_changes_nothing(capi: Api, to: str) -> None:
    before = capi.state()
    r = capi.post("/__mock/clock", json={"to": to})
    assert r.status_code == 400 and r.json()["message"].startswith("to: "), r.text
    assert capi.get("/__mock/clock").json()["now"] == NOW
    assert capi.state() == before


def test_a_full_date_time_still_moves_the_clock(capi: Api) -> None:
    r = capi.post("/__mock/clock", json={"to": "2024-01-02T06:30:00Z"})
    assert (r.status_code, r.json()["now"]) == (200, "2024-01-02T06:30:00.000Z")


@pytest.fixture(scope="module")
def tenants() -> Iterator[Api]:
    yield from make_api(clock=START, tenancy="token")


def test_each_tenant_has_its_own_test_clock(tenants: Api) -> None:
    def as_(token: str, method: str, body: dict[str, Any] | None = None) -> Any:
        return tenants.request(method, "/__mock/clock", auth=False, headers={"Authorization": f"Bearer {token}"},
                               **({} if body is None else {"json": body}))

    assert as_("tenant-a", "POST", {"by": "P1M"}).json()["now"] == "2024-02-01T00:00:00.000Z"
    assert as_("tenant-a", "GET").json()["now"] == "2024-02-01T00:00:00.000Z"
    assert as_("tenant-b", "GET").json()["now"] == NOW  # untouched by the other tenant's move
    assert as_("tenant-b", "POST", {"by": "PT6H"}).json()["now"] == "2024-01-01T06:00:00.000Z"
    assert as_("tenant-a", "GET").json()["now"] == "2024-02-01T00:00:00.000Z"


CONSUMER = '''
import pytest

def test_moves(togai_mock):
    assert togai_mock.clock.now() == "2024-01-01T00:00:00.000Z"
    assert togai_mock.clock.advance("P1M")["now"] == "2024-02-01T00:00:00.000Z"
    assert togai_mock.clock.set("2024-03-01T00:00:00Z")["now"] == "2024-03-01T00:00:00.000Z"
    with pytest.raises(Exception, match="to: is before"):
        togai_mock.clock.set("2023-01-01T00:00:00Z")
    assert togai_mock.clock.now() == "2024-03-01T00:00:00.000Z"

def test_the_next_test_starts_where_the_clock_started(togai_mock):
    assert togai_mock.clock.now() == "2024-01-01T00:00:00.000Z"
'''


@pytest.mark.conformance  # a whole pytest session with a server process: make conformance
def test_the_plugin_reads_advances_and_sets_the_clock(tmp_path: Path) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--togai-mock-args", "--clock 2024-01-01T00:00:00Z"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


@pytest.mark.parametrize(("by", "message"), [
    # A duration past the end of the calendar (9999) is named as that, not as "not a duration".
    ("P99999Y", "by: must stay before 9999-01-01T00:00:00.000Z"),
    ("P10000000D", "by: must stay before 9999-01-01T00:00:00.000Z"),
    ("PT1000000000000H", "by: must stay before 9999-01-01T00:00:00.000Z"),
    ("P1.5D", "by: 'P1.5D' is not an ISO 8601 duration (P1M, P14D, PT6H)"),
    ("-P1D", "by: '-P1D' is not an ISO 8601 duration (P1M, P14D, PT6H)"),
])
def test_a_duration_too_far_is_named_as_such(capi: Api, by: str, message: str) -> None:
    before = capi.state()
    r = capi.post("/__mock/clock", json={"by": by})
    assert (r.status_code, r.json()["message"]) == (400, message)
    assert capi.get("/__mock/clock").json()["now"] == NOW
    assert capi.state() == before


def test_the_first_cycle_has_its_ongoing_invoice_and_the_preview_shows_it(capi: Api) -> None:
    # Issue 19, item 4 (and its "Why": the preview showed nothing for an account the run then invoiced). A plan
    # from 1 January: 2 rides x 1.25 = 2.5 and a 10 USD fee in arrears = 12.5, shown by the ongoing invoice and
    # the bill-run preview mid-cycle (no charge needed to open it), then billed as that on 1 February.
    account = setup_account(capi, "USD", MONTHLY, "2024-01-01", "2099-01-01", 1.25, [{"rate": 10}])
    move(capi, to="2024-01-20T00:00:00Z")
    ride(capi, account, "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z")
    (preview,) = [i for i in capi.get("/invoices/bill_runs").json()["data"] if i["ownerId"] == account]
    (listed,) = capi.get("/invoices", params={"owner_id": account}).json()["data"]
    ongoing = capi.get(f"/invoices/{preview['id']}").json()
    assert (listed["id"], listed["status"], listed["invoiceType"]) == (preview["id"], "DRAFT", "STANDARD")
    assert (ongoing["startDate"], ongoing["endDate"]) == ("2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z")
    assert (preview["totalAmount"], ongoing["totalAmount"]) == (12.5, 12.5)
    move(capi, to="2024-02-01T00:00:00Z")
    final = capi.get(f"/invoices/{preview['id']}").json()
    assert (final["status"], final["totalAmount"]) == ("DUE", 12.5)


def test_a_plan_that_starts_later_opens_its_ongoing_invoice_when_its_cycle_starts(capi: Api) -> None:
    # A plan from 11 January (monthly cycles on the 1st): nothing to show on 1 January; from 11 January the
    # ongoing invoice of [11 January, 1 February) is there (a 31 USD fee prorated: 31 x 21/31 = 21).
    account = setup_account(capi, "USD", MONTHLY, "2024-01-11", "2099-01-01", 1, [{"rate": 31, "prorate": True}])
    assert capi.get("/invoices", params={"owner_id": account}).json()["data"] == []
    move(capi, to="2024-01-12T00:00:00Z")
    (ongoing,) = capi.get("/invoices", params={"owner_id": account}).json()["data"]
    assert (ongoing["status"], ongoing["startDate"], ongoing["totalAmount"]) == (
        "DRAFT", "2024-01-11T00:00:00.000Z", 21)


def test_an_archived_account_opens_no_ongoing_invoice(capi: Api) -> None:
    account = setup_account(capi, "USD", MONTHLY, "2024-01-11", "2099-01-01", 1, [{"rate": 31}])
    assert capi.delete(f"/accounts/{account}").status_code == 200
    r = capi.post("/__mock/clock", json={"to": "2024-01-12T00:00:00Z"})  # and no endless loop at its start
    assert r.status_code == 200, r.text
    assert capi.get("/invoices", params={"owner_id": account}).json()["data"] == []
