"""The slotted account record behaves like the dict it replaces."""
from __future__ import annotations

import copy

import pytest

from mock_server.app import create_app
from mock_server.config import DEFAULT_SPEC
from mock_server.domain.core.store import Collection, Store
from mock_server.domain.registry import REGISTRY
from mock_server.openapi.spec import load_spec

SCHEMAS = load_spec(DEFAULT_SPEC).document["components"]["schemas"]
_STORE = Store(REGISTRY, schemas=SCHEMAS)
AccountRecord = _STORE.record_types["accounts"]
GroupRecord = _STORE.record_types["invoiceGroups"]

FIELDS = {"id": "A1", "togaiAccountId": "account.a.b", "customerId": "C1", "togaiCustomerId": "customer.c.d",
          "name": "Account one", "status": "ACTIVE", "invoiceCurrency": "USD", "aliases": ({"alias": "one"},)}


def test_reads_writes_and_renders_like_a_mapping() -> None:
    record = AccountRecord(dict(FIELDS))
    assert record["name"] == "Account one"
    assert "tags" not in record and record.get("tags") is None
    with pytest.raises(KeyError):
        record["tags"]
    record["tags"] = ["x"]
    record["name"] = "Renamed"
    assert record.to_dict() == {**FIELDS, "name": "Renamed", "aliases": [{"alias": "one"}], "tags": ["x"]}
    assert list(record.to_dict())[-1] == "tags"  # the spec's field order, not the order of writes
    with pytest.raises(KeyError):
        record["nope"] = 1
    with pytest.raises(KeyError):
        AccountRecord({**FIELDS, "nope": 1})


def test_copies_are_equal_and_independent() -> None:
    record = AccountRecord(dict(FIELDS))
    clone = copy.deepcopy(record)
    assert clone == record and clone is not record
    clone["status"] = "ARCHIVED"
    assert record["status"] == "ACTIVE"


def test_pages_skip_removed_records_and_resume_after_them() -> None:
    collection = Collection()
    for key in "abcde":
        collection.add(key, {"id": key})
    first, last = collection.page(None, 2)
    assert [r["id"] for r in first] == ["a", "b"] and last == 1
    collection.remove("c")
    rest, last = collection.page(last, 2)
    assert [r["id"] for r in rest] == ["d", "e"] and last is None
    collection.remove("e")
    page, last = collection.page(None, 3)
    assert [r["id"] for r in page] == ["a", "b", "d"] and last is None
    assert collection.holds_at(1, "b") and not collection.holds_at(1, "a") and not collection.holds_at(9, "a")


def test_group_records_render_without_list_conversion() -> None:
    fields = {"id": "inv_group.a.b", "name": "G", "email": "g@x.io", "dailyInvoiceConsolidation": True,
              "invoiceCurrency": "USD", "billingAddress": {}, "createdAt": "t0", "updatedAt": "t0"}
    group = GroupRecord(dict(fields))
    group["updatedAt"] = "t1"
    group["netTermDays"] = 30
    assert group.to_dict() == {**fields, "updatedAt": "t1", "netTermDays": 30}
    assert list(group.to_dict()).index("netTermDays") == 4  # the spec's order
    assert group != AccountRecord({"id": "inv_group.a.b"})
    with pytest.raises(KeyError):
        GroupRecord({"aliases": ()})


def test_record_fields_are_the_spec_schemas_less_what_is_computed() -> None:
    # Derived from the contract, so a field added to the spec is a field the record can hold.
    assert AccountRecord.FIELDS == tuple(f for f in SCHEMAS["Account"]["properties"] if f != "invoiceGroupDetails")
    group = SCHEMAS["InvoiceGroupWithAccounts"]["properties"]
    assert GroupRecord.FIELDS == tuple(f for f in group if f not in ("accountsCount", "accounts", "nextToken"))
    assert AccountRecord.LIST_FIELDS == ("aliases",)


def test_the_app_stores_compact_records() -> None:
    store = create_app().state.store
    assert isinstance(store.collections["accounts"].get("ACME-US"), store.record_types["accounts"])
    assert isinstance(store.collections["customers"].get("ACME"), dict)


def test_tombstones_are_swept_so_churn_leaves_nothing_behind() -> None:
    # Issue 8, item 10: 100 000 create-then-remove cycles, then a page costs what it did at first.
    collection = Collection()
    collection.add("keep", {"id": "keep"})
    for i in range(100_000):
        collection.add(f"g{i}", {"id": f"g{i}"})
        collection.remove(f"g{i}")
    assert len(collection._order) < 2_100  # swept: at most the live record and a sweep's worth
    assert collection.page(None, 1)[0] == [{"id": "keep"}]


def test_a_key_removed_and_added_again_is_listed_once() -> None:
    collection = Collection()
    for key in "abc":
        collection.add(key, {"id": key})
    collection.remove("b")
    collection.add("b", {"id": "b"})
    assert [r["id"] for r in collection.page(None, 10)[0]] == ["a", "c", "b"]


def test_a_token_issued_before_a_sweep_still_continues() -> None:
    from mock_server.domain.core.cursors import paginate

    collection = Collection()
    for i in range(3000):
        collection.add(f"k{i}", {"id": f"k{i}"})
    first, extra = paginate(collection, None, 2)
    for i in range(2, 2900):
        collection.remove(f"k{i}")  # enough to sweep; the token's position is now stale
    rest, _ = paginate(collection, extra["nextToken"], 2)
    assert [r["id"] for r in rest] == ["k2900", "k2901"]
