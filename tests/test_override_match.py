"""Overrides that match on the query, headers and body, and answers templated over the request."""
from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, group_body, new_customer

from mock_server.overrides import ANSWER_LIMIT, Rendering, compile_template

CONTROL = {"Content-Type": "application/json"}


def add(api: Api, **rule: Any) -> dict[str, Any]:
    r = api.post("/__mock/overrides", json=rule, headers=CONTROL)
    assert r.status_code == 201, r.text
    return r.json()


def refused(api: Api, **rule: Any) -> str:
    before = api.get("/__mock/overrides").json()
    r = api.post("/__mock/overrides", json=rule, headers=CONTROL)
    assert r.status_code == 400, r.text
    assert api.get("/__mock/overrides").json() == before  # a rejected call changes nothing
    message: str = r.json()["message"]
    return message


def remaining(api: Api) -> list[int | None]:
    return [o["remaining"] for o in api.get("/__mock/overrides").json()["overrides"]]


# -- matching ------------------------------------------------------------------------

def test_body_match_answers_only_matching_requests_and_keeps_its_uses(api: Api) -> None:
    rule = add(api, method="POST", path="/invoice_groups", match={"body": {"name": "Dup"}}, status=409, times=1)
    other = api.post("/invoice_groups", json=group_body("ACME-US", name="Fine"))
    assert other.status_code == 200  # not answered by the rule, and the operation ran
    assert remaining(api) == [1]  # ... without using it up
    assert api.post("/invoice_groups", json=group_body("GLOBEX-US", name="Dup")).status_code == 409
    assert remaining(api) == []
    journal = api.get("/__mock/requests").json()["requests"]
    assert [(e["status"], e["override"]) for e in journal] == [(200, None), (409, rule["id"])]
    assert journal[1]["requestBody"]["name"] == "Dup"  # read for the rule, and journaled


def test_body_match_is_a_subset_and_a_non_json_body_does_not_match(api: Api) -> None:
    add(api, path="/invoice_groups", match={"body": {"address": {"country": "FR"}}}, status=418)
    assert api.post("/invoice_groups", json=group_body("ACME-US", address={"country": "FR", "line1": "x"})).status_code == 418
    assert api.post("/invoice_groups", json=group_body("ACME-US", address={"country": "US"})).status_code == 200
    r = api.post("/invoice_groups", content=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["x-mock-rejected-by"] == "body"  # the usual stages answered


def test_query_match(api: Api) -> None:
    add(api, method="GET", path="/accounts", match={"query": {"pageSize": "1"}}, status=418, times=2)
    assert api.get("/accounts?pageSize=2").status_code == 200
    assert api.get("/accounts").status_code == 200
    assert remaining(api) == [2]
    assert api.get("/accounts?pageSize=1").status_code == 418
    assert remaining(api) == [1]


def test_header_match_in_any_case(api: Api) -> None:
    add(api, path="/accounts", match={"headers": {"X-Tenant-Region": "eu"}}, status=418, times=1)
    assert api.get("/accounts", headers={"x-tenant-region": "us"}).status_code == 200
    assert api.get("/accounts").status_code == 200
    assert remaining(api) == [1]
    assert api.get("/accounts", headers={"X-TENANT-REGION": "eu"}).status_code == 418


def test_credentials_are_matched_masked_never_in_clear(api: Api) -> None:
    add(api, path="/accounts", match={"headers": {"Authorization": "Bearer test-token"}}, status=418)
    assert api.get("/accounts").status_code == 200
    add(api, path="/accounts", match={"headers": {"Authorization": "Bearer ***"}}, status=419)
    assert api.get("/accounts").status_code == 419


def test_parts_combine_and_first_added_wins(api: Api) -> None:
    add(api, method="POST", path="/invoice_groups", match={"query": {"dry": "1"}, "body": {"name": "A"}}, status=418)
    add(api, method="POST", path="/invoice_groups", status=419)
    assert api.post("/invoice_groups?dry=1", json=group_body("ACME-US", name="B")).status_code == 419
    assert api.post("/invoice_groups", json=group_body("ACME-US", name="A")).status_code == 419
    assert api.post("/invoice_groups?dry=1", json=group_body("ACME-US", name="A")).status_code == 418


def test_a_body_rule_with_only_a_delay_lets_the_operation_read_the_body(api: Api) -> None:
    rule = add(api, method="POST", path="/invoice_groups", match={"body": {"name": "Slow"}}, delayMs=1)
    r = api.post("/invoice_groups", json=group_body("ACME-US", name="Slow"))
    assert r.status_code == 200 and r.json()["name"] == "Slow"  # the body, read early, reached the handler
    assert api.get("/__mock/requests").json()["requests"][-1]["override"] == rule["id"]


def test_a_too_large_body_read_for_a_rule_is_a_413(api: Api) -> None:
    add(api, method="POST", path="/invoice_groups", match={"body": {"name": "x"}}, status=418)
    big = b'{"name": "' + b"x" * (1024 * 1024 + 1) + b'"}'
    r = api.post("/invoice_groups", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["x-mock-rejected-by"] == "body"
    assert remaining(api) == [None]


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ({}, "match: "),
        ({"path": "/x"}, "match.path: is not a known property"),
        ({"query": {"a": 1}}, "match.query.a: "),
        ({"headers": {"X-A": "1", "x-a": "2"}}, "match.headers.x-a: is given twice"),
    ],
)
def test_a_bad_match_is_refused(api: Api, match: dict[str, Any], message: str) -> None:
    assert refused(api, path="/accounts", match=match, status=418).startswith(message)


# -- templates -----------------------------------------------------------------------

def test_templates_from_each_source(api: Api) -> None:
    add(
        api, method="POST", path="/invoice_groups", status=201,
        body={
            "name": "{{ request.body.name }}",
            "nested": [{"country": "{{ request.body.address.country | lower }}"}],
            "query": "{{ request.query.pageSize }}",
            "header": "{{ request.headers['x-request-id'] }}",
            "at": "{{ now }}",
            "missing": "<{{ request.body.nope.deeper }}>",
            "number": "{{ request.body.dailyInvoiceConsolidation }}",
            "plain": 5,
        },
        headers={"X-Echo": "{{ request.body.name }}-{{ request.query.pageSize }}"},
    )
    r = api.post("/invoice_groups?pageSize=7", json=group_body("ACME-US", name="Echo"), headers={"X-Request-Id": "rq-9"})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "Echo"
    assert body["nested"] == [{"country": "us"}]
    assert body["query"] == "7"
    assert body["header"] == "rq-9"
    assert body["at"].startswith("2024-01-01T") and body["at"].endswith("Z")  # the seeded clock
    assert body["missing"] == "<>"  # an undefined value renders empty
    assert body["number"] == "True"  # strings render to strings
    assert body["plain"] == 5
    assert r.headers["x-echo"] == "Echo-7"


def test_path_parameters_by_the_rules_names_and_the_operations(api: Api) -> None:
    add(api, method="GET", path="/accounts/ACME-{region}", status=200,
        body={"region": "{{ request.path.region }}", "account": "{{ request.path.account_id }}"})
    assert api.get("/accounts/ACME-US").json() == {"region": "US", "account": "ACME-US"}


def _created_at_after(api: Api, template: str) -> str:
    api.app.state.control.reset()
    add(api, method="GET", path="/accounts", status=200, body={"a": template}, times=1)
    assert api.get("/accounts?x=1").status_code == 200
    new_customer(api, "CLOCK")
    created: str = api.get("/customers/CLOCK").json()["createdAt"]
    return created


def test_the_clock_ticks_only_for_a_template_that_reads_now(api: Api) -> None:
    plain = _created_at_after(api, "{{ request.query.x }}")
    assert _created_at_after(api, "{{ request.query.x }}") == plain  # the seeded clock did not move
    assert _created_at_after(api, "{{ now }}") > plain  # {{ now }} took one tick


def test_header_values_render_without_control_characters(api: Api) -> None:
    add(api, method="POST", path="/invoice_groups", status=200, body={}, headers={"X-Echo": "{{ request.body.name }}"})
    r = api.post("/invoice_groups", json=group_body("ACME-US", name="a\r\nSet-Cookie: x=1"))
    assert r.headers["x-echo"] == "a??Set-Cookie: x=1"
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"body": {"message": "{{ request.body.name "}}, "body.message: is not a valid template"),
        ({"body": {"a": [{"b": "{% for x in request %}{% endfor %}"}]}}, "body.a[0].b: template: For is not allowed"),
        ({"body": "{{ request.body.name * 1000 }}"}, "body: template: Mul is not allowed"),
        ({"body": "{{ lipsum(100000) }}"}, "body: template: Call is not allowed"),
        ({"body": "{{ config }}"}, "body: template: unknown name 'config'"),
        ({"body": "{{ request.body.x|center(1000000000) }}"}, "body: template: filter 'center' is not allowed"),
        ({"body": "{{ request.body.items() }}"}, "body: template: Call is not allowed"),
        ({"headers": {"X-A": "{{ x }"}}, "headers.X-A: is not a valid template"),
    ],
)
def test_a_template_that_cannot_render_is_refused_when_added(api: Api, rule: dict[str, Any], message: str) -> None:
    assert refused(api, path="/accounts", status=200, **rule).startswith(message)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ request.__class__ }}",
        "{{ request['__class__'] }}",
        "{{ request.body.__init__.__globals__ }}",
    ],
)
def test_sandbox_escapes_are_refused_when_added(api: Api, template: str) -> None:
    assert "is private" in refused(api, path="/accounts", status=200, body={"x": template})


def test_a_private_name_reached_at_answer_time_renders_harmlessly(api: Api) -> None:
    # The key comes from the request, so it is not seen when the rule is added: the sandbox refuses it.
    add(api, method="GET", path="/accounts", status=200,
        body={"x": "<{{ request.query[request.query.k] }}>", "y": "<{{ request.body[request.query.k] }}>"})
    r = api.get("/accounts?k=__class__")
    assert r.status_code == 200
    assert r.json() == {"x": "<>", "y": "<>"}


def test_a_render_error_answers_empty_and_is_journaled(api: Api) -> None:
    add(api, method="GET", path="/accounts", status=200, body={"x": "{{ request.body.nope|tojson }}"})
    r = api.get("/accounts")
    assert r.status_code == 200 and r.json() == {"x": ""}
    assert "body.x: the template failed" in api.get("/__mock/requests").json()["requests"][-1]["violations"][0]


def test_output_is_capped_per_answer() -> None:
    template, _ = compile_template("{{ request.body.text }}", "body.a")
    rendering = Rendering({"request": {"body": {"text": "x" * 50_000}}, "now": None})
    rendered = rendering.value({"a": "{{ request.body.text }}", "b": "{{ request.body.text }}"},
                               {"{{ request.body.text }}": template})
    assert len(rendered["a"]) == 50_000 and len(rendered["b"]) == ANSWER_LIMIT - 50_000
    assert [str(p) for p in rendering.problems] == [f"body.b: the templated answer was cut at {ANSWER_LIMIT} characters"]


# -- the dashboard's form ---------------------------------------------------------------

def test_dashboard_form_adds_a_rule_with_match() -> None:
    import httpx
    from browser import chrome, wait_for
    from serverproc import running_server

    driver = chrome()  # skips without chromedriver
    try:
        with running_server() as (url, mock):
            driver.get(f"{url}/__mock/")
            wait_for(lambda: driver.find_element("css selector", "body[data-ready=true]"), what="the dashboard")
            form = driver.find_element("id", "override-form")
            form.find_element("name", "path").send_keys("/accounts/{account_id}")
            form.find_element("name", "status").send_keys("418")
            form.find_element("name", "match").send_keys('{"query": {"x": "1"}}')
            form.find_element("name", "body").send_keys('{"id": "{{ request.path.account_id }}"}')
            driver.find_element("id", "add-override").click()
            wait_for(lambda: driver.find_elements("css selector", "#overrides tbody tr"), what="the rule")
            [rule] = mock._call("GET", "/__mock/overrides")["overrides"]
            assert rule["match"] == {"query": {"x": "1"}}
            auth = {"Authorization": "Bearer dev"}
            assert httpx.get(f"{url}/accounts/ACME-US", headers=auth).status_code == 200
            forced = httpx.get(f"{url}/accounts/ACME-US?x=1", headers=auth)
            assert (forced.status_code, forced.json()) == (418, {"id": "ACME-US"})
    finally:
        driver.quit()
