"""Forced answers: status, body, delay or fault for matching requests, N times or until removed.

A rule matches on method and path, and with ``match`` on the query, headers
and body too (as :mod:`.journal` compares them). String values of its
``body`` and its header values may be templates over the request
(``{{ request.body.name }}``), compiled and checked when the rule is added
so that a broken one is a 400 then, never a 500 later.
"""
from __future__ import annotations

import functools
import importlib
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .errors import ApiError, Violation
from .journal import ABSENT, body_failures, check_matcher_body, header_failures, query_failures, shown_headers
from .lazyimport import lazy_module
from .pathtemplate import PathTemplate, parse_template, split_path
from .validation.body import MAX_DEPTH, deeper_than

if TYPE_CHECKING:
    import jinja2
    from jinja2 import Template, nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment
else:  # imported when the first templated rule is added: most runs never add one (~3 MB, ~30 ms)
    jinja2 = lazy_module("jinja2")

# Rules kept at once: each is matched against every request.
MAX_OVERRIDES = 1000
# Headers that frame the answer; the mock sets them from the body it sends.
_FRAMING = frozenset({"content-length", "transfer-encoding", "trailer", "upgrade"})
_CONTROL = "/__mock"
# A route as the router sees it: its segments, None for a variable.
Route = tuple[str | None, ...]


@dataclass(slots=True)
class Override:
    """One rule of ``POST /__mock/overrides``."""

    id: str
    spec: dict[str, Any]  # the request as given, for listing
    method: str | None
    template: PathTemplate | None
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    fault: str | None
    remaining: int | None
    match_query: dict[str, str] = field(default_factory=dict)
    match_headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    match_body: Any = ABSENT
    templates: dict[str, Template] = field(default_factory=dict)  # by source text, for the body and headers
    uses_now: bool = False  # some template reads {{ now }}, which ticks a seeded clock

    def to_json(self) -> dict[str, Any]:
        """The override as ``GET /__mock/overrides`` shows it."""
        return {**self.spec, "id": self.id, "remaining": self.remaining}

    @property
    def needs_body(self) -> bool:
        """Whether deciding or answering needs the request body (read before the rule is taken)."""
        return self.match_body is not ABSENT or bool(self.templates)

    def matches_head(self, query: str, headers: Callable[[], list[tuple[str, str]]]) -> bool:
        """Whether the query and headers (as shown, computed once on demand) fit ``match``."""
        if query_failures(self.match_query, query):
            return False
        return not (self.match_headers and header_failures(self.match_headers, headers()))


def check_rule(spec: dict[str, Any], routes: Sequence[Route] | None = None) -> PathTemplate | None:
    """Refuse (400) a schema-valid rule that would break HTTP or do nothing; return its parsed path.

    ``routes`` are the served spec's; a path none of them can match is refused.
    """
    status = spec.get("status")
    if status in (204, 304) and "body" in spec:
        raise ApiError.of(400, "body", f"a {status} answer has no body")
    if deeper_than(spec.get("body")):
        raise ApiError.of(400, "body", f"is nested more than {MAX_DEPTH} levels deep")
    seen: set[str] = set()
    for name in spec.get("headers", {}):
        lowered = name.lower()
        if lowered in _FRAMING:
            raise ApiError.of(400, f"headers.{name}", "is set by the mock")
        if lowered in seen:
            raise ApiError.of(400, f"headers.{name}", "is given twice")
        seen.add(lowered)
    if "fault" in spec:
        if any(key in spec for key in ("status", "body", "headers")):
            raise ApiError.of(400, "fault", "drops the connection, so status, body and headers would never be sent")
    elif status is None:
        for key in ("body", "headers"):
            if key in spec:
                raise ApiError.of(400, key, "needs status (without it the operation answers as usual)")
        if not spec.get("delayMs"):
            raise ApiError.of(400, "", "the override does nothing: give status, delayMs or fault")
    match = spec.get("match", {})
    if "body" in match:
        check_matcher_body(match["body"], "match.body")
    seen = set()
    for name in match.get("headers", {}):
        if name.lower() in seen:
            raise ApiError.of(400, f"match.headers.{name}", "is given twice")
        seen.add(name.lower())
    path = spec.get("path")
    if path is None:
        return None
    if path == _CONTROL or path.startswith(_CONTROL + "/"):
        raise ApiError.of(400, "path", "control calls (/__mock/) are never overridden")
    template = parse_template(path)
    if routes is not None and not any(template.meets_route(route) for route in routes):
        shown = path if len(path) <= 100 else path[:100] + "…"
        raise ApiError.of(400, "path", f"no operation of the spec matches {shown}")
    return template


# -- templated answers ---------------------------------------------------------------
# Characters a templated answer (body strings and header values together) may render;
# beyond them it is cut and the journal says so.
ANSWER_LIMIT = 64 * 1024
# Filters whose output is at most a small multiple of their input: no repetition,
# padding or formatting that a template (or a request) could blow up to gigabytes.
_FILTERS = frozenset({
    "abs", "capitalize", "count", "d", "default", "first", "float", "int", "last", "length", "lower",
    "round", "string", "title", "tojson", "trim", "truncate", "upper", "urlencode",
})
_TESTS = frozenset({
    "boolean", "defined", "false", "float", "integer", "mapping", "none", "number", "sequence", "string", "true",
    "undefined",
})
_NAMES = frozenset({"request", "now"})
# Expressions only: no statements ({% for %}, {% set %}), calls, or * % ** operators.
_NODE_NAMES = (
    "Output", "TemplateData", "Name", "Getattr", "Getitem", "Slice", "Const", "Filter", "Test", "Keyword", "Concat",
    "CondExpr", "And", "Or", "Not", "Compare", "Operand", "Add", "Sub", "Neg", "Pos",
)


@functools.cache
def _allowed_nodes() -> frozenset[type[nodes.Node]]:
    return frozenset(getattr(jinja2.nodes, name) for name in _NODE_NAMES)


_HEADER_TEXT = re.compile(r"[^\x20-\x7e]")
_TEMPLATE_MARKS = ("{{", "{%", "{#")


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    # The sandbox refuses private attributes and changes to the request; an undefined
    # value (a field the request lacks) renders as "", so a rule never fails later.
    sandbox = importlib.import_module("jinja2.sandbox")  # jinja2 itself does not import it
    env: ImmutableSandboxedEnvironment = sandbox.ImmutableSandboxedEnvironment(
        undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters = {name: f for name, f in env.filters.items() if name in _FILTERS}
    env.tests = {name: t for name, t in env.tests.items() if name in _TESTS}
    env.globals.clear()  # no range(), lipsum(), dict(), ...
    return env



def is_template(text: str) -> bool:
    """Whether a string of an override's answer is a template (else it is sent as is)."""
    return any(mark in text for mark in _TEMPLATE_MARKS)


def _refused(node: nodes.Node) -> str | None:
    """Why a template may not contain ``node``, or None."""
    if type(node) not in _allowed_nodes():
        return f"{type(node).__name__} is not allowed: only {{{{ expressions }}}} over request and now"
    if isinstance(node, jinja2.nodes.Name) and node.name not in _NAMES:
        return f"unknown name {node.name!r} (there are: request, now)"
    private = node.attr if isinstance(node, jinja2.nodes.Getattr) else (
        node.arg.value if isinstance(node, jinja2.nodes.Getitem) and isinstance(node.arg, jinja2.nodes.Const) else None
    )
    if isinstance(private, str) and private.startswith("_"):
        return f"{private!r} is private"
    if isinstance(node, jinja2.nodes.Filter) and node.name not in _FILTERS:
        return f"filter {node.name!r} is not allowed (allowed: {', '.join(sorted(_FILTERS))})"
    if isinstance(node, jinja2.nodes.Test) and node.name not in _TESTS:
        return f"test {node.name!r} is not allowed (allowed: {', '.join(sorted(_TESTS))})"
    return None


def compile_template(text: str, where: str) -> tuple[Template, bool]:
    """Parse, check and compile one template; a 400 naming ``where`` when it cannot render.

    Also says whether it reads ``now``.
    """
    try:
        tree = _environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ApiError.of(400, where, f"is not a valid template: {exc.message} (line {exc.lineno})") from None
    uses_now = False
    for node in tree.find_all(jinja2.nodes.Node):
        problem = _refused(node)
        if problem is not None:
            raise ApiError.of(400, where, f"template: {problem}")
        uses_now = uses_now or (isinstance(node, jinja2.nodes.Name) and node.name == "now")
    return _environment().from_string(tree), uses_now


def compile_answer(spec: dict[str, Any]) -> tuple[dict[str, Template], bool]:
    """Every template among the string values of ``body`` (recursively) and the header values."""
    templates: dict[str, Template] = {}
    uses_now = False

    def visit(value: Any, where: str) -> None:
        nonlocal uses_now
        if isinstance(value, str):
            if is_template(value) and value not in templates:
                templates[value], now = compile_template(value, where)
                uses_now = uses_now or now
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                visit(item, f"{where}[{i}]")

    if "body" in spec:
        visit(spec["body"], "body")
    for name, value in spec.get("headers", {}).items():
        visit(value, f"headers.{name}")
    return templates, uses_now


@dataclass(slots=True)
class Rendering:
    """One answer being rendered: the characters it may still use, and what went wrong."""

    context: dict[str, Any]
    budget: int = ANSWER_LIMIT
    problems: list[Violation] = field(default_factory=list)

    def render(self, template: Template, where: str) -> str:
        """``template`` over the request; cut when the answer's budget runs out, "" when it fails."""
        chunks: list[str] = []
        try:
            for chunk in template.generate(self.context):
                if len(chunk) > self.budget:
                    chunks.append(chunk[: self.budget])
                    self.budget = 0
                    self.problems.append(Violation(where, f"the templated answer was cut at {ANSWER_LIMIT} characters"))
                    break
                self.budget -= len(chunk)
                chunks.append(chunk)
        except Exception as exc:  # a filter given what it cannot take (tojson of an undefined): never a 500
            self.problems.append(Violation(where, f"the template failed ({type(exc).__name__}) and rendered empty"))
            return ""
        return "".join(chunks)

    def value(self, value: Any, templates: dict[str, Template], where: str = "body") -> Any:
        """``value`` with each string that is a template rendered (to a string)."""
        if isinstance(value, str):
            template = templates.get(value)
            return value if template is None else self.render(template, where)
        if isinstance(value, dict):
            return {k: self.value(v, templates, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, templates, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    def header(self, name: str, value: str, templates: dict[str, Template]) -> str:
        """A header value rendered, with anything but printable ASCII (CR, LF...) as ``?``."""
        template = templates.get(value)
        if template is None:
            return value
        return _HEADER_TEXT.sub("?", self.render(template, f"headers.{name}"))


def request_context(
    path_params: dict[str, str],
    query: str,
    headers: list[tuple[str, str]],
    body: Any,
    now: str | None,
) -> dict[str, Any]:
    """What templates see: ``request.path|query|headers|body`` and ``now``; the first of repeated names."""
    shown_query: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        shown_query.setdefault(name, value)
    shown: dict[str, str] = {}
    for name, value in headers:
        shown.setdefault(name, value)
    return {"request": {"path": path_params, "query": shown_query, "headers": shown, "body": body}, "now": now}


class Overrides:
    """The overrides in force, first added first matched."""

    def __init__(self) -> None:
        self._rules: list[Override] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._rules)

    def add(self, spec: dict[str, Any], routes: Sequence[Route] | None = None) -> Override:
        """Add a rule from a schema-valid ``NewOverride`` body; a 400 when :func:`check_rule` refuses it."""
        template = check_rule(spec, routes)
        templates, uses_now = compile_answer(spec)
        match = spec.get("match", {})
        rule = Override(
            id="",
            spec=spec,
            method=spec.get("method"),
            template=template,
            status=spec.get("status"),
            body=spec.get("body"),
            headers={k.lower(): v for k, v in spec.get("headers", {}).items()},
            delay=spec.get("delayMs", 0) / 1000,
            fault=spec.get("fault"),
            remaining=spec.get("times"),
            match_query=dict(match.get("query", {})),
            match_headers={k.lower(): v for k, v in match.get("headers", {}).items()},
            match_body=match.get("body", ABSENT),
            templates=templates,
            uses_now=uses_now,
        )
        with self._lock:
            if len(self._rules) >= MAX_OVERRIDES:
                raise ApiError.of(400, "overrides", f"at most {MAX_OVERRIDES} can be in force; remove some first")
            rule.id = f"ovr-{next(self._ids)}"
            self._rules.append(rule)
        return rule

    def _candidates(
        self, method: str, path: str, query: str, headers: Sequence[tuple[bytes, bytes]]
    ) -> Iterator[Override]:
        """The rules whose method, path, query and headers fit, in order (call with the lock held)."""
        parts = split_path(path)  # decoded: a rule on "-" also catches "%2D"
        shown: list[tuple[str, str]] | None = None

        def shown_once() -> list[tuple[str, str]]:
            nonlocal shown
            if shown is None:
                shown = shown_headers(headers)
            return shown

        for rule in self._rules:
            if rule.method is not None and rule.method != method:
                continue
            if rule.template is not None and not rule.template.matches(parts):
                continue
            if rule.matches_head(query, shown_once):
                yield rule

    def needs_body(self, method: str, path: str, query: str = "", headers: Sequence[tuple[bytes, bytes]] = ()) -> bool:
        """Whether :meth:`take` must see the body: the first rule that may apply matches on it, or renders it."""
        if not self._rules:
            return False
        with self._lock:
            return next((rule.needs_body for rule in self._candidates(method, path, query, headers)), False)

    def take(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: Any = ABSENT,
    ) -> Override | None:
        """The first rule matching the request, counting one use of it.

        ``body`` is the decoded body (:func:`~mock_server.journal.decode_body`), ABSENT when not
        read: then a rule matching on the body does not apply. A request that does not match
        uses up nothing.
        """
        if not self._rules:
            return None
        with self._lock:
            for rule in self._candidates(method, path, query, headers):
                if rule.match_body is not ABSENT and (body is ABSENT or body_failures(rule.match_body, body)):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule
        return None

    def list(self) -> list[dict[str, Any]]:
        """Every rule in force."""
        with self._lock:
            return [r.to_json() for r in self._rules]

    def remove(self, rule_id: str) -> bool:
        """Drop one rule; False when there is none with that id."""
        with self._lock:
            for rule in self._rules:
                if rule.id == rule_id:
                    self._rules.remove(rule)
                    return True
        return False

    def adopt(self, other: Overrides) -> None:
        """Take over ``other``'s rules and id sequence (a ``--watch`` reload keeps the overrides)."""
        with other._lock:
            rules, ids = list(other._rules), other._ids
        with self._lock:
            self._rules = rules
            self._ids = ids

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._rules.clear()
