"""The clock's text (``Clock.now``): what every write stamps, read without a datetime where it can be."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from mock_server.domain.core.clock import Clock
from mock_server.domain.core.times import parse_time

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def test_wall_time_is_stamped_as_now_to_the_millisecond() -> None:
    clock = Clock(None)
    for _ in range(2000):  # across a change of second, most likely
        before = datetime.now(UTC)
        text = clock.now()
        after = datetime.now(UTC)
        assert STAMP.match(text), text
        # Milliseconds are cut, not rounded: the stamp is at most 1 ms before the instant it was taken.
        assert before - timedelta(milliseconds=1) <= parse_time(text) <= after, (before, text, after)


def test_a_test_clock_answers_where_it_stands_and_where_it_was_moved() -> None:
    clock = Clock(None, frozen=datetime(2024, 1, 31, 23, 59, 59, 999_999, tzinfo=UTC))
    assert clock.now() == clock.now() == "2024-01-31T23:59:59.999Z"
    clock.move_to(datetime(2024, 2, 1, 12, tzinfo=UTC))
    assert clock.now() == "2024-02-01T12:00:00.000Z"
    clock.set_json(datetime(2024, 3, 1, tzinfo=UTC), None)
    assert clock.now() == "2024-03-01T00:00:00.000Z"


def test_a_new_second_gets_its_own_text(monkeypatch: Any) -> None:
    from mock_server.domain.core import clock as module

    clock = Clock(None)
    for now, text in ((1_700_000_000.9995, "2023-11-14T22:13:20.999Z"), (1_700_000_001.0004, "2023-11-14T22:13:21.000Z"),
                      (1_700_000_001.25, "2023-11-14T22:13:21.250Z"), (1_700_000_000.5, "2023-11-14T22:13:20.500Z")):
        monkeypatch.setattr(module.time, "time", lambda now=now: now)
        assert clock.now() == text
