"""Invoice groups: accounts that share one currency, invoiced together."""
from __future__ import annotations

from typing import Any

from ..core import lookup
from ..core.cursors import paginate
from ..core.errors import Invalid, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Layout, Resource
from ..core.store import BASE_CURRENCY, SlottedRecord, Store

AccountRecord = SlottedRecord
GroupRecord = SlottedRecord

GROUP_IDS = IdScheme("inv_group", 11, 5, mixed_case=True)


def require_group(store: Store, group_id: str) -> GroupRecord:
    """The invoice group, or a :class:`NotFound`."""
    record: GroupRecord = lookup.require(store, "invoiceGroups", group_id, "invoice_group_id", "invoice group")
    return record


def members(store: Store, group_id: str) -> list[str]:
    """The ids of the group's accounts, in the order they joined."""
    return list(store.indexes["group_members"].get(group_id, {}))


def group_of(store: Store, account_id: str) -> GroupRecord | None:
    """The invoice group the account belongs to, if any."""
    group_id = store.indexes["account_group"].get(account_id)
    if group_id is None:
        return None
    group: GroupRecord = store.collections["invoiceGroups"].items[group_id]
    return group


def join_group(store: Store, account_id: str, group_id: str) -> None:
    """Record that an account now belongs to a group."""
    store.indexes["account_group"][account_id] = group_id
    store.indexes["group_members"].setdefault(group_id, {})[account_id] = None


def leave_group(store: Store, account_id: str, now: str) -> None:
    """Take an account out of its group; a group left empty is deleted."""
    group_id = store.indexes["account_group"].pop(account_id, None)
    if group_id is None:
        return
    members = store.indexes["group_members"][group_id]
    del members[account_id]
    if members:
        store.collections["invoiceGroups"].items[group_id]["updatedAt"] = now
    else:
        del store.indexes["group_members"][group_id]
        store.collections["invoiceGroups"].remove(group_id)


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
        record = store.collections["accounts"].get(account_id)
        current = store.indexes["account_group"].get(account_id)
        if record is None:
            problems.append(Violation(field, f"no account with id {account_id!r}"))
        elif record["status"] == "ARCHIVED":
            problems.append(Violation(field, f"account {account_id!r} is archived"))
        elif current is not None and current != group_id:
            problems.append(Violation(field, f"account {account_id!r} already belongs to invoice group {current!r}"))
        elif current is None:
            joiners.append(record)
    if problems:
        raise Invalid(problems)
    return joiners, {r["invoiceCurrency"] for r in joiners}


def create_group(store: Store, body: dict[str, Any]) -> GroupRecord:
    """``POST /invoice_groups``: 1-100 free, non-archived accounts of one currency."""
    joiners, currencies = _check_joiners(store, _unique(body["accountIds"]), None)
    if len(currencies) > 1:
        found = ", ".join(sorted(currencies))
        raise Invalid.at("accountIds", f"accounts must share one invoice currency, found {found}"
        )
    now = store.clock.now()
    group_id = store.new_id(GROUP_IDS, store.collections["invoiceGroups"])
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
    record: GroupRecord = store.new_record("invoiceGroups", fields)
    store.collections["invoiceGroups"].add(group_id, record)
    for account in joiners:
        join_group(store, account["id"], group_id)
    return record


def list_groups(
    store: Store, next_token: str | None, page_size: int | None
) -> tuple[list[GroupRecord], dict[str, Any]]:
    """``GET /invoice_groups``: one page, oldest first, and its ``nextToken`` (InvoiceGroup lists have
    no ``context``)."""
    return paginate(store.collections["invoiceGroups"], next_token, page_size, context=False)


def add_accounts(store: Store, group_id: str, account_ids: list[str]) -> GroupRecord:
    """``POST /invoice_groups/{id}/add_accounts``: same rules as creation."""
    record = require_group(store, group_id)
    unique = _unique(account_ids)
    joiners, _ = _check_joiners(store, unique, group_id)
    wrong = [
        Violation(
            f"accountIds[{unique[a['id']]}]",
            f"account {a['id']!r} is invoiced in {a['invoiceCurrency']}, the group in {record['invoiceCurrency']}",
        )
        for a in joiners
        if a["invoiceCurrency"] != record["invoiceCurrency"]
    ]
    if wrong:
        raise Invalid(wrong)
    if joiners:
        for account in joiners:
            join_group(store, account["id"], group_id)
        record["updatedAt"] = store.clock.now()
    return record


def remove_accounts(store: Store, group_id: str, account_ids: list[str]) -> None:
    """``POST /invoice_groups/{id}/remove_accounts``; the last one out deletes the group."""
    require_group(store, group_id)
    unique = _unique(account_ids)
    problems: list[Violation] = []
    for account_id, i in unique.items():
        field = f"accountIds[{i}]"
        if account_id not in store.collections["accounts"].items:
            problems.append(Violation(field, f"no account with id {account_id!r}"))
        elif store.indexes["account_group"].get(account_id) != group_id:
            problems.append(Violation(field, f"account {account_id!r} is not in invoice group {group_id!r}"))
    if problems:
        raise Invalid(problems)
    now = store.clock.now()
    for account_id in unique:
        leave_group(store, account_id, now)


def export_group(store: Store, record: GroupRecord) -> dict[str, Any]:
    """A group as exported: its fields and the ids of its accounts (the count is derived)."""
    return {**record.to_dict(), "accounts": members(store, record["id"])}


def check_import(ctx: ImportContext) -> None:
    """Members exist, are active, share the group's currency and belong to one group only."""
    accounts = ctx.ids("accounts")
    account_group: dict[str, str] = {}
    for i, group in enumerate(ctx.data["invoiceGroups"]):
        where = f"invoiceGroups[{i}]"
        if not group["accounts"]:
            ctx.problems.append(Violation(f"{where}.accounts", "a group needs at least one account"))
        for j, account_id in enumerate(group["accounts"]):
            field = f"{where}.accounts[{j}]"
            account = accounts.get(account_id)
            if account is None:
                ctx.problems.append(Violation(field, f"no account {account_id!r}"))
            elif account["status"] == "ARCHIVED":
                ctx.problems.append(Violation(field, f"account {account_id!r} is archived"))
            elif account.get("invoiceCurrency", BASE_CURRENCY) != group["invoiceCurrency"]:
                rule = f"account {account_id!r} is not invoiced in {group['invoiceCurrency']}"
                ctx.problems.append(Violation(field, rule))
            elif account_group.setdefault(account_id, group["id"]) != group["id"]:
                ctx.problems.append(
                    Violation(field, f"account {account_id!r} is already in group {account_group[account_id]!r}")
                )


def restore_group(store: Store, group: dict[str, Any]) -> None:
    """Insert an imported group and its memberships."""
    stored = {k: v for k, v in group.items() if k not in ("accounts", "accountsCount", "nextToken")}
    store.collections["invoiceGroups"].add(group["id"], store.new_record("invoiceGroups", stored))
    store.reserved.add(group["id"])
    for account_id in group["accounts"]:
        join_group(store, account_id, group["id"])


def complete_import(store: Store, ctx: ImportContext) -> None:
    """A group without ``invoiceCurrency`` is invoiced in its accounts' currency, as on creation."""
    accounts = ctx.ids("accounts")
    for group in ctx.data["invoiceGroups"]:
        if "invoiceCurrency" not in group:
            known = [accounts[a] for a in group["accounts"] if a in accounts]
            # Without a known account the import fails on the members; any currency will do.
            group["invoiceCurrency"] = known[0].get("invoiceCurrency", BASE_CURRENCY) if known else BASE_CURRENCY


RESOURCE = Resource(
    name="invoiceGroups",
    schema="InvoiceGroupWithAccounts",
    ids=GROUP_IDS,
    indexes=("account_group", "group_members"),
    exchange=Exchange(
        not_exported=("accountsCount",),
        export=export_group,
        check_import=check_import,
        restore=restore_group,
        generated=("invoiceCurrency",),
        complete_import=complete_import,
    ),
    layout=Layout(
        computed=("accountsCount", "accounts", "nextToken"),
    ),
)
