"""Customer contacts: kept with their customer, shown when created, exported and imported -- and with Togai's client."""
from __future__ import annotations

import togai_client
from conftest import Api


def contact(api: Api, customer: str = "UMBRELLA", **extra: object):  # type: ignore[no-untyped-def]
    return api.post(f"/customers/{customer}/contacts", json={"name": "Ann", "email": "ann@umbrella.example", **extra})


def test_a_contact_is_answered_without_its_password_and_kept(api: Api) -> None:
    r = contact(api, password="s3cret!", phone="+49 30 1234")
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["username"].startswith("contact.") and "password" not in made
    assert (made["verified"], made["loginAccess"], made["createdBy"]) == (False, False, "api")
    kept = api.get("/__mock/state").json()["customerContacts"]
    assert {**made, "customerId": "UMBRELLA"} in kept
    assert all("password" not in c for c in kept)


def test_a_preferred_username_is_the_username_and_unique(api: Api) -> None:
    assert contact(api, preferredUsername="annU").json()["username"] == "annU"
    r = contact(api, "ACME", email="other@acme.example", preferredUsername="annU")
    assert (r.status_code, r.json()["message"]) == (400, "preferredUsername: username 'annU' is taken")


def test_one_email_once_per_customer(api: Api) -> None:
    assert contact(api).status_code == 201
    r = contact(api, email="ANN@umbrella.example")
    assert r.status_code == 400 and r.json()["message"].startswith("email: customer 'UMBRELLA' already has")
    assert contact(api, "GLOBEX").status_code == 201  # another customer may have it


def test_unknown_or_archived_customer(api: Api) -> None:
    assert contact(api, "NOPE").status_code == 404
    api.delete("/customers/UMBRELLA")
    r = contact(api)
    assert (r.status_code, r.json()["message"]) == (400, "customer_id: customer 'UMBRELLA' is archived")


def test_a_phone_longer_than_the_answer_holds_is_refused(api: Api) -> None:
    assert contact(api, phone="+" + "1" * 20).status_code == 400
    assert contact(api, phone="+" + "1" * 19).status_code == 201


def test_import_checks_contacts(api: Api) -> None:
    state = api.get("/__mock/state").json()
    twice = {**state, "customerContacts": [*state["customerContacts"], {**state["customerContacts"][0], "username": "x"}]}
    r = api.request("PUT", "/__mock/state", json=twice)
    assert r.status_code == 400 and "of the same customer" in r.json()["message"]
    orphan = {**state, "customerContacts": [{"customerId": "NOPE", "name": "N", "email": "n@x.example"}]}
    assert api.request("PUT", "/__mock/state", json=orphan).status_code == 400
    # Server-made fields may be left out, as in a fixture.
    short = {**state, "customerContacts": [{"customerId": "ACME", "name": "N", "email": "n@x.example"}]}
    assert api.request("PUT", "/__mock/state", json=short).status_code == 200
    (made,) = api.get("/__mock/state").json()["customerContacts"]
    assert made["username"].startswith("contact.") and made["loginAccess"] is False


def test_contacts_with_togais_client(sdk: togai_client.ApiClient) -> None:
    customers = togai_client.CustomersApi(sdk)
    made = customers.create_customer_contact(
        "GLOBEX",
        togai_client.CreateCustomerContactRequest(name="Sdk Person", email="sdk@globex.example", login_access=True),
    )
    assert made.login_access is True and made.username.startswith("contact.")
