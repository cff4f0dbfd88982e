"""POST /authenticate and POST /portal/token: JWTs computed from the request and the state."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import togai_client
from conftest import Api, make_api

from mock_server.domain.parties.tokens import API_TOKEN_LIFETIME, sign


def claims(token: str) -> dict[str, Any]:
    head, body, signature = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(head + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert signature
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def test_an_api_key_gets_a_jwt_for_24_hours_that_never_shows_the_key(api: Api) -> None:
    r = api.post("/authenticate", headers={"Authorization": "Bearer my-secret-key"})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert "my-secret-key" not in json.dumps(claims(token))
    got = claims(token)
    assert got["iss"] == "togai-mock" and got["sub"].startswith("apikey:")
    assert got["exp"] - got["iat"] == API_TOKEN_LIFETIME
    other = claims(api.post("/authenticate", headers={"Authorization": "Bearer other-key"}).json()["token"])
    assert other["sub"] != got["sub"]


def test_a_jwt_is_answered_back_as_it_came(api: Api) -> None:
    jwt = sign({"sub": "someone", "exp": 1})
    assert api.post("/authenticate", headers={"Authorization": f"Bearer {jwt}"}).json() == {"token": jwt}
    issued = api.post("/authenticate").json()["token"]
    assert api.post("/authenticate", headers={"Authorization": f"Bearer {issued}"}).json() == {"token": issued}


def test_no_token_is_a_401(api: Api) -> None:
    assert api.post("/authenticate", auth=False).status_code == 401


def test_seeded_servers_answer_the_same_tokens() -> None:
    answers = []
    for _ in range(2):
        for api in make_api():
            answers.append((api.post("/authenticate").json(),
                            api.post("/portal/token", json={"customerId": "ACME", "allAccountsAccess": True}).json()))
    assert answers[0] == answers[1]


def test_a_portal_token_names_the_customer_and_its_accounts(api: Api) -> None:
    r = api.post("/portal/token", json={"customerId": "ACME", "accountIds": ["ACME-US", "ACME-EU", "ACME-US"],
                                        "expiry": 600})
    assert r.status_code == 200, r.text
    got = claims(r.json()["token"])
    assert (got["sub"], got["aud"], got["accountIds"]) == ("ACME", "customer-portal", ["ACME-US", "ACME-EU"])
    assert got["exp"] - got["iat"] == 600
    every = claims(api.post("/portal/token", json={"customerId": "GLOBEX", "allAccountsAccess": True}).json()["token"])
    assert every["allAccountsAccess"] is True and "accountIds" not in every
    assert every["exp"] - every["iat"] == API_TOKEN_LIFETIME


def test_without_expiry_a_portal_token_lives_as_long_as_the_calling_jwt(api: Api) -> None:
    caller = sign({"sub": "x", "exp": 2_000_000_000})
    r = api.post("/portal/token", headers={"Authorization": f"Bearer {caller}"},
                 json={"customerId": "ACME", "allAccountsAccess": True})
    assert claims(r.json()["token"])["exp"] == 2_000_000_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"customerId": "NOPE", "allAccountsAccess": True}, "customerId: no customer with id 'NOPE'"),
        ({"customerId": "ACME"}, "accountIds: must name at least one account, or set allAccountsAccess: true"),
        ({"customerId": "ACME", "accountIds": [], "allAccountsAccess": False},
         "accountIds: must name at least one account, or set allAccountsAccess: true"),
        ({"customerId": "ACME", "accountIds": ["ACME-US"], "allAccountsAccess": True},
         "accountIds: must be left out with allAccountsAccess: true"),
        ({"customerId": "ACME", "accountIds": ["GLOBEX-US"]},
         "accountIds[0]: account 'GLOBEX-US' belongs to customer 'GLOBEX', not 'ACME'"),
        ({"customerId": "ACME", "accountIds": ["ACME-US", "NOPE"]}, "accountIds[1]: no account with id 'NOPE'"),
        ({"customerId": "ACME", "accountIds": [f"A{i}" for i in range(6)]},
         "accountIds: must name at most 5 accounts (and 6 more)"),
        ({"customerId": "ACME", "allAccountsAccess": True, "expiry": 0}, "expiry: must be greater than 0 (seconds)"),
    ],
)
def test_refused_portal_tokens_name_the_field(api: Api, body: dict[str, Any], message: str) -> None:
    before = api.state()
    r = api.post("/portal/token", json=body)
    assert r.status_code == 400
    assert r.json()["message"] == message
    assert api.state() == before  # not even the seeded clock moved


def test_archived_customers_and_accounts_get_no_portal_token(api: Api) -> None:
    api.delete("/accounts/ACME-EU")
    r = api.post("/portal/token", json={"customerId": "ACME", "accountIds": ["ACME-EU"]})
    assert r.json()["message"] == "accountIds[0]: account 'ACME-EU' is archived"
    api.delete("/customers/ACME")
    r = api.post("/portal/token", json={"customerId": "ACME", "allAccountsAccess": True})
    assert r.json()["message"] == "customerId: customer 'ACME' is archived"


def test_tokens_with_togais_client(sdk: togai_client.ApiClient) -> None:
    token = togai_client.AuthenticationApi(sdk).authenticate().token
    assert claims(token)["iss"] == "togai-mock"
    portal = togai_client.CustomerPortalApi(sdk).get_customer_portal_delegate_token(
        togai_client.GetCustomerPortalDelegateTokenRequest(customer_id="UMBRELLA", account_ids=["UMBRELLA-EU"],
                                                           expiry=60))
    assert claims(portal.token)["accountIds"] == ["UMBRELLA-EU"]
