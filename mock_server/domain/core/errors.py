"""Domain errors: what a business rule says, with no HTTP in it.

Rules raise these with the field they are about; the HTTP edge maps them to
statuses in one place (:func:`mock_server.errors.from_domain`): a missing
resource named in the path is a 404, anything else a 400. :class:`Violation`
lives here, not in the HTTP layer, so that the domain imports nothing above it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (``field``, a path such as ``accounts[0].name``) and what (``rule``)."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}" if self.field else self.rule


class DomainError(Exception):
    """A request that Togai's rules refuse; ``violations`` say where and why."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(violations[0] if violations else "refused")
        self.violations = violations

    @classmethod
    def at(cls, field: str, rule: str) -> DomainError:
        """One violation at ``field``."""
        return cls([Violation(field, rule)])


class NotFound(DomainError):
    """A resource the request names does not exist."""


class Conflict(DomainError):
    """The request clashes with existing state (an id in use, a member elsewhere)."""


class Invalid(DomainError):
    """The request is well formed but breaks a rule (an archived account, a currency mismatch)."""
