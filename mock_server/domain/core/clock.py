"""The mock's clock: every dated, due, expiring or closing thing asks it, never the wall clock.

Three kinds: wall time; with a seed, a deterministic clock that ticks a
second per call; with ``--clock``, a test clock frozen at an instant that
moves only when told (``POST /__mock/clock``). A seeded or test clock can
be moved forward; wall time cannot.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from .times import stamp

# Seeded runs start their clock here, so the same seed gives the same timestamps.
SEEDED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

# The wall clock's last second as stamp() writes it, (second, "2026-12-05T18:00:07."): a second's writes share
# it. One tuple, replaced whole, so a thread never reads one second's number with another's text.
_SECOND: list[tuple[int, str]] = [(-1, "")]


def _wall_stamp() -> str:
    """:func:`stamp` of the wall clock's time now, without a datetime: a write answers in a few µs less."""
    now = time.time()
    second = int(now)
    known = _SECOND[0]
    if known[0] != second:
        known = _SECOND[0] = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
    return f"{known[1]}{int((now - second) * 1000):03d}Z"


class Clock:
    """Wall time, a seeded clock, or a frozen test clock (``frozen``)."""

    def __init__(self, seed: int | None, frozen: datetime | None = None) -> None:
        self.seeded = seed is not None
        self.frozen = frozen is not None
        self._last = SEEDED_EPOCH
        self._at = frozen.astimezone(UTC) if frozen is not None else SEEDED_EPOCH
        self._at_text = stamp(self._at)  # what now() answers while a test clock stands still
        # Where this tenant's billing starts: cycles closed before it are history the mock does
        # not invent (README, "Invoices and the test clock").
        self.origin = self.instant()

    @property
    def movable(self) -> bool:
        """Whether the clock can be moved (a test or seeded clock; never wall time)."""
        return self.frozen or self.seeded

    def last(self) -> str:
        """The seeded clock's last tick, ISO 8601 with microseconds."""
        return self._last.isoformat()

    def set_last(self, moment: datetime) -> None:
        """Go on ticking from ``moment`` (a reloaded seeded tenant)."""
        self._last = moment.astimezone(SEEDED_EPOCH.tzinfo)

    def instant(self) -> datetime:
        """The current time without ticking a seeded clock: what billing compares due instants with."""
        if self.frozen:
            return self._at
        if self.seeded:
            return self._last
        return datetime.now(UTC)

    def seconds(self) -> int:
        """:meth:`instant` in whole Unix seconds, cheaply: what billing checks on every request."""
        if self.frozen:
            return int(self._at.timestamp())
        if self.seeded:
            return int(self._last.timestamp())
        return int(time.time())  # the wall clock, read here as instant() reads it

    def move_to(self, moment: datetime) -> None:
        """Set a test or seeded clock to ``moment`` (the caller checked it is not earlier)."""
        moment = moment.astimezone(UTC)
        if self.frozen:
            self._at = moment
            self._at_text = stamp(moment)
        else:
            self._last = moment

    def now(self) -> str:
        """The current time as RFC 3339 with milliseconds, in UTC."""
        if self.frozen:
            return self._at_text
        if self.seeded:
            self._last += timedelta(seconds=1)
            return stamp(self._last)
        return _wall_stamp()

    def to_json(self) -> dict[str, str | None]:
        """The test clock's instant and the billing origin, for the state file."""
        return {"now": stamp(self._at) if self.frozen else None, "origin": stamp(self.origin)}

    def set_json(self, now: datetime | None, origin: datetime | None) -> None:
        """Go on from :meth:`to_json`'s fields, parsed (a test clock's instant; the billing origin)."""
        if self.frozen and now is not None:
            self._at = now.astimezone(UTC)
            self._at_text = stamp(self._at)
        if origin is not None:
            self.origin = origin.astimezone(UTC)
