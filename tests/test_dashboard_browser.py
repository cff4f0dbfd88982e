"""The dashboard in a real (headless) browser: records, live journal, overrides through the form."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser import chrome, wait_for
from serverproc import running_server

AUTH = {"Authorization": "Bearer dev"}


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    browser = chrome()
    try:
        yield browser
    finally:
        browser.quit()


def _by_css(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def test_dashboard_shows_records_journal_and_applies_an_override(driver: Any) -> None:
    with running_server("--seed", "3") as (url, _):
        driver.get(f"{url}/__mock/")
        wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the dashboard to load")
        # One tab per resource of the registry, with its count; customers first.
        tabs = {t.get_attribute("data-resource"): t.text for t in _by_css(driver, "#resources .tab")}
        assert {"customers", "accounts", "invoiceGroups", "addOns"} <= set(tabs)
        assert tabs["customers"].endswith(" 3")

        created = httpx.post(f"{url}/customers", headers=AUTH, json={
            "id": "DASH-1", "name": "Dashboard Customer", "primaryEmail": "d@example.com", "address": {}})
        assert created.status_code == 201, created.text

        # The record shows up in the (paged) table, the count moves, the request is in the journal.
        wait_for(lambda: _by_css(driver, '#records tr[data-id="DASH-1"]'), what="the new customer's row")
        wait_for(lambda: _by_css(driver, '[data-count="customers"]')[0].text == "4", what="the count")
        entry = wait_for(lambda: _by_css(driver, '#journal li[data-method="POST"][data-path="/customers"]'),
                         what="the POST in the journal")[0]
        entry.find_element("css selector", "summary").click()
        assert "Dashboard Customer" in entry.find_element("css selector", ".request-body").text
        assert '"DASH-1"' in entry.find_element("css selector", ".response-body").text

        # A rejected request is highlighted with the stage that refused it.
        assert httpx.post(f"{url}/customers", headers=AUTH, json={"id": "X"}).status_code == 400
        rejected = wait_for(lambda: _by_css(driver, '#journal li.rejected[data-status="400"]'), what="the 400")[0]
        assert rejected.find_element("css selector", ".stage").text == "body"
        # Newest first.
        assert _by_css(driver, "#journal li")[0] == rejected

        # An override added through the form takes effect.
        form = driver.find_element("id", "override-form")
        form.find_element("name", "method").send_keys("GET")
        form.find_element("name", "path").send_keys("/accounts/{account_id}")
        form.find_element("name", "status").send_keys("429")
        form.find_element("name", "body").send_keys('{"message": "slow down"}')
        driver.find_element("id", "add-override").click()
        wait_for(lambda: _by_css(driver, "#overrides tbody tr"), what="the override in the table")
        forced = httpx.get(f"{url}/accounts/ACME-US", headers=AUTH)
        assert (forced.status_code, forced.json()) == (429, {"message": "slow down"})
        wait_for(lambda: _by_css(driver, '#journal li[data-status="429"] .badge'), what="the forced answer")

        # ... and its Remove button takes it away.
        _by_css(driver, "#overrides tbody tr button.remove")[0].click()
        wait_for(lambda: not _by_css(driver, "#overrides tbody tr"), what="the override to go")
        assert httpx.get(f"{url}/accounts/ACME-US", headers=AUTH).status_code == 200


def test_dashboard_form_shows_why_an_override_is_refused(driver: Any) -> None:
    with running_server() as (url, mock):
        driver.get(f"{url}/__mock/")
        wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the dashboard to load")
        form = driver.find_element("id", "override-form")
        form.find_element("name", "path").send_keys("/nowhere")
        form.find_element("name", "status").send_keys("500")
        driver.find_element("id", "add-override").click()
        message = wait_for(lambda: driver.find_element("id", "override-error").text, what="the refusal")
        assert "no operation of the spec matches /nowhere" in message
        assert mock._call("GET", "/__mock/overrides") == {"overrides": []}


def test_dashboard_pages_a_large_resource(driver: Any) -> None:
    """The table pages through 1 200 accounts 50 at a time; the page never loads them all."""
    with running_server() as (url, mock):
        state = mock.state()
        template = next(a for a in state["accounts"] if a["id"] == "GLOBEX-US")
        # The fixtures' accounts stay (other resources refer to them); more make 1 200.
        kept = len(state["accounts"])
        state["accounts"] += [{**template, "id": f"A{i}", "aliases": [], "togaiAccountId": f"account.x.{i}"}
                              for i in range(1200 - kept)]
        mock.set_state(state)
        driver.get(f"{url}/__mock/")
        wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the dashboard to load")
        _by_css(driver, '#resources .tab[data-resource="accounts"]')[0].click()
        wait_for(lambda: "1–50 of 1200" in driver.find_element("id", "records-title").text, what="the first page")
        assert len(_by_css(driver, "#records tbody tr")) == 50
        driver.find_element("id", "next-page").click()
        wait_for(lambda: "51–100 of 1200" in driver.find_element("id", "records-title").text, what="page two")
        assert _by_css(driver, "#records tbody tr")[0].get_attribute("data-id") == f"A{50 - kept}"


def test_dashboard_shows_the_drift_of_a_proxied_upstream(driver: Any) -> None:
    # Issue 14: the drift report has a panel. The upstream is a mock forced to break the contract.
    with running_server("--seed", "1") as (upstream, _):
        httpx.post(f"{upstream}/__mock/overrides", json={"method": "GET", "path": "/accounts/{account_id}",
                                                          "status": 200, "body": {"id": 5}})
        with running_server("--proxy", upstream) as (url, _):
            assert httpx.get(f"{url}/accounts/ACME-US", headers=AUTH).status_code == 200
            driver.get(f"{url}/__mock/")
            wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the dashboard to load")
            rows = wait_for(lambda: _by_css(driver, "#drift tbody tr"), what="the drift rows")
            assert driver.find_element("id", "drift-section").is_displayed()
            assert any("GET /accounts/{account_id}" in r.text and "getAccount" in r.text for r in rows)
            assert "1 of 1 answers" in driver.find_element("id", "drift-summary").text


def test_dashboard_hides_the_drift_panel_without_a_proxy(driver: Any) -> None:
    with running_server() as (url, _):
        driver.get(f"{url}/__mock/")
        wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the dashboard to load")
        assert not driver.find_element("id", "drift-section").is_displayed()


def _painted(driver: Any, canvas: Any, color: str) -> int:
    """How many pixels of a canvas are painted in ``color`` (#rrggbb; axes and grid are grey): the data drawn."""
    count: int = driver.execute_script(
        "const [c, hex] = arguments, d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));"
        "let n = 0; for (let i = 0; i < d.length; i += 4) {"
        "  if (d[i + 3] && Math.abs(d[i] - want[0]) + Math.abs(d[i + 1] - want[1]) + Math.abs(d[i + 2] - want[2]) < 24) n++;"
        "} return n;", canvas, color)
    return count


def test_account_view_charts_usage_shows_invoices_and_balances_and_moves_the_clock(driver: Any) -> None:
    # A test clock after the demo's January rides (ACME-US: 2 rides, 22.5 km, on Rides Pro, monthly, grace 3 days).
    with running_server("--clock", "2024-01-20T00:00:00Z") as (url, _):
        # Reached from the accounts table of the dashboard.
        driver.get(f"{url}/__mock/")
        wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the dashboard to load")
        _by_css(driver, '#resources .tab[data-resource="accounts"]')[0].click()
        link = wait_for(lambda: _by_css(driver, '#records tr[data-id="ACME-US"] a.account-link'), what="the link")[0]
        link.click()
        wait_for(lambda: driver.current_url == f"{url}/__mock/accounts/ACME-US", what="the account's deep link")
        wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the account view")

        # One uPlot chart per meter with usage, drawn on its canvas.
        charts = _by_css(driver, "#charts figure.chart")
        assert [c.find_element("css selector", "figcaption").text.split(" ")[:2] for c in charts] == [
            ["Ride", "count"], ["Ride", "distance"]]
        for chart in charts:
            # The day's bar, in the meter's colour (a chart without data draws only grey axes and grid).
            assert _painted(driver, chart.find_element("css selector", ".uplot canvas"), chart.get_attribute("data-color")) > 100
        assert "2 units · 49 USD" in charts[0].text and "22.5 units · 4.5 USD" in charts[1].text
        assert driver.find_element("id", "plan-name").text == "Rides Pro"
        assert "2024-01-01 → 2024-02-01" in driver.find_element("id", "plan-cycle").text
        # The demo's balances: credits of 500 available (750 with one not in effect yet), a wallet of 1 250.
        assert driver.find_element("id", "credit-available").text == "500 USD"
        assert driver.find_element("id", "wallet-balance").text == "1,250 USD"
        rows = _by_css(driver, "#invoices tbody tr")
        # The ongoing invoice of the open January cycle (issue 19, item 4), then the demo's custom invoice.
        assert sorted(r.get_attribute("data-status") for r in rows) == ["DRAFT", "PAID"]

        # +1 month: January closes (DRAFT for the grace period, then DUE): the page shows the new invoices.
        driver.find_element("css selector", '#clock-controls button[data-by="P1M"]').click()
        wait_for(lambda: driver.find_element("id", "clock-now").text == "2024-02-20 00:00:00 UTC", what="the clock")
        january = wait_for(lambda: [r for r in _by_css(driver, "#invoices tbody tr")
                                    if "2024-01-01 → 2024-02-01" in r.text], what="January's invoice")[0]
        assert january.get_attribute("data-status") == "DUE"
        # The move is the tenant's: the demo's two accounts on Rides Pro (ACME-US, UMBRELLA-EU) closed January.
        assert "2 cycle(s) closed" in driver.find_element("id", "clock-result").text
        # Credits paid it (49 + 4.50): 500 - 53.50 left.
        assert driver.find_element("id", "credit-available").text == "446.5 USD"

        # A refusal is shown, and nothing moves.
        driver.find_element("id", "clock-target").send_keys("2024-01-01T00:00:00Z")
        driver.find_element("id", "clock-move").click()
        message = wait_for(lambda: driver.find_element("css selector", "#clock-result.error").text, what="the refusal")
        assert message.startswith("to: is before the clock's now")
        assert driver.find_element("id", "clock-now").text == "2024-02-20 00:00:00 UTC"
