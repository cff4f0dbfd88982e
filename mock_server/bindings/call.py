"""What a binding receives and may answer: the validated request, and an answer with a status or headers."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..domain.core.store import Store


@dataclass(slots=True)  # not frozen: made on every request, and a frozen one costs three times as much to make
class Call:
    """A validated request: typed parameters, the decoded body, and its headers (lowercase names); a
    handler reads it and never changes it.

    Few handlers need the headers: those whose answer depends on the caller
    (``authenticate`` reads the bearer token) or on where the mock is served
    (a file's download URL names the request's ``Host``).
    """

    params: dict[str, Any]
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    """A handler's answer when the body alone is not enough: extra headers, or another status.

    ``getFile`` answers a redirect: status 302, no body, a ``Location``; a batch of events with some
    refused answers 207.
    """

    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # None: the operation's success status


Handler = Callable[["Store", Call], Any]
