"""The text request log: one line per request, whatever the path holds."""
from __future__ import annotations

import io

import httpx
from serverproc import running_server

from mock_server.errors import Violation
from mock_server.requestlog import request_logger


def test_control_characters_cannot_forge_log_lines() -> None:
    out = io.StringIO()
    request_logger("text", out)("GET", "/accounts/x\nPOST /admin 200 0.1ms\x1b[2J\u2028", 404, 1.0,
                                [Violation("path", "no operation at /x\r\nfake")])
    assert out.getvalue() == (
        "GET /accounts/x%0APOST /admin 200 0.1ms%1B[2J%E2%80%A8 404 1.0ms  path: no operation at /x%0D%0Afake\n"
    )


def test_encoded_newlines_in_a_path_stay_on_one_line() -> None:
    with running_server() as (url, mock):
        httpx.get(f"{url}/accounts/a%0AGET%20%2Fforged%20200%200.1ms%1B", headers={"Authorization": "Bearer t"})
        httpx.get(f"{url}/__mock/health")
        lines = [line for line in mock.output().splitlines() if line.startswith("GET ")]
        assert lines == ["GET /accounts/a%0AGET /forged 200 0.1ms%1B 404 " + lines[0].split(" 404 ", 1)[1]]


def test_the_plugin_deletes_its_log_files() -> None:
    with running_server() as (url, mock):
        log = mock.log_path
        assert log.exists()
    assert not log.exists()
    assert mock.output().startswith("http://")  # still readable after the stop
