"""Corrections by filter (Togai's current /events/correction): an account and ids or times, 30 at most per call,
every match in an EVENT_CORRECTIONS job with ``async``; the single-event form as the contract shows it."""
from __future__ import annotations

from typing import Any

from conftest import Api, new_account

METERED = "INGESTION_COMPLETED_EVENT_METERED"


def ride(event_id: str, ts: str, account: str = "FLEET") -> dict[str, Any]:
    return {"id": event_id, "schemaName": "rides", "accountId": account, "timestamp": ts,
            "attributes": [{"name": "distance", "value": "2"}], "dimensions": {"city": "x"}}


def fleet(api: Api, n: int) -> list[str]:
    """``n`` rides of a new account FLEET, one a minute from 2024-03-01T10:00Z (e00 oldest); their ids."""
    new_account(api, "FLEET")
    ids = [f"e{i:02d}" for i in range(n)]
    events = [ride(e, f"2024-03-01T10:{i:02d}:00Z") for i, e in enumerate(ids)]
    assert api.post("/ingestBatch", json={"events": events}).status_code == 202
    return ids


def correct(api: Api, action: str = "UNDO", body: dict[str, Any] | None = None, **filters: str) -> Any:
    return api.post("/events/correction", params={"action": action, **filters}, json=body or {})


def status(api: Api, event_id: str) -> str:
    return str(api.get(f"/events/{event_id}").json()["events"][0]["ingestionStatus"]["status"])


def test_an_account_alone_corrects_its_30_newest_events(api: Api) -> None:
    ids = fleet(api, 35)
    r = correct(api, account_id="FLEET")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    # Newest timestamp first: e34 down to e05; the five oldest are left as they were.
    assert [d["eventPayload"]["id"] for d in data] == ids[34:4:-1]
    assert {d["status"] for d in data} == {"REVERTED"}
    assert [status(api, e) for e in ids[:5]] == [METERED] * 5
    assert status(api, "e05") == "REVERTED"
    # The same filter again reaches the same 30 first: each one fails, already reverted; nothing changes.
    again = correct(api, account_id="FLEET").json()["data"]
    assert len(again) == 30 and {d["status"] for d in again} == {"FAILED"}
    assert status(api, "e04") == METERED


def test_an_interval_of_timestamps_an_event_id_or_a_reference_id(api: Api) -> None:
    fleet(api, 6)
    r = correct(api, account_id="FLEET", event_source_time="2024-03-01T10:01:00Z/2024-03-01T10:04:00Z")
    assert [d["eventPayload"]["id"] for d in r.json()["data"]] == ["e03", "e02", "e01"]  # [10:01, 10:04)
    r = correct(api, account_id="FLEET", event_source_time="2024-03-01T10:05:00Z")  # one instant
    assert [d["eventPayload"]["id"] for d in r.json()["data"]] == ["e05"]
    r = correct(api, "REDO", account_id="FLEET", event_id="e02")
    assert [(d["eventPayload"]["id"], d["status"]) for d in r.json()["data"]] == [("e02", "REVERTED_AND_REINGESTED")]
    assert status(api, "e02") == METERED
    reference = api.get("/events/e00").json()["events"][0]["referenceId"]
    r = correct(api, account_id="FLEET", id=reference)
    assert [d["eventPayload"]["id"] for d in r.json()["data"]] == ["e00"]
    assert [status(api, f"e0{i}") for i in range(6)] == ["REVERTED", "REVERTED", METERED, "REVERTED", METERED,
                                                         "REVERTED"]


def test_refused_filters_change_nothing(api: Api) -> None:
    fleet(api, 2)
    before = api.state()
    cases = [
        ({"event_id": "e00"}, "account_id: "),  # no account
        ({"account_id": "FLEET", "id": "x", "event_id": "e00"}, "event_id: "),  # not a documented combination
        ({"account_id": "FLEET", "event_id": "nope"}, "account_id: no event matches"),
        ({"account_id": "FLEET", "event_source_time": "2024-03-02T00:00:00Z/2024-03-01T00:00:00Z"},
         "event_source_time: "),
    ]
    for filters, message in cases:
        r = correct(api, **filters)
        assert r.status_code == 400 and r.json()["message"].startswith(message), (filters, r.text)
    r = correct(api, "REDO_EVENT", account_id="FLEET")
    assert r.status_code == 400 and r.json()["message"].startswith("action: ")
    r = correct(api, body={"event": ride("e00", "2024-03-01T10:00:00Z")}, account_id="FLEET")
    assert r.status_code == 400 and r.json()["message"].startswith("event: ")
    assert api.state() == before


def test_async_corrects_every_match_in_an_event_corrections_job(api: Api) -> None:
    ids = fleet(api, 35)
    r = correct(api, account_id="FLEET", **{"async": "true"})
    assert r.status_code == 200 and len(r.json()["data"]) == 30  # the first 30 outcomes are shown
    assert {status(api, e) for e in ids} == {"REVERTED"}
    [listed] = [j for j in api.get("/jobs").json()["data"] if j["type"] == "EVENT_CORRECTIONS"]
    job = api.get(f"/jobs/{listed['id']}").json()
    assert job["status"] == "COMPLETED" and job["totalJobEntries"] == job["completedJobEntries"] == 35
    # The usage went with them: no FLEET events counted in March.
    metrics = api.post("/metrics", json={
        "startTime": "2024-03-01T00:00:00Z", "endTime": "2024-04-01T00:00:00Z",
        "metricQueries": [{"id": "q", "name": "EVENTS", "aggregationPeriod": "MONTH",
                           "filters": [{"fieldName": "ACCOUNT_ID", "fieldValues": ["FLEET"]}]}]})
    assert metrics.json()["results"][0]["data"][0]["metricValues"] == [0]


def test_the_single_event_form_is_unchanged(api: Api) -> None:
    fleet(api, 1)
    r = correct(api, body={"event": {"id": "e00", "schemaName": "rides", "accountId": "FLEET",
                                     "timestamp": "2024-03-01T10:00:00Z", "attributes": [], "dimensions": {}}})
    assert r.status_code == 200 and [d["status"] for d in r.json()["data"]] == ["REVERTED"]
