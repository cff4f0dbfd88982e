"""Each class of rejection: route, auth, parameters, Content-Type, JSON, schema, size."""
from __future__ import annotations

import json

import pytest
from conftest import Api, group_body, make_api


def violations(response) -> list[str]:
    return json.loads(response.headers["x-mock-violations"])


def test_unknown_path_is_404(api: Api) -> None:
    r = api.get("/nothing/here")
    assert r.status_code == 404
    assert r.json() == {"message": "path: no operation at /nothing/here"}


def test_known_path_with_other_method_is_405_with_allow(api: Api) -> None:
    r = api.request("PUT", "/accounts/ACME-US")
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET, PATCH"
    assert "PUT is not allowed" in r.json()["message"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Authorization: a bearer token is required"),
        ({"Authorization": "Basic abc"}, "Authorization: must be 'Bearer <token>'"),
        ({"Authorization": "Bearer "}, "Authorization: must be 'Bearer <token>'"),
        ({"Authorization": "Bearer"}, "Authorization: must be 'Bearer <token>'"),
    ],
)
def test_missing_or_malformed_token_is_401(api: Api, headers: dict, message: str) -> None:
    r = api.get("/accounts", auth=False, headers=headers)
    assert r.status_code == 401
    assert r.json() == {"message": message}


def test_scheme_name_is_case_insensitive(api: Api) -> None:
    assert api.get("/accounts", auth=False, headers={"Authorization": "bearer abc"}).status_code == 200


def test_configured_tokens_are_the_only_ones_accepted() -> None:
    for api in make_api(tokens=("good",)):
        assert api.get("/accounts", auth=False, headers={"Authorization": "Bearer good"}).status_code == 200
        r = api.get("/accounts", auth=False, headers={"Authorization": "Bearer bad"})
        assert r.status_code == 401
        assert r.json()["message"] == "Authorization: the token is not accepted"


def test_auth_is_checked_before_parameters(api: Api) -> None:
    assert api.get("/accounts?pageSize=0", auth=False).status_code == 401


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("pageSize=0", "pageSize: must be >= 1"),
        ("pageSize=101", "pageSize: must be <= 100"),
        ("pageSize=ten", "pageSize: must be an integer"),
        ("pageSize=1.5", "pageSize: must be an integer"),
        ("pageSize=", "pageSize: must be an integer"),
        ("pageSize=1&pageSize=2", "pageSize: must be given once"),
        ("nextToken=" + "x" * 513, "nextToken: must be at most 512 characters long"),
        ("nextToken=garbage", "nextToken: is not a page token issued by this server"),
        ("nextToken=eyJsYXN0SXRlbUlkIjogIm5vcGUifQ==", "nextToken: is not a page token issued by this server"),
        ("nextToken=eyJsYXN0SXRlbUlkIjogIm5vcGUiLCAicG9zaXRpb24iOiAwfQ==", "nextToken: does not point into this list"),
    ],
)
def test_bad_list_parameters_are_400(api: Api, query: str, message: str) -> None:
    r = api.get(f"/accounts?{query}")
    assert r.status_code == 400
    assert r.json() == {"message": message}


def test_an_empty_next_token_is_the_first_page(api: Api) -> None:
    # Togai's contract allows an empty token; clients that always send the last one get page one.
    assert api.get("/accounts?nextToken=&pageSize=2").json() == api.get("/accounts?pageSize=2").json()


def test_bad_boolean_and_date_time_query_parameters(api: Api) -> None:
    r = api.get("/accounts/ACME-US?includeGroupDetails=yes&effectiveOn=yesterday")
    assert r.status_code == 400
    assert violations(r) == ["effectiveOn: must be a valid date-time", "includeGroupDetails: must be true or false"]
    assert api.get("/accounts/ACME-US?effectiveOn=2020-03-30T10:41:10.088499").status_code == 200


def test_over_long_path_parameter_is_400(api: Api) -> None:
    r = api.get("/accounts/" + "A" * 51)
    assert r.status_code == 400
    assert r.json() == {"message": "account_id: must be at most 50 characters long"}


def test_encoded_slash_stays_inside_the_path_parameter(api: Api) -> None:
    r = api.get("/accounts/..%2F..%2Fcustomers")
    assert r.status_code == 404
    assert r.json() == {"message": "account_id: no account with id '../../customers'"}


@pytest.mark.parametrize(
    ("content_type", "status"),
    [(None, 415), ("text/plain", 415), ("application/xml", 415), ("application/json; charset=latin-1", 415),
     ("application/json; charset=utf-8", 200), ("Application/JSON", 200)],
)
def test_content_type_is_checked(api: Api, content_type: str | None, status: int) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = api.patch("/accounts/ACME-US", content=b'{"name": "Renamed"}', headers=headers)
    assert r.status_code == status, r.text
    if status == 415:
        assert r.json()["message"].startswith("Content-Type: ")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "body: is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        (b'{"name": "abc",}', "body: is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 16"),
        (b'{"name": NaN}', "body: is not valid JSON: NaN is not a JSON number"),
        (b'{"name": "a", "name": "b"}', "name: is given more than once"),
        (b"\xff\xfe{}", "body: is not valid UTF-8 (byte 0)"),
        (b"[]", "body: must be an object"),
        (b"", "body: is required"),
    ],
)
def test_bad_json_is_400(api: Api, body: bytes, message: str) -> None:
    r = api.patch("/accounts/ACME-US", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"message": message}


def test_schema_violations_name_field_and_rule_and_all_are_listed(api: Api) -> None:
    body = {"name": "x", "email": "e" * 321, "dailyInvoiceConsolidation": "yes", "accountIds": [], "extra": 1}
    r = api.post("/invoice_groups", json=body)
    assert r.status_code == 400
    assert set(violations(r)) == {
        "email: must be at most 320 characters long",
        "dailyInvoiceConsolidation: must be a boolean",
        "accountIds: must have at least 1 item",
        "address: is required",
        "extra: is not a known property",
    }
    assert r.json()["message"].endswith("(and 4 more)")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"netTermDays": 2**31}, "netTermDays: must be <= 2147483647"),
        ({"netTermDays": -1}, "netTermDays: must be >= 0"),
        ({"netTermDays": 1.5}, "netTermDays: must be an integer"),
        ({"invoiceCurrency": "usd"}, "invoiceCurrency: must match the pattern ^[A-Z]{3}$"),
        ({"status": "ARCHIVED"}, "status: must be one of: ACTIVE, DRAFT"),
        ({"name": "ab"}, "name: must be at least 3 characters long"),
        ({"tags": ["a", "a"]}, "tags: must not contain duplicate items"),
        ({"metadata": {"k": 1}}, "metadata.k: must be a string"),
        ({"address": {"city": 5}}, "address.city: must be a string"),
        ({"billingInformation": {"emailRecipients": ["x" * 321]}}, "billingInformation.emailRecipients[0]: must be at most 320 characters long"),
    ],
)
def test_update_account_schema_rules(api: Api, body: dict, message: str) -> None:
    r = api.patch("/accounts/ACME-US", json=body)
    assert r.status_code == 400
    assert r.json() == {"message": message}


def test_body_over_the_limit_is_413() -> None:
    for api in make_api(max_body=100):
        r = api.patch("/accounts/ACME-US", json={"name": "x" * 200})
        assert r.status_code == 413
        assert r.json() == {"message": "body: must be at most 100 bytes"}
        assert api.patch("/accounts/ACME-US", json={"name": "Short"}).status_code == 200


def test_rejected_requests_change_nothing(api: Api) -> None:
    before = api.state()
    rejected = [
        api.post("/invoice_groups", json=group_body("ACME-US", "ACME-EU")),  # two currencies
        api.post("/invoice_groups", json=group_body("ACME-US", "NOPE")),  # unknown account
        api.post("/customers", json={"id": "NEW", "name": "New one", "primaryEmail": "a@b.c", "address": {},
                                     "account": {"id": "ACME-US", "name": "Taken"}}),  # account id taken
        api.patch("/accounts/ACME-EU", json={"invoiceCurrency": "USD"}),  # grouped account
        api.post("/accounts/ACME-US/add_aliases", json={"aliases": ["acme-eu"]}),  # alias of another account
        api.patch("/accounts/ACME-US", json={"name": "Fine", "netTermDays": -1}),  # half valid
    ]
    assert [r.status_code for r in rejected] == [400, 400, 400, 400, 400, 400]
    assert api.state() == before


PAD = "p" * 5000  # a body this large is decoded first without the duplicate-key hook (issue 25)


@pytest.mark.parametrize("members", [
    '"name": "a", "name": "b"',
    '"name": "a", "name": "b", "s": "\\u003a"',  # the dropped member's colon made up by an escaped one
    '"name": "a", "name": "b", "s": "\\u003A"',
    '"x": {"name": 1, "name": 1}',
    '"name": "a:", "name": "b"',
])
def test_a_key_given_twice_in_a_large_body_is_400(api: Api, members: str) -> None:
    body = '{"pad": "' + PAD + '", ' + members + "}"
    r = api.patch("/accounts/ACME-US", content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"].endswith("name: is given more than once")


def test_a_large_body_decodes_as_a_small_one() -> None:
    from mock_server.validation.body import _DECODER
    from mock_server.validation.body import _decode_text as _decode

    text = '{"pad": "' + PAD + '", "a": [1, 2.5, 30.0, "\\u003a:", {"b": null, "c": "\\u00e9"}], "d": -7}'
    assert _decode(text) == _DECODER.decode(text)
    assert _decode(text)["a"][2] == 30 and isinstance(_decode(text)["a"][2], int)
    # What the compact encoding refuses (a lone surrogate, an int past 64 bits) takes the hooked decoder.
    odd = '{"pad": "' + PAD + '", "c": "\\ud800", "d": 123456789012345678901234567890}'
    assert _decode(odd) == _DECODER.decode(odd)
