"""Credits: grants, filters, voiding, derived transactions and balance -- over HTTP and with Togai's client."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import togai_client
from conftest import Api


def grant(**changes: Any) -> dict[str, Any]:
    base = {"accountId": "GLOBEX-US", "purpose": "Promo", "priority": 1, "effectiveFrom": "2024-01-01",
            "creditAmount": 100}
    return {**base, **changes}


def create(api: Api, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    r = api.post("/credits", json={"creditRequests": list(requests)})
    assert r.status_code == 200, r.text
    credits: list[dict[str, Any]] = r.json()["credits"]
    return credits


def balance(api: Api, account: str = "GLOBEX-US") -> dict[str, Any]:
    r = api.get(f"/accounts/{account}/credit_balance")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_grant_creates_active_credits_of_the_accounts_customer(api: Api) -> None:
    first, second = create(api, grant(), grant(accountId="GLOBEX-UK", creditAmount=5))
    assert (first["status"], first["customerId"], first["creditUnit"]) == ("ACTIVE", "GLOBEX", "USD")
    assert (second["creditUnit"], first["consumedAmount"], first["holdAmount"]) == ("GBP", 0, 0)
    details = api.get(f"/credits/{first['id']}").json()
    assert details["transactions"] == [
        {"id": f"{first['id']}.CREDITED", "creditId": first["id"], "transactionType": "CREDITED", "amount": 100,
         "createdAt": first["createdAt"]}
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"accountId": "NO-SUCH"}, "creditRequests[1].accountId: no account with id 'NO-SUCH'"),
        ({"creditAmount": 0}, "creditRequests[1].creditAmount: must be greater than 0"),
        ({"effectiveUntil": "2023-12-31"}, "creditRequests[1].effectiveUntil: is before effectiveFrom"),
    ],
)
def test_a_grant_is_all_or_nothing(api: Api, changes: dict[str, Any], message: str) -> None:
    before = api.state()
    r = api.post("/credits", json={"creditRequests": [grant(), grant(**changes)]})
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert api.state() == before


def test_an_idempotency_key_answers_the_earlier_credit(api: Api) -> None:
    (first,) = create(api, grant(idempotencyKey="promo-1"))
    (again,) = create(api, grant(idempotencyKey="promo-1", creditAmount=999))
    assert again == first
    assert balance(api)["runningBalance"] == 100


def test_void_ends_a_credit_once(api: Api) -> None:
    (credit,) = create(api, grant())
    r = api.post(f"/credits/{credit['id']}/void")
    assert r.status_code == 200 and r.json()["status"] == "VOIDED"
    kinds = [t["transactionType"] for t in api.get(f"/credits/{credit['id']}").json()["transactions"]]
    assert kinds == ["CREDITED", "VOIDED"]
    before = api.state()
    again = api.post(f"/credits/{credit['id']}/void")
    assert again.status_code == 400 and "only an ACTIVE one" in again.json()["message"]
    assert api.state() == before
    assert api.post("/credits/credit.nope/void").status_code == 404


def test_the_balance_is_derived_from_the_credits(api: Api) -> None:
    assert balance(api) | {"lastUpdatedAt": None} == {
        "activeCredits": 0, "availableBalance": 0, "runningBalance": 0, "inapplicableCredits": 0, "unit": "USD",
        "lastUpdatedAt": None,
    }
    now, later = create(api, grant(), grant(creditAmount=40, effectiveFrom="2099-01-01"))
    assert balance(api) == {
        "activeCredits": 2, "availableBalance": 100, "runningBalance": 140, "inapplicableCredits": 40, "unit": "USD",
        "lastUpdatedAt": later["updatedAt"],
    }
    api.post(f"/credits/{now['id']}/void")
    shown = balance(api)
    assert (shown["activeCredits"], shown["availableBalance"], shown["runningBalance"]) == (1, 0, 40)
    assert api.get("/accounts/NO-SUCH/credit_balance").status_code == 404


def test_list_filters_by_account_status_and_id(api: Api) -> None:
    a, b = create(api, grant(), grant(accountId="GLOBEX-UK"))
    api.post(f"/credits/{b['id']}/void")

    def ids(**query: str) -> list[str]:
        return [c["id"] for c in api.get("/credits", params=query).json()["data"]]

    assert ids(account_id="GLOBEX-US") == [a["id"]]
    assert ids(status="VOIDED") == [b["id"]]
    assert ids(id=a["id"], status="VOIDED") == []
    assert len(ids()) == 5  # the demo tenant's three and these two


def test_the_demo_tenant_has_credits_in_and_out_of_effect(api: Api) -> None:
    shown = balance(api, "ACME-US")
    assert (shown["activeCredits"], shown["availableBalance"], shown["inapplicableCredits"]) == (2, 500, 250)


def test_an_import_consuming_more_than_granted_is_refused(api: Api) -> None:
    state = api.get("/__mock/state").json()
    broken = {**state, "credits": [{**state["credits"][0], "consumedAmount": 10_000}]}
    r = api.request("PUT", "/__mock/state", json=broken)
    assert (r.status_code, r.json()["message"]) == (400, "credits[0].consumedAmount: must be between 0 and creditAmount")


def test_credits_with_togais_client(sdk: togai_client.ApiClient) -> None:
    credits = togai_client.CreditsApi(sdk)
    created = credits.create_credit(
        togai_client.CreateCreditRequest(
            credit_requests=[
                togai_client.CreditRequest(account_id="ACME-EU", purpose="Goodwill", priority=1,
                                           effective_from="2024-01-01", credit_amount=75)
            ]
        )
    ).credits[0]
    assert created.status == "ACTIVE"
    assert credits.get_credit_details(created.id).transactions[0].transaction_type == "CREDITED"
    assert credits.credit_balance_for_account("ACME-EU").available_balance == 75
    assert credits.void_credit(created.id).status == "VOIDED"
    page = credits.list_credits(account_id="ACME-EU", status="VOIDED", page_size=1)
    assert [c.id for c in page.data] == [created.id]


def _at(api: Api, now: str) -> None:
    """Set the seeded clock so that the next request reads ``now`` (it ticks a second per reading)."""
    api.app.state.store.clock.set_last(datetime.fromisoformat(now) - timedelta(seconds=1))


def _import_credit(api: Api, **changes: Any) -> dict[str, Any]:
    state = api.get("/__mock/state").json()
    credit = {"accountId": "GLOBEX-US", "purpose": "Promo", "priority": 1, "effectiveFrom": "2024-01-01",
              "effectiveUntil": "2024-03-01", "creditAmount": 100, "id": "credit.boundary", "customerId": "GLOBEX",
              "status": "ACTIVE", "creditUnit": "USD", "holdAmount": 0, "consumedAmount": 0,
              "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z", **changes}
    r = api.request("PUT", "/__mock/state", json={**state, "credits": [*state["credits"], credit]})
    assert r.status_code == 200, r.text
    return credit


@pytest.mark.parametrize(
    ("now", "active", "available", "inapplicable", "status"),
    [
        # Hand-worked: usable in [2024-01-01T00:00Z, 2024-03-01T00:00Z) (dates at midnight UTC).
        ("2023-12-31T23:59:59.999+00:00", 1, 0, 100, "ACTIVE"),  # not started: held back, not expired
        ("2024-01-01T00:00:00.000+00:00", 1, 100, 0, "ACTIVE"),  # effectiveFrom counts
        ("2024-02-29T23:59:59.999+00:00", 1, 100, 0, "ACTIVE"),  # the last millisecond it is usable
        ("2024-03-01T00:00:00.000+00:00", 0, 0, 0, "EXPIRED"),  # expiring exactly now: expired already
        ("2024-03-01T00:00:00.001+00:00", 0, 0, 0, "EXPIRED"),
    ],
)
def test_a_credit_is_usable_from_effective_from_until_effective_until(
    api: Api, now: str, active: int, available: int, inapplicable: int, status: str
) -> None:
    _import_credit(api)
    _at(api, now)
    shown = balance(api)
    assert (shown["activeCredits"], shown["availableBalance"], shown["runningBalance"], shown["inapplicableCredits"]) \
        == (active, available, available + inapplicable, inapplicable)
    _at(api, now)
    details = api.get("/credits/credit.boundary").json()
    assert details["status"] == status
    kinds = [(t["transactionType"], t["amount"], t["createdAt"]) for t in details["transactions"]]
    expiry = [("EXPIRED", 100, "2024-03-01T00:00:00.000Z")] if status == "EXPIRED" else []
    assert kinds == [("CREDITED", 100, "2024-01-01T00:00:00.000Z"), *expiry]
    _at(api, now)
    listed = api.get("/credits", params={"account_id": "GLOBEX-US", "status": status}).json()["data"]
    assert [(c["id"], c["status"]) for c in listed] == [("credit.boundary", status)]
    _at(api, now)
    voided = api.post("/credits/credit.boundary/void")
    assert voided.status_code == (200 if status == "ACTIVE" else 400)


def test_credit_balances_are_exact(api: Api) -> None:
    # Hand-computed: 0.1 + 0.2 = 0.3 granted; then 0.3 more, 0.1 of it on hold: 0.6 left, 0.5 available
    # (in floats 0.1 + 0.2 + 0.3 is 0.6000000000000001).
    create(api, grant(creditAmount=0.1), grant(creditAmount=0.2))
    shown = balance(api)
    assert (shown["runningBalance"], shown["availableBalance"]) == (0.3, 0.3)
    _import_credit(api, creditAmount=0.3, holdAmount=0.1, effectiveUntil="2099-01-01")
    shown = balance(api)
    assert (shown["runningBalance"], shown["availableBalance"]) == (0.6, 0.5)


def test_imported_credits_are_indexed_by_key_and_account(api: Api) -> None:
    _import_credit(api, idempotencyKey="imported-1", effectiveUntil="2099-01-01")
    (again,) = create(api, grant(idempotencyKey="imported-1", creditAmount=5))
    assert again["id"] == "credit.boundary"
    (new,) = create(api, grant(creditAmount=5))
    assert [c["id"] for c in api.get("/credits", params={"account_id": "GLOBEX-US"}).json()["data"]] == [
        "credit.boundary", new["id"]]
    assert balance(api)["runningBalance"] == 105
    assert api.post("/__mock/reset", headers={"Content-Type": "application/json"}).json() == {"success": True}
    (fresh,) = create(api, grant(idempotencyKey="imported-1", creditAmount=5))
    assert fresh["id"] != "credit.boundary" and fresh["creditAmount"] == 5


def test_a_filtered_credit_list_pages_with_tokens(api: Api) -> None:
    made = create(api, *(grant(creditAmount=n) for n in range(1, 6)))
    create(api, grant(accountId="GLOBEX-UK"))  # another account's, interleaved after
    seen, query = [], {"account_id": "GLOBEX-US", "pageSize": 2}
    while True:
        page = api.get("/credits", params=query).json()
        seen += [c["id"] for c in page["data"]]
        if "nextToken" not in page:
            break
        query = {"account_id": "GLOBEX-US", "nextToken": page["nextToken"]}
    assert seen == [c["id"] for c in made]
