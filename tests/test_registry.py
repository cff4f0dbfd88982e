"""The resource registry: every registered resource honours the same contract.

For each resource the test creates a record through the API, reads it back,
finds it by paging through the list one record at a time, changes it,
deletes (or archives) it, and checks that health, export, import and reset
see it -- all without a line of per-resource code outside the sample table.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Api, make_api

from mock_server.bindings.binding import Binding
from mock_server.bindings.registry import BINDINGS, Bindings
from mock_server.config import DEFAULT_SPEC
from mock_server.domain.core.resource import Registry, Resource
from mock_server.domain.registry import REGISTRY
from mock_server.handlers import bind
from mock_server.openapi.spec import SpecError, load_spec

# A rate card granting 10 credits of a demo feature for a month (its id is filled in by fixture_ids).
ENTITLEMENT_CARD: dict[str, Any] = {
    "featureId": "{feature}",
    "featureConfigs": [{"effectiveUntil": "P1M", "featureCreditLimit": 10}],
    "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "FLAT"}]},
    "rateValues": [],
    "invoiceTiming": "IN_ADVANCE",
}
# A creation body and a change for each resource; a new resource must add one.
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "customers": (
        {"id": "REG-C", "name": "Registry customer", "primaryEmail": "reg@example.com", "address": {"country": "US"}},
        {"name": "Renamed customer"},
    ),
    "accounts": ({"id": "REG-A", "customerId": "ACME", "name": "Registry account"}, {"name": "Renamed account"}),
    "invoiceGroups": (
        {
            "name": "Registry group",
            "email": "group@example.com",
            "dailyInvoiceConsolidation": True,
            "accountIds": ["GLOBEX-UK"],
            "address": {"country": "GB"},
        },
        {},
    ),
    "addOns": ({"name": "Registry add-on", "type": "LICENSE"}, {"billableName": "Renamed add-on"}),
    "features": (
        {"name": "Registry feature", "schemaAssociations": [{"schemaName": "rides", "attributeName": "distance"}]},
        {"billableName": "Renamed feature"},
    ),
    "settings": (
        {"id": "reg", "namespace": "USER", "name": "Registry setting", "value": "1", "dataType": "NUMERIC",
         "entityType": "CUSTOMER", "entityId": "ACME"},
        {"value": "2"},
    ),
    "credits": (
        {"creditRequests": [{"accountId": "GLOBEX-US", "purpose": "Registry", "priority": 1,
                             "effectiveFrom": "2024-01-01", "creditAmount": 10}]},
        {},
    ),
    "eventSchemas": (
        {"name": "registry_schema", "attributes": [{"name": "bytes"}], "dimensions": [{"name": "region"}]},
        {"description": "Changed schema"},
    ),
    "usageMeters": (
        {"name": "Registry meter", "type": "COUNTER", "aggregation": "SUM", "eventSchemaName": "rides",
         "computations": [{"order": 1, "computation": '{"var": "attribute.distance"}'}]},
        {"billableName": "Renamed meter"},
    ),
    "payments": (
        {
            "accountId": "GLOBEX-US",
            "externalPaymentReference": {"sourceName": "Bank", "sourceType": "CASH", "transactionNumber": "T-1"},
            "lineItemRecords": [{"type": "WALLET_CREDIT", "amount": 5, "order": 1}],
            "currency": "USD",
            "totalAmount": 5,
        },
        {},
    ),
    "pricePlans": (
        {"name": "Registry plan", "pricePlanDetails": {"supportedCurrencies": ["USD"]}},
        {"description": "Changed plan"},
    ),
    # A top-up of an account's wallet (PARAMS names the account); the first one opens the wallet.
    "wallets": ({"topupAmount": 25}, {"status": "INACTIVE"}),
    "alerts": (
        {"alertTemplateId": "wallet_low_balance", "interval": 30, "status": "ACTIVE",
         "ownerDetails": {"accountId": "GLOBEX-US"}, "parameters": {"threshold": 10}},
        {"description": "Renamed alert"},
    ),
    "aliases": ({"aliases": [{"value": "registry-alias"}]}, {}),
    "customerContacts": ({"name": "Registry contact", "email": "contact@example.com"}, {}),
    "purchases": (
        {"pricePlanId": "{purchasePlan}", "purchasePlanOverride": {"billingEntitlementRateCards": [ENTITLEMENT_CARD]},
         "idempotencyKey": "reg"},
        {},
    ),
    "purchaseProposals": (
        {"pricePlanId": "{purchasePlan}", "type": "ENTITLEMENT_GRANT", "paymentMode": "POSTPAID"},
        {},
    ),
    # Aliases attached to an account (PARAMS names it) open records of its alias history.
    "accountAliasesMaker": ({"aliases": ["registry-held"]}, {}),
    # An ingested event (POST /ingest answers 202 {success}, not the record).
    "events": (
        {"event": {"id": "registry-event", "schemaName": "rides", "accountId": "ACME-US",
                   "timestamp": "2024-01-02T00:00:00Z", "attributes": [{"name": "distance", "value": "4"}],
                   "dimensions": {"city": "x"}}},
        {},
    ),
    "invoices": (
        {"accountId": "GLOBEX-US", "startDate": "2024-01-01T00:00:00Z", "endDate": "2024-02-01T00:00:00Z",
         "status": "DRAFT", "lineItems": [{"description": "Registry line", "value": 10}]},
        {"autoAdvance": True},
    ),
    # An entry is named by license, account and instant; the PATCH body names the last two.
    "licenseUpdates": (
        {"licenseId": "addon.extraSeats1.seats", "accountId": "GLOBEX-UK", "updateType": "ABSOLUTE", "quantity": 4,
         "effectiveFrom": "2024-05-01T00:00:00Z"},
        {"accountId": "GLOBEX-UK", "effectiveFrom": "2024-05-01T00:00:00Z", "metadata": {"PO Number": "PO-REG"}},
    ),
}
# Resources no operation creates (Togai makes them in its app): a record for PUT /__mock/state.
IMPORTED: dict[str, dict[str, Any]] = {
    "namedLicenses": {"licenseId": "addon.extraSeats1.seats", "accountId": "GLOBEX-UK", "name": "reg@globex.example"},
    "files": {"name": "registry.txt", "contentType": "text/plain", "content": "registry"},
    "reports": {"name": "Registry report", "account_id": "ACME-US", "type": "TEMPLATE"},
}
# How a list names a record, where the API shows no id (a license update: license, account, instant).
KEYS: dict[str, tuple[str, ...]] = {"licenseUpdates": ("licenseId", "accountId", "effectiveFrom")}


def list_key(name: str, record: dict[str, Any]) -> Any:
    """What identifies ``record`` of resource ``name`` in a list or an export."""
    return tuple(record[k] for k in KEYS.get(name, (BINDINGS.by_resource[name].path_field,)))
# Path parameters a sample's create operation needs beside the record's own.
PARAMS: dict[str, dict[str, str]] = {
    "wallets": {"account_id": "GLOBEX-US"},
    "accountAliasesMaker": {"account_id": "GLOBEX-UK"},
    "customerContacts": {"customer_id": "GLOBEX"},
    "purchases": {"account_id": "GLOBEX-US"},
    "purchaseProposals": {"account_id": "GLOBEX-US"},
}
# Resources with no create operation of their own: which sample makes one of their records.
MADE_BY = {
    "walletEntries": "wallets",
    "accountAliases": "accountAliasesMaker",
    "featureCreditEntries": "purchases",
    "events": "events",
}
# Path parameters of their list beside the maker's, taken from the made record: parameter -> field.
LIST_PARAMS = {"featureCreditEntries": {"feature_id": "featureId"}}
# Operations of those samples that are not a resource's create operation.
MAKERS = {"accountAliasesMaker": "addAliases", "events": "ingest"}
# How a list item names its record, where that is not its ``id``.
LIST_KEY = {"events": lambda item: item["eventPayload"]["id"]}
# Resources whose records need records made during the test (a plan's generated id, a migration):
# the same contract (made, read, listed, exported, imported, reset) is run in the named test module.
MADE_IN_TESTS = {
    "accountSchedules": "test_pricing_schedules.py",
    "jobs": "test_jobs.py",
    "jobEntries": "test_jobs.py",
    "incidents": "test_alerts.py",
}
SPEC = load_spec(DEFAULT_SPEC)


def _path(op_id: str, key: str | None = None, params: dict[str, str] | None = None) -> tuple[str, str]:
    op = SPEC.operation(op_id)
    path = op.path
    for name, value in (params or {}).items():
        path = path.replace("{" + name + "}", value)
    if key is not None:
        start = path.index("{")
        path = path[:start] + key + path[path.index("}", start) + 1 :]
    return op.method, path


def test_every_resource_has_a_sample() -> None:
    assert set(SAMPLES) - set(MAKERS) | set(MADE_BY) | set(MADE_IN_TESTS) | set(IMPORTED) == {r.name for r in REGISTRY}
    assert all(BINDINGS.by_resource[name].create is None for name in [*MADE_BY, *IMPORTED])


def _create(api: Api, resource: Binding) -> dict[str, Any]:
    """Create the resource's sample; the new record."""
    assert resource.create is not None
    return _make(api, resource.resource, resource.create, resource.fixtures.created_path)


def _body(api: Api, body: dict[str, Any]) -> Any:
    """A sample body with ``{feature}`` and ``{purchasePlan}`` replaced by the ids of a demo feature and
    the demo PURCHASE plan (server-made, so not known before)."""
    text = json.dumps(body)
    if "{feature}" in text:
        text = text.replace("{feature}", api.get("/features").json()["data"][0]["id"])
    if "{purchasePlan}" in text:
        plans = api.get("/__mock/state").json()["pricePlans"]
        text = text.replace("{purchasePlan}", next(p["id"] for p in plans if p["type"] == "PURCHASE"))
    return json.loads(text)


def _make(api: Api, sample: str, op_id: str, created_path: tuple[str | int, ...] = ()) -> dict[str, Any]:
    """Send a sample to its operation; the answer, or the part of it at ``created_path``."""
    method, path = _path(op_id, params=PARAMS.get(sample))
    created = api.request(method, path, json=_body(api, SAMPLES[sample][0]))
    assert created.status_code == SPEC.operation(op_id).success_status, created.text
    record: dict[str, Any] = created.json()
    for step in created_path:  # where the create answer holds the new record
        record = record[step]
    return record


@pytest.mark.parametrize("resource", [r for r in BINDINGS if r.resource in SAMPLES and r.resource not in MADE_BY], ids=lambda r: r.resource)
def test_resource_contract(api: Api, resource: Binding) -> None:
    body, change = SAMPLES[resource.resource]
    assert resource.create is not None  # contacts have neither read nor list: seen in the export
    before = api.get("/__mock/health").json()[resource.resource]

    created = _create(api, resource)
    key, listed = created[resource.path_field], list_key(resource.resource, created)
    assert api.get("/__mock/health").json()[resource.resource] == before + 1

    if resource.read is not None:  # contacts are shown only when created; license updates in their list
        method, path = _path(resource.read, key)
        read = api.request(method, path)
        assert read.status_code == 200 and read.json()[resource.path_field] == key

    # Paged one at a time, the list holds every record once, the new one included.
    if resource.list is not None:
        # A list under a path (an account's purchases) holds the records of its owner only.
        scoped = resource.resource in PARAMS
        method, path = _path(resource.list, params=PARAMS.get(resource.resource))
        seen: list[str] = []
        query: dict[str, Any] = {"pageSize": 1}
        while True:
            page = api.request(method, path, params=query).json()
            seen += [list_key(resource.resource, r) for r in page["data"]]
            if "nextToken" not in page or not page["data"]:
                break
            query = {"nextToken": page["nextToken"]}
        assert listed in seen and len(seen) == len(set(seen))
        assert scoped or len(seen) == before + 1

    if resource.update is not None and change:
        method, path = _path(resource.update, key)
        updated = api.request(method, path, json=change)
        assert updated.status_code == SPEC.operation(resource.update).success_status, updated.text
        if resource.read is not None:
            method, path = _path(resource.read, key)
            assert all(api.request(method, path).json()[k] == v for k, v in change.items())
        else:
            assert all(updated.json()[k] == v for k, v in change.items())

    exported = api.get("/__mock/state").json()
    assert listed in {list_key(resource.resource, r) for r in exported[resource.resource]}

    if resource.delete is not None:
        assert resource.read is not None
        method, path = _path(resource.delete, key)
        assert api.request(method, path).status_code == 200
        method, path = _path(resource.read, key)
        after = api.request(method, path)
        assert after.status_code == 404 or after.json().get("status") == "ARCHIVED"
        again = api.request(*_path(resource.delete, key))
        assert again.status_code in (400, 404)

    # What was exported imports back as it was.
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get("/__mock/state").json() == exported
    # Reset forgets it.
    api.post("/__mock/reset", headers={"Content-Type": "application/json"})
    assert listed not in {list_key(resource.resource, r) for r in api.get("/__mock/state").json()[resource.resource]}
    if resource.read is not None:
        method, path = _path(resource.read, key)
        assert api.request(method, path).status_code == 404


@pytest.mark.parametrize("name", sorted(IMPORTED))
def test_records_only_an_import_makes(api: Api, name: str) -> None:
    """Imported with their server-made fields left out, they are completed, listed or read, exported, reset."""
    resource = BINDINGS.by_resource[name]
    state = api.get("/__mock/state").json()
    before = len(state[name])
    state[name] = [*state[name], IMPORTED[name]]
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert api.get("/__mock/health").json()[name] == before + 1
    exported = api.get("/__mock/state").json()
    new = exported[name][-1]
    ids = REGISTRY.by_name[name].ids
    assert new["id"].startswith(ids.prefix + ".") if ids else True
    op = resource.list or resource.read
    assert op is not None
    shown = api.request(*_path(op, None if op == resource.list else new["id"]))
    assert shown.status_code == 200, shown.text
    if op == resource.list:
        assert new["id"] in {r["id"] for r in shown.json()["data"]}
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get("/__mock/state").json() == exported
    api.post("/__mock/reset", headers={"Content-Type": "application/json"})
    assert api.get("/__mock/health").json()[name] == before


@pytest.mark.parametrize("name", sorted(MADE_BY))
def test_records_made_by_another_resource(api: Api, name: str) -> None:
    """Made through another resource's operation, they are counted, exported, imported and reset alike."""
    resource = BINDINGS.by_resource[name]
    before = api.get("/__mock/health").json()[name]
    maker = MADE_BY[name]
    if maker in MAKERS:
        _make(api, maker, MAKERS[maker])
    else:
        _create(api, BINDINGS.by_resource[maker])
    assert api.get("/__mock/health").json()[name] == before + 1
    exported = api.get("/__mock/state").json()
    assert len(exported[name]) == before + 1
    if resource.list is not None:
        made = exported[name][-1]
        params = {**PARAMS.get(maker, {}), **{p: made[f] for p, f in LIST_PARAMS.get(name, {}).items()}}
        method, path = _path(resource.list, params=params)
        listed = api.request(method, path).json()
        key = LIST_KEY.get(name, lambda item: item["id"])
        assert made["id"] in {key(r) for r in listed.get("data", listed.get("events"))}
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get("/__mock/state").json() == exported
    api.post("/__mock/reset", headers={"Content-Type": "application/json"})
    assert api.get("/__mock/health").json()[name] == before


def _addressed(resource: Binding) -> bool:
    """Whether an operation of the resource names one record in its path."""
    return any("{" in SPEC.operation(op).path for op in resource.operations().values())


@pytest.mark.parametrize("resource", [r for r in BINDINGS if _addressed(r)], ids=lambda r: r.resource)
def test_unknown_record_in_the_path_is_a_404(api: Api, resource: Binding) -> None:
    op = resource.read or resource.list or resource.create  # a contact is only created, under its customer
    assert op is not None
    body = _body(api, SAMPLES[resource.resource][0]) if op == resource.create else None
    if "{" not in SPEC.operation(op).path:  # license updates: only their PATCH names one in the path
        assert resource.update is not None
        op, body = resource.update, SAMPLES[resource.resource][1]
    r = api.request(*_path(op, "NO-SUCH-RECORD"), json=body)
    assert r.status_code == 404
    assert r.json()["message"].startswith(f"{resource.path_param}: no ")


def test_unknown_record_named_in_a_body_is_a_400(api: Api) -> None:
    r = api.post("/accounts", json={"id": "X1", "customerId": "NO-SUCH", "name": "Some account"})
    assert r.status_code == 400
    assert r.json()["message"] == "customerId: no customer with id 'NO-SUCH'"


def test_a_handler_bound_to_an_unknown_operation_stops_start_up() -> None:
    stray = Resource(name="strays", schema="AddOn")
    binding = Binding(resource="strays", path_param="addon_id", read="getStray")
    with pytest.raises(SpecError, match="getStray"):
        bind(SPEC, Bindings(Registry([*REGISTRY, stray]), [*BINDINGS, binding], BINDINGS.others))


def test_a_reference_to_a_later_resource_is_refused() -> None:
    early = Resource(name="early", schema="AddOn", references={"laterId": "later"})
    later = Resource(name="later", schema="AddOn")
    with pytest.raises(ValueError, match="declared later"):
        Registry([early, later])


def test_ids_issued_after_an_import_never_repeat_imported_ones() -> None:
    # Issue 8, item 9: a seeded server re-imports its own export, then creates more.
    for api in make_api():
        state = api.get("/__mock/state").json()
        assert api.request("PUT", "/__mock/state", json=state).status_code == 200
        customer = api.post(
            "/customers",
            json={
                "id": "NEW",
                "name": "New",
                "primaryEmail": "n@example.com",
                "address": {"country": "US"},
                "account": {"id": "NEW-1", "name": "New 1"},
            },
        ).json()
        assert customer["togaiCustomerId"] not in {c["togaiCustomerId"] for c in state["customers"]}
        assert customer["account"]["togaiAccountId"] not in {a["togaiAccountId"] for a in state["accounts"]}


def test_self_check_turns_a_broken_answer_into_a_500() -> None:
    for api in make_api():
        pipeline = api.app.state.pipeline
        handler, status, params, conflict = pipeline._plans["getCustomer"]
        pipeline._plans["getCustomer"] = (lambda s, c: {"id": 1}, status, params, conflict)
        r = api.get("/customers/ACME")
        assert r.status_code == 500
        assert "self-check" in r.json()["message"] and "getCustomer" in r.json()["message"]
