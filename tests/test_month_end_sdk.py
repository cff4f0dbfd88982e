"""A month end driven by Togai's own client (``togai-client`` 1.0.3) against the mock (issue 19, Proof).

The session's seeded server (the ``sdk`` fixture) has a movable clock that
starts at 2024-01-01; the test moves it with plain HTTP (``POST
/__mock/clock``, the mock's control API, which the client does not know).
Everything Togai's API does goes through the client; invoices with
``revenueInfo`` are read raw (the client cannot parse its nested lines,
spec/DEVIATIONS.md #15), summaries through the client's models. The
expected amounts are worked by hand in the comments.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import togai_client

from mock_server.pytest_plugin import TogaiMock

RIDES = "Ride count"  # the demo tenant's meter of its "rides" schema


def _raw(response: Any) -> dict[str, Any]:
    """An answer the client cannot parse itself (DEVIATIONS #15), read as JSON."""
    assert response.status == 200, response.data
    body: dict[str, Any] = json.loads(response.data)
    return body


def _customer(sdk: togai_client.ApiClient, customer_id: str, account_id: str) -> None:
    """A customer with one USD account on 10 net-term days."""
    togai_client.CustomersApi(sdk).create_customer(togai_client.CreateCustomerRequest.from_dict({
        "id": customer_id, "name": f"Customer {customer_id}", "primaryEmail": "billing@example.com",
        "address": {"country": "US"},
        "account": {"id": account_id, "name": f"Account {account_id}", "invoiceCurrency": "USD",
                    "netTermDays": 10}}))


def _plan(sdk: togai_client.ApiClient) -> str:
    """A calendar-month plan: 2.5 USD a ride, and a fixed fee of 15 USD in arrears."""
    meter = next(m.id for m in togai_client.UsageMetersApi(sdk).get_usage_meters_for_event_schema().data
                 if m.name == RIDES)
    fee = togai_client.AddOnsApi(sdk).create_add_on(togai_client.CreateAddOnRequest(name="Platform fee",
                                                                                     type="FIXED_FEE"))
    plans = togai_client.PricePlansApi(sdk)
    plan = plans.create_price_plan(togai_client.CreatePricePlanRequest.from_dict({
        "name": "Month end", "pricePlanDetails": {
            "supportedCurrencies": ["USD"],
            "pricingCycleConfig": {"interval": "MONTHLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
                                   "gracePeriod": 0},
            "usageRateCards": [{"usageMeterId": meter, "ratePlan": {
                "pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
                "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 2.5}]}]}],
            "fixedFeeRateCards": [{"id": fee.id, "displayName": "Platform fee", "invoiceTiming": "IN_ARREARS",
                                   "type": "RECURRING", "enableProration": False,
                                   "rateValues": [{"currency": "USD", "rate": 15}]}]}}))
    plans.activate_price_plan(plan.id, togai_client.ActivatePricePlanRequest(currencies=["USD"]))
    return plan.id


def _associate(sdk: togai_client.ApiClient, account: str, plan: str) -> None:
    togai_client.AccountsApi(sdk).update_pricing_schedule(account, togai_client.UpdatePricingScheduleRequestWithActions(
        mode="ASSOCIATE", pricePlanId=plan, effectiveFrom="2024-01-01", effectiveUntil="2099-01-01"))


def _rides(sdk: togai_client.ApiClient, account: str, days: list[int]) -> None:
    togai_client.EventIngestionApi(sdk).ingest_batch(togai_client.IngestBatchEventRequest(events=[
        togai_client.Event(id=f"ride-{account}-{i}", schema_name="rides", account_id=account,
                           timestamp=datetime(2024, 1, day, 12, tzinfo=UTC),
                           attributes=[togai_client.Attribute(name="distance", value="1")],
                           dimensions={"city": "x"})
        for i, day in enumerate(days)]))


def test_a_month_end_through_togais_client(sdk: togai_client.ApiClient,
                                           togai_server: tuple[togai_client.ApiClient, TogaiMock]) -> None:
    url = togai_server[1].url
    plan = _plan(sdk)
    _customer(sdk, "MONTH-END", "ME-1")
    _customer(sdk, "MONTH-END-2", "ME-2")
    for account in ("ME-1", "ME-2"):
        _associate(sdk, account, plan)
    # ME-2 is invoiced through an invoice group of its own (7 net-term days).
    group = togai_client.InvoiceGroupsApi(sdk).create_invoice_group(togai_client.CreateInvoiceGroupRequest.from_dict({
        "name": "Resellers", "email": "groups@example.com", "dailyInvoiceConsolidation": True,
        "accountIds": ["ME-2"], "address": {"country": "US"}, "netTermDays": 7})).id
    _rides(sdk, "ME-1", [3, 9, 17, 31])  # 4 rides x 2.5 = 10, + the 15 fee = 25
    _rides(sdk, "ME-2", [5, 6])  # 2 rides x 2.5 = 5, + 15 = 20
    invoices = togai_client.InvoicesApi(sdk)

    # Before the month end nothing is finalized.
    assert invoices.list_invoices(owner_id="ME-1", status="DUE").data == []
    moved = httpx.post(f"{url}/__mock/clock", json={"to": "2024-02-01T00:00:00Z"},
                       headers={"Authorization": "Bearer sdk-test-token"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["now"] == "2024-02-01T00:00:00.000Z"

    # The client's own model reads the summary (February's ongoing DRAFT is listed too).
    (summary,) = invoices.list_invoices(owner_id="ME-1", status="DUE").data
    assert (summary.invoice_type, summary.status, summary.total_amount, summary.due_date) == (
        "STANDARD", "DUE", 25, datetime(2024, 2, 11, tzinfo=UTC))
    invoice = _raw(invoices.get_invoice_without_preload_content(summary.id))
    assert (invoice["status"], invoice["totalAmount"], invoice["invoiceDate"], invoice["dueDate"]) == (
        "DUE", 25, "2024-02-01T00:00:00.000Z", "2024-02-11T00:00:00.000Z")
    (plan_line,) = invoice["revenueInfo"]["lineItems"]
    assert [(x["type"], x["value"]) for x in plan_line["lineItems"]] == [
        ("USAGE_RATE_CARD_AMOUNT", 10), ("FIXED_FEE_RATE_CARD_AMOUNT", 15)]

    # The group's COMPOSITE invoice and its MERGED member parse as the client's summaries.
    (member,) = invoices.list_invoices(owner_id="ME-2", status="MERGED").data
    (composite,) = invoices.list_invoices(owner_id=group).data
    assert (member.status, member.total_amount) == ("MERGED", 20)
    assert (composite.invoice_type, composite.status, composite.total_amount, composite.due_date) == (
        "COMPOSITE", "DUE", 20, datetime(2024, 2, 8, tzinfo=UTC))
    tree = _raw(invoices.get_invoice_without_preload_content(composite.id))["revenueInfo"]
    assert (tree["type"], tree["value"], tree["lineItems"][0]["metadata"]["invoiceId"]) == (
        "GRAND_TOTAL_AMOUNT", 20, member.id)
