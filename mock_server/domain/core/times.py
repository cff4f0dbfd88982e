"""Time in and out: one parser for every date-time a rule reads, one format for every one it writes."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from .errors import Invalid

_LEAP_SECOND = re.compile(r"(?<=:)60(?=(\.\d+)?([Z+-]|$))")
_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def parse_time(text: str, field: str = "date") -> datetime:
    """An RFC 3339 date-time (or a bare date, at midnight UTC) as an aware datetime.

    A leap second counts as :59; one without a zone is UTC. One the schema's
    pattern lets through but no calendar has (February 30) is a domain error
    naming ``field``.
    """
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        if ":60" in text:
            moment = datetime.fromisoformat(_LEAP_SECOND.sub("59", text.upper()))
        else:
            try:  # the usual case: read as sent, without copying the text (ingestion reads one per event)
                moment = datetime.fromisoformat(text)
            except ValueError:  # a lowercase "t" or "z"
                moment = datetime.fromisoformat(text.upper())
    except (ValueError, TypeError):
        raise Invalid.at(field, f"{text!r} is not a real date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC with milliseconds, as every timestamp of the mock."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamp_seconds(moment: datetime) -> str:
    """An instant as Togai writes schedule and cycle bounds: ``2024-01-01T00:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_seconds(moment: str) -> int:
    """Whole seconds since 1970 (UTC) of a date-time; one without a zone is UTC."""
    return int(parse_time(moment).timestamp() // 1)


def days_in(year: int, month: int) -> int:
    """How many days ``month`` of ``year`` has."""
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def is_duration(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 duration of the form :func:`add_duration` reads (whatever its size)."""
    return _DURATION.fullmatch(text) is not None and text not in ("P", "PT") and not text.endswith("T")


def add_duration(moment: datetime, text: str) -> datetime | None:
    """``moment`` plus an ISO 8601 duration (``P1M``, ``P30D``, ``PT12H``), or ``None`` if it is not one.

    Months and years move the calendar (a 31st becomes the month's last day);
    the rest is exact time.
    """
    match = _DURATION.fullmatch(text)
    if match is None or not is_duration(text):  # "P", "PT", "P1DT": the pattern's empty parts
        return None
    part = {k: int(v or 0) for k, v in match.groupdict().items()}
    months = moment.month - 1 + part["months"] + 12 * part["years"]
    year = moment.year + months // 12
    if year > 9999:
        return None
    month = months % 12 + 1
    day = min(moment.day, days_in(year, month))
    try:
        return moment.replace(year=year, month=month, day=day) + timedelta(
            weeks=part["weeks"], days=part["days"], hours=part["hours"], minutes=part["minutes"],
            seconds=part["seconds"],
        )
    except OverflowError:
        return None
