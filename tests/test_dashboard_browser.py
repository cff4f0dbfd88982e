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
