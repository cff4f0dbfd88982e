"""The usage pipeline end to end through Togai's own client: schema -> meter -> activate -> plan ->
associate -> ingest (single and batch, each failed outcome) -> events listed and paged -> metrics and revenue."""
from __future__ import annotations

from datetime import UTC, datetime

import togai_client
from plans import usage_card
from togai_sdk import sdk, togai_server  # noqa: F401 - fixtures

METERED = "INGESTION_COMPLETED_EVENT_METERED"


def test_schema_to_revenue_with_togais_client(sdk: togai_client.ApiClient) -> None:  # noqa: F811
    schemas, meters = togai_client.EventSchemasApi(sdk), togai_client.UsageMetersApi(sdk)
    plans, accounts = togai_client.PricePlansApi(sdk), togai_client.AccountsApi(sdk)
    ingestion, management = togai_client.EventIngestionApi(sdk), togai_client.EventManagementApi(sdk)
    metrics = togai_client.MetricsApi(sdk)

    schemas.create_event_schema(togai_client.CreateEventSchemaRequest(
        name="calls", attributes=[togai_client.EventAttributeSchema(name="minutes")],
        dimensions=[togai_client.DimensionsSchema(name="country")]))
    schemas.activate_event_schema("calls")
    meter = meters.create_usage_meter(togai_client.CreateUsageMeterRequest(
        name="Minutes", type="COUNTER", aggregation="SUM", event_schema_name="calls",
        computations=[togai_client.Computation(order=1, computation='{"var": "attribute.minutes"}')]))
    meters.activate_usage_meter(meter.id)

    # 1 USD a minute up to 10, then 0.5; GLOBEX-US (USD, no plan in the demo tenant) from 2024.
    plan = plans.create_price_plan(togai_client.CreatePricePlanRequest(
        name="Calls", pricePlanDetails=togai_client.CreatePricePlanDetails(
            supportedCurrencies=["USD"], usageRateCards=[togai_client.UsageRateCard.from_dict(usage_card(meter.id))])))
    plans.activate_price_plan(plan.id, togai_client.ActivatePricePlanRequest(currencies=["USD"]))
    accounts.update_pricing_schedule("GLOBEX-US", togai_client.UpdatePricingScheduleRequestWithActions(
        mode="ASSOCIATE", pricePlanId=plan.id, effectiveFrom="2024-01-01", effectiveUntil="2099-01-01"))

    def call(event_id: str | None, minutes: str, account: str = "GLOBEX-US", schema: str = "calls",
             day: int = 1) -> togai_client.Event:
        return togai_client.Event(id=event_id, schema_name=schema, account_id=account,
                                  timestamp=datetime(2024, 3, day, 12, tzinfo=UTC),
                                  attributes=[togai_client.Attribute(name="minutes", value=minutes)],
                                  dimensions={"country": "FR"})

    ingestion.ingest(togai_client.IngestEventRequest(event=call("c1", "12.5")))
    ingestion.ingest_batch(togai_client.IngestBatchEventRequest(events=[
        call("c2", "10", day=2), call("c3", "7.5", day=2),
        call("c1", "100"),  # a duplicate id: never counts twice
        call("c4", "1", account="NO-SUCH-ACCOUNT"), call("c5", "1", schema="no_such_schema"),
        call(None, "1")]))

    seen, token = [], None
    while True:
        page = management.get_events(page_size=2, next_token=token)
        assert len(page.events) <= 2
        seen += [e for e in page.events if e.event_payload.schema_name in ("calls", "no_such_schema")]
        token = page.next_token
        if token is None:
            break
    assert [e.ingestion_status.status for e in seen] == [
        METERED, METERED, METERED, "INGESTION_FAILED_DUPLICATE_EVENT", "INGESTION_FAILED_ACCOUNT_NOT_FOUND",
        "INGESTION_FAILED_SCHEMA_NOT_DEFINED", "INGESTION_FAILED_NO_EVENT_ID"]
    [c1] = management.get_single_event("c1").events
    assert c1.event_pipeline_info.price_plans[0].id == plan.id

    march = metrics.get_metrics(togai_client.GetMetricsRequest(
        start_time=datetime(2024, 3, 1, tzinfo=UTC), end_time=datetime(2024, 4, 1, tzinfo=UTC), metric_queries=[
            togai_client.MetricQuery(id=name, name=name, aggregation_period="MONTH", filters=[
                togai_client.MetricQueryFilterEntry(field_name="ACCOUNT_ID", field_values=["GLOBEX-US"])])
            for name in (togai_client.MetricName.METER_USAGE, togai_client.MetricName.REVENUE,
                         togai_client.MetricName.EVENTS)]))
    used, revenue, events = (result.data[0].metric_values for result in march.results)
    # 12.5 + 10 + 7.5 minutes; 10 x 1 + 20 x 0.5 USD; GLOBEX-US's six events (three metered, three failed:
    # the duplicate, the unknown schema, the one without an id; the unknown account's is not GLOBEX-US's).
    assert (used, revenue, events) == ([30], [20], [6])
