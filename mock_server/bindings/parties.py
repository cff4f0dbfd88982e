"""Which operation reaches which rule.

The area: customers, accounts, aliases, contacts, invoice groups, and the token operations.
"""
from __future__ import annotations

from ..domain.parties import accounts, aliases, contacts, customers, invoice_groups, tokens
from .binding import Binding

ACCOUNTS = Binding(
    resource="accounts",
    path_param="account_id",
    create="createAccount",
    read="getAccount",
    list="getAccounts",
    update="updateAccount",
    delete="deleteAccount",
    handlers={
        "createAccount": lambda s, c: accounts.create_account(s, c.body),
        "getAccounts": lambda s, c: accounts.list_accounts(s, c.params.get("nextToken"), c.params.get("pageSize")),
        "getAccount": lambda s, c: (
            accounts.get_account(s, c.params["account_id"], c.params.get("includeGroupDetails", False))
        ),
        "updateAccount": lambda s, c: accounts.update_account(s, c.params["account_id"], c.body),
        "deleteAccount": lambda s, c: accounts.delete_account(s, c.params["account_id"]),
        "addAliases": lambda s, c: accounts.add_aliases(s, c.params["account_id"], c.body),
        "removeAliases": lambda s, c: accounts.remove_aliases(s, c.params["account_id"], c.body),
    },
)

ALIASES = Binding(
    resource="aliases",
    path_param="alias",
    path_field="value",
    create="createAlias",
    read="getAlias",
    list="listAliases",
    delete="deleteAlias",  # removes; Togai has no update of an alias
    created_path=("data", 0),
    list_context=False,  # AliasPaginatedResponse is closed without it
    handlers={"createAlias": aliases.create_aliases, "deleteAlias": aliases.delete_alias},
)

ALIAS_HISTORY = Binding(
    resource="accountAliases",
    path_param="account_id",
    list="listAccountAliases",  # made by attaching and removing an account's aliases
    handlers={"listAccountAliases": aliases.account_history},
)

CONTACTS = Binding(
    resource="customerContacts",
    path_param="customer_id",
    path_field="username",
    create="createCustomerContact",  # Togai has no read, list, update or delete of contacts
    fixture_params=("customer_id",),
    handlers={"createCustomerContact": contacts.create_contact},
)

CUSTOMERS = Binding(
    resource="customers",
    path_param="customer_id",
    create="createCustomer",
    read="getCustomer",
    list="getCustomers",
    update="updateCustomer",
    delete="deleteCustomer",
    handlers={
        "createCustomer": lambda s, c: customers.create_customer(s, c.body),
        "getCustomers": lambda s, c: customers.list_customers(s, c.params.get("nextToken"), c.params.get("pageSize")),
        "getCustomer": lambda s, c: customers.get_customer(s, c.params["customer_id"]),
        "updateCustomer": lambda s, c: customers.update_customer(s, c.params["customer_id"], c.body),
        "deleteCustomer": lambda s, c: customers.delete_customer(s, c.params["customer_id"]),
    },
)

INVOICE_GROUPS = Binding(
    resource="invoiceGroups",
    path_param="invoice_group_id",
    create="createInvoiceGroup",
    read="getInvoiceGroup",
    list="listInvoiceGroups",
    handlers={
        "createInvoiceGroup": lambda s, c: invoice_groups.create_group(s, c.body),
        "listInvoiceGroups": lambda s, c: (
            invoice_groups.list_groups(s, c.params.get("nextToken"), c.params.get("pageSize"))
        ),
        "getInvoiceGroup": lambda s, c: invoice_groups.get_group(s, c.params["invoice_group_id"]),
        "AddInvoiceGroupAccounts": lambda s, c: invoice_groups.add_accounts(s, c.params["invoice_group_id"], c.body),
        "RemoveInvoiceGroupAccounts": lambda s, c: (
            invoice_groups.remove_accounts(s, c.params["invoice_group_id"], c.body)
        ),
    },
)

# Answered from the request and the state, storing nothing.
TOKENS = tokens.HANDLERS
