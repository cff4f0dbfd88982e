"""Licenses: quantities over time replayed from the updates; named licenses -- over HTTP and with Togai's client."""
from __future__ import annotations

from typing import Any

import pytest
import togai_client
from conftest import Api

SEATS = "addon.extraSeats1.seats"  # the demo tenant's license add-on
JAN, FEB, MAR, APR = (f"2024-0{m}-01T00:00:00Z" for m in (1, 2, 3, 4))


def update(api: Api, kind: str, quantity: float, at: str | None = None, account: str = "GLOBEX-UK", **extra: Any) -> Any:
    body = {"licenseId": SEATS, "accountId": account, "updateType": kind, "quantity": quantity, **extra}
    if at is not None:
        body["effectiveFrom"] = at
    return api.post("/license_updates", json=body)


def quantities(api: Api, account: str = "GLOBEX-UK") -> list[tuple[str, float]]:
    data = api.get("/license_updates", params={"account_id": account, "pageSize": 100}).json()["data"]
    return sorted((e["effectiveFrom"], e["quantity"]) for e in data)


def test_absolute_sets_relative_adds(api: Api) -> None:
    first = update(api, "ABSOLUTE", 10, JAN)
    assert first.status_code == 200, first.text
    assert first.json()["quantity"] == 10 and first.json()["createdAt"]
    assert update(api, "RELATIVE", 5, FEB).json()["quantity"] == 15
    assert update(api, "RELATIVE", -3, MAR).json()["quantity"] == 12
    assert quantities(api) == [(JAN, 10), (FEB, 15), (MAR, 12)]


def test_an_update_back_in_time_moves_every_later_quantity(api: Api) -> None:
    update(api, "ABSOLUTE", 10, JAN)
    update(api, "RELATIVE", 5, MAR)
    assert update(api, "ABSOLUTE", 20, FEB).json()["quantity"] == 20
    # The relative update of March now adds to February's 20: derived, not stored.
    assert quantities(api) == [(JAN, 10), (FEB, 20), (MAR, 25)]


def test_a_relative_update_with_nothing_before_starts_from_zero(api: Api) -> None:
    assert update(api, "RELATIVE", 4, JAN).json()["quantity"] == 4


def test_effective_from_defaults_to_now(api: Api) -> None:
    entry = update(api, "ABSOLUTE", 2).json()
    assert entry["effectiveFrom"] == entry["createdAt"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"licenseId": "addon.nope.nope"}, "licenseId: no license add-on with id 'addon.nope.nope'"),
        ({"accountId": "NOPE"}, "accountId: no account with id 'NOPE'"),
        ({"quantity": -1}, "quantity: must not be negative for an ABSOLUTE update"),
        ({"updateType": "RELATIVE", "quantity": -1},
         "quantity: would take license 'addon.extraSeats1.seats' of account 'GLOBEX-UK' to -1 on 2024-04-01T00:00:00Z"),
    ],
)
def test_rejected_updates_change_nothing(api: Api, body: dict[str, Any], message: str) -> None:
    before = api.get("/__mock/state").json()
    request = {"licenseId": SEATS, "accountId": "GLOBEX-UK", "updateType": "ABSOLUTE", "quantity": 1,
               "effectiveFrom": APR, **body}
    r = api.post("/license_updates", json=request)
    assert r.status_code == 400
    assert r.json()["message"] == message
    assert r.headers["x-mock-rejected-by"] == "rule"
    assert api.get("/__mock/state").json() == before


def test_a_decrease_that_would_take_a_later_quantity_below_zero_is_refused(api: Api) -> None:
    update(api, "ABSOLUTE", 5, JAN)
    update(api, "RELATIVE", -5, MAR)  # 0 in March
    r = update(api, "ABSOLUTE", 2, FEB)  # would make March -3
    assert r.status_code == 400
    assert r.json()["message"].endswith("to -3 on 2024-03-01T00:00:00Z")
    assert quantities(api) == [(JAN, 5), (MAR, 0)]


def test_only_license_add_ons_of_active_accounts(api: Api) -> None:
    fee = api.post("/addons", json={"name": "Setup fee", "type": "FIXED_FEE"}).json()["id"]
    r = api.post("/license_updates", json={"licenseId": fee, "accountId": "GLOBEX-UK", "updateType": "ABSOLUTE",
                                           "quantity": 1})
    assert r.json()["message"] == f"licenseId: add-on {fee!r} is of type FIXED_FEE, not LICENSE"
    api.delete("/accounts/GLOBEX-UK")
    assert update(api, "ABSOLUTE", 1).json()["message"] == "accountId: account 'GLOBEX-UK' is archived"
    api.delete(f"/addons/{SEATS}")
    assert update(api, "ABSOLUTE", 1, account="ACME-US").json()["message"] == \
        f"licenseId: license {SEATS!r} is archived"


def test_one_update_per_instant_and_idempotency_keys(api: Api) -> None:
    first = update(api, "ABSOLUTE", 3, JAN, idempotencyKey="k1").json()
    again = update(api, "ABSOLUTE", 99, FEB, idempotencyKey="k1")
    assert again.status_code == 200 and again.json() == first  # answered again, nothing new
    clash = update(api, "ABSOLUTE", 4, "2024-01-01T01:00:00+01:00")  # the same instant, written otherwise
    assert clash.status_code == 400
    assert clash.json()["message"].startswith("effectiveFrom: license 'addon.extraSeats1.seats' of account "
                                              "'GLOBEX-UK' already has an update effective from")
    assert quantities(api) == [(JAN, 3)]


def test_the_list_filters_and_pages(api: Api) -> None:
    for i, at in enumerate((JAN, FEB, MAR, APR)):
        update(api, "ABSOLUTE", i, at)
    only = api.get("/license_updates", params={"account_id": "GLOBEX-UK", "effectiveFrom": MAR}).json()
    assert [e["effectiveFrom"] for e in only["data"]] == [MAR, APR]
    assert api.get("/license_updates", params={"licenseId": "addon.other.x"}).json() == {"data": []}
    seen, query = [], {"account_id": "GLOBEX-UK", "pageSize": 3}
    while True:
        page = api.get("/license_updates", params=query).json()
        seen += [e["quantity"] for e in page["data"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"], "account_id": "GLOBEX-UK"}
    assert seen == [0, 1, 2, 3]


def test_patch_replaces_the_metadata_of_one_entry(api: Api) -> None:
    update(api, "ABSOLUTE", 3, JAN, metadata={"a": "1"})
    body = {"accountId": "GLOBEX-UK", "effectiveFrom": "2024-01-01T00:00:00.000Z", "metadata": {"PO": "42"}}
    r = api.patch(f"/license_updates/{SEATS}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"] == {"PO": "42"} and r.json()["quantity"] == 3
    assert api.get("/license_updates", params={"account_id": "GLOBEX-UK"}).json()["data"][0]["metadata"] == {"PO": "42"}
    missing = api.patch(f"/license_updates/{SEATS}", json={**body, "effectiveFrom": FEB})
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("license_id: license 'addon.extraSeats1.seats' has no update")
    assert api.patch("/license_updates/addon.nope.x", json=body).status_code == 404
    other = api.patch(f"/license_updates/{SEATS}", params={"licenseId": "addon.other.x"}, json=body)
    assert other.status_code == 400


def test_imports_keep_license_rules(api: Api) -> None:
    state = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    assert api.get("/__mock/state").json() == state
    broken = {**state, "licenseUpdates": [*state["licenseUpdates"], {**state["licenseUpdates"][0], "quantity": -2}]}
    r = api.request("PUT", "/__mock/state", json=broken)
    assert r.status_code == 400
    assert "licenseUpdates[3].quantity: must not be negative" in r.headers["x-mock-violations"]
    assert "licenseUpdates[3].effectiveFrom: is also licenseUpdates[0]'s" in r.headers["x-mock-violations"]
    fee = next(a for a in state["addOns"] if a["type"] != "LICENSE")["id"]
    named = {**state, "namedLicenses": [{**state["namedLicenses"][0], "licenseId": fee,
                                          "effectiveUntil": "2023-01-01T00:00:00Z"}]}
    r = api.request("PUT", "/__mock/state", json=named)
    assert r.status_code == 400
    assert "namedLicenses[0].licenseId: add-on" in r.headers["x-mock-violations"]
    assert "namedLicenses[0].effectiveUntil: is before effectiveFrom" in r.headers["x-mock-violations"]


def test_the_demo_tenant_has_licenses_and_named_licenses(api: Api) -> None:
    assert quantities(api, "ACME-US") == [(JAN, 10), (MAR, 15)]
    named = api.get("/named_license_updates").json()
    assert {n["name"] for n in named["data"]} >= {"alice@acme.example", "carol@globex.example"}
    assert all(n["id"].startswith("named_license_entry.") for n in named["data"])
    page = api.get("/named_license_updates", params={}).json()
    assert "context" not in page


def test_licenses_with_togais_client(sdk: togai_client.ApiClient) -> None:
    licenses = togai_client.LicensesApi(sdk)
    added = licenses.add_license_update_entry(togai_client.LicenseUpdateRequest(
        license_id=SEATS, account_id="GLOBEX-US", update_type="RELATIVE", quantity=2,
        effective_from="2024-03-01T00:00:00Z"))
    assert added.quantity == 5  # the demo tenant's 3 from February, plus 2
    page = licenses.get_license_updates(account_id="GLOBEX-US", page_size=1)
    assert [e.quantity for e in page.data] == [3] and page.next_token
    rest = licenses.get_license_updates(next_token=page.next_token)
    assert [e.quantity for e in rest.data] == [5]
    # togai-client sends the path template unfilled and the license in the query.
    changed = licenses.update_license_entry_details(SEATS, togai_client.LicenseEntryDetailsUpdateRequest(
        account_id="GLOBEX-US", effective_from="2024-03-01T00:00:00Z", metadata={"PO": "7"}))
    assert changed.metadata == {"PO": "7"} and changed.quantity == 5
    named = licenses.get_named_license_updates()
    assert {n.name for n in named.data} >= {"carol@globex.example"}
