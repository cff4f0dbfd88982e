"""CORS in a real browser: a page on another origin calls the API with a bearer token and
credentials, and reads the X-Mock-* headers (issue 13).

The page is served from 127.0.0.1 on a second port and opened as
``http://app.test:<port>`` (Chromium maps that name to 127.0.0.1), an origin
the mock does not admit by default, and as ``http://localhost:<port>``, one it does.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser import FOREIGN_HOST, chrome, static_site
from serverproc import running_server

# Runs in the page: a credentialed, authorized call whose answer the script reads.
FETCH = """
const [url, done] = arguments;
fetch(url, {headers: {Authorization: "Bearer frontend"}, credentials: "include"})
  .then(async (r) => done({status: r.status, rejectedBy: r.headers.get("x-mock-rejected-by"),
                           violations: r.headers.get("x-mock-violations"), body: await r.json()}))
  .catch((e) => done({error: String(e)}));
"""


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    browser = chrome()
    browser.set_script_timeout(15)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def site() -> Iterator[int]:
    with static_site() as port:
        yield port


def _call_from(driver: Any, page: str, url: str) -> dict[str, Any]:
    driver.get(page)
    return driver.execute_async_script(FETCH, url)


def _rejected(result: dict[str, Any]) -> None:
    assert result.get("status") == 400, result
    assert result["rejectedBy"] == "parameters"
    assert "pageSize: must be <= 100" in result["violations"]
    assert result["body"] == {"message": "pageSize: must be <= 100"}


def test_foreign_origin_is_refused_by_default_and_the_log_says_why(driver: Any, site: int) -> None:
    foreign = f"http://{FOREIGN_HOST}:{site}"
    with running_server() as (url, mock):
        result = _call_from(driver, foreign + "/", f"{url}/accounts?pageSize=1000")
        assert "error" in result, result  # the browser's CORS error
        assert f"CORS preflight GET /accounts refused: origin {foreign} is not allowed; " \
               f"start the mock with --cors-origin {foreign}" in mock.output()
        # A local origin is admitted, with credentials, and reads the X-Mock-* headers.
        _rejected(_call_from(driver, f"http://localhost:{site}/", f"{url}/accounts?pageSize=1000"))


def test_cors_origin_adds_to_the_local_default(driver: Any, site: int) -> None:
    foreign = f"http://{FOREIGN_HOST}:{site}"
    with running_server("--cors-origin", foreign) as (url, mock):
        _rejected(_call_from(driver, foreign + "/", f"{url}/accounts?pageSize=1000"))
        ok = _call_from(driver, foreign + "/", f"{url}/accounts/ACME-US")
        assert (ok["status"], ok["body"]["id"]) == (200, "ACME-US")
        _rejected(_call_from(driver, f"http://localhost:{site}/", f"{url}/accounts?pageSize=1000"))
        assert f"CORS preflight GET /accounts from {foreign}: allowed" in mock.output()


def test_star_admits_any_origin_with_credentials(driver: Any, site: int) -> None:
    with running_server("--cors-origin", "*") as (url, _):
        _rejected(_call_from(driver, f"http://{FOREIGN_HOST}:{site}/", f"{url}/accounts?pageSize=1000"))
