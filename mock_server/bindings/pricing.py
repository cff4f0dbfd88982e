"""Which operation reaches which rule.

The area: price plans, their associations (schedules), migration jobs and the revenue calculator.
"""
from __future__ import annotations

from ..domain.pricing import jobs, plans, schedules
from .binding import Binding

JOBS = Binding(
    resource=jobs.NAME,
    path_param=jobs.PARAM,
    read="getJobStatus",  # made by pricePlanMigration (and PATCH of an ACTIVE plan with a migrationMode)
    list="getJobs",
    fixture_op="pricePlanMigration",
    fixture_params=("by",),  # a fixture entry {by: name, sourceId: <plan name>, ...} names the plans
    handlers={
        "pricePlanMigration": jobs.create_migration,
        "getJobStatus": jobs.read,
        "getJobs": jobs.list_,
        "confirmJob": jobs.confirm,
        "rejectJob": jobs.reject,
    },
)

JOB_ENTRIES = Binding(
    resource=jobs.ENTRIES,
    path_param=jobs.PARAM,
    list="getJobEntries",
    handlers={"getJobEntries": jobs.list_entries},
)

PLANS = Binding(
    resource=plans.NAME,
    path_param=plans.PARAM,
    create="createPricePlan",
    read="getPricePlan",
    list="getPricePlans",
    update="updatePricePlan",
    delete="archivePricePlan",  # archives
    fixture_params=("status",),  # a fixture entry says whether the demo plan is ACTIVE
    handlers={
        "createPricePlan": plans.create,
        "getPricePlan": plans.read,
        "getPricePlans": plans.list_,
        "updatePricePlan": plans.update,
        "archivePricePlan": plans.archive,
        "activatePricePlan": plans.activate,
        "addCurrencyToPricePlan": plans.add_currency,
        "removeCurrencyFromPricePlan": plans.remove_currency,
        "calculateRevenue": plans.calculate_revenue,
    },
)

SCHEDULES = Binding(
    resource=schedules.NAME,
    path_param=schedules.PARAM,
    path_field="accountId",
    list="getPricingSchedules",  # made by updatePricingSchedule / updatePricingScheduleBatch
    fixture_op="updatePricingSchedule",
    fixture_params=("account_id", "plan"),  # a fixture entry: {account_id: ..., plan: <plan name>, effectiveFrom: ...}
    handlers={
        "updatePricingSchedule": schedules.update_schedule,
        "updatePricingScheduleBatch": schedules.edit_schedules,
        "getPricingSchedules": schedules.list_schedules,
        "listPricingRulesByScheduleId": schedules.list_rules,
    },
)
