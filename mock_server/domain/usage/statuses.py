"""The ingestion statuses of an event (the contract's ``IngestionStatus``), written once.

Ingestion, ``GET /events?status=`` and the metrics all read this list; the
names below are the statuses the mock gives itself.
"""
from __future__ import annotations

IN_PROGRESS = "INGESTION_IN_PROGRESS"
METERED = "INGESTION_COMPLETED_EVENT_METERED"
NO_METERS = "INGESTION_COMPLETED_NO_MATCHING_METERS"
NO_ACCOUNT = "INGESTION_FAILED_ACCOUNT_NOT_FOUND"
NO_SCHEMA = "INGESTION_FAILED_SCHEMA_NOT_DEFINED"
DUPLICATE = "INGESTION_FAILED_DUPLICATE_EVENT"
NO_ID = "INGESTION_FAILED_NO_EVENT_ID"
UNITS_INVALID = "INGESTION_FAILED_UNITS_INVALID"
REVERTED = "REVERTED"
FAILED = "INGESTION_FAILED"
NOT_METERED = "INGESTION_COMPLETED_EVENT_NOT_METERED"
INVALID_LICENSE = "INGESTION_FAILED_INVALID_NAMED_LICENSE_EVENT"
ENRICHMENT_FAILED = "INGESTION_FAILED_ENRICHMENT_FAILED"
PAST_GRACE = "INGESTION_FAILED_PAST_GRACE_PERIOD"
INSUFFICIENT_CREDITS = "INGESTION_FAILED_INSUFFICIENT_CREDITS"

# Every IngestionStatus of the contract, in its order (some are Togai's only: the mock never gives them).
ALL = (
    IN_PROGRESS, FAILED, NO_SCHEMA, ENRICHMENT_FAILED, UNITS_INVALID, NO_METERS,
    METERED, NOT_METERED, PAST_GRACE, NO_ACCOUNT, DUPLICATE,
    NO_ID, INVALID_LICENSE, INSUFFICIENT_CREDITS, REVERTED, "UNKNOWN",
)

DESCRIPTIONS = {
    IN_PROGRESS: "The event is being processed",
    METERED: "Ingestion completed: usage meters computed units",
    NO_METERS: "Ingestion completed: no active usage meter of the schema counts this event",
    NO_ACCOUNT: "No account has this id or alias",
    NO_SCHEMA: "No active event schema has this name",
    DUPLICATE: "An event with this id was ingested before (by /ingest, /ingestBatch or /entitled)",
    NO_ID: "The event has no id",
    UNITS_INVALID: "An attribute value or a usage meter's units are not a number within bounds, "
                   "or a computation failed",
    FAILED: "A togai-usage event lacks its usage_meter_id dimension or usage attribute, or names no usage meter",
    NOT_METERED: "Ingestion completed: no usage was generated (the schema's meters filtered it out, "
                 "or a named license event)",
    ENRICHMENT_FAILED: "An enrichment of the event schema failed (a dependency setting is missing, or an "
                       "expression failed or gave no value of the field's type)",
    INVALID_LICENSE: "A togai-named-license event needs license_id (an add-on), name and action 1 or -1",
    REVERTED: "The event was reverted by a correction",
    INSUFFICIENT_CREDITS: "The account's feature credits of a feature linked to the event schema run short "
                          "(nothing was consumed)",
    PAST_GRACE: "The event is dated in a pricing cycle of its account whose grace period has ended "
                "(the cycle is invoiced): not metered, not billed",
}
