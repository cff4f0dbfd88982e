"""Rejections and how they become Togai's ``ErrorResponse``.

Every stage of the pipeline reports problems as :class:`Violation` objects
wrapped in an :class:`ApiError`; only this module turns them into bytes.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from .domain.core.errors import Conflict, DomainError, NotFound, Violation

__all__ = ["ApiError", "DomainError", "Violation", "Violations", "from_domain", "shown", "truncate"]

# Togai's ErrorResponse caps `message` at 500 characters.
MAX_MESSAGE = 500
VIOLATIONS_HEADER = "x-mock-violations"
STAGE_HEADER = "x-mock-rejected-by"
# How many violations an answer (header, journal, log) shows; the rest are counted.
MAX_SHOWN = 20
# How many a validator looks for before it stops: a body can break a rule
# hundreds of thousands of times, and listing them all costs seconds.
SEARCH_LIMIT = 1000
# Each shown violation, and the header as a whole, stay well under the 8 KiB
# that proxies and clients commonly allow for a header block.
_SHOWN_CHARS = 200
_HEADER_BUDGET = 4096


class Violations(list[Violation]):
    """Violations found by a search that may have stopped early.

    ``complete`` is False when there were more than the search looked for,
    so a count of them is a lower bound.
    """

    __slots__ = ("complete",)

    def __init__(self, found: Iterable[Violation] = (), complete: bool = True) -> None:
        super().__init__(found)
        self.complete = complete


def is_complete(violations: list[Violation]) -> bool:
    """False when ``violations`` is a search that stopped before the end."""
    return getattr(violations, "complete", True)


def _more(count: int, complete: bool) -> str:
    return f"(and {count} more)" if complete else f"(and at least {count} more)"


@dataclass(slots=True)
class ApiError(Exception):
    """A rejection with its HTTP status and every violation found."""

    status: int
    violations: list[Violation]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, field_name: str, rule: str, **headers: str) -> ApiError:
        """A rejection with a single violation."""
        return cls(status, [Violation(field_name, rule)], dict(headers))

    @property
    def message(self) -> str:
        """The first violation, plus how many more there are."""
        first = str(self.violations[0]) if self.violations else "request rejected"
        more = len(self.violations) - 1
        complete = is_complete(self.violations)
        text = f"{first} {_more(more, complete)}" if more > 0 or not complete else first
        return truncate(text)


def truncate(text: str) -> str:
    """Cut ``text`` to the 500 characters ``ErrorResponse.message`` allows."""
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(violations: list[Violation]) -> list[Violation]:
    """The first :data:`MAX_SHOWN` violations, shortened, then one saying how many more.

    What the header, the journal and the log show: bounded whatever the
    request, and the same list in all three.
    """
    out: list[Violation] = []
    size = 2  # the brackets of the JSON array
    for violation in violations[:MAX_SHOWN]:
        short = Violation(_cut(violation.field, _SHOWN_CHARS // 2), _cut(violation.rule, _SHOWN_CHARS))
        cost = len(json.dumps(str(short))) + 2
        if size + cost > _HEADER_BUDGET:
            break
        out.append(short)
        size += cost
    left = len(violations) - len(out)
    complete = is_complete(violations)
    if left > 0 or not complete:
        out.append(Violation("", _more(left, complete)))
    return out


def violations_header(listed: list[Violation]) -> str:
    """Violations (as :func:`shown` lists them) as an ASCII JSON array, safe for an HTTP header."""
    return json.dumps([str(v) for v in listed], ensure_ascii=True)


def from_domain(exc: DomainError, path_params: frozenset[str], conflict_status: int = 400) -> ApiError:
    """The HTTP rejection for a domain error.

    ``NotFound`` is a 404 only for the resource in the path (the operation's
    path parameters); an unknown id named in a body or query is a 400, so a
    client can tell "this URL is gone" from "you referred to something that
    does not exist". ``Conflict`` answers ``conflict_status`` (Togai answers
    400 unless an operation declares 409).
    """
    status = 400
    if isinstance(exc, NotFound) and exc.violations and exc.violations[0].field in path_params:
        status = 404
    elif isinstance(exc, Conflict):
        status = conflict_status
    return ApiError(status, list(exc.violations))
