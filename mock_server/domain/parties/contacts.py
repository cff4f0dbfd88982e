"""Customer contacts: the people of a customer (portal users), made by ``POST /customers/{id}/contacts``.

Togai shows a contact only in the answer to its creation; the mock keeps it
(with its customer) so that it is exported, imported and reset with the
tenant. A password is never stored nor shown.
"""
from __future__ import annotations

from typing import Any

from ..core import lookup
from ..core.errors import Conflict, Invalid, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store

CONTACT_IDS = IdScheme("contact")
# Indexes: customer id -> usernames of its contacts; customer id and lowercased email -> username
# (an email is unique among a customer's contacts, whatever its case).
BY_CUSTOMER = "customer_contacts"
BY_EMAIL = "customer_contact_emails"


def _email_key(customer_id: str, email: str) -> str:
    return f"{customer_id}\n{email.lower()}"


def create_contact(store: Store, customer_id: str, body: dict[str, Any]) -> Record:
    """A contact of an active customer; its username (``preferredUsername``, else made) is unique
    in the tenant, its email among the customer's contacts. ``body`` is the request's (its password
    is dropped)."""
    customer = lookup.require(store, "customers", customer_id, "customer_id", "customer")
    if customer["status"] == "ARCHIVED":
        raise Invalid.at("customer_id", f"customer {customer_id!r} is archived")
    contacts = store.collections["customerContacts"]
    wanted = body.get("preferredUsername")
    if wanted is not None and contacts.get(wanted) is not None:
        raise Conflict.at("preferredUsername", f"username {wanted!r} is taken")
    if _email_key(customer_id, body["email"]) in store.indexes[BY_EMAIL]:
        raise Conflict.at("email", f"customer {customer_id!r} already has a contact with email {body['email']!r}")
    username = wanted if wanted is not None else store.new_id(CONTACT_IDS, contacts)
    record: dict[str, Any] = {"username": username, "customerId": customer_id}
    record.update({k: v for k, v in body.items() if k != "password"})
    for key, value in RESOURCE.defaults.items():
        record.setdefault(key, value)
    record["createdBy"] = "api"  # the mock knows API keys, not users
    record["createdAt"] = store.clock.now()
    restore_contact(store, record)
    stored: Record = contacts.items[username]
    return stored


def restore_contact(store: Store, record: dict[str, Any]) -> None:
    """Store a contact under its username and index it by customer and by email (creation and import)."""
    store.collections["customerContacts"].add(record["username"], dict(record))
    store.indexes[BY_CUSTOMER].setdefault(record["customerId"], []).append(record["username"])
    # A contact without email never gets here (check_import refuses it); the guard keeps restore total.
    if isinstance(record.get("email"), str):
        store.indexes[BY_EMAIL].setdefault(_email_key(record["customerId"], record["email"]), record["username"])


def check_import(ctx: ImportContext) -> None:
    """No password; one email once per customer; an archived customer's contacts predate its archiving."""
    emails: dict[tuple[str, str], int] = {}
    for i, record in enumerate(ctx.data["customerContacts"]):
        where = f"customerContacts[{i}]"
        if "password" in record:
            ctx.problems.append(Violation(f"{where}.password", "is never kept"))
        email = record.get("email")
        if email is None:
            ctx.problems.append(Violation(f"{where}.email", "is required (creating a contact needs it)"))
            continue
        other = emails.setdefault((record["customerId"], email.lower()), i)
        if other != i:
            rule = f"is also customerContacts[{other}]'s, of the same customer"
            ctx.problems.append(Violation(f"{where}.email", rule))


def complete_import(store: Store, ctx: ImportContext) -> None:
    """A contact an import gives without ``username`` or ``createdBy`` gets them as creation does."""
    for record in ctx.data["customerContacts"]:
        if "username" not in record:
            record["username"] = record.get("preferredUsername") or store.new_id(CONTACT_IDS)
        record.setdefault("createdBy", "api")


RESOURCE = Resource(
    name="customerContacts",
    schema="CreateCustomerContactResponse",
    exchange=Exchange(
        key_field="username",
        owner_fields=("customerId",),
        check_import=check_import,
        restore=restore_contact,
        generated=("username", "createdBy"),
        complete_import=complete_import,
    ),
    references={"customerId": "customers"},
    indexes=(BY_CUSTOMER, BY_EMAIL),
    defaults={"verified": False, "loginAccess": False},
)
