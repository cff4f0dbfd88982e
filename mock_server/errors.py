"""Rejections and how they become Togai's ``ErrorResponse``.

Every stage of the pipeline reports problems as :class:`Violation` objects
wrapped in an :class:`ApiError`; only this module turns them into bytes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store.errors import DomainError

# Togai's ErrorResponse caps `message` at 500 characters.
MAX_MESSAGE = 500
VIOLATIONS_HEADER = "x-mock-violations"
STAGE_HEADER = "x-mock-rejected-by"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (``field``) and what (``rule``)."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}" if self.field else self.rule


@dataclass(slots=True)
class ApiError(Exception):
    """A rejection with its HTTP status and every violation found."""

    status: int
    violations: list[Violation]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, field_name: str, rule: str, **headers: str) -> "ApiError":
        """A rejection with a single violation."""
        return cls(status, [Violation(field_name, rule)], dict(headers))

    @property
    def message(self) -> str:
        """The first violation, plus how many more there are."""
        first = str(self.violations[0]) if self.violations else "request rejected"
        more = len(self.violations) - 1
        text = f"{first} (and {more} more)" if more > 0 else first
        return truncate(text)


def truncate(text: str) -> str:
    """Cut ``text`` to the 500 characters ``ErrorResponse.message`` allows."""
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def violations_header(violations: list[Violation]) -> str:
    """All violations as an ASCII JSON array, safe for an HTTP header."""
    return json.dumps([str(v) for v in violations], ensure_ascii=True)


def from_domain(exc: "DomainError", path_params: frozenset[str], conflict_status: int = 400) -> ApiError:
    """The HTTP rejection for a domain error.

    ``NotFound`` is a 404 only for the resource in the path (the operation's
    path parameters); an unknown id named in a body or query is a 400, so a
    client can tell "this URL is gone" from "you referred to something that
    does not exist". ``Conflict`` answers ``conflict_status`` (Togai answers
    400 unless an operation declares 409).
    """
    from .store.errors import Conflict, NotFound

    status = 400
    if isinstance(exc, NotFound) and exc.violations and exc.violations[0].field in path_params:
        status = 404
    elif isinstance(exc, Conflict):
        status = conflict_status
    return ApiError(status, list(exc.violations))
