"""The compiled fast path and the jsonschema reference agree, violation for violation."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.config import DEFAULT_SPEC
from mock_server.errors import SEARCH_LIMIT, shown
from mock_server.openapi.spec import load_spec

pytest.importorskip("jsonschema_rs")

SPEC = load_spec(DEFAULT_SPEC)
BODIES = {op.operation_id: op.body.validator for op in SPEC.operations if op.body and op.body.validator}
DEEP = os.environ.get("MOCK_TEST_PROFILE") == "deep"

keys = st.sampled_from(["name", "id", "email", "accountIds", "address", "netTermDays", "tags", "metadata",
                        "invoiceCurrency", "status", "aliases", "billingInformation", "customerId", "x", "city"])
values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**31 + 3) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5) | st.sampled_from(["USD", "usd", "ACTIVE", "DRAFT", "e" * 321]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=15,
)


@settings(max_examples=1500 if DEEP else 250, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(operation=st.sampled_from(sorted(BODIES)), instance=st.dictionaries(keys, values, max_size=6) | values)
def test_fast_path_words_violations_like_the_reference(operation: str, instance: object) -> None:
    validator = BODIES[operation]
    fast, reference = validator.violations(instance), validator.reference_violations(instance)
    # What a client sees: the first MAX_SHOWN, and how many more.
    assert shown(fast) == shown(reference)
    assert fast == reference and fast.complete == reference.complete


def test_both_engines_stop_early_on_a_huge_body() -> None:
    validator = BODIES["updateAccount"]
    instance = {"billingInformation": {"emailRecipients": [0] * 300_000}}
    fast, reference = validator.violations(instance), validator.reference_violations(instance)
    assert shown(fast) == shown(reference)
    assert len(fast) == SEARCH_LIMIT and not fast.complete


@pytest.mark.parametrize("timestamp", [
    "2024-01-05T10:07:00Z", "2024-02-29T10:07:00Z", "2023-02-29T10:07:00Z", "2024-04-31T00:00:00Z",
    "0000-01-01T00:00:00Z", "2024-01-05 10:07:00.123+05:30", "2024-01-05t10:07:00z", "2024-01-05T10:07:60Z",
    "2024-01-05", "", "2024-13-01T00:00:00Z", "2024-01-05T10:07:00Z\n", "٢٠٢٤-01-05T10:07:00Z",
])
def test_a_batch_of_date_times_is_checked_as_the_reference_checks_it(timestamp: str) -> None:
    """A plain schema's date-times are checked on their paths after the compiled engine ran without formats
    (issue 25): the same verdict as the reference, whichever event of the batch holds the value."""
    validator = BODIES["ingestBatch"]
    event = {"schemaName": "rides", "accountId": "A", "timestamp": "2024-01-05T10:07:00Z", "attributes": [],
             "dimensions": {}}
    for size, at in ((3, 0), (3, 2), (12, 0), (12, 11)):  # 12: the batch's timestamps read in one regex pass
        batch = {"events": [dict(event) for _ in range(size)]}
        batch["events"][at]["timestamp"] = timestamp
        assert validator.is_valid(batch) == validator._py.is_valid(batch), (timestamp, size, at)


_STAMP_PARTS = st.sampled_from(["2024-01-05T10:07:00Z", "2024-02-29T23:59:59.5+05:30", "2023-02-29T00:00:00Z",
                                "2024-04-31T00:00:00z", "0000-01-01T00:00:00Z", "2024-01-31 10:07:00",
                                "2024-13-01T00:00:00Z", "2024-01-05T24:00:00Z", "", "\n", "Z", "1", "-"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.lists(_STAMP_PARTS, min_size=1, max_size=3).map("".join), st.integers()),
                min_size=0, max_size=20))
def test_many_date_times_at_once_get_each_ones_verdict(values: list[object]) -> None:
    """The one-pass check of a batch's date-times (jsonschemas._all_date_times) equals checking each: valid
    ones, wrong shapes, impossible days, year 0, newlines inside or between, non-strings (not its business)."""
    from mock_server.jsonschemas import _all_date_times, _is_date_time

    assert _all_date_times(values) == all(map(_is_date_time, values))


def test_only_a_plain_schema_has_its_date_times_checked_on_paths() -> None:
    from mock_server.jsonschemas import _date_time_paths

    item = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    assert _date_time_paths({"type": "array", "items": item}) == [(None, "at")]
    assert _date_time_paths({"properties": {"a": {"allOf": [item]}}}) is None
    assert _date_time_paths({"properties": {"a": {"type": "string", "format": "email"}}}) is None
    assert _date_time_paths({"additionalProperties": item}) is None
    assert _date_time_paths({"properties": {"a": {"$ref": "#/$defs/x"}}}) is None
    BODIES["ingestBatch"].is_valid({})  # compiled on first use
    assert BODIES["ingestBatch"]._date_times == [("events", None, "timestamp")]
