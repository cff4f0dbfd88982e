"""Which operation reaches which rule, and how its answer looks.

The area: customers, accounts, aliases, contacts, invoice groups, and the token operations.
Each handler reads the request, calls a rule of :mod:`mock_server.domain.parties`
with typed arguments, and renders what it returns in the API's shapes.
"""
from __future__ import annotations

from typing import Any

from ..domain.core.store import Record, Store
from ..domain.parties import accounts, aliases, contacts, customers, invoice_groups, tokens
from .binding import Binding, FixtureShape, Shapes
from .call import Call, Handler

SUCCESS = {"success": True}
# An account's invoiceGroupDetails: its group without the timestamps.
_NOT_IN_DETAILS = ("createdAt", "updatedAt")
# What POST /customers answers of the new customer (Togai leaves out its status and timestamps).
_CREATED_CUSTOMER = ("id", "togaiCustomerId", "name", "primaryEmail", "billingAddress", "address")


# -- accounts --


def render_account(store: Store, record: accounts.AccountRecord, with_group: bool = False) -> dict[str, Any]:
    """The account as the API shows it; ``with_group`` adds ``invoiceGroupDetails`` when it is in one."""
    out = record.to_dict()
    if with_group:
        group = invoice_groups.group_of(store, record["id"])
        if group is not None:
            out["invoiceGroupDetails"] = {k: group[k] for k in group.FIELDS if k not in _NOT_IN_DETAILS and k in group}
    return out


def _wanted_aliases(body: dict[str, Any]) -> list[str]:
    """The alias values a body names: ``aliases``, then the ``value`` of each of ``accountAliases``."""
    return [*body.get("aliases", []), *(a["value"] for a in body.get("accountAliases", []))]


def create_account(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts``."""
    return render_account(store, accounts.create_account(store, call.body))


def list_accounts(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts``."""
    records, extra = accounts.list_accounts(store, call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": [render_account(store, r) for r in records], **extra}


def get_account(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{account_id}``; ``includeGroupDetails`` adds its invoice group."""
    record = accounts.require_account(store, call.params["account_id"])
    return render_account(store, record, call.params.get("includeGroupDetails", False))


def update_account(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /accounts/{account_id}``."""
    return render_account(store, accounts.update_account(store, call.params["account_id"], call.body))


def delete_account(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /accounts/{account_id}``: archives."""
    accounts.delete_account(store, call.params["account_id"])
    return dict(SUCCESS)


def add_aliases(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{account_id}/add_aliases``."""
    record = accounts.add_aliases(store, call.params["account_id"], _wanted_aliases(call.body))
    return render_account(store, record)


def remove_aliases(store: Store, call: Call) -> dict[str, Any]:
    """``POST /accounts/{account_id}/remove_aliases``: ``accountAliases`` name theirs by ``id``."""
    body = call.body
    alias_ids = [a["id"] for a in body.get("accountAliases", [])]
    record = accounts.remove_aliases(store, call.params["account_id"], body.get("aliases", []), alias_ids)
    return render_account(store, record)


ACCOUNTS = Binding(
    resource="accounts",
    path_param="account_id",
    create="createAccount",
    read="getAccount",
    list="getAccounts",
    update="updateAccount",
    delete="deleteAccount",
    handlers={
        "createAccount": create_account,
        "getAccounts": list_accounts,
        "getAccount": get_account,
        "updateAccount": update_account,
        "deleteAccount": delete_account,
        "addAliases": add_aliases,
        "removeAliases": remove_aliases,
    },
)


# -- aliases --


def _history_item(record: Record) -> dict[str, Any]:
    """A history record as listed: its account is the one in the path."""
    return {k: v for k, v in record.items() if k != "accountId"}


def create_aliases(store: Store, call: Call) -> dict[str, Any]:
    """``POST /aliases``."""
    made = aliases.create_aliases(store, [a["value"] for a in call.body["aliases"]])
    return {"data": [dict(r) for r in made]}


def delete_alias(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /aliases/{alias}``."""
    aliases.delete_alias(store, call.params["alias"])
    return dict(SUCCESS)


def account_history(store: Store, call: Call) -> dict[str, Any]:
    """``GET /accounts/{account_id}/account_aliases``: one page, the whole history."""
    return {"data": [_history_item(r) for r in aliases.account_history(store, call.params["account_id"])]}


ALIASES = Binding(
    resource="aliases",
    path_param="alias",
    path_field="value",
    create="createAlias",
    read="getAlias",
    list="listAliases",
    delete="deleteAlias",  # removes; Togai has no update of an alias
    fixtures=FixtureShape(
        created_path=("data", 0),
    ),
    shapes=Shapes(
        context=False,  # AliasPaginatedResponse is closed without it
    ),
    handlers={"createAlias": create_aliases, "deleteAlias": delete_alias},
)

ALIAS_HISTORY = Binding(
    resource="accountAliases",
    path_param="account_id",
    list="listAccountAliases",  # made by attaching and removing an account's aliases
    handlers={"listAccountAliases": account_history},
)


# -- contacts --


def create_contact(store: Store, call: Call) -> dict[str, Any]:
    """``POST /customers/{customer_id}/contacts``: the contact without its customer (in the path)."""
    record = contacts.create_contact(store, call.params["customer_id"], call.body)
    return {k: v for k, v in record.items() if k != "customerId"}


CONTACTS = Binding(
    resource="customerContacts",
    path_param="customer_id",
    path_field="username",
    create="createCustomerContact",  # Togai has no read, list, update or delete of contacts
    fixtures=FixtureShape(
        params=("customer_id",),
    ),
    handlers={"createCustomerContact": create_contact},
)


# -- customers --


def create_customer(store: Store, call: Call) -> dict[str, Any]:
    """``POST /customers``: the customer (and its ``settings`` as sent), with its first account if one was asked."""
    record, account = customers.create_customer(store, call.body)
    out = {k: record[k] for k in _CREATED_CUSTOMER}
    if "settings" in call.body:
        out["settings"] = call.body["settings"]
    if account is not None:
        out["account"] = render_account(store, account)
    return out


def list_customers(store: Store, call: Call) -> dict[str, Any]:
    """``GET /customers``."""
    records, extra = customers.list_customers(store, call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": [dict(r) for r in records], **extra}


def get_customer(store: Store, call: Call) -> dict[str, Any]:
    """``GET /customers/{customer_id}``."""
    return dict(customers.require_customer(store, call.params["customer_id"]))


def update_customer(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /customers/{customer_id}``."""
    return dict(customers.update_customer(store, call.params["customer_id"], call.body))


def delete_customer(store: Store, call: Call) -> dict[str, Any]:
    """``DELETE /customers/{customer_id}``: archives it and its accounts."""
    customers.delete_customer(store, call.params["customer_id"])
    return dict(SUCCESS)


CUSTOMERS = Binding(
    resource="customers",
    path_param="customer_id",
    create="createCustomer",
    read="getCustomer",
    list="getCustomers",
    update="updateCustomer",
    delete="deleteCustomer",
    handlers={
        "createCustomer": create_customer,
        "getCustomers": list_customers,
        "getCustomer": get_customer,
        "updateCustomer": update_customer,
        "deleteCustomer": delete_customer,
    },
)


# -- invoice groups --


def render_group(store: Store, record: invoice_groups.GroupRecord, with_accounts: bool = False) -> dict[str, Any]:
    """The group as the API shows it; ``accountsCount`` is counted, never stored."""
    members = invoice_groups.members(store, record["id"])
    out = {**record.to_dict(), "accountsCount": len(members)}
    if with_accounts:
        out["accounts"] = members
    return out


def create_group(store: Store, call: Call) -> dict[str, Any]:
    """``POST /invoice_groups``."""
    return render_group(store, invoice_groups.create_group(store, call.body))


def list_groups(store: Store, call: Call) -> dict[str, Any]:
    """``GET /invoice_groups``."""
    records, extra = invoice_groups.list_groups(store, call.params.get("nextToken"), call.params.get("pageSize"))
    return {"data": [render_group(store, r) for r in records], **extra}


def get_group(store: Store, call: Call) -> dict[str, Any]:
    """``GET /invoice_groups/{invoice_group_id}``, with the ids of its accounts."""
    return render_group(store, invoice_groups.require_group(store, call.params["invoice_group_id"]), True)


def add_group_accounts(store: Store, call: Call) -> dict[str, Any]:
    """``POST /invoice_groups/{invoice_group_id}/add_accounts``."""
    record = invoice_groups.add_accounts(store, call.params["invoice_group_id"], call.body["accountIds"])
    return render_group(store, record)


def remove_group_accounts(store: Store, call: Call) -> dict[str, Any]:
    """``POST /invoice_groups/{invoice_group_id}/remove_accounts``."""
    invoice_groups.remove_accounts(store, call.params["invoice_group_id"], call.body["accountIds"])
    return dict(SUCCESS)


INVOICE_GROUPS = Binding(
    resource="invoiceGroups",
    path_param="invoice_group_id",
    create="createInvoiceGroup",
    read="getInvoiceGroup",
    list="listInvoiceGroups",
    handlers={
        "createInvoiceGroup": create_group,
        "listInvoiceGroups": list_groups,
        "getInvoiceGroup": get_group,
        "AddInvoiceGroupAccounts": add_group_accounts,
        "RemoveInvoiceGroupAccounts": remove_group_accounts,
    },
)


# -- tokens: answered from the request and the state, storing nothing --


def bearer(call: Call) -> str:
    """The caller's bearer token (the security stage made sure there is one)."""
    return call.headers.get("authorization", "").strip().partition(" ")[2].strip()


def authenticate(store: Store, call: Call) -> dict[str, Any]:
    """``POST /authenticate``: for the calling token."""
    return {"token": tokens.authenticate(store, bearer(call))}


def portal_token(store: Store, call: Call) -> dict[str, Any]:
    """``POST /portal/token``."""
    body = call.body
    token = tokens.portal_token(
        store,
        bearer(call),
        body["customerId"],
        body.get("accountIds", []),
        body.get("allAccountsAccess", False),
        body.get("expiry"),
    )
    return {"token": token}


TOKENS: dict[str, Handler] = {"authenticate": authenticate, "getCustomerPortalDelegateToken": portal_token}
