"""Regenerate docs/dashboard.png: the dashboard after a few requests, in headless Chromium.

    .venv/bin/python tools/dashboard_screenshot.py   (needs chromium, chromedriver and selenium)
"""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import chrome, wait_for  # type: ignore[import-not-found]  # noqa: E402 - the tests' Chromium

from mock_server.pytest_plugin import start_server  # noqa: E402


def call(url: str, method: str, path: str, body: Any = None) -> None:
    """One API call with a bearer token; errors are part of the picture."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": "Bearer dev", "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request).read()
    except urllib.error.HTTPError:
        pass


def main() -> None:
    """Start a seeded mock, make some traffic, and save the screenshot."""
    mock = start_server(["--seed", "1", "--log", "quiet"])
    driver = chrome()
    # Exactly 1280x800 CSS pixels, whatever the window decorations take.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    try:
        url = mock.url
        call(url, "POST", "/customers", {"id": "INITECH", "name": "Initech", "primaryEmail": "ap@initech.example",
                                         "address": {"country": "US"}})
        call(url, "GET", "/accounts?pageSize=3")
        call(url, "POST", "/invoice_groups", {"name": "x", "email": "a@b.c", "dailyInvoiceConsolidation": True,
                                              "accountIds": []})
        mock.override(method="GET", path="/invoice_groups", status=429, times=3)
        call(url, "GET", "/invoice_groups")
        call(url, "PATCH", "/accounts/ACME-US", {"name": "ACME US (renamed)"})
        driver.get(f"{url}/__mock/")
        wait_for(lambda: driver.find_elements("css selector", "#journal li"), what="the journal")
        time.sleep(1.5)
        rejected = driver.find_elements("css selector", "#journal li.rejected summary")
        if rejected:
            rejected[-1].click()
        out = ROOT / "docs" / "dashboard.png"
        out.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(out))
        print(out)
    finally:
        driver.quit()
        mock.stop()


if __name__ == "__main__":
    main()
