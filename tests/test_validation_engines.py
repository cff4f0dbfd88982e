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
