"""Feature credits an ``/ingest`` event consumes while it is metered (``INGESTION_FAILED_INSUFFICIENT_CREDITS``).

Togai (docs.togai.com/docs/event_statuses): "On processing an IN_PROGRESS
event, if the event is not entitled and the schema has feature_details we try
to deduct [credits], on failure ... we mark it as
INGESTION_FAILED_INSUFFICIENT_CREDITS". The credits are the ledger's
(:mod:`mock_server.domain.ledger.entitlements`), which usage does not import:
it asks through :func:`~mock_server.domain.core.observers.credits_refused`.
"""
from __future__ import annotations

from ..catalog import features
from ..core.store import Store

# Index: store key of each event ``/entitled`` took -> when it took it. Those events consumed their credits
# when ``/entitled`` accepted them: metering them consumes nothing again ("if the event is not entitled").
ENTITLED = "entitled_event_ids"


def gated(store: Store, schema_name: str) -> bool:
    """Whether metering an event of ``schema_name`` may consume credits: a feature is linked to the schema."""
    return bool(store.indexes[features.BY_SCHEMA].get(schema_name))
