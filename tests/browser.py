"""Headless Chromium for the browser tests, through Selenium and the system chromedriver.

Without a browser the tests skip, saying how to install one; with
``MOCK_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead, so CI can
never pass by skipping them.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

REQUIRED = os.environ.get("MOCK_REQUIRE_BROWSER") == "1"
INSTALL = (
    "install Chromium and its driver (Debian/Ubuntu: `apt-get install chromium chromium-driver`; "
    "macOS: `brew install --cask chromium chromedriver`) and `pip install selenium`"
)
# A name that is not a local origin for the mock, yet served from loopback:
# Chromium resolves it to 127.0.0.1 (see --host-resolver-rules below).
FOREIGN_HOST = "app.test"
T = TypeVar("T")


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"MOCK_REQUIRE_BROWSER=1 but {reason}; {INSTALL}")
    pytest.skip(f"{reason}; to run the browser tests, {INSTALL}")


def chrome() -> Any:
    """A headless Chromium WebDriver (1280x800), or skip/fail when there is none."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")
    binary = os.environ.get("CHROME_BIN") or _find("chromium", "chromium-browser", "google-chrome", "chrome")
    driver = os.environ.get("CHROMEDRIVER") or _find("chromedriver")
    if binary is None or driver is None:
        _unavailable(f"no {'Chromium' if binary is None else 'chromedriver'} found on PATH")
    options = webdriver.ChromeOptions()
    options.binary_location = binary  # type: ignore[assignment]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,800", f"--host-resolver-rules=MAP {FOREIGN_HOST} 127.0.0.1",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    try:
        return webdriver.Chrome(service=Service(executable_path=driver), options=options)
    except Exception as exc:  # a broken install must be visible, not a skip, under CI
        _unavailable(f"Chromium did not start: {str(exc).splitlines()[0]}")
        raise


def wait_for(check: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the element is not there yet, or went stale
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


@contextmanager
def static_site() -> Iterator[int]:
    """A blank page served on 127.0.0.1, for origins other than the mock's; yields its port."""

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = b"<!doctype html><title>frontend</title><p>a frontend on another origin"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    thread = threading.Thread(target=functools.partial(server.serve_forever, 0.1), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
