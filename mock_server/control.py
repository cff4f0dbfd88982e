"""The control API under ``/__mock``: health, reset, state, journal (and finding requests in it), overrides.

It is served by a second :class:`~mock_server.pipeline.Pipeline` built from
``spec/control.yaml``, so its routing, validation and errors work exactly
like the Togai operations'. This module only holds its handlers.
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .domain.billing import engine as billing
from .domain.catalog import files
from .domain.core.errors import DomainError
from .domain.core.resource import Completer
from .domain.core.store import Store, parse_test_clock
from .domain.core.times import add_duration, is_duration, parse_time, stamp
from .drift import Drift
from .epoch import Epoch
from .errors import ApiError
from .handlers import Call, Handler
from .journal import Journal, Matcher
from .jsonschemas import SchemaValidator
from .openapi.spec import Spec
from .overrides import Overrides, Route
from .pathtemplate import route_segments
from .proxy import Forwarded
from .stateimport import check_and_import, completers, record_validators
from .webhooks import Webhooks


def release_memory() -> None:
    """Hand memory freed by a bulk change back to the OS (glibc keeps it otherwise)."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _release_soon() -> None:
    # The request body and its parsed copy are still alive while the handler
    # runs; release once the answer is out.
    try:
        asyncio.get_running_loop().call_later(0.05, release_memory)
    except RuntimeError:  # called outside the server (tests, fixtures)
        release_memory()


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return None
    return libc


_LIBC = _glibc()
TEST_CLOCK = "testClock"  # the key of GET/PUT /__mock/state that carries the tenant's test clock


@dataclass
class Control:
    """What the control API can see and change."""

    store: Store
    fixtures: dict[str, Any]  # Store.snapshot() right after the fixtures were loaded
    journal: Journal
    overrides: Overrides
    record_validators: dict[str, SchemaValidator]
    routes: tuple[Route, ...] = ()  # the Togai spec's, which overrides must be able to match
    epoch: Epoch = field(default_factory=Epoch)  # shared with the Togai pipeline
    drift: Drift = field(default_factory=Drift)  # the --proxy's report; a reset keeps it (it is not the tenant's)
    completers: dict[str, Completer] = field(default_factory=dict)  # fill server-made fields on import
    webhooks: Webhooks | None = None  # --webhook's sender and delivery log (the server's, not the tenant's)

    @classmethod
    def create(
        cls, store: Store, journal: Journal, overrides: Overrides, togai: Spec, epoch: Epoch | None = None
    ) -> Control:
        """Snapshot the freshly loaded store and compile the record schemas of ``togai``."""
        # Derived fields (counts, details) are recomputed and server-made ones filled, so an import may leave them out.
        validators = record_validators(store.registry, togai)
        routes = tuple(route_segments(op.path) for op in togai.operations)
        fill = completers(store.registry, togai)
        return cls(store, store.snapshot(), journal, overrides, validators, routes, epoch or Epoch(), completers=fill)

    def reset(self, empty: bool = False) -> None:
        """Back to the fixtures (or empty), with no journal and no overrides."""
        self.epoch.bump()
        if empty:
            with self.store.lock:
                self.store.clear()
        else:
            self.store.restore(self.fixtures)
        self.journal.clear()
        self.overrides.clear()

    def export_state(self) -> dict[str, Any]:
        """``GET /__mock/state``: every resource's records, and the test clock when the tenant has one."""
        data: dict[str, Any] = self.store.export()
        if self.store.clock.frozen:
            data[TEST_CLOCK] = self.store.clock.to_json()
        return data

    def import_state(self, data: dict[str, Any]) -> None:
        """Replace the tenant with ``data`` after checking schemas and rules (see :mod:`.stateimport`);
        a ``testClock`` (only on a test clock) puts the clock where the document had it."""
        # Without testClock the clock stays where it was (clearing the store for the import restarts it).
        clock = self.store.clock
        moments: tuple[datetime | None, datetime | None] | None = None
        if clock.frozen:
            moments = (clock.instant(), clock.origin)
        if TEST_CLOCK in data:
            data = dict(data)
            given = data.pop(TEST_CLOCK)
            if not self.store.clock.frozen:
                raise ApiError.of(400, TEST_CLOCK, "this tenant's clock is not a test clock (start the server with "
                                  "--clock): only a test clock is set by an import")
            try:
                moments = parse_test_clock(given)
            except ValueError as exc:
                field, _, rule = str(exc).partition(": ")
                raise ApiError.of(400, field, rule) from None
        check_and_import(self.store, data, self.record_validators, self.completers)
        if moments is not None:  # the records are in: the clock follows them (a refused import moved nothing)
            self.store.set_test_clock(moments)
        self.epoch.bump()
        _release_soon()

    def handlers(self) -> dict[str, Handler]:
        """Handlers by operationId of ``spec/control.yaml``."""
        ok = {"success": True}

        def health(_: Store, __: Call) -> Any:
            return {"status": "ok", **self.store.counts()}

        def reset(_: Store, call: Call) -> Any:
            self.reset(call.params.get("empty", False))
            return ok

        def import_(_: Store, call: Call) -> Any:
            self.import_state(call.body)
            return ok

        def clear_requests(_: Store, __: Call) -> Any:
            self.journal.clear()
            return ok

        def clear_overrides(_: Store, __: Call) -> Any:
            self.overrides.clear()
            return ok

        def clear_drift(_: Store, __: Call) -> Any:
            self.drift.clear()
            return ok

        def find_requests(_: Store, call: Call) -> Any:
            params = call.params
            found = self.journal.find(
                Matcher.parse(call.body), params.get("after", 0), params.get("before"), params.get("limit")
            )
            return {"requests": found}

        def remove_override(_: Store, call: Call) -> Any:
            if not self.overrides.remove(call.params["override_id"]):
                raise ApiError.of(404, "override_id", f"no override {call.params['override_id']!r}")
            return ok

        return {
            "health": health,
            "reset": reset,
            "exportState": lambda s, c: self.export_state(),
            "importState": import_,
            "listRequests": lambda s, c: {"requests": self.journal.entries()},
            "clearRequests": clear_requests,
            "findRequests": find_requests,
            "countRequests": lambda s, c: {"count": self.journal.count(Matcher.parse(c.body))},
            "nearMisses": lambda s, c: {"nearMisses": self.journal.near_misses(Matcher.parse(c.body))},
            "listOverrides": lambda s, c: {"overrides": self.overrides.list()},
            "addOverride": lambda s, c: self.overrides.add(c.body, self.routes).to_json(),
            "clearOverrides": clear_overrides,
            "removeOverride": remove_override,
            "driftReport": lambda s, c: self.drift.report(),
            "getMockFile": lambda s, c: serve_file(self.store, c),
            "clearDrift": clear_drift,
            "getClock": lambda s, c: clock_of(s),
            "moveClock": lambda s, c: move_clock(s, c.body),
            "listWebhooks": lambda s, c: webhook_report(self.webhooks),
        }


def webhook_report(webhooks: Webhooks | None) -> dict[str, Any]:
    """``GET /__mock/webhooks``: the delivery log (empty, with no targets, without ``--webhook``)."""
    if webhooks is None:
        return {"targets": [], "signed": False, "queued": 0, "dropped": 0, "deliveries": []}
    return webhooks.report()


# The clock stops short of where Togai's schedules end (a cycle past it has no calendar).
_CLOCK_LIMIT = datetime(9999, 1, 1, tzinfo=UTC)


def clock_of(store: Store) -> dict[str, Any]:
    """``GET /__mock/clock``: the tenant's now, and what kind of clock it is."""
    clock = store.clock
    kind = "test" if clock.frozen else "seeded" if clock.seeded else "wall"
    return {"now": stamp(clock.instant()), "kind": kind}


# The longest a clock move waits between two slices for the requests queued behind it.
_YIELD_S = 0.05


def move_clock(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /__mock/clock``: move forward ``to`` a date-time or ``by`` a duration, processing what falls due.

    Every refusal (400 naming the field) comes before anything changes.
    """
    clock = store.clock
    field_name = "to" if "to" in body else "by"
    if not clock.movable:
        raise ApiError.of(400, field_name, "the clock is real time; start the server with --clock (or --seed) "
                                           "to move it")
    current = clock.instant()
    if field_name == "to":
        try:
            target = parse_time(body["to"], "to")
        except DomainError:
            raise ApiError.of(400, "to", f"{body['to']!r} is not an RFC 3339 date-time") from None
        if target < current:
            raise ApiError.of(400, "to", f"is before the clock's now ({stamp(current)}); the clock only moves forward")
    else:
        moved = add_duration(current, body["by"])
        if moved is None and is_duration(body["by"]):  # a duration, but one past the end of the calendar
            raise ApiError.of(400, "by", f"must stay before {stamp(_CLOCK_LIMIT)}")
        if moved is None:
            raise ApiError.of(400, "by", f"{body['by']!r} is not an ISO 8601 duration (P1M, P14D, PT6H)")
        target = moved
    if target >= _CLOCK_LIMIT:
        raise ApiError.of(400, field_name, f"must stay before {stamp(_CLOCK_LIMIT)}")
    summary = billing.advance(store, target, between=lambda: store.yield_lock(_YIELD_S))
    return {"now": stamp(clock.instant()), "summary": summary.to_json()}


def serve_file(store: Store, call: Call) -> Forwarded:
    """``GET /__mock/files/{id}``: the stored bytes as they are (not JSON), with the file's type and name;
    403 once the link's ``expires`` (from ``download_url?expiry``) has passed by the mock's clock."""
    record = files.require_file(store, call.params["file_id"])
    expires = call.params.get("expires")
    if expires is not None and files.link_expired(store, expires):
        raise ApiError.of(403, "expires", "the download link has expired (ask download_url for a new one)")
    content_type, name, data = files.attachment(record)
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-disposition", f'attachment; filename="{name}"'.encode("latin-1", "replace")),
        (b"x-content-type-options", b"nosniff"),
    ]
    return Forwarded(200, headers, data)
