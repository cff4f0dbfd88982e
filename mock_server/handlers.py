"""Stateful handlers by ``operationId``: request in, store call, response body out.

The success status comes from the spec (the first 2xx it declares), so it is
not repeated here. Operations missing from :data:`HANDLERS` are answered from
canned responses (see :mod:`mock_server.canned`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .store import Store
from .store import accounts, customers, invoice_groups


@dataclass(frozen=True, slots=True)
class Call:
    """A validated request: typed parameters and the decoded body."""

    params: dict[str, Any]
    body: Any


Handler = Callable[[Store, Call], Any]

HANDLERS: dict[str, Handler] = {
    "createCustomer": lambda s, c: customers.create_customer(s, c.body),
    "getCustomers": lambda s, c: customers.list_customers(s, c.params.get("nextToken"), c.params.get("pageSize")),
    "getCustomer": lambda s, c: customers.get_customer(s, c.params["customer_id"]),
    "updateCustomer": lambda s, c: customers.update_customer(s, c.params["customer_id"], c.body),
    "deleteCustomer": lambda s, c: customers.delete_customer(s, c.params["customer_id"]),
    "createAccount": lambda s, c: accounts.create_account(s, c.body),
    "getAccounts": lambda s, c: accounts.list_accounts(s, c.params.get("nextToken"), c.params.get("pageSize")),
    "getAccount": lambda s, c: accounts.get_account(
        s, c.params["account_id"], c.params.get("includeGroupDetails", False)
    ),
    "updateAccount": lambda s, c: accounts.update_account(s, c.params["account_id"], c.body),
    "deleteAccount": lambda s, c: accounts.delete_account(s, c.params["account_id"]),
    "addAliases": lambda s, c: accounts.add_aliases(s, c.params["account_id"], c.body),
    "removeAliases": lambda s, c: accounts.remove_aliases(s, c.params["account_id"], c.body),
    "createInvoiceGroup": lambda s, c: invoice_groups.create_group(s, c.body),
    "listInvoiceGroups": lambda s, c: invoice_groups.list_groups(
        s, c.params.get("nextToken"), c.params.get("pageSize")
    ),
    "getInvoiceGroup": lambda s, c: invoice_groups.get_group(s, c.params["invoice_group_id"]),
    "AddInvoiceGroupAccounts": lambda s, c: invoice_groups.add_accounts(s, c.params["invoice_group_id"], c.body),
    "RemoveInvoiceGroupAccounts": lambda s, c: invoice_groups.remove_accounts(
        s, c.params["invoice_group_id"], c.body
    ),
}
