"""A batch's date-times checked in one match decide exactly as the one-by-one check (``_is_date_time``),
which stays the reference: calendar days, year 0000, forms RFC 3339 allows, and whatever else a client sends."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.jsonschemas import _all_date_times, _is_date_time

_DIGITS = st.sampled_from(["0", "1", "2", "3", "8", "9", "٩", "５"])
_FIELD = st.lists(_DIGITS, min_size=1, max_size=3).map("".join)
_DATE_TIMES = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}".format,
    st.sampled_from(["2024", "2023", "1900", "2000", "0000", "٢٠٢٤", "20245"]),
    st.sampled_from(["01", "02", "04", "06", "12", "13", "00", "1"]) | _FIELD,
    st.sampled_from(["01", "09", "19", "1٩", "28", "29", "2٩", "30", "31", "32", "00"]) | _FIELD,
    st.sampled_from(["T", "t", " ", "X"]),
    st.sampled_from(["00", "10", "23", "24"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["", ".5", ".123456789", "."]),
    st.sampled_from(["", "Z", "z", "+05:30", "-23:59", "+24:00", "Z\n", "\n", "ZZ"]),
)
_VALUES = st.lists(_DATE_TIMES | st.text(max_size=6) | st.integers() | st.none(), max_size=20)


@settings(max_examples=300, deadline=None)
@given(_VALUES, _DATE_TIMES)
def test_one_match_for_a_batch_decides_as_one_by_one(values: list[Any], one: str) -> None:
    for batch in (values, [one] * 9 + values, [v for v in values if isinstance(v, str)] * 3):
        assert _all_date_times(batch) == all(map(_is_date_time, batch)), batch


def test_the_calendar_still_decides_days_past_the_28th() -> None:
    ok = [f"2024-01-{d:02d}T10:00:00Z" for d in range(1, 29)]
    assert _all_date_times(ok)
    assert _all_date_times([*ok, "2024-02-29T00:00:00Z", "2024-01-31t00:00:00z"])  # a leap year; lowercase
    assert not _all_date_times([*ok, "2023-02-29T00:00:00Z"])
    assert not _all_date_times([*ok, "2024-06-31T00:00:00Z"])
    assert not _all_date_times([*ok, "0000-01-01T00:00:00Z"])
    assert not _all_date_times([*ok, "2024-01-01T10:00:00Z\n2024-01-01T10:00:00Z"])  # two in one value
