"""Override path templates, matched segment by segment like the router.

A template is split on ``/``; each segment is literal text or one ``{name}``
with optional literal text around it (``ACME-{region}``), and the last may
end in ``*`` for "this prefix, then anything". With at most one variable per
segment, a match is a few string comparisons: no regular expression, no
backtracking, whatever the template or the path.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import ApiError

_VAR = re.compile(r"\{[^{}/]+\}")


@dataclass(frozen=True, slots=True)
class Segment:
    """Literal text (``suffix is None``), or ``prefix{name}suffix``: one or more characters between."""

    prefix: str
    suffix: str | None = None
    name: str | None = None  # the variable's name, for templated answers ({{ request.path.name }})

    def matches(self, text: str) -> bool:
        """Whether the decoded path segment ``text`` fits."""
        if self.suffix is None:
            return text == self.prefix
        return (
            len(text) > len(self.prefix) + len(self.suffix)
            and text.startswith(self.prefix)
            and text.endswith(self.suffix)
        )

    def meets(self, route: str | None) -> bool:
        """Whether some path segment fits both this and a route segment (``None``: a route variable)."""
        return route is None or self.matches(route)


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed template: whole segments, then (with a trailing ``*``) the prefix of the rest."""

    segments: tuple[Segment, ...]
    rest: str | None  # None: no trailing "*"

    def matches(self, parts: Sequence[str]) -> bool:
        """Whether a request path, as :func:`split_path` gives it, fits."""
        fixed = len(self.segments)
        if self.rest is None:
            if len(parts) != fixed:
                return False
        elif len(parts) <= fixed or not parts[fixed].startswith(self.rest):
            return False
        return all(s.matches(p) for s, p in zip(self.segments, parts, strict=False))

    def bind(self, parts: Sequence[str]) -> dict[str, str]:
        """The variables' values in a path that :meth:`matches` (what each ``{name}`` matched)."""
        values: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=False):
            if segment.name is not None and segment.suffix is not None:
                values[segment.name] = part[len(segment.prefix): len(part) - len(segment.suffix)]
        return values

    def meets_route(self, route: Sequence[str | None]) -> bool:
        """Whether some path fits both this and a route (its segments, ``None`` for variables)."""
        fixed = len(self.segments)
        if self.rest is None:
            if len(route) != fixed:
                return False
        elif len(route) <= fixed or not ((head := route[fixed]) is None or head.startswith(self.rest)):
            return False
        return all(s.meets(r) for s, r in zip(self.segments, route, strict=False))


def split_path(path: str) -> list[str]:
    """The decoded segments of a raw (percent-encoded) path; an encoded ``/`` stays inside its segment."""
    return [unquote(part, errors="replace") if "%" in part else part for part in path.split("/")[1:]]


def parse_template(template: str) -> PathTemplate:
    """Parse an override's ``path``; a 400 when a segment is ambiguous."""
    text, star = (template[:-1], True) if template.endswith("*") else (template, False)
    raw_segments = text.split("/")[1:]
    segments = [_segment(raw, template) for raw in raw_segments]
    rest = None
    if star:
        last = segments.pop()
        if last.suffix is not None:
            raise ApiError.of(400, "path", "a trailing * needs a segment of its own text, not a {name}")
        rest = last.prefix
    return PathTemplate(tuple(segments), rest)


def _segment(raw: str, template: str) -> Segment:
    variables = list(_VAR.finditer(raw))
    if not variables:
        return Segment(unquote(raw, errors="replace"))
    if len(variables) > 1:
        shown = template if len(template) <= 100 else template[:100] + "…"
        raise ApiError.of(400, "path", f"at most one {{name}} per segment ({shown!r} is ambiguous)")
    var = variables[0]
    return Segment(
        unquote(raw[: var.start()], errors="replace"), unquote(raw[var.end():], errors="replace"), var.group()[1:-1]
    )


def route_segments(path: str) -> tuple[str | None, ...]:
    """A spec path's segments as the router reads them: ``None`` for a ``{name}`` segment."""
    return tuple(None if p.startswith("{") and p.endswith("}") else p for p in path.split("/")[1:])
