"""Overrides: matched segment by segment on the decoded path, and unable to break HTTP."""
from __future__ import annotations

import time

import pytest
from conftest import Api

CONTROL = {"Content-Type": "application/json"}


def add(api: Api, **rule: object):
    return api.post("/__mock/overrides", json=rule, headers=CONTROL)


def test_many_variables_in_one_segment_are_refused_not_backtracked(api: Api) -> None:
    started = time.perf_counter()
    # The old regex matcher accepted this, then spent minutes on a 60-character id.
    r = add(api, path="/accounts/" + "".join(f"{{{c}}}" for c in "abcdefghij") + "x", status=418)
    assert r.status_code == 400
    assert r.json()["message"].startswith("path: at most one {name} per segment")
    assert time.perf_counter() - started < 2


def test_segments_match_like_the_router(api: Api) -> None:
    assert add(api, path="/accounts/ACME-{region}", status=418).status_code == 201
    assert add(api, path="/invoice_groups/{id}/*", status=419).status_code == 201
    assert api.get("/accounts/ACME-US").status_code == 418
    assert api.get("/accounts/ACME-").status_code == 404  # a variable matches at least one character
    assert api.get("/accounts/GLOBEX-US").status_code == 200
    assert api.post("/invoice_groups/g1/add_accounts", json={"accountIds": ["x"]}).status_code == 419
    assert api.get("/invoice_groups/g1").status_code == 404


def test_overrides_match_the_decoded_path(api: Api) -> None:
    assert add(api, path="/accounts/ACME-US", status=418).status_code == 201
    assert api.get("/accounts/ACME%2DUS").status_code == 418
    assert api.get("/accounts/%41CME-US").status_code == 418


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"status": 100}, "status: must be >= 200"),
        ({"status": 204, "body": {"a": 1}}, "body: a 204 answer has no body"),
        ({"status": 304, "body": "x"}, "body: a 304 answer has no body"),
        ({"status": 200, "headers": {"Content-Length": "5"}}, "headers.Content-Length: is set by the mock"),
        ({"status": 200, "headers": {"Transfer-Encoding": "chunked"}}, "headers.Transfer-Encoding: is set by the mock"),
        ({"status": 200, "headers": {"X-A": "1", "x-a": "2"}}, "headers.x-a: is given twice"),
        ({"path": "/accounts"}, "the override does nothing: give status, delayMs or fault"),
        ({"path": "/accounts", "delayMs": 0}, "the override does nothing: give status, delayMs or fault"),
        ({"path": "/accounts", "body": {"a": 1}}, "body: needs status (without it the operation answers as usual)"),
        ({"path": "/accounts", "headers": {"X-A": "1"}, "delayMs": 5}, "headers: needs status (without it the operation answers as usual)"),
        ({"fault": "connection_reset", "status": 500}, "fault: drops the connection, so status, body and headers would never be sent"),
        ({"path": "/__mock/health", "status": 500}, "path: control calls (/__mock/) are never overridden"),
        ({"path": "/nowhere/{id}", "status": 500}, "path: no operation of the spec matches /nowhere/{id}"),
        ({"path": "/accounts/{id}/nothing", "status": 500}, "path: no operation of the spec matches /accounts/{id}/nothing"),
        ({"path": "/accounts/{a}*", "status": 500}, "path: a trailing * needs a segment of its own text, not a {name}"),
    ],
)
def test_overrides_that_break_http_or_do_nothing_are_refused(api: Api, rule: dict, message: str) -> None:
    r = add(api, **rule)
    assert r.status_code == 400, r.text
    assert r.json() == {"message": message}
    assert api.get("/__mock/overrides").json() == {"overrides": []}


def test_204_and_304_are_sent_without_a_body(api: Api) -> None:
    assert add(api, path="/accounts/{id}", status=204, headers={"X-Forced": "yes"}).status_code == 201
    r = api.get("/accounts/ACME-US")
    assert r.status_code == 204 and r.content == b""
    assert "content-length" not in r.headers and "content-type" not in r.headers
    assert r.headers["x-forced"] == "yes"


def test_override_headers_replace_the_mocks_own(api: Api) -> None:
    add(api, path="/accounts", status=200, body={"a": 1}, headers={"Content-Type": "application/problem+json"})
    r = api.get("/accounts")
    assert r.headers.get_list("content-type") == ["application/problem+json"]


def test_paths_that_routes_can_match_are_accepted(api: Api) -> None:
    for path in ("/acc*", "/*", "/accounts/{id}/add_aliases", "/customers/{id}", "/invoice_groups"):
        assert add(api, path=path, status=500).status_code == 201, path


def test_at_most_1000_overrides(api: Api) -> None:
    for i in range(1000):
        assert add(api, path="/accounts", status=500, times=1 + i).status_code == 201
    r = add(api, path="/accounts", status=500)
    assert r.status_code == 400
    assert r.json() == {"message": "overrides: at most 1000 can be in force; remove some first"}
