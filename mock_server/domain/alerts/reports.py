"""Reports: what ``GET /reports`` lists.

In Togai a report is made in its app (from a report template or a query)
and its output is a file. No operation of the API makes one, so in the mock
the reports are those the tenant's state holds: loaded from a fixture file,
the state file or ``PUT /__mock/state`` (README, "Reports"). A report names
the account it is about (``account_id``) or none (the organization's).
"""
from __future__ import annotations

from heapq import merge
from typing import Any

from ..core.cursors import paginate, paginate_positions
from ..core.errors import Invalid
from ..core.lookup import require
from ..core.resource import Exchange, IdScheme, Resource
from ..core.store import Record, Store

NAME = "reports"
IDS = IdScheme("report")
# account id -> positions of its reports; "" -> the organization's (no account_id). Ascending.
BY_OWNER = "reports_by_owner"
ORGANIZATION = ""


def list_reports(store: Store, fetch_for: str, account_id: str | None, next_token: str | None,
                 page_size: int | None) -> tuple[list[Record], dict[str, Any]]:
    """A page of reports, oldest first: ALL, the ORGANIZATION's, or one account's (ACCOUNTS, which needs
    ``account_id``); ALL with ``account_id`` is the organization's and that account's."""
    if fetch_for == "ORGANIZATION" and account_id is not None:
        raise Invalid.at("account_id", "cannot be given with fetchFor=ORGANIZATION (the organization's reports "
                                       "name no account)")
    if fetch_for == "ACCOUNTS" and account_id is None:
        raise Invalid.at("account_id", "is required with fetchFor=ACCOUNTS")
    if account_id is not None:
        require(store, "accounts", account_id, "account_id", "account")
    collection = store.collections[NAME]
    index = store.indexes[BY_OWNER]
    if fetch_for == "ALL" and account_id is None:
        return paginate(collection, next_token, page_size, context=False)
    mine = index.get(account_id, []) if account_id is not None else []
    if fetch_for == "ORGANIZATION":
        positions = index.get(ORGANIZATION, [])
    elif fetch_for == "ACCOUNTS":
        positions = mine
    else:
        positions = list(merge(index.get(ORGANIZATION, []), mine))
    return paginate_positions(collection, positions, next_token, page_size, context=False)


def restore(store: Store, record: dict[str, Any]) -> None:
    """Insert an imported report, indexed under its account (or the organization)."""
    report = dict(record)
    collection = store.collections[NAME]
    collection.add(report["id"], report)
    position = collection.position_of(report["id"])
    assert position is not None  # just added
    store.indexes[BY_OWNER].setdefault(report.get("account_id", ORGANIZATION), []).append(position)
    store.reserved.add(report["id"])


RESOURCE = Resource(
    name=NAME,
    schema="Report",
    ids=IDS,
    references={"account_id": "accounts", "fileId": "files"},
    indexes=(BY_OWNER,),
    exchange=Exchange(restore=restore),
)
