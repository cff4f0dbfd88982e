"""The mock's clock: every dated, due, expiring or closing thing asks it, never the wall clock."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .times import stamp

# Seeded runs start their clock here, so the same seed gives the same timestamps.
SEEDED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class Clock:
    """Wall time, or with a seed a deterministic clock that ticks a second per call."""

    def __init__(self, seed: int | None) -> None:
        self.seeded = seed is not None
        self._last = SEEDED_EPOCH

    def last(self) -> str:
        """The seeded clock's last tick, ISO 8601 with microseconds."""
        return self._last.isoformat()

    def set_last(self, moment: datetime) -> None:
        """Go on ticking from ``moment`` (a reloaded seeded tenant)."""
        self._last = moment.astimezone(SEEDED_EPOCH.tzinfo)

    def now(self) -> str:
        """The current time as RFC 3339 with milliseconds, in UTC."""
        if self.seeded:
            self._last += timedelta(seconds=1)
            moment = self._last
        else:
            moment = datetime.now(UTC)
        return stamp(moment)
