"""Regenerate docs/dashboard.png (the dashboard after a few requests) and docs/dashboard-account.png (an
account's view after a few weeks of rides and a clock move), in headless Chromium.

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
        # The accounts tab: each id links to the account's view (the second screenshot).
        wait_for(lambda: driver.find_elements("css selector", '#resources .tab[data-resource="accounts"]'),
                 what="the tabs")[0].click()
        wait_for(lambda: driver.find_elements("css selector", "#records a.account-link"), what="the accounts")
        time.sleep(1.5)
        rejected = driver.find_elements("css selector", "#journal li.rejected summary")
        if rejected:
            rejected[-1].click()
        out = ROOT / "docs" / "dashboard.png"
        out.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(out))
        print(out)
        account_view(driver, url)
    finally:
        driver.quit()
        mock.stop()


def account_view(driver: Any, url: str) -> None:
    """ACME-US after rides from mid-January to early February and a clock moved to February 10th: January
    billed (DUE, paid by its credits), February's ongoing invoice, the usage of the last 31 days charted."""
    rides = []
    for day in range(15, 40):  # January 15th to February 8th, a few rides a day
        stamp = f"2024-{1 + day // 32:02d}-{(day - 1) % 31 + 1:02d}T{8 + day % 9:02d}:00:00Z"
        for n in range(1 + (day * 7) % 5):
            rides.append({"id": f"shot-{day}-{n}", "schemaName": "rides", "accountId": "ACME-US", "timestamp": stamp,
                          "attributes": [{"name": "distance", "value": str(3 + (day * n) % 11)}],
                          "dimensions": {"city": "x"}})
    call(url, "POST", "/ingestBatch", {"events": rides})
    call(url, "POST", "/__mock/clock", {"to": "2024-02-10T09:00:00Z"})
    driver.get(f"{url}/__mock/accounts/ACME-US")
    wait_for(lambda: driver.find_elements("css selector", "body[data-ready=true] #charts canvas"), what="the charts")
    time.sleep(0.5)
    out = ROOT / "docs" / "dashboard-account.png"
    driver.save_screenshot(str(out))
    print(out)


if __name__ == "__main__":
    main()
