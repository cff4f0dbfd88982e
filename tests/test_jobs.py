"""Price plan migrations as jobs: entries per account, confirmation, rejection, what moves and when.

The seeded clock of the test tenant reads 2024-01-01, so "today" is 2024-01-01 and the current
monthly cycle ends on 2024-02-01.
"""
from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from plans import associate, new_plan, windows


def versions(api: Api, account: str) -> list[tuple[int, str, str, bool]]:
    data = api.get(f"/accounts/{account}/pricing_schedules").json()["data"]
    return [(s["version"], s["startDate"][:10], s["endDate"][:10], s["isOverriden"]) for s in data]


def two_versions(api: Api, override: bool = False) -> str:
    """A plan with versions 1 and 2; GLOBEX-US is on version 1 from 2023-06-01 to 2025-01-01."""
    plan = new_plan(api)
    extra: dict[str, Any] = {}
    if override:
        extra["pricePlanDetailsOverride"] = {"pricingCycleConfig": {"interval": "MONTHLY", "gracePeriod": 5}}
    assert associate(api, "GLOBEX-US", plan["id"], "2023-06-01", "2025-01-01", **extra).status_code == 200
    assert api.patch(f"/price_plans/{plan['id']}", json={"description": "v2"}).status_code == 200
    return str(plan["id"])


def migrate(api: Api, plan: str, mode: str = "IMMEDIATE", **extra: Any) -> Any:
    body = {"sourceId": plan, "sourceVersion": 1, "targetId": plan, "targetVersion": 2, "migrationMode": mode, **extra}
    return api.post("/price_plans/migration", json=body)


def last_job(api: Api) -> dict[str, Any]:
    job_id = api.get("/jobs", params={"pageSize": 100}).json()["data"][-1]["id"]
    job: dict[str, Any] = api.get(f"/jobs/{job_id}").json()
    return job


def test_an_immediate_migration_moves_the_rest_of_the_schedule_from_today(api: Api) -> None:
    plan = two_versions(api)
    r = migrate(api, plan)
    assert r.status_code == 201 and r.json() == {"success": True}
    job = last_job(api)
    assert (job["type"], job["status"], job["totalJobEntries"], job["completedJobEntries"]) == (
        "PRICE_PLAN", "COMPLETED", 1, 1)
    assert job["metadata"]["targetVersion"] == "2" and "settledAt" in job
    assert versions(api, "GLOBEX-US") == [(1, "2023-06-01", "2024-01-01", False), (2, "2024-01-01", "2025-01-01", False)]
    [entry] = api.get(f"/jobs/{job['id']}/entries").json()["data"]
    assert (entry["entityId"], entry["status"]) == ("GLOBEX-US", "COMPLETED")
    assert entry["comments"] == f"moved 1 schedule(s) to {plan} version 2"


@pytest.mark.parametrize(("mode", "expected"), [
    ("NEXT_CYCLE", [(1, "2023-06-01", "2024-02-01", True), (2, "2024-02-01", "2025-01-01", True)]),
    ("NEXT_CYCLE_IGNORE_OVERRIDE", [(1, "2023-06-01", "2024-02-01", True), (2, "2024-02-01", "2025-01-01", False)]),
    ("IMMEDIATE_IGNORE_OVERRIDE", [(1, "2023-06-01", "2024-01-01", True), (2, "2024-01-01", "2025-01-01", False)]),
])
def test_modes_choose_when_and_whether_overrides_move(api: Api, mode: str, expected: list[Any]) -> None:
    plan = two_versions(api, override=True)
    assert migrate(api, plan, mode).status_code == 201
    assert versions(api, "GLOBEX-US") == expected


def test_a_job_waits_for_confirmation_and_a_rejected_one_moves_nothing(api: Api) -> None:
    plan = two_versions(api)
    assert migrate(api, plan, requireConfirmation=True).status_code == 201
    job = last_job(api)
    assert (job["status"], job["pendingJobEntries"]) == ("WAITING_FOR_CONFIRMATION", 1)
    assert "settledAt" not in job
    before = versions(api, "GLOBEX-US")
    rejected = api.post(f"/jobs/{job['id']}/reject").json()
    assert (rejected["status"], rejected["pendingJobEntries"]) == ("CANCELLED", 0)
    assert [e["status"] for e in api.get(f"/jobs/{job['id']}/entries").json()["data"]] == ["CANCELLED"]
    assert versions(api, "GLOBEX-US") == before
    r = api.post(f"/jobs/{job['id']}/confirm")
    assert r.status_code == 400 and r.json()["message"].startswith(f"job_id: job {job['id']!r} is CANCELLED")


def test_an_entry_fails_when_its_account_cannot_move(api: Api) -> None:
    plan = two_versions(api)
    migrate(api, plan, requireConfirmation=True)
    job = last_job(api)
    api.delete("/accounts/GLOBEX-US")
    done = api.post(f"/jobs/{job['id']}/confirm").json()
    assert (done["status"], done["failedJobEntries"]) == ("FAILED", 1)
    [entry] = api.get(f"/jobs/{job['id']}/entries").json()["data"]
    assert (entry["status"], entry["comments"]) == ("FAILED", "account 'GLOBEX-US' is archived")


@pytest.mark.parametrize(("change", "message"), [
    ({"sourceId": "pp.nope"}, "sourceId: no price plan with id 'pp.nope'"),
    ({"sourceVersion": 7}, "sourceVersion: price plan {plan!r} has no version 7"),
    ({"targetVersion": 1}, "targetVersion: is the source version itself"),
])
def test_migrations_are_checked_before_a_job_exists(api: Api, change: dict[str, Any], message: str) -> None:
    plan = two_versions(api)
    before = api.state()
    body = {"sourceId": plan, "sourceVersion": 1, "targetVersion": 2, "migrationMode": "IMMEDIATE", **change}
    r = api.post("/price_plans/migration", json=body)
    assert r.status_code == 400 and r.json()["message"] == message.format(plan=plan), r.text
    assert api.state() == before


def test_a_draft_target_is_refused(api: Api) -> None:
    plan, draft = two_versions(api), new_plan(api, "Draft", active=())
    r = api.post("/price_plans/migration", json={"sourceId": plan, "sourceVersion": 1, "targetId": draft["id"],
                                                 "migrationMode": "IMMEDIATE"})
    assert r.status_code == 400 and "accounts can only move to an ACTIVE plan" in r.json()["message"]


def test_a_new_version_with_a_migration_mode_moves_its_accounts(api: Api) -> None:
    plan = new_plan(api)
    associate(api, "GLOBEX-US", plan["id"], "2024-01-01", "2025-01-01")
    r = api.patch(f"/price_plans/{plan['id']}", json={"description": "v2", "migrationMode": "IMMEDIATE"})
    assert r.status_code == 200
    assert versions(api, "GLOBEX-US") == [(2, "2024-01-01", "2025-01-01", False)]
    assert last_job(api)["status"] == "COMPLETED"


def test_jobs_are_counted_exported_imported_and_reset(api: Api) -> None:
    """The registry contract for jobs and their entries, made by a migration (see MADE_IN_TESTS)."""
    health = api.get("/__mock/health").json()
    plan = two_versions(api)
    migrate(api, plan, requireConfirmation=True)
    after = api.get("/__mock/health").json()
    assert (after["jobs"], after["jobEntries"]) == (health["jobs"] + 1, health["jobEntries"] + 1)
    exported = api.get("/__mock/state").json()
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get("/__mock/state").json() == exported
    job = last_job(api)
    assert api.post(f"/jobs/{job['id']}/confirm").json()["completedJobEntries"] == 1
    exported["jobEntries"][-1]["status"] = "COMPLETED"  # a waiting job's entry cannot be done already
    r = api.request("PUT", "/__mock/state", json=exported)
    assert r.status_code == 400 and "must be PENDING while the job waits" in r.text
    api.post("/__mock/reset", headers={"Content-Type": "application/json"})
    assert api.get("/__mock/health").json()["jobs"] == health["jobs"]
    assert api.get(f"/jobs/{job['id']}").status_code == 404
    assert windows(api, "GLOBEX-US") == []
