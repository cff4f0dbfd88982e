"""The request path's shortcuts decide as the full stages do: a remembered bearer token, a bearer-only
operation, a body taken from one message, and the journal budget's arrivals of a full journal."""
from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from mock_server import Config, create_app
from mock_server import pipeline as pipeline_module
from mock_server.errors import ApiError
from mock_server.journal import Journal, JournalBudget
from mock_server.pipeline import ClientGone, read_body


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": value}


def test_a_remembered_authorization_decides_as_check_bearer(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = api.app.state.pipeline
    monkeypatch.setattr(pipeline, "tokens", frozenset({"good"}))
    monkeypatch.setattr(pipeline, "_admitted", set())
    for _ in range(2):  # the second time from the memory (a refusal is never remembered)
        assert api.get("/accounts/ACME-US", auth=False, headers=_bearer("Bearer good")).status_code == 200
        refused = api.get("/accounts/ACME-US", auth=False, headers=_bearer("Bearer bad"))
        assert (refused.status_code, refused.json()) == (401, {"message": "Authorization: the token is not accepted"})
        assert refused.headers["x-mock-rejected-by"] == "security"
        wrong = api.get("/accounts/ACME-US", auth=False, headers=_bearer("Basic good"))
        assert (wrong.status_code, wrong.json()) == (401, {"message": "Authorization: must be 'Bearer <token>'"})
        assert api.get("/accounts/ACME-US", auth=False).status_code == 401
    # Written another way, the same token passes, as check_bearer reads it (scheme in any case, spaces).
    assert api.get("/accounts/ACME-US", auth=False, headers=_bearer("bearer  good ")).status_code == 200
    assert pipeline._admitted == {"Bearer good", "bearer  good "}


def test_the_remembered_values_are_bounded(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = api.app.state.pipeline
    monkeypatch.setattr(pipeline, "_admitted", set())
    monkeypatch.setattr(pipeline_module, "_ADMITTED_MAX", 2)
    for i in range(5):
        assert api.get("/accounts/ACME-US", auth=False, headers=_bearer(f"Bearer t{i}")).status_code == 200
    assert len(pipeline._admitted) <= 2


def test_security_other_than_one_bearer_token_runs_in_full(tmp_path: Path) -> None:
    # An API key, or a choice of schemes: never the bearer shortcut, remembered request or not.
    responses = {"200": {"description": "ok", "content": {"application/json": {
        "schema": {"type": "object"}, "example": {"ok": True}}}}}
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "components": {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                                               "bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": {"/keyed": {"get": {"operationId": "keyed", "security": [{"key": []}], "responses": responses}},
                      "/either": {"get": {"operationId": "either", "security": [{"key": []}, {"bearer": []}],
                                          "responses": responses}}}}
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(spec))
    client = TestClient(create_app(Config(spec=path, fixtures=None)), base_url="http://localhost")
    for _ in range(2):
        assert client.get("/keyed", headers={"X-Key": "k"}).status_code == 200
        assert client.get("/keyed", headers=_bearer("Bearer k")).status_code == 401
        assert client.get("/either", headers=_bearer("Bearer k")).status_code == 200
        assert client.get("/either", headers={"X-Key": "k"}).status_code == 200
        assert client.get("/either").status_code == 401


def _messages(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> MutableMapping[str, Any]:
        return queue.pop(0)

    return receive


def test_a_body_in_one_message_is_still_held_to_the_limit() -> None:
    def read(*messages: dict[str, Any]) -> bytes:
        return asyncio.run(read_body(_messages(*messages), {}, 10))

    assert read({"type": "http.request", "body": b"0123456789", "more_body": False}) == b"0123456789"
    with pytest.raises(ApiError) as one:  # no Content-Length: only the bytes can tell
        read({"type": "http.request", "body": b"0123456789x", "more_body": False})
    assert one.value.status == 413
    assert read({"type": "http.request", "body": b"01234", "more_body": True},
                {"type": "http.request", "body": b"56789", "more_body": False}) == b"0123456789"
    with pytest.raises(ApiError):
        read({"type": "http.request", "body": b"012345", "more_body": True},
             {"type": "http.request", "body": b"67890", "more_body": False})
    with pytest.raises(ClientGone):
        read({"type": "http.request", "body": b"01", "more_body": True}, {"type": "http.disconnect"})
    with pytest.raises(ClientGone):
        read({"type": "http.disconnect"})


def _add(journal: Journal, size: int = 10) -> None:
    journal.add(0.0, "GET", "/a", "", [], 0, b"x" * size, 200, "op", 1.0, b"", None, None, None)


def test_a_full_journal_leaves_no_arrivals_behind() -> None:
    budget = JournalBudget()
    journal = Journal(3, budget)
    for _ in range(10):
        _add(journal)
    assert len(budget._arrivals) == 3 and budget.kept == 3  # not 10 waiting for a sweep
    assert budget.used == 3 * (10 + 512)
    journal.clear()
    for _ in range(5):  # the arrivals from before the clear go once the journal is full again
        _add(journal)
    assert [entry_id for _, entry_id in budget._arrivals] == [13, 14, 15]
    assert [e["id"] for e in journal.entries()] == [13, 14, 15]


def test_the_budget_still_drops_the_oldest_of_all_journals() -> None:
    budget = JournalBudget(limit=3 * (10 + 512))
    first, second = Journal(2, budget), Journal(2, budget)
    _add(first)
    _add(second)
    _add(first)
    _add(first)  # first is full: its oldest falls off by itself
    _add(second)  # over the budget: the oldest of all kept goes, second's first (first's first fell already)
    assert [e["id"] for e in first.entries()] == [2, 3]
    assert [e["id"] for e in second.entries()] == [2]
    assert budget.used == 3 * (10 + 512) and budget.kept == 3
