"""Account price plan associations: a timeline that never overlaps; overrides, batches, listing, rules."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import Api
from plans import associate, meter_ids, new_plan, usage_card, windows

from mock_server.domain.pricing.engine import price_meter
from mock_server.domain.pricing.schedules import next_start, schedule_at


def test_an_association_cuts_what_it_covers(api: Api) -> None:
    a, b = new_plan(api, "A"), new_plan(api, "B")
    first = associate(api, "GLOBEX-US", a["id"], "2024-01-01", "2025-01-01").json()["pricingSchedules"][0]
    r = associate(api, "GLOBEX-US", b["id"], "2024-06-01", "2024-09-01")
    assert r.status_code == 200, r.text
    assert [(s["pricePlanName"], s["startDate"], s["endDate"]) for s in r.json()["pricingSchedules"]] == [
        ("A", "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"),
        ("B", "2024-06-01T00:00:00Z", "2024-09-01T00:00:00Z"),
        ("A", "2024-09-01T00:00:00Z", "2025-01-01T00:00:00Z"),
    ]
    ids = [s["id"] for s in r.json()["pricingSchedules"]]
    assert ids[0] == first["id"] and len(set(ids)) == 3
    # Covering everything replaces everything.
    associate(api, "GLOBEX-US", b["id"], "2023-01-01", "2026-01-01")
    assert windows(api, "GLOBEX-US") == [("B", "2023-01-01", "2026-01-01")]


def test_disassociation_removes_a_window(api: Api) -> None:
    a = new_plan(api, "A")
    associate(api, "GLOBEX-US", a["id"], "2024-01-01", "2025-01-01")
    body = {"mode": "DISASSOCIATE", "effectiveFrom": "2024-03-01", "effectiveUntil": "2024-04-01"}
    assert api.post("/accounts/GLOBEX-US/price_plans", json=body).status_code == 200
    assert windows(api, "GLOBEX-US") == [("A", "2024-01-01", "2024-03-01"), ("A", "2024-04-01", "2025-01-01")]
    before = api.state()
    r = api.post("/accounts/GLOBEX-US/price_plans", json=body)
    assert r.status_code == 400
    assert r.json()["message"] == "effectiveFrom: no price plan is associated between 2024-03-01 and 2024-04-01"
    assert api.state() == before


@pytest.mark.parametrize(("account", "change", "status", "message"), [
    ("GLOBEX-UK", {}, 400, "pricePlanId: price plan {plan!r} is not active in the account's invoice currency GBP"),
    ("GLOBEX-US", {"effectiveUntil": "2024-01-01"}, 400, "effectiveUntil: must be after effectiveFrom"),
    ("GLOBEX-US", {"pricePlanId": "pp.nope"}, 400, "pricePlanId: no price plan with id 'pp.nope'"),
    ("NOPE", {}, 404, "account_id: no account with id 'NOPE'"),
    ("GLOBEX-US", {"pricePlanDetailsOverride": {"usageRateCards": [usage_card("um.nope")]}}, 400,
     "pricePlanDetailsOverride.usageRateCards[0].usageMeterId: no usage meter with id 'um.nope'"),
    ("GLOBEX-US", {"retainStartOffsets": True}, 400,
     "retainStartOffsets: no plan is associated on 2024-01-01 to retain the start offsets of"),
])
def test_associations_are_refused_and_change_nothing(api: Api, account: str, change: dict[str, object], status: int,
                                                     message: str) -> None:
    plan = new_plan(api)
    before = api.state()
    r = associate(api, account, plan["id"], "2024-01-01", "2025-01-01", **change)
    assert r.status_code == status and r.json()["message"] == message.format(plan=plan["id"]), r.text
    assert api.state() == before


def test_a_draft_plan_or_an_archived_account_cannot_be_associated(api: Api) -> None:
    draft = new_plan(api, active=())
    r = associate(api, "GLOBEX-US", draft["id"], "2024-01-01", "2025-01-01")
    assert r.status_code == 400 and "is DRAFT; only an ACTIVE plan can be associated" in r.json()["message"]
    plan = new_plan(api)
    api.delete("/accounts/UMBRELLA-US")
    r = associate(api, "UMBRELLA-US", plan["id"], "2024-01-01", "2025-01-01")
    assert r.status_code == 400 and r.json()["message"] == "account_id: account 'UMBRELLA-US' is archived"


def test_overrides_change_what_the_schedule_prices(api: Api) -> None:
    plan = new_plan(api)
    card = usage_card(meter_ids(api)["Ride count"])
    card["rateValues"][0]["slabRates"][0]["rate"] = 9
    rules = [{"name": "discount", "order": 1, "computation": '{"*": [0.9, 1]}', "action": {"type": "UPDATE"},
              "invoiceTiming": "IN_ADVANCE"}]
    r = associate(api, "GLOBEX-US", plan["id"], "2024-01-01", "2025-01-01",
                  pricePlanDetailsOverride={"usageRateCards": [card]}, pricingRulesOverride=rules)
    assert r.status_code == 200, r.text
    [listed] = api.get("/accounts/GLOBEX-US/pricing_schedules").json()["data"]
    assert listed["isOverriden"] is True
    assert listed["pricePlanDetails"]["usageRateCards"][0]["rateValues"][0]["slabRates"][0]["rate"] == 9
    assert listed["pricePlanDetails"]["activeCurrencies"] == ["USD"]  # the plan's, under the override
    assert [(rule["name"], rule["version"]) for rule in listed["pricingRules"]] == [("discount", 1)]
    path = f"/price_plans/{plan['id']}/pricing_schedules/{listed['id']}/pricing_rules"
    assert [rule["name"] for rule in api.get(path).json()["data"]] == ["discount"]
    assert api.get(path, params={"invoice_timing": "IN_ARREARS"}).json()["data"] == []
    version_path = f"/price_plans/{plan['id']}/pricing_schedules/{plan['pricingSchedule'][0]['id']}/pricing_rules"
    assert api.get(version_path).json() == {"data": []}
    missing = api.get(f"/price_plans/{plan['id']}/pricing_schedules/sch.nope/pricing_rules")
    assert missing.status_code == 404 and missing.json()["message"].startswith("pricing_schedule_id: ")


def test_retained_offsets_keep_the_ongoing_cycle(api: Api) -> None:
    mid_month = {"interval": "MONTHLY", "startOffset": {"dayOffset": "15", "monthOffset": "NIL"}, "gracePeriod": 0}
    old, new = new_plan(api, "Old", pricingCycleConfig=mid_month), new_plan(api, "New")
    weekly = new_plan(api, "Weekly", pricingCycleConfig={"interval": "WEEKLY", "gracePeriod": 0})
    associate(api, "GLOBEX-US", old["id"], "2024-01-01", "2025-01-01")
    r = associate(api, "GLOBEX-US", weekly["id"], "2024-03-01", "2025-01-01", retainStartOffsets=True)
    assert r.status_code == 400 and "start offsets cannot be retained" in r.json()["message"]
    r = associate(api, "GLOBEX-US", new["id"], "2024-03-01", "2025-01-01", retainStartOffsets=True)
    assert r.status_code == 200
    last = api.get("/accounts/GLOBEX-US/pricing_schedules").json()["data"][-1]
    assert last["pricePlanDetails"]["pricingCycleConfig"]["startOffset"]["dayOffset"] == "15"
    assert last["isOverriden"] is True


def test_a_batch_applies_all_edits_or_none(api: Api) -> None:
    a, b = new_plan(api, "A"), new_plan(api, "B")
    edits = [{"mode": "ASSOCIATE", "pricePlanId": a["id"], "effectiveFrom": "2024-01-01", "effectiveUntil": "2025-01-01"},
             {"mode": "ASSOCIATE", "pricePlanId": b["id"], "effectiveFrom": "2024-05-01", "effectiveUntil": "2024-06-01"},
             {"mode": "DISASSOCIATE", "effectiveFrom": "2024-11-01", "effectiveUntil": "2025-01-01"}]
    before = api.state()
    dry = api.post("/accounts/GLOBEX-US/edit_schedules", params={"dry_run": "true"}, json={"edits": edits})
    assert dry.status_code == 200 and len(dry.json()["pricingSchedules"]) == 3
    assert api.state() == before
    bad = api.post("/accounts/GLOBEX-US/edit_schedules", json={"edits": [*edits, {**edits[0], "pricePlanId": "pp.x"}]})
    assert bad.status_code == 400 and bad.json()["message"] == "edits[3].pricePlanId: no price plan with id 'pp.x'"
    assert api.state() == before
    r = api.post("/accounts/GLOBEX-US/edit_schedules", json={"edits": edits})
    assert r.status_code == 200
    assert windows(api, "GLOBEX-US") == [("A", "2024-01-01", "2024-05-01"), ("B", "2024-05-01", "2024-06-01"),
                                         ("A", "2024-06-01", "2024-11-01")]


def test_listing_filters_pages_and_shapes(api: Api) -> None:
    plan = new_plan(api)
    for start, end in (("2024-01-01", "2024-02-01"), ("2024-02-01", "2024-03-01"), ("2024-03-01", "2024-04-01")):
        associate(api, "GLOBEX-US", plan["id"], start, end)
    path = "/accounts/GLOBEX-US/pricing_schedules"
    seen, query = [], {"pageSize": 2}
    while True:
        page = api.get(path, params=query).json()
        seen += [s["startDate"][:10] for s in page["data"]]
        if "nextToken" not in page:
            break
        query = {"nextToken": page["nextToken"]}
    assert seen == ["2024-01-01", "2024-02-01", "2024-03-01"]
    window = api.get(path, params={"start_date": "2024-02-15", "end_date": "2024-03-01"}).json()["data"]
    assert [s["startDate"][:10] for s in window] == ["2024-02-01", "2024-03-01"]
    compact = api.get(path, params={"compact": "true", "include_price_plan_info": "true"}).json()["data"][0]
    assert "pricePlanDetails" not in compact and compact["pricePlanInfo"] == {"name": "Plan"}
    r = api.get(path, params={"start_date": "March"})
    assert r.status_code == 400 and r.json()["message"].startswith("start_date: ")
    assert api.get("/accounts/NOPE/pricing_schedules").status_code == 404


def test_schedule_at_gives_the_plan_and_cycle_of_an_instant(api: Api) -> None:
    store = api.app.state.store
    found = schedule_at(store, "ACME-US", datetime(2024, 2, 10, 12, tzinfo=UTC))  # the demo tenant's Rides Pro
    assert found is not None
    assert (found.plan["name"], found.version, found.currency) == ("Rides Pro", 1, "USD")
    assert (found.cycle_start, found.cycle_end) == (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    meters = meter_ids(api)
    # Rides Pro in USD: a flat 49 for the first 100 rides, then 0.4 each.
    priced = price_meter(found, meters["Ride count"], 120)
    assert priced is not None and priced.total == 57
    assert price_meter(found, "um.not-on-the-plan", 120) is None
    eur = schedule_at(store, "UMBRELLA-EU", datetime(2024, 2, 10, tzinfo=UTC))
    assert eur is not None and eur.currency == "EUR"
    assert price_meter(eur, meters["Ride count"], 120).total == 52  # type: ignore[union-attr]  # 45 + 20 * 0.35
    assert schedule_at(store, "ACME-US", datetime(2023, 12, 31, tzinfo=UTC)) is None
    assert schedule_at(store, "GLOBEX-US", datetime(2024, 2, 10, tzinfo=UTC)) is None


def test_next_start_jumps_over_the_time_without_a_plan(api: Api) -> None:
    store = api.app.state.store
    a, b = new_plan(api, "A"), new_plan(api, "B")
    associate(api, "GLOBEX-US", a["id"], "2024-01-01", "2024-03-01")
    associate(api, "GLOBEX-US", b["id"], "2030-06-01", "2031-01-01")
    day = lambda y, m, d: datetime(y, m, d, tzinfo=UTC)  # noqa: E731
    assert next_start(store, "GLOBEX-US", day(2023, 5, 1)) == day(2024, 1, 1)
    # Strictly after: at a start (or inside a window), the next one; the years between are skipped.
    assert next_start(store, "GLOBEX-US", day(2024, 1, 1)) == day(2030, 6, 1)
    assert next_start(store, "GLOBEX-US", day(2024, 3, 1)) == day(2030, 6, 1)
    assert schedule_at(store, "GLOBEX-US", day(2030, 5, 31)) is None
    assert schedule_at(store, "GLOBEX-US", day(2030, 6, 1)) is not None
    assert next_start(store, "GLOBEX-US", day(2030, 6, 1)) is None
    assert next_start(store, "ACME-EU-no-such-account", day(2024, 1, 1)) is None


def test_associations_are_counted_exported_imported_and_reset(api: Api) -> None:
    """The registry contract for a resource made by updatePricingSchedule (see MADE_IN_TESTS)."""
    before = api.get("/__mock/health").json()["accountSchedules"]
    plan = new_plan(api)
    associate(api, "GLOBEX-US", plan["id"], "2024-01-01", "2025-01-01")
    assert api.get("/__mock/health").json()["accountSchedules"] == before + 1
    exported = api.get("/__mock/state").json()
    assert [s["pricePlanId"] for s in exported["accountSchedules"][-1]["pricingSchedules"]] == [plan["id"]]
    assert api.request("PUT", "/__mock/state", json=exported).status_code == 200
    assert api.get("/__mock/state").json() == exported
    assert windows(api, "GLOBEX-US") == [("Plan", "2024-01-01", "2025-01-01")]
    overlapping = exported["accountSchedules"][-1]["pricingSchedules"][0]
    exported["accountSchedules"][-1]["pricingSchedules"].append({**overlapping, "id": "sch.other"})
    r = api.request("PUT", "/__mock/state", json=exported)
    assert r.status_code == 400 and "overlaps the schedule before it" in r.text
    api.post("/__mock/reset", headers={"Content-Type": "application/json"})
    assert api.get("/__mock/health").json()["accountSchedules"] == before
