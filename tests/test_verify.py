"""Finding requests in the journal (find, count, near misses) and the plugin's verify()."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, group_body

CONTROL = {"Content-Type": "application/json"}


def find(api: Api, matcher: dict[str, Any], query: str = "") -> list[dict[str, Any]]:
    r = api.post("/__mock/requests/find" + query, json=matcher, headers=CONTROL)
    assert r.status_code == 200, r.text
    return r.json()["requests"]


def count(api: Api, matcher: dict[str, Any]) -> int:
    r = api.post("/__mock/requests/count", json=matcher, headers=CONTROL)
    assert r.status_code == 200, r.text
    return r.json()["count"]


def near(api: Api, matcher: dict[str, Any]) -> list[dict[str, Any]]:
    r = api.post("/__mock/requests/near-misses", json=matcher, headers=CONTROL)
    assert r.status_code == 200, r.text
    return r.json()["nearMisses"]


def numbered(api: Api, entries: list[dict[str, Any]]) -> list[int]:
    """Entries as their place in the journal (1 for the oldest): ids go on across resets."""
    place = {e["id"]: i + 1 for i, e in enumerate(api.get("/__mock/requests").json()["requests"])}
    return [place[e["id"]] for e in entries]


@pytest.fixture
def traffic(api: Api) -> Api:
    """Four requests: ids 1 to 4."""
    api.get("/accounts?pageSize=2&status=ACTIVE", headers={"X-Request-Id": "r-1"})  # 1
    api.get("/accounts/ACME-US")  # 2
    api.post("/invoice_groups", json=group_body("ACME-US", name="North America"))  # 3, 200
    api.post("/invoice_groups", json={"name": "Broken"})  # 4, 400
    return api


@pytest.mark.parametrize(
    ("matcher", "ids"),
    [
        ({"method": "GET"}, [2, 1]),
        ({"method": "get"}, [2, 1]),
        ({"path": "/accounts"}, [1]),
        ({"path": "/accounts/{account_id}"}, [2]),
        ({"path": "/accounts/ACME-{region}"}, [2]),
        ({"path": "/invoice_groups*"}, [4, 3]),
        ({"operationId": "createInvoiceGroup"}, [4, 3]),
        ({"status": 400}, [4]),
        ({"query": {"pageSize": "2"}}, [1]),
        ({"query": {"pageSize": "2", "status": "ACTIVE"}}, [1]),
        ({"headers": {"x-request-id": "r-1"}}, [1]),
        ({"headers": {"X-REQUEST-ID": "r-1"}}, [1]),  # names in any case
        ({"headers": {"Authorization": "Bearer ***"}}, [4, 3, 2, 1]),  # credentials as the journal shows them
        ({"body": {"name": "North America"}}, [3]),
        ({"body": {"name": "North America", "address": {"country": "US"}}}, [3]),  # recursively a subset
        ({"body": {"accountIds": ["ACME-US"]}}, [3]),  # arrays equal
        ({"body": {"dailyInvoiceConsolidation": True}}, [3]),
        ({"method": "POST", "path": "/invoice_groups", "status": 200, "body": {"name": "North America"}}, [3]),
        ({}, [4, 3, 2, 1]),
    ],
)
def test_each_part_alone_and_combined(traffic: Api, matcher: dict[str, Any], ids: list[int]) -> None:
    assert numbered(traffic, find(traffic, matcher)) == ids
    assert count(traffic, matcher) == len(ids)


@pytest.mark.parametrize(
    "matcher",
    [
        {"method": "DELETE"},
        {"path": "/accounts/{a}/x"},
        {"query": {"pageSize": "3"}},
        {"query": {"missing": ""}},
        {"headers": {"x-request-id": "r-2"}},
        {"headers": {"Authorization": "Bearer test-token"}},  # never compared in clear
        {"body": {"name": "north america"}},
        {"body": {"accountIds": ["ACME-US", "x"]}},  # arrays are not subsets
        {"body": {"accountIds": []}},
        {"body": {"dailyInvoiceConsolidation": 1}},  # true is not 1
        {"body": {"address": {"country": "FR"}}},
        {"method": "GET", "body": {"name": "North America"}},  # each alone matches, not together
    ],
)
def test_no_match(traffic: Api, matcher: dict[str, Any]) -> None:
    assert find(traffic, matcher) == []
    assert count(traffic, matcher) == 0


def test_a_body_of_null_matches_requests_without_one(traffic: Api) -> None:
    assert numbered(traffic, find(traffic, {"body": None})) == [2, 1]


def test_find_pages_newest_first(api: Api) -> None:
    for i in range(7):
        api.get(f"/accounts?pageSize={i + 1}")
    api.get("/customers")
    first = find(api, {"path": "/accounts"}, "?limit=3")
    assert numbered(api, first) == [7, 6, 5]
    second = find(api, {"path": "/accounts"}, f"?limit=3&before={first[-1]['id']}")
    assert numbered(api, second) == [4, 3, 2]
    third = find(api, {"path": "/accounts"}, f"?limit=3&before={second[-1]['id']}")
    assert numbered(api, third) == [1]
    assert numbered(api, find(api, {"path": "/accounts"}, f"?after={second[0]['id']}")) == [7, 6, 5]
    assert find(api, {"path": "/accounts"}, "?limit=1")[0]["query"] == "pageSize=7"


def test_near_misses_name_the_parts_each_failed(traffic: Api) -> None:
    misses = near(traffic, {"method": "POST", "path": "/invoice_groups", "body": {"name": "North Amerika"}})
    assert list(zip(numbered(traffic, [m["request"] for m in misses]), [m["failed"] for m in misses], strict=True)) == [
        (4, ["body.name"]),
        (3, ["body.name"]),
        (2, ["method", "path", "body"]),  # newest first among equals
        (1, ["method", "path", "body"]),
    ]
    nested = near(traffic, {"body": {"address": {"country": "FR"}, "name": "North America"}})
    assert numbered(traffic, [nested[0]["request"]]) == [3] and nested[0]["failed"] == ["body.address.country"]
    assert near(traffic, {"query": {"pageSize": "9"}, "headers": {"x-request-id": "r-1"}})[0]["failed"] == ["query.pageSize"]


def test_near_misses_are_bounded_and_leave_out_matches(api: Api) -> None:
    for _ in range(8):
        api.get("/customers")
    api.get("/accounts")
    misses = near(api, {"path": "/accounts"})
    assert len(misses) == 5
    assert all(m["request"]["path"] == "/customers" and m["failed"] == ["path"] for m in misses)
    assert near(api, {}) == []


@pytest.mark.parametrize(
    ("matcher", "message"),
    [
        ({"metod": "GET"}, "metod: is not a known property"),
        ({"status": "200"}, "status: "),
        ({"query": {"pageSize": 2}}, "query.pageSize: "),
        ({"headers": {"bad name": "x"}}, "headers"),
        ({"path": "accounts"}, "path: "),
        ({"path": "/accounts/{a}{b}"}, "path: at most one {name} per segment"),
    ],
)
def test_a_bad_matcher_is_a_400_naming_the_field(api: Api, matcher: dict[str, Any], message: str) -> None:
    for route in ("find", "count", "near-misses"):
        r = api.post(f"/__mock/requests/{route}", json=matcher, headers=CONTROL)
        assert r.status_code == 400, r.text
        assert r.json()["message"].startswith(message), r.json()


def test_bodies_are_matched_as_the_journal_keeps_them(api: Api) -> None:
    # Over 64 KiB the journal keeps text, cut: a JSON subset can no longer match.
    api.post("/invoice_groups", json=group_body("ACME-US", name="N" * 70_000))
    assert count(api, {"body": {"email": "billing@example.com"}}) == 0
    assert near(api, {"body": {"email": "billing@example.com"}})[0]["failed"] == ["body"]


# -- the plugin ----------------------------------------------------------------------

def test_plugin_helpers_against_a_server() -> None:
    from serverproc import running_server

    with running_server("--journal-size", "4611") as (url, mock):
        import httpx

        with httpx.Client(base_url=url, headers={"Authorization": "Bearer t"}) as client:
            client.get("/accounts", params={"pageSize": 2})
            client.post("/invoice_groups", json=group_body("ACME-US", name="One"))
            client.post("/invoice_groups", json=group_body("ACME-US", name="Two"))
        assert mock.verify("POST", "/invoice_groups", times=2) == 2
        assert mock.verify(path="/accounts", query={"pageSize": 2}) == 1
        assert mock.verify(operation_id="createInvoiceGroup", body={"name": "One"}, status=200, at_most=1) == 1
        assert mock.verify(method="DELETE", at_most=0) == 0
        assert [e["requestBody"]["name"] for e in mock.requests("POST", "/invoice_groups")] == ["One", "Two"]
        assert [e["path"] for e in mock.requests()] == ["/accounts", "/invoice_groups", "/invoice_groups"]

        with pytest.raises(AssertionError) as too_few:
            mock.verify("POST", "/invoice_groups", body={"name": "Three"})
        text = str(too_few.value)
        assert text.startswith('expected at least 1 request(s) matching {"method": "POST", "path": "/invoice_groups", '
                               '"body": {"name": "Three"}}, found 0')
        assert "near misses (closest first):" in text
        assert "#3 POST /invoice_groups -> 400" in text and "#2 POST /invoice_groups -> 200" in text  # an account joins one group
        assert text.count("failed body.name") == 2
        assert "#1 GET /accounts?pageSize=2 -> 200 body=null: failed method, path, body" in text

        with pytest.raises(AssertionError, match=r"expected exactly 1 request\(s\) .* found 2\nmatched \(newest first\):\n  #3 "):
            mock.verify("POST", "/invoice_groups", times=1)
        with pytest.raises(TypeError):
            mock.verify("GET", times=1, at_least=1)


CONSUMER = '''
import json, urllib.request

def test_verify_in_a_consumer_suite(togai_mock):
    body = json.dumps({"name": "G", "email": "g@x.io", "dailyInvoiceConsolidation": True,
                       "accountIds": ["ACME-US"], "address": {}}).encode()
    req = urllib.request.Request(togai_mock.url + "/invoice_groups", data=body, method="POST",
                                 headers={"Authorization": "Bearer c", "Content-Type": "application/json"})
    urllib.request.urlopen(req).close()
    togai_mock.verify("POST", "/invoice_groups", body={"name": "G"}, times=1)
    togai_mock.verify("POST", "/invoice_groups", body={"name": "H"})
'''


def test_a_failed_verify_tells_the_consumer_what_was_close(tmp_path: Path) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--togai-mock-args", "--journal-size 4612"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "AssertionError: expected at least 1 request(s) matching" in proc.stdout
    assert '"body": {"name": "H"}}, found 0' in proc.stdout
    assert "failed body.name" in proc.stdout


# -- the control spec ------------------------------------------------------------------

def test_control_examples_match_their_schemas_and_the_answers_theirs(api: Api) -> None:
    from mock_server.config import CONTROL_SPEC
    from mock_server.openapi.spec import load_spec

    spec = load_spec(CONTROL_SPEC)
    checked = 0
    for op_id in ("findRequests", "countRequests", "nearMisses", "addOverride"):
        op = spec.operation(op_id)
        for status, response in op.responses.items():
            for name, example in response.examples.items():
                assert not response.validator.violations(example, "body"), f"{op_id} {status} {name}"
                checked += 1
        body = spec.document["paths"][op.path][op.method.lower()]["requestBody"]
        for name, example in body["content"]["application/json"]["examples"].items():
            assert op.body is not None and not op.body.validator.violations(example["value"]), f"{op_id} {name}"
            answer = api.post(op.path, json=example["value"], headers=CONTROL)
            assert answer.status_code in (200, 201), f"{op_id} {name}: {answer.text}"
            declared = op.response_for(answer.status_code)
            assert declared is not None and declared.validator is not None
            assert not declared.validator.violations(answer.json(), "body"), f"{op_id} {name}: {answer.text}"
            checked += 1
    assert checked >= 11
