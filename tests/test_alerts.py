"""Alerts and incidents (issue 22): alert templates, alerts on usage and balances, the incidents they open.

Oracles are hand-computed from Togai's documented rule ("Alerts": a usage
breach fires when the account's usage reaches the threshold; a low balance
when the balance drops below it, and resolves itself once it is back), with
the mock's decisions written in README "Alerts and incidents": usage is
counted over the calendar month (UTC) of the clock, one incident per breach.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import togai_client
from conftest import Api

ACCOUNT = "ALERTED"  # made by the autouse fixture below: no demo usage, no wallet


@pytest.fixture(autouse=True)
def _account(api: Api) -> None:
    r = api.post("/accounts", json={"id": ACCOUNT, "customerId": "ACME", "name": "Alerted account"})
    assert r.status_code in (200, 201), r.text


def distance_meter(api: Api) -> str:
    """The demo meter that sums the rides' ``distance`` (SUM)."""
    return next(m["id"] for m in api.get("/usage_meters").json()["data"] if m["name"] == "Ride distance")


def ride(api: Api, event_id: str, distance: str, account: str = ACCOUNT) -> None:
    event = {"id": event_id, "schemaName": "rides", "accountId": account, "timestamp": "2024-01-02T10:00:00Z",
             "attributes": [{"name": "distance", "value": distance}], "dimensions": {"city": "x"}}
    assert api.post("/ingest", json={"event": event}).status_code == 202


def usage_alert(api: Api, threshold: Any = 100, **extra: Any) -> dict[str, Any]:
    body = {"alertTemplateId": "usage_breach", "interval": 30, "status": "ACTIVE",
            "entityDetails": {"usageMeterId": distance_meter(api)}, "ownerDetails": {"accountId": ACCOUNT},
            "parameters": {"threshold": threshold}, **extra}
    r = api.post("/alerts", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def incidents(api: Api, alert_id: str) -> list[dict[str, Any]]:
    return list(api.get("/incidents", params={"alert_id": alert_id, "pageSize": 100}).json()["data"])


def test_usage_breach_opens_one_incident_at_the_threshold(api: Api) -> None:
    alert = usage_alert(api, threshold=100)
    assert (alert["version"], alert["status"], alert["alertTemplateId"]) == (1, "ACTIVE", "usage_breach")
    # (units ingested so far, incidents of the alert, status of the latest, its usageValue)
    steps = [("e1", "99", 0, None, None), ("e2", "1", 1, "ACTIVE", 100), ("e3", "5", 1, "ACTIVE", 105)]
    for event_id, distance, count, status, value in steps:
        ride(api, event_id, distance)
        found = incidents(api, alert["id"])
        assert len(found) == count, (event_id, found)
        if count:
            assert (found[-1]["status"], found[-1]["reportData"]["usageValue"]) == (status, value)
    incident = incidents(api, alert["id"])[0]
    assert incident["reportData"] == {"accountId": ACCOUNT, "usageMeterId": distance_meter(api), "usageValue": 105,
                                      "threshold": 100}
    assert (incident["alertVersion"], incident["alertTemplateId"]) == (1, "usage_breach")
    assert "validUntil" not in incident
    closed = api.request("PUT", f"/incidents/{incident['id']}/status", json={"status": "CLOSED"})
    assert (closed.status_code, closed.json()["status"]) == (200, "CLOSED")
    assert api.get(f"/incidents/{incident['id']}").json()["status"] == "CLOSED"
    again = api.request("PUT", f"/incidents/{incident['id']}/status", json={"status": "CLOSED"})
    assert again.status_code == 409 and "cannot become CLOSED" in again.json()["message"]
    # Still over the threshold: the same breach, no new incident.
    ride(api, "e4", "1")
    assert [i["status"] for i in incidents(api, alert["id"])] == ["CLOSED"]


def test_an_alert_made_over_the_threshold_fires_at_once_and_a_new_month_clears_the_breach(api: Api) -> None:
    ride(api, "m1", "150")
    alert = usage_alert(api, threshold=100)
    first = incidents(api, alert["id"])
    assert [(i["status"], i["reportData"]["usageValue"]) for i in first] == [("ACTIVE", 150)]
    api.request("PUT", f"/incidents/{first[0]['id']}/status", json={"status": "CLOSED"})
    # February: January's 150 no longer counts; a usage breach does not resolve itself.
    assert api.post("/__mock/clock", json={"to": "2024-02-01T00:00:00Z"}).status_code == 200
    event = {"id": "m2", "schemaName": "rides", "accountId": ACCOUNT, "timestamp": "2024-02-01T10:00:00Z",
             "attributes": [{"name": "distance", "value": "100"}], "dimensions": {"city": "x"}}
    assert api.post("/ingest", json={"event": event}).status_code == 202
    assert [(i["status"], i["reportData"]["usageValue"]) for i in incidents(api, alert["id"])] == [
        ("CLOSED", 150), ("ACTIVE", 100)]


def test_wallet_low_balance_fires_when_the_clock_moves_and_resolves_itself(api: Api) -> None:
    body = {"alertTemplateId": "wallet_low_balance", "interval": 60, "status": "ACTIVE",
            "ownerDetails": {"accountId": ACCOUNT}, "parameters": {"threshold": 50}}
    alert = api.post("/alerts", json=body).json()
    assert incidents(api, alert["id"]) == []  # no wallet yet: nothing to measure
    assert api.post(f"/accounts/{ACCOUNT}/wallet_topup", json={"topupAmount": 40}).status_code == 200
    assert incidents(api, alert["id"]) == []  # balances are looked at as the clock moves (an interval)
    api.post("/__mock/clock", json={"by": "PT30M"})
    found = incidents(api, alert["id"])
    assert [(i["status"], i["reportData"]["balance"]) for i in found] == [("ACTIVE", 40)]
    api.post(f"/accounts/{ACCOUNT}/wallet_topup", json={"topupAmount": 10})  # 50: not below 50
    api.post("/__mock/clock", json={"by": "PT30M"})
    found = incidents(api, alert["id"])
    assert [(i["status"], i["reportData"]["balance"]) for i in found] == [("RESOLVED", 50)]
    r = api.request("PUT", f"/incidents/{found[0]['id']}/status", json={"status": "CLOSED"})
    assert r.status_code == 409 and "RESOLVED" in r.json()["message"]


def test_unpaid_invoices_reaching_the_threshold_fire_and_resolve_once_paid(api: Api) -> None:
    def invoice(value: int, status: str) -> str:
        body = {"accountId": ACCOUNT, "startDate": "2024-01-01T00:00:00Z", "endDate": "2024-01-31T00:00:00Z",
                "status": status, "lineItems": [{"description": "Services", "value": value}]}
        r = api.post("/invoices", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    first = invoice(60, "DUE")
    invoice(500, "DRAFT")  # not billed yet: not owed
    body = {"alertTemplateId": "unpaid_invoice_amount_breach", "interval": 30, "status": "ACTIVE",
            "ownerDetails": {"accountId": ACCOUNT}, "parameters": {"threshold": 100}}
    alert = api.post("/alerts", json=body).json()
    assert incidents(api, alert["id"]) == []  # 60 owed
    invoice(40, "DUE")
    api.post("/__mock/clock", json={"by": "PT30M"})  # 60 + 40 = 100: reached
    assert [(i["status"], i["reportData"]["unpaidAmount"]) for i in incidents(api, alert["id"])] == [("ACTIVE", 100)]
    assert api.patch(f"/invoices/{first}", json={"status": "PAID"}).status_code == 200
    api.post("/__mock/clock", json={"by": "PT30M"})  # 40 owed
    assert [(i["status"], i["reportData"]["unpaidAmount"]) for i in incidents(api, alert["id"])] == [("RESOLVED", 40)]
    template = api.get("/alert_templates/unpaid_invoice_amount_breach").json()
    assert "entityType" not in template and template["ownerType"] == "ACCOUNT"


def test_credit_low_balance_reads_the_available_credit(api: Api) -> None:
    body = {"alertTemplateId": "credit_low_balance", "interval": 30, "status": "ACTIVE",
            "ownerDetails": {"accountId": "GLOBEX-US"}, "parameters": {"threshold": 10}}
    available = api.get("/accounts/GLOBEX-US/credit_balance").json()["availableBalance"]
    alert = api.post("/alerts", json=body).json()
    expected = [("ACTIVE", available)] if available < 10 else []
    assert [(i["status"], i["reportData"]["balance"]) for i in incidents(api, alert["id"])] == expected


def test_the_client_form_of_details_is_kept_in_answers_and_reports(api: Api) -> None:
    meter = distance_meter(api)
    body = {"alertTemplateId": "usage_breach", "interval": 30, "status": "ACTIVE",
            "entityDetails": {"usageMeterId": {"value": meter}}, "ownerDetails": {"accountId": {"value": ACCOUNT}},
            "parameters": {"threshold": {"value": 2.5}}}
    alert = api.post("/alerts", json=body).json()
    assert (alert["entityDetails"], alert["parameters"]) == (body["entityDetails"], body["parameters"])
    ride(api, "w1", "2.5")
    [incident] = incidents(api, alert["id"])
    assert incident["reportData"] == {"accountId": {"value": ACCOUNT}, "usageMeterId": {"value": meter},
                                      "usageValue": {"value": 2.5}, "threshold": {"value": 2.5}}


def test_inactive_and_expired_alerts_open_nothing(api: Api) -> None:
    paused = usage_alert(api, threshold=1, status="INACTIVE")
    short = usage_alert(api, threshold=1, validity=30)
    api.post("/__mock/clock", json={"by": "PT31M"})
    ride(api, "x1", "5")
    assert incidents(api, paused["id"]) == [] and incidents(api, short["id"]) == []
    # Re-activated: evaluated at once (version 2), and the incident names that version.
    r = api.patch(f"/alerts/{paused['id']}", json={"status": "ACTIVE"})
    assert (r.status_code, r.json()["version"]) == (200, 2)
    assert [(i["alertVersion"], i["status"]) for i in incidents(api, paused["id"])] == [(2, "ACTIVE")]


def test_validity_sets_valid_until(api: Api) -> None:
    alert = usage_alert(api, threshold=1, validity=90)
    ride(api, "v1", "1")
    [incident] = incidents(api, alert["id"])
    created = alert["createdAt"]
    assert incident["validUntil"][:16] == f"{created[:11]}01:30"  # created at 00:00:xx of the seeded clock


def test_a_raised_threshold_is_a_new_version(api: Api) -> None:
    alert = usage_alert(api, threshold=10)
    r = api.patch(f"/alerts/{alert['id']}", json={"parameters": {"threshold": 250}, "description": "higher"})
    assert r.status_code == 200
    assert (r.json()["version"], r.json()["parameters"], r.json()["description"]) == (2, {"threshold": 250}, "higher")
    ride(api, "t1", "20")  # over the old threshold, under the new one
    assert incidents(api, alert["id"]) == []


def test_lists_filter_and_page(api: Api) -> None:
    usage_alert(api, threshold=1)
    wallet = api.post("/alerts", json={"alertTemplateId": "wallet_low_balance", "interval": 30, "status": "INACTIVE",
                                       "ownerDetails": {"accountId": "GLOBEX-US"},
                                       "parameters": {"threshold": 5}}).json()
    usage_alert(api, threshold=2)
    seen, query = [], {"pageSize": 1}
    while True:
        page = api.get("/alerts", params=query).json()
        seen += [a["id"] for a in page["data"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"]}
    assert len(seen) == 4 == len(set(seen))  # the demo tenant's alert, and these three
    assert [a["id"] for a in api.get("/alerts", params={"status": "INACTIVE"}).json()["data"]] == [wallet["id"]]
    assert [a["id"] for a in api.get("/alerts", params={"account_id": "GLOBEX-US"}).json()["data"]] == [wallet["id"]]
    by_template = api.get("/alerts", params={"alert_template_id": "usage_breach"}).json()["data"]
    assert len(by_template) == 2
    assert len(api.get("/alerts", params={"status": "ACTIVE"}).json()["data"]) == 3
    ride(api, "l1", "3")  # both usage alerts fire
    assert len(api.get("/incidents", params={"status": "ACTIVE"}).json()["data"]) == 2
    assert api.get("/incidents", params={"status": "CLOSED"}).json()["data"] == []
    templates = api.get("/alert_templates", params={"pageSize": 2}).json()
    assert [t["id"] for t in templates["data"]] == ["usage_breach", "credit_low_balance"]
    rest = api.get("/alert_templates", params={"nextToken": templates["nextToken"]}).json()
    assert [t["id"] for t in rest["data"]] == ["wallet_low_balance", "unpaid_invoice_amount_breach"]
    assert "nextToken" not in rest
    one = api.get("/alert_templates/wallet_low_balance").json()
    assert (one["entityType"], one["ownerType"], one["interval"]) == ("WALLET", "ACCOUNT", 30)
    assert api.get("/alert_templates/invoice_due_breach").status_code == 404


def _alert(api: Api, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"alertTemplateId": "usage_breach", "interval": 30, "status": "ACTIVE",
                            "entityDetails": {"usageMeterId": distance_meter(api)},
                            "ownerDetails": {"accountId": ACCOUNT}, "parameters": {"threshold": 5}}
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


BAD_CREATES = [
    ({"alertTemplateId": "invoice_due_breach"}, "alertTemplateId: no alert template 'invoice_due_breach'"),
    ({"parameters": {}}, "parameters.threshold: is required by alert template 'usage_breach'"),
    ({"entityDetails": None}, "entityDetails.usageMeterId: is required by alert template 'usage_breach'"),
    ({"entityDetails": {"usageMeterId": "um.nope"}}, "entityDetails.usageMeterId: no usage meter with id 'um.nope'"),
    ({"ownerDetails": {"accountId": "NOBODY"}}, "ownerDetails.accountId: no account with id 'NOBODY'"),
    ({"interval": 45}, "interval"),
    ({"interval": 0}, "interval"),
    ({"parameters": {"threshold": -1}}, "parameters.threshold"),
    ({"parameters": {"threshold": 5, "limit": 3}}, "parameters"),
    ({"status": "PAUSED"}, "status"),
    ({"alertTemplateId": "wallet_low_balance"}, "entityDetails.usageMeterId: is not used by alert template"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_CREATES)
def test_bad_alerts_are_refused_and_change_nothing(api: Api, changes: dict[str, Any], message: str) -> None:
    before = api.get("/__mock/state").json()
    r = api.post("/alerts", json=_alert(api, **changes))
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    assert api.get("/__mock/state").json() == before


def test_bad_changes_are_refused_and_change_nothing(api: Api) -> None:
    alert = usage_alert(api, threshold=1)
    ride(api, "b1", "1")
    [incident] = incidents(api, alert["id"])
    before = api.get("/__mock/state").json()
    cases = [
        ("PATCH", "/alerts/alert.nope.nope1", {"status": "INACTIVE"}, 404, "alert_id: no alert with id"),
        ("PATCH", f"/alerts/{alert['id']}", {"parameters": {}}, 400, "parameters.threshold: is required"),
        ("PATCH", f"/alerts/{alert['id']}", {"interval": 31}, 400, "interval"),
        ("PATCH", f"/alerts/{alert['id']}", {}, 400, ""),
        ("PUT", "/incidents/incident.nope.nope1/status", {"status": "CLOSED"}, 404, "incident_id: no incident"),
        ("PUT", f"/incidents/{incident['id']}/status", {"status": "ACTIVE"}, 400, "status"),
        ("PUT", f"/incidents/{incident['id']}/status", {}, 400, "status"),
        ("GET", "/incidents/incident.nope.nope1", None, 404, "incident_id"),
        ("GET", "/alerts", {"status": "OPEN"}, 400, "status"),
        ("GET", "/incidents", {"nextToken": "garbage"}, 400, "nextToken"),
    ]
    for method, path, body, status, message in cases:
        if method == "GET":
            r = api.request(method, path, params=body)
        else:
            r = api.request(method, path, json=body)
        assert r.status_code == status, (method, path, r.text)
        assert message in r.json()["message"], (path, r.text)
    assert api.get("/__mock/state").json() == before


def test_incidents_export_import_and_reset(api: Api) -> None:
    """The registry's contract for incidents (made by an alert, not by an operation of their own)."""
    alert = usage_alert(api, threshold=1)
    ride(api, "r1", "1")
    exported = api.get("/__mock/state").json()
    assert [i["alertId"] for i in exported["incidents"]] == [alert["id"]]
    assert exported["alerts"][-1]["inBreach"] is True
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get("/__mock/state").json() == exported
    # After the import the alert is still in breach: one more event opens nothing new.
    ride(api, "r2", "1")
    assert len(incidents(api, alert["id"])) == 1
    broken = {**exported, "incidents": [{**exported["incidents"][0], "alertId": "alert.nope.nope1"}]}
    r = api.request("PUT", "/__mock/state", json=broken)
    assert r.status_code == 400 and "incidents[0].alertId" in r.text
    api.post("/__mock/reset", headers={"Content-Type": "application/json"})
    assert api.get("/__mock/health").json()["incidents"] == 0
    assert api.get(f"/incidents/{exported['incidents'][0]['id']}").status_code == 404


def test_togai_client_drives_an_alert_into_an_incident_and_closes_it(sdk: togai_client.ApiClient) -> None:
    """Togai's own client (1.0.3) can only send details wrapped in objects: made, fired, read and closed."""
    meters = togai_client.UsageMetersApi(sdk).get_usage_meters_for_event_schema()
    meter = next(m.id for m in meters.data if m.name == "Ride distance")
    alerts_api = togai_client.AlertsApi(sdk)
    alert = alerts_api.create_alert(togai_client.CreateAlertRequest(
        alertTemplateId="usage_breach", interval=30, status=togai_client.AlertStatus.ACTIVE,
        entityDetails={"usageMeterId": {"value": meter}}, ownerDetails={"accountId": {"value": "ACME-US"}},
        parameters={"threshold": {"value": 1}}))
    assert (alert.version, alert.parameters) == (1, {"threshold": {"value": 1}})
    # The demo tenant's alert parses too: its details are wrapped as the client's model wants them.
    listed = {a.description: a for a in alerts_api.list_alerts().data}
    assert listed["ACME-US owes a million or more"].owner_details == {"accountId": {"value": "ACME-US"}}
    event = togai_client.Event(
        id="sdk-alert-1", schemaName="rides", accountId="ACME-US", timestamp=datetime(2024, 1, 2, 10, tzinfo=UTC),
        attributes=[togai_client.Attribute(name="distance", value="5")], dimensions={"city": "x"})
    togai_client.EventIngestionApi(sdk).ingest(togai_client.IngestEventRequest(event=event))
    [incident] = [i for i in alerts_api.get_incidents().data if i.alert_id == alert.id]
    assert incident.status == "ACTIVE" and incident.report_data is not None
    assert incident.report_data["threshold"] == {"value": 1}
    closed = alerts_api.update_incident_status(incident.id, togai_client.UpdateIncidentStatusRequest(status="CLOSED"))
    assert closed.status == "CLOSED"
    assert alerts_api.get_incident(incident.id).status == "CLOSED"
    assert [t.id for t in alerts_api.get_alert_templates().data] == [
        "usage_breach", "credit_low_balance", "wallet_low_balance", "unpaid_invoice_amount_breach"]
    with pytest.raises(togai_client.ApiException) as refused:
        alerts_api.update_incident_status(incident.id, togai_client.UpdateIncidentStatusRequest(status="CLOSED"))
    assert refused.value.status == 409
