"""Jobs: price plan migrations, one entry per account they move.

``POST /price_plans/migration`` makes a PRICE_PLAN job with an entry for
each account on the source version. With ``requireConfirmation`` it waits
(WAITING_FOR_CONFIRMATION, entries PENDING) for ``confirm`` (which runs it)
or ``reject`` (CANCELLED); otherwise it runs at once. Running moves each
account's schedules (see :func:`schedules.migrate_account`): an entry is
COMPLETED or FAILED with the reason in ``comments``; the job is COMPLETED,
or FAILED when every entry failed. A job's entry counts are derived from
its entries whenever shown.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core import lookup
from ..core.errors import DomainError, Invalid, Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store
from . import plans as price_plans
from . import schedules

NAME = "jobs"
ENTRIES = "jobEntries"
PARAM = "job_id"
IDS = IdScheme("job")
COUNTS = ("totalJobEntries", "pendingJobEntries", "failedJobEntries", "completedJobEntries")
# Index: job id -> the store keys of its entries, in order.
JOB_ENTRIES = "jobEntryKeys"
SETTLED = ("COMPLETED", "FAILED", "CANCELLED")


def require(store: Store, job_id: str) -> Record:
    """The job in the path, or :class:`NotFound`."""
    job: Record = lookup.require(store, NAME, job_id, PARAM, "job")
    return job


def entries_of(store: Store, job_id: str) -> list[Record]:
    """The job's entries, in the order they were made."""
    items = store.collections[ENTRIES].items
    return [items[key] for key in store.indexes[JOB_ENTRIES].get(job_id, [])]


def render(store: Store, job: Record) -> dict[str, Any]:
    """The job as ``GetJobResponse``, its counts summed from its entries."""
    entries = entries_of(store, job["id"])
    statuses = [e["status"] for e in entries]
    return {**job, "totalJobEntries": len(entries),
            "pendingJobEntries": sum(s in ("PENDING", "IN_PROGRESS") for s in statuses),
            "failedJobEntries": statuses.count("FAILED"), "completedJobEntries": statuses.count("COMPLETED")}


def render_entry(entry: Record) -> dict[str, Any]:
    """An entry as ``JobEntriesResponse`` (its store key is not part of it)."""
    return {k: v for k, v in entry.items() if k != "id"}


def _add_entry(store: Store, job_id: str, account_id: str, now: str) -> Record:
    entry = {"id": f"{job_id}/{account_id}", "entityId": account_id, "jobId": job_id, "status": "PENDING",
             "createdAt": now, "comments": "waiting for the job to run"}
    store.collections[ENTRIES].add(entry["id"], entry)
    store.indexes[JOB_ENTRIES].setdefault(job_id, []).append(entry["id"])
    return entry


def migration_config(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """The migration a request asks for, checked: both plan versions exist, the target is ACTIVE."""
    source = price_plans.require(store, body["sourceId"], "sourceId")
    problems: list[Violation] = []
    if price_plans.version_of(source, body["sourceVersion"]) is None:
        problems.append(Violation("sourceVersion", f"price plan {source['id']!r} has no version "
                                                   f"{body['sourceVersion']}"))
    target = price_plans.require(store, str(body.get("targetId", source["id"])), "targetId")
    version = body.get("targetVersion", price_plans.latest_version(target))
    if price_plans.version_of(target, version) is None:
        problems.append(Violation("targetVersion", f"price plan {target['id']!r} has no version {version}"))
    if target["status"] != "ACTIVE":
        problems.append(Violation("targetId", f"price plan {target['id']!r} is {target['status']}; accounts can "
                                              "only move to an ACTIVE plan"))
    if (target["id"], version) == (source["id"], body["sourceVersion"]):
        problems.append(Violation("targetVersion", "is the source version itself"))
    if problems:
        raise Invalid(problems)
    return {**body, "targetId": target["id"], "targetVersion": version}


def start_migration(store: Store, config: dict[str, Any], wait: bool = False) -> Record:
    """A PRICE_PLAN job for ``config`` (checked), run now unless it must ``wait`` for confirmation."""
    now = store.clock.now()
    job: Record = {"id": store.new_id(IDS, store.collections[NAME]), "type": "PRICE_PLAN",
                   "status": "WAITING_FOR_CONFIRMATION" if wait else "IN_PROGRESS", "updatedAt": now,
                   "metadata": {k: str(config[k]) for k in ("sourceId", "sourceVersion", "targetId",
                                                            "targetVersion", "migrationMode", "retainStartOffsets")
                                if k in config}}
    store.collections[NAME].add(job["id"], job)
    for account_id in schedules.accounts_on(store, config["sourceId"], now, config["sourceVersion"]):
        _add_entry(store, job["id"], account_id, now)
    if not wait:
        run(store, job)
    return job


def _config(job: Record) -> dict[str, Any]:
    meta = job["metadata"]
    config: dict[str, Any] = {"sourceId": meta["sourceId"], "sourceVersion": int(meta["sourceVersion"]),
                              "targetId": meta["targetId"], "targetVersion": int(meta["targetVersion"]),
                              "migrationMode": meta["migrationMode"]}
    config["retainStartOffsets"] = meta.get("retainStartOffsets") == "True"
    return config


def run(store: Store, job: Record) -> None:
    """Move each entry's account; each entry says how it went."""
    config, now = _config(job), store.clock.now()
    for entry in entries_of(store, job["id"]):
        try:
            entry["comments"] = schedules.migrate_account(store, entry["entityId"], config, now)
            entry["status"] = "COMPLETED"
        except DomainError as error:
            entry["status"], entry["comments"] = "FAILED", error.violations[0].rule
    entries = entries_of(store, job["id"])
    failed = entries and all(e["status"] == "FAILED" for e in entries)
    job["status"] = "FAILED" if failed else "COMPLETED"
    job["settledAt"] = job["updatedAt"] = now


def migrate(store: Store, request: dict[str, Any]) -> Record:
    """A migration job for a ``PricePlanMigrationConfig`` (checked), waiting if it ``requireConfirmation``."""
    return start_migration(store, migration_config(store, request), bool(request.get("requireConfirmation")))


def update_plan(store: Store, plan_id: str, changes: dict[str, Any], mode: str = "NONE",
                versions_to_migrate: str = "LATEST_VERSION") -> Record:
    """A plan PATCH (:func:`.plans.update`), then a migration job for each version whose associations move."""
    plan, migrations = price_plans.update(store, plan_id, changes, mode, versions_to_migrate)
    for config in migrations:
        start_migration(store, config)
    return plan


def _waiting(store: Store, job_id: str) -> Record:
    job = require(store, job_id)
    if job["status"] != "WAITING_FOR_CONFIRMATION":
        raise Invalid.at(PARAM, f"job {job['id']!r} is {job['status']}; only a job WAITING_FOR_CONFIRMATION "
                                "can be confirmed or rejected")
    return job


def confirm(store: Store, job_id: str, runners: Mapping[str, Callable[[Store, Record], None]] | None = None,
            ) -> Record:
    """Run a waiting job: a migration here, another type by its runner in ``runners`` (an area above
    pricing, such as billing's bill runs, brings its own)."""
    job = _waiting(store, job_id)
    (runners or {}).get(job["type"], run)(store, job)
    return job


def reject(store: Store, job_id: str) -> Record:
    """A waiting job and its entries are CANCELLED; nothing moves."""
    job = _waiting(store, job_id)
    now = store.clock.now()
    for entry in entries_of(store, job["id"]):
        entry["status"], entry["comments"] = "CANCELLED", "the job was rejected"
    job["status"] = "CANCELLED"
    job["settledAt"] = job["updatedAt"] = now
    return job


def check_jobs(ctx: ImportContext) -> None:
    """A settled job has its ``settledAt``; a waiting one none."""
    for i, job in enumerate(ctx.data[NAME]):
        if job.get("status") in SETTLED and "settledAt" not in job:
            ctx.problems.append(Violation(f"{NAME}[{i}].settledAt", f"a {job['status']} job has one"))


def check_entries(ctx: ImportContext) -> None:
    """A waiting job's entries are PENDING (one entry per account and job: its key is both)."""
    jobs = ctx.ids(NAME)
    for i, entry in enumerate(ctx.data[ENTRIES]):
        job = jobs.get(str(entry.get("jobId")))
        if job is not None and job.get("status") == "WAITING_FOR_CONFIRMATION" and entry["status"] != "PENDING":
            ctx.problems.append(Violation(f"{ENTRIES}[{i}].status", "must be PENDING while the job waits"))


def complete_entries(store: Store, ctx: ImportContext) -> None:
    """An imported entry is keyed by its job and account."""
    for entry in ctx.data.get(ENTRIES, []):
        if isinstance(entry.get("jobId"), str) and isinstance(entry.get("entityId"), str):
            entry["id"] = f"{entry['jobId']}/{entry['entityId']}"


def restore_job(store: Store, job: dict[str, Any]) -> None:
    """Insert an imported job (its counts are derived)."""
    stored = {k: v for k, v in job.items() if k not in COUNTS}
    store.collections[NAME].add(stored["id"], stored)
    store.reserved.add(stored["id"])


def restore_entry(store: Store, entry: dict[str, Any]) -> None:
    """Insert an imported entry and index it under its job."""
    store.collections[ENTRIES].add(entry["id"], dict(entry))
    store.indexes[JOB_ENTRIES].setdefault(entry["jobId"], []).append(entry["id"])


JOBS = Resource(
    name=NAME,
    schema="GetJobResponse",
    ids=IDS,
    exchange=Exchange(
        not_exported=COUNTS,
        export=render,
        check_import=check_jobs,
        restore=restore_job,
    ),
)

ENTRY_RESOURCE = Resource(
    name=ENTRIES,
    schema="JobEntriesResponse",
    references={"jobId": "jobs"},
    indexes=(JOB_ENTRIES,),
    exchange=Exchange(
        export=lambda store, entry: render_entry(entry),
        complete_import=complete_entries,
        check_import=check_entries,
        restore=restore_entry,
    ),
)
