"""Match ``(method, path)`` to an operation of the spec: 404 and 405 are decided here."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from ..errors import ApiError
from .spec import Operation, Spec


@dataclass(slots=True)
class _Template:
    segments: tuple[str | None, ...]  # None marks a variable
    names: tuple[str, ...]  # variable names, in order
    methods: dict[str, Operation]
    allow: str


class Router:
    """A route table built once from the spec's paths."""

    def __init__(self, spec: Spec) -> None:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in spec.operations:
            by_path.setdefault(op.path, {})[op.method] = op
        self._static: dict[str, _Template] = {}
        # Templates by (segment count, first segment): those whose first segment is that literal or a
        # variable; (count, None) holds the variable-first ones alone. A request tries only these.
        self._templated: dict[tuple[int, str | None], list[_Template]] = {}
        templated: list[_Template] = []
        for path, methods in by_path.items():
            parts = path.split("/")[1:]
            segments = tuple(None if p.startswith("{") and p.endswith("}") else p for p in parts)
            names = tuple(p[1:-1] for p in parts if p.startswith("{") and p.endswith("}"))
            template = _Template(segments, names, methods, ", ".join(sorted(methods)))
            if names:
                templated.append(template)
            else:
                self._static[path] = template
        firsts = {(len(t.segments), t.segments[0]) for t in templated}
        for key in firsts | {(n, None) for n, _ in firsts}:
            count, first = key
            group = [t for t in templated if len(t.segments) == count and t.segments[0] in (first, None)]
            # Literal segments win over variables: /customers/me before /customers/{id}.
            group.sort(key=lambda t: sum(s is None for s in t.segments))
            self._templated[key] = group

    def match(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]]:
        """The operation and decoded path parameters, or an :class:`ApiError`.

        ``raw_path`` is the path as sent (still percent-encoded), so that an
        encoded ``/`` stays inside its parameter instead of splitting it.
        """
        template = self._static.get(raw_path)
        params: dict[str, str] = {}
        if template is None:
            parts = raw_path.split("/")[1:]
            count = len(parts)
            first = parts[0] if parts else None
            candidates = self._templated.get((count, first)) or self._templated.get((count, None)) or []
            for candidate in candidates:
                values = _bind(candidate, parts)
                if values is not None:
                    template, params = candidate, values
                    break
        if template is None:
            raise ApiError.of(404, "path", f"no operation at {_short(raw_path)}")
        op = template.methods.get(method)
        if op is None:
            raise ApiError.of(
                405,
                "method",
                f"{method} is not allowed on {_short(raw_path)}; use {template.allow}",
                allow=template.allow,
            )
        return op, params


def _bind(template: _Template, parts: list[str]) -> dict[str, str] | None:
    values: list[str] = []
    for want, got in zip(template.segments, parts, strict=False):
        if want is None:
            values.append(unquote(got, errors="replace") if "%" in got else got)
        elif want != got:
            return None
    return dict(zip(template.names, values, strict=False))


def _short(path: str) -> str:
    return path if len(path) <= 200 else path[:200] + "…"
