"""Replace the whole tenant with exported data, after checking Togai's rules on it."""
from __future__ import annotations

import sys
from typing import Any

from ..errors import ApiError, Violation
from .accounts import BASE_CURRENCY, MAX_ALIASES
from .state import AccountRecord, GroupRecord, Store


_SHARED_VALUES = ("customerId", "togaiCustomerId", "status", "invoiceCurrency")


def import_state(store: Store, data: dict[str, Any]) -> None:
    """Load ``data`` (the shape of :meth:`Store.export`) or raise a 400 naming every problem.

    Records must already match the API schemas; this checks what relates them.
    Nothing changes unless everything is valid.
    """
    problems: list[Violation] = []
    customers: dict[str, dict[str, Any]] = {}
    for i, record in enumerate(data["customers"]):
        if record["id"] in customers:
            problems.append(Violation(f"customers[{i}].id", f"{record['id']!r} is used twice"))
        customers[record["id"]] = record
    accounts: dict[str, dict[str, Any]] = {}
    alias_owner: dict[str, str] = {}
    for i, record in enumerate(data["accounts"]):
        where = f"accounts[{i}]"
        if record["id"] in accounts:
            problems.append(Violation(f"{where}.id", f"{record['id']!r} is used twice"))
        owner = customers.get(record["customerId"])
        if owner is None:
            problems.append(Violation(f"{where}.customerId", f"no customer {record['customerId']!r}"))
        elif owner["togaiCustomerId"] != record["togaiCustomerId"]:
            problems.append(Violation(f"{where}.togaiCustomerId", "is not its customer's togaiCustomerId"))
        aliases = [a["alias"] for a in record.get("aliases", [])]
        if len(aliases) > MAX_ALIASES:
            problems.append(Violation(f"{where}.aliases", f"an account holds at most {MAX_ALIASES} aliases"))
        for alias in aliases:
            other = alias_owner.setdefault(alias, record["id"])
            if other != record["id"]:
                problems.append(Violation(f"{where}.aliases", f"alias {alias!r} already belongs to account {other!r}"))
        accounts[record["id"]] = record
    account_group: dict[str, str] = {}
    group_ids: set[str] = set()
    for i, group in enumerate(data["invoiceGroups"]):
        where = f"invoiceGroups[{i}]"
        if group["id"] in group_ids:
            problems.append(Violation(f"{where}.id", f"{group['id']!r} is used twice"))
        group_ids.add(group["id"])
        if not group["accounts"]:
            problems.append(Violation(f"{where}.accounts", "a group needs at least one account"))
        for j, account_id in enumerate(group["accounts"]):
            field = f"{where}.accounts[{j}]"
            account = accounts.get(account_id)
            if account is None:
                problems.append(Violation(field, f"no account {account_id!r}"))
            elif account["status"] == "ARCHIVED":
                problems.append(Violation(field, f"account {account_id!r} is archived"))
            elif account.get("invoiceCurrency", BASE_CURRENCY) != group["invoiceCurrency"]:
                problems.append(Violation(field, f"account {account_id!r} is not invoiced in {group['invoiceCurrency']}"))
            elif account_group.setdefault(account_id, group["id"]) != group["id"]:
                problems.append(Violation(field, f"account {account_id!r} is already in group {account_group[account_id]!r}"))
    if problems:
        raise ApiError(400, problems)
    with store.lock:
        store.clear()
        for record in data["customers"]:
            store.customers.add(record["id"], dict(record))
        for record in data["accounts"]:
            stored = {k: v for k, v in record.items() if k != "invoiceGroupDetails"}
            for key in _SHARED_VALUES:
                if key in stored:
                    # Parsed JSON gives every account its own copy of these few values.
                    stored[key] = sys.intern(stored[key])
            stored["aliases"] = tuple(stored.get("aliases", ()))
            stored.setdefault("invoiceCurrency", BASE_CURRENCY)
            store.accounts.add(record["id"], AccountRecord(stored))
            store.customer_accounts.setdefault(record["customerId"], []).append(record["id"])
        store.alias_owner.update(alias_owner)
        for group in data["invoiceGroups"]:
            stored = {k: v for k, v in group.items() if k not in ("accounts", "accountsCount", "nextToken")}
            store.groups.add(group["id"], GroupRecord(stored))
            for account_id in group["accounts"]:
                store.join_group(account_id, group["id"])
