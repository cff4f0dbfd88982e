"""--tenancy token: a tenant per bearer token, isolated across every resource; control per tenant; the bound."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Api, make_api
from test_registry import MADE_BY, PARAMS, SAMPLES, SPEC, _body, _path, list_key

from mock_server.bindings.binding import Binding
from mock_server.bindings.registry import BINDINGS

A = {"Authorization": "Bearer token-a"}
B = {"Authorization": "Bearer token-b"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def token_api() -> Iterator[Api]:
    yield from make_api(tenancy="token", max_tenants=5)


def call(
    api: Api, who: dict[str, str], op_id: str, key: str | None = None, body: Any = None, params: dict[str, str] | None = None
) -> Any:
    method, path = _path(op_id, key, params)
    kwargs = {} if body is None else {"json": body}
    return api.request(method, path, auth=False, headers=who, **kwargs)


@pytest.mark.parametrize(
    "resource", [r for r in BINDINGS if r.resource in SAMPLES and r.resource not in MADE_BY], ids=lambda r: r.resource
)
def test_every_resource_is_isolated_between_two_tokens(token_api: Api, resource: Binding) -> None:
    api = token_api
    assert resource.create
    body, change = SAMPLES[resource.resource]
    b_before = api.get("/__mock/state", auth=False, headers=B).json()

    created = call(api, A, resource.create, body=_body(api, body), params=PARAMS.get(resource.resource))
    assert created.status_code == SPEC.operation(resource.create).success_status, created.text
    record = created.json()
    for step in resource.fixtures.created_path:
        record = record[step]
    key = record[resource.path_field]
    if resource.read is not None:
        assert call(api, A, resource.read, key).status_code == 200
        assert call(api, B, resource.read, key).status_code == 404  # A's record does not exist for B
    assert list_key(resource.resource, record) not in {
        list_key(resource.resource, r) for r in api.get("/__mock/state", auth=False, headers=B).json()[resource.resource]
    }
    if resource.list is not None:
        if resource.read is None:  # seen through the list instead (the first page holds it)
            mine = call(api, A, resource.list, body=None, params=PARAMS.get(resource.resource)).json()["data"]
            assert list_key(resource.resource, record) in {list_key(resource.resource, r) for r in mine}
        listed = call(api, B, resource.list, body=None, params=PARAMS.get(resource.resource)).json()["data"]
        assert list_key(resource.resource, record) not in {list_key(resource.resource, r) for r in listed}

    # A changes and deletes a record both tenants have (from the fixtures): B never sees it.
    # (An invoice that can change: the demo's ongoing STANDARD invoices take no field-by-field update.)
    fixture_key = next(r for r in b_before[resource.resource]
                       if resource.resource != "invoices" or r.get("invoiceType") == "CUSTOM")[resource.path_field]
    if resource.update is not None and change:
        changed = call(api, A, resource.update, fixture_key, change)
        assert changed.status_code == SPEC.operation(resource.update).success_status, changed.text
    if resource.delete is not None:
        assert call(api, A, resource.delete, fixture_key).status_code == SPEC.operation(resource.delete).success_status
    a_state = api.get("/__mock/state", auth=False, headers=A).json()
    assert a_state != b_before
    assert api.get("/__mock/state", auth=False, headers=B).json() == b_before


def test_control_calls_act_on_the_callers_tenant(token_api: Api) -> None:
    api = token_api
    api.patch("/accounts/ACME-US", auth=False, headers=A, json={"name": "Changed by A"})
    api.post("/__mock/overrides", auth=False, headers={**A, **JSON}, json={"path": "/accounts", "status": 503})
    assert api.get("/accounts", auth=False, headers=A).status_code == 503
    assert api.get("/accounts", auth=False, headers=B).status_code == 200  # A's override is A's
    a_journal = api.get("/__mock/requests", auth=False, headers=A).json()["requests"]
    b_journal = api.get("/__mock/requests", auth=False, headers=B).json()["requests"]
    assert [e["path"] for e in a_journal] == ["/accounts/ACME-US", "/accounts"]
    assert [e["path"] for e in b_journal] == ["/accounts"]
    assert api.get("/__mock/health", auth=False, headers=A).json()["tenants"] == 2

    # B's reset leaves A alone; so does B's reset?all=true: any token makes a tenant here (no --token).
    api.post("/__mock/reset", auth=False, headers={**B, **JSON})
    assert api.get("/accounts/ACME-US", auth=False, headers=A).json()["name"] == "Changed by A"
    assert api.get("/__mock/overrides", auth=False, headers=A).json()["overrides"] != []
    refused = api.post("/__mock/reset?all=true", auth=False, headers={**B, **JSON})
    assert refused.status_code == 403 and refused.json()["message"].startswith("all: resetting every tenant needs")
    assert api.get("/accounts/ACME-US", auth=False, headers=A).json()["name"] == "Changed by A"
    # PUT /__mock/state replaces only the caller's tenant.
    api.request("PUT", "/__mock/state", auth=False, headers={**A, **JSON}, json={})
    assert api.get("/__mock/health", auth=False, headers=A).json()["customers"] == 0
    assert api.get("/__mock/health", auth=False, headers=B).json()["customers"] == 3


def test_without_a_token_control_calls_are_refused_but_health_and_reset_all(token_api: Api) -> None:
    api = token_api
    api.get("/accounts", auth=False, headers=A)
    api.post("/customers", auth=False, headers=A, json={"id": "Z", "name": "Zed Inc", "primaryEmail": "z@x.io", "address": {}})
    r = api.get("/__mock/state", auth=False)
    assert r.status_code == 401 and r.headers["x-mock-rejected-by"] == "security"
    assert "bearer token" in r.json()["message"]
    assert api.post("/__mock/reset", auth=False, headers=JSON).status_code == 401
    assert api.get("/__mock/health", auth=False).json() == {"status": "ok", "tenants": 1}
    assert api.post("/__mock/reset?all=true", auth=False, headers=JSON).status_code == 403  # wiped nobody
    assert api.get("/customers/Z", auth=False, headers=A).status_code == 200
    # A Togai call without a token is a 401, as always, and creates no tenant.
    assert api.get("/accounts", auth=False).status_code == 401
    assert api.get("/__mock/health", auth=False).json()["tenants"] == 1


def test_the_number_of_tenants_is_bounded(token_api: Api) -> None:
    api = token_api
    for i in range(5):
        assert api.get("/accounts", auth=False, headers={"Authorization": f"Bearer t{i}"}).status_code == 200
    r = api.post("/customers", auth=False, headers={"Authorization": "Bearer t-new"},
                 json={"id": "Q", "name": "Q corp", "primaryEmail": "q@x.io", "address": {}})
    assert r.status_code == 429
    assert "5 tenants (--max-tenants)" in r.json()["message"]
    assert api.get("/__mock/health", auth=False).json()["tenants"] == 5
    assert api.get("/__mock/health", auth=False, headers={"Authorization": "Bearer t-new"}).status_code == 429
    # Known tokens still work; forgetting one frees its slot, and it starts from the fixtures again.
    api.post("/customers", auth=False, headers={"Authorization": "Bearer t0"},
             json={"id": "Q", "name": "Q corp", "primaryEmail": "q@x.io", "address": {}})
    assert api.delete("/__mock/tenant", auth=False, headers={"Authorization": "Bearer t0", **JSON}).json() == {"success": True}
    assert api.get("/accounts", auth=False, headers={"Authorization": "Bearer t-new"}).status_code == 200
    assert api.delete("/__mock/tenant", auth=False, headers={"Authorization": "Bearer t-new", **JSON}).status_code == 200
    assert api.get("/customers/Q", auth=False, headers={"Authorization": "Bearer t0"}).status_code == 404


def test_with_a_token_list_a_listed_token_resets_every_tenant() -> None:
    a, b = {"Authorization": "Bearer token-a"}, {"Authorization": "Bearer token-b"}
    for api in make_api(tenancy="token", tokens=("token-a", "token-b")):
        api.post("/customers", auth=False, headers=a, json={"id": "Z", "name": "Zed Inc", "primaryEmail": "z@x.io", "address": {}})
        assert api.post("/__mock/reset?all=true", auth=False, headers={**b, **JSON}).json() == {"success": True}
        assert api.get("/customers/Z", auth=False, headers=a).status_code == 404
        assert api.post("/__mock/reset?all=true", auth=False, headers=JSON).status_code == 401  # no token at all


def test_with_a_token_list_only_those_tokens_get_tenants() -> None:
    for api in make_api(tenancy="token", tokens=("token-a", "token-b")):
        assert api.get("/accounts", auth=False, headers=A).status_code == 200
        r = api.get("/accounts", auth=False, headers={"Authorization": "Bearer intruder"})
        assert r.status_code == 401 and r.json() == {"message": "Authorization: the token is not accepted"}
        assert len(api.app.state.tenants) == 1


def test_shared_mode_is_todays_behaviour_with_no_lookup(api: Api) -> None:
    assert api.app.togai is api.app.state.pipeline  # the hot path is the pipeline itself
    api.post("/customers", auth=False, headers=A, json={"id": "S", "name": "S corp", "primaryEmail": "s@x.io", "address": {}})
    assert api.get("/customers/S", auth=False, headers=B).status_code == 200
    assert "tenants" not in api.get("/__mock/health").json()
    assert api.post("/__mock/reset?all=true", headers=JSON).status_code == 200
    assert api.get("/customers/S").status_code == 404
    r = api.delete("/__mock/tenant", headers=JSON)
    assert r.status_code == 400 and "--tenancy token" in r.json()["message"]
