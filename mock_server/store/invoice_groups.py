"""Invoice groups: accounts that share one currency, invoiced together."""
from __future__ import annotations

from typing import Any

from ..errors import ApiError, Violation
from .pagination import paginate
from .state import AccountRecord, GroupRecord, Store


def require_group(store: Store, group_id: str) -> GroupRecord:
    """The invoice group, or a 404."""
    record = store.groups.get(group_id)
    if record is None:
        raise ApiError.of(404, "invoice_group_id", f"no invoice group with id {group_id!r}")
    return record


def render_group(store: Store, record: GroupRecord, with_accounts: bool = False) -> dict[str, Any]:
    """The group as the API shows it; ``accountsCount`` is counted, never stored."""
    members = store.group_members.get(record["id"], {})
    out = {**record.to_dict(), "accountsCount": len(members)}
    if with_accounts:
        out["accounts"] = list(members)
    return out


def _unique(account_ids: list[str]) -> dict[str, int]:
    """Each id once, with the index it first has in the request (for messages)."""
    first: dict[str, int] = {}
    for i, account_id in enumerate(account_ids):
        first.setdefault(account_id, i)
    return first


def _check_joiners(
    store: Store, account_ids: dict[str, int], group_id: str | None
) -> tuple[list[AccountRecord], set[str]]:
    """The accounts that may join ``group_id`` and their currencies, or every problem.

    Accounts already in ``group_id`` are skipped: adding them again changes nothing.
    """
    problems: list[Violation] = []
    joiners: list[AccountRecord] = []
    for account_id, i in account_ids.items():
        field = f"accountIds[{i}]"
        record = store.accounts.get(account_id)
        current = store.account_group.get(account_id)
        if record is None:
            problems.append(Violation(field, f"no account with id {account_id!r}"))
        elif record["status"] == "ARCHIVED":
            problems.append(Violation(field, f"account {account_id!r} is archived"))
        elif current is not None and current != group_id:
            problems.append(Violation(field, f"account {account_id!r} already belongs to invoice group {current!r}"))
        elif current is None:
            joiners.append(record)
    if problems:
        raise ApiError(400, problems)
    return joiners, {r["invoiceCurrency"] for r in joiners}


def create_group(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /invoice_groups``: 1-100 free, non-archived accounts of one currency."""
    joiners, currencies = _check_joiners(store, _unique(body["accountIds"]), None)
    if len(currencies) > 1:
        raise ApiError.of(
            400, "accountIds", f"accounts must share one invoice currency, found {', '.join(sorted(currencies))}"
        )
    now = store.clock.now()
    group_id = store.new_group_id()
    fields: dict[str, Any] = {
        "id": group_id,
        "name": body["name"],
        "email": body["email"],
        "dailyInvoiceConsolidation": body["dailyInvoiceConsolidation"],
        "invoiceCurrency": currencies.pop(),
        "billingAddress": body["address"],
        "createdAt": now,
        "updatedAt": now,
    }
    if "netTermDays" in body:
        fields["netTermDays"] = body["netTermDays"]
    record = GroupRecord(fields)
    store.groups.add(group_id, record)
    for account in joiners:
        store.join_group(account["id"], group_id)
    return render_group(store, record)


def get_group(store: Store, group_id: str) -> dict[str, Any]:
    """``GET /invoice_groups/{id}``, with the ids of its accounts."""
    return render_group(store, require_group(store, group_id), with_accounts=True)


def list_groups(store: Store, next_token: str | None, page_size: int | None) -> dict[str, Any]:
    """``GET /invoice_groups``: one page, oldest first."""
    records, extra = paginate(store.groups, next_token, page_size)
    return {"data": [render_group(store, r) for r in records], **extra}


def add_accounts(store: Store, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /invoice_groups/{id}/add_accounts``: same rules as creation."""
    record = require_group(store, group_id)
    account_ids = _unique(body["accountIds"])
    joiners, _ = _check_joiners(store, account_ids, group_id)
    wrong = [
        Violation(
            f"accountIds[{account_ids[a['id']]}]",
            f"account {a['id']!r} is invoiced in {a['invoiceCurrency']}, the group in {record['invoiceCurrency']}",
        )
        for a in joiners
        if a["invoiceCurrency"] != record["invoiceCurrency"]
    ]
    if wrong:
        raise ApiError(400, wrong)
    if joiners:
        for account in joiners:
            store.join_group(account["id"], group_id)
        record["updatedAt"] = store.clock.now()
    return render_group(store, record)


def remove_accounts(store: Store, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /invoice_groups/{id}/remove_accounts``; the last one out deletes the group."""
    require_group(store, group_id)
    account_ids = _unique(body["accountIds"])
    problems: list[Violation] = []
    for account_id, i in account_ids.items():
        field = f"accountIds[{i}]"
        if account_id not in store.accounts.items:
            problems.append(Violation(field, f"no account with id {account_id!r}"))
        elif store.account_group.get(account_id) != group_id:
            problems.append(Violation(field, f"account {account_id!r} is not in invoice group {group_id!r}"))
    if problems:
        raise ApiError(400, problems)
    now = store.clock.now()
    for account_id in account_ids:
        store.leave_group(account_id, now)
    return {"success": True}
