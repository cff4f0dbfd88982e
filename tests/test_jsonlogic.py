"""JSON-logic as Togai evaluates it (TogaiHQ/json-logic-java on BigDecimal): a table worked by hand from the
fork's rules, Togai's date and duration operators, the evaluation budget, and what a meter may hold."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from conftest import Api

from mock_server.domain.usage import jsonlogic

DATA = {"attribute": {"a": Decimal("0.1"), "b": Decimal("0.2"), "n": Decimal("10")},
        "dimension": {"city": "paris", "start": "2024-01-31T10:00:00Z"}}

# (expression, expected) -- each result worked out from the fork's Java, not from this code.
TABLE: list[tuple[str, Any]] = [
    # BigDecimal: sums are exact, scale is kept.
    ('{"+": [{"var": "attribute.a"}, {"var": "attribute.b"}]}', "0.3"),
    ('{"+": [0.1, 0.2]}', "0.3"),
    ('{"*": [1.10, 2]}', "2.20"),
    ('{"-": [5, 1, 1]}', "4"),  # "-" takes two arguments at most
    ('{"-": 2}', "-2"),
    ('{"+": "3.14"}', "3.14"),
    # divide(b, 4, HALF_UP): always four decimals, halves away from zero.
    ('{"/": [4, 2]}', "2.0000"),
    ('{"/": [1, 3]}', "0.3333"),
    ('{"/": [2, 3]}', "0.6667"),
    ('{"/": [1, 32]}', "0.0313"),  # 0.03125 rounds up
    ('{"/": [-1, 32]}', "-0.0313"),
    ('{"/": [{"var": "attribute.n"}, 8]}', "1.2500"),
    ('{"/": [0]}', None),
    ('{"%": [101, 2]}', "1"),
    ('{"%": [10.5, 2]}', "0.5"),
    ('{"min": [3, 1, 2]}', "1"),
    ('{"+": [1, "x"]}', None),  # a string that is no BigDecimal: null
    ('{"+": [1, true]}', None),
    # Equality: == on numbers is BigDecimal.equals (scale counts), === compares values.
    ('{"==": [{"/": [4, 2]}, 2]}', False),
    ('{"===": [{"/": [4, 2]}, 2]}', True),
    ('{"==": [2, "2.0"]}', True),
    ('{"==": [1.0, true]}', False),
    ('{"==": [1, true]}', True),
    ('{"==": ["", 0]}', True),
    ('{"<": ["10", 9]}', False),
    ('{"<": [1, 2, 3]}', True),
    # Strings.
    ('{"cat": ["n=", 5.0, "/", 5.00]}', "n=5/5.00"),
    ('{"substr": ["jsonlogic", -5]}', "logic"),
    ('{"substr": ["jsonlogic", 1, 3]}', "son"),
    ('{"in": ["ar", {"var": "dimension.city"}]}', True),
    # Dotted names: a key holding the dots first, then part by part.
    ('{"var": "dimension.city"}', "paris"),
    ('{"var": ["attribute.nope", 7]}', "7"),
    ('{"var": "attribute"}', {"a": "0.1", "b": "0.2", "n": "10"}),
    # date.add / date.sub: years, months, days, hours, minutes, whole seconds; a month end clamps.
    ('{"date.add": ["2024-01-31T00:00:00Z", "P1M"]}', "2024-02-29T00:00Z"),  # leap year
    ('{"date.add": ["2023-01-31T00:00:00Z", "P1M"]}', "2023-02-28T00:00Z"),
    ('{"date.add": ["2024-02-29T10:00:00Z", "P1Y"]}', "2025-02-28T10:00Z"),
    ('{"date.add": ["2024-02-29T10:00:00Z", "P1Y1M"]}', "2025-03-28T10:00Z"),  # years first, then months
    ('{"date.sub": ["2024-03-31T00:00:00Z", "P1M"]}', "2024-02-29T00:00Z"),
    ('{"date.add": ["2024-12-31T23:30:00+05:30", "PT45M"]}', "2025-01-01T00:15+05:30"),  # keeps its offset
    ('{"date.add": ["2024-01-01T00:00:00Z", "PT1.9S"]}', "2024-01-01T00:00:01Z"),  # whole seconds only
    ('{"date.add": ["2024-01-01T00:00:00Z", "-P1D"]}', "2024-01-02T00:00Z"),  # getDays() is unsigned
    ('{"date.add": ["2024-01-01T00:00:00.250Z", "PT1S"]}', "2024-01-01T00:00:01.250Z"),
    ('{"date.add": ["2024-05-28T", "P1D"]}', None),
    ('{"date.add": ["2024-05-28T00:00:00Z", "P1111"]}', None),
    ('{"date.add": [{"var": "dimension.start"}, {"duration.of": ["100", "DAYS"]}]}', "2024-05-10T10:00Z"),
    # duration.between: java.time.Duration.toString (hours, never days), instants (offsets count).
    ('{"duration.between": ["2024-05-28T00:00Z", "2024-09-05T00:00Z"]}', "PT2400H"),
    ('{"duration.between": ["2024-02-28T00:00:00Z", "2024-03-01T00:00:00Z"]}', "PT48H"),  # leap day
    ('{"duration.between": ["2024-01-01T10:00:00+02:00", "2024-01-01T08:30:00Z"]}', "PT30M"),
    ('{"duration.between": ["2024-01-01T01:30:00Z", "2024-01-01T00:00:00Z"]}', "PT-1H-30M"),
    ('{"duration.between": ["2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00Z"]}', "PT-0.5S"),
    ('{"duration.between": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"]}', "PT0S"),
    ('{"duration.between": [{"date": ["2024-01-01T00:00:00Z"]}, "2024-01-02T00:00:00Z"]}', None),  # not a string
    # duration.of: [amount, ChronoUnit]; duration.as truncates (toMinutes, toHours ...).
    ('{"duration.of": [100, "SECONDS"]}', "PT1M40S"),
    ('{"duration.of": ["90", "MINUTES"]}', "PT1H30M"),
    ('{"duration.of": ["1.5", "HOURS"]}', None),  # Long.parseLong("1.5") fails
    ('{"duration.of": [1, "WEEKS"]}', None),  # an estimated unit
    ('{"duration.of": [1, "seconds"]}', None),  # ChronoUnit.valueOf is exact
    ('{"duration.as": [{"duration.of": ["100", "DAYS"]}, "SECONDS"]}', "8640000"),
    ('{"duration.as": ["PT90M", "HOURS"]}', "1"),
    ('{"duration.as": ["P2DT3H", "DAYS"]}', "2"),
    ('{"duration.as": ["PT-0.5S", "MILLIS"]}', "-500"),
    ('{"duration.as": ["PT1H", "WEEKS"]}', None),
    ('{"duration.as": [{"duration.between": [{"var": "dimension.start"}, "2024-03-01T10:00:00Z"]}, "DAYS"]}', "30"),
    # date: an OffsetDateTime, equal to a string of the same instant, never a number.
    ('{"==": [{"date": ["2024-05-28T02:00:00+02:00"]}, "2024-05-28T00:00:00Z"]}', True),
    ('{"<": [{"date": ["2024-05-28T00:00:00Z"]}, {"date": ["2024-05-29T00:00:00Z"]}]}', False),
    ('{"cat": [{"date": ["2024-05-28T00:00:00Z"]}]}', "2024-05-28T00:00Z"),
    # log gives its argument back.
    ('{"log": [{"var": "dimension.city"}]}', "paris"),
]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("expression", "expected"), TABLE)
def test_a_worked_table_of_results(expression: str, expected: Any) -> None:
    assert _plain(jsonlogic.compile_logic(expression)(DATA)) == expected


@pytest.mark.parametrize("expression", ['{"/": [1, 0]}', '{"%": [1, 0]}', '{"date": ["2024-05-28"]}',
                                        '{"date": ["2024-02-30T00:00:00Z"]}', '{"cat": [null]}', '{"and": []}'])
def test_what_throws_in_java_fails_the_evaluation(expression: str) -> None:
    with pytest.raises(jsonlogic.EvalError):
        jsonlogic.compile_logic(expression)(DATA)


HOSTILE = ('{"map":[{"merge":[[1,2,3,4,5,6,7,8,9,10]]},{"map":[[1,2,3,4,5,6,7,8,9,10],{"map":[[1,2,3,4,5,6,7,8,9,10],'
           '{"map":[[1,2,3,4,5,6,7,8,9,10],{"map":[[1,2,3,4,5,6,7,8,9,10],{"map":[[1,2,3,4,5,6,7,8,9,10],'
           '{"map":[[1,2,3,4,5,6,7,8,9,10],1]}]}]}]}]}]}]}')


def test_a_computation_over_the_budget_is_refused_when_compiled() -> None:
    for text in (HOSTILE, '{"reduce": [[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30],'
                          '{"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "ab"]}'):
        with pytest.raises(jsonlogic.LogicError, match="steps"):
            jsonlogic.compile_logic(text)


def test_a_stored_expression_stops_after_its_step_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """An expression that got past the static bound (here: the bound raised) is stopped by the step counter."""
    monkeypatch.setattr(jsonlogic, "STATIC_STEPS", 10**30)
    program = jsonlogic.compile_logic(HOSTILE)
    with pytest.raises(jsonlogic.EvalError, match="stopped after"):
        program(DATA)


def test_numbers_in_an_expression_are_bounded() -> None:
    for number in ("1e999999", "1" * 39, "0." + "0" * 200 + "1"):
        with pytest.raises(jsonlogic.LogicError, match="digits"):
            jsonlogic.compile_logic('{"+": [1, ' + number + ']}')


# -- through the API ----------------------------------------------------------------------------


def meter(computation: str, matcher: str | None = None, name: str = "Logic") -> dict[str, Any]:
    comp: dict[str, Any] = {"order": 1, "computation": computation}
    if matcher is not None:
        comp["matcher"] = matcher
    return {"name": name, "type": "COUNTER", "aggregation": "SUM", "eventSchemaName": "rides",
            "computations": [comp]}


def ingest(api: Api, event_id: str, **attributes: str) -> dict[str, Any]:
    body = {"id": event_id, "schemaName": "rides", "accountId": "ACME-US", "timestamp": "2024-01-02T10:00:00Z",
            "attributes": [{"name": k, "value": v} for k, v in attributes.items()], "dimensions": {"city": "x"}}
    assert api.post("/ingest", json={"event": body}).status_code == 202
    found: dict[str, Any] = api.get(f"/events/{event_id}").json()["events"][0]
    return found


def units_of(event: dict[str, Any], meter_id: str) -> Any:
    return next(m.get("units", m["status"]) for m in event["eventPipelineInfo"]["usageMeters"] if m["id"] == meter_id)


def test_a_meter_with_togais_operators_is_stored_and_meters_exactly(api: Api) -> None:
    created = api.post("/usage_meters", json=meter(
        '{"+": [{"var": "attribute.distance"}, 0.2, {"duration.as": [{"duration.between": '
        '["2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z"]}, "MINUTES"]}]}'))
    assert created.status_code == 201, created.text
    api.post(f"/usage_meters/{created.json()['id']}/activate")
    event = ingest(api, "ops-1", distance="0.1")
    assert units_of(event, created.json()["id"]) == 90.3  # 0.1 + 0.2 + 90, exactly


def test_hostile_computations_are_refused_naming_the_field(api: Api) -> None:
    r = api.post("/usage_meters", json=meter(HOSTILE))
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("computations[0].computation: is not a JSON-logic expression: could take")
    r = api.post("/usage_meters", json=meter("1", matcher=HOSTILE))
    assert r.status_code == 400 and r.json()["message"].startswith("computations[0].matcher: "), r.text


def test_log_writes_nothing(api: Api, capfd: pytest.CaptureFixture[str]) -> None:
    created = api.post("/usage_meters", json=meter('{"log": [{"var": "attribute.distance"}]}')).json()
    api.post(f"/usage_meters/{created['id']}/activate")
    # Within ACME-US's 100 Rides feature credits (an /ingest event past them is INSUFFICIENT_CREDITS).
    event = ingest(api, "logged", distance="31.415926")
    assert units_of(event, created["id"]) == 31.415926
    assert "31.415926" not in capfd.readouterr().out


def test_a_failed_evaluation_is_units_invalid(api: Api) -> None:
    created = api.post("/usage_meters", json=meter('{"/": [1, {"var": "attribute.distance"}]}')).json()
    api.post(f"/usage_meters/{created['id']}/activate")
    assert ingest(api, "by-zero", distance="0")["ingestionStatus"]["status"] == "INGESTION_FAILED_UNITS_INVALID"
    assert units_of(ingest(api, "by-eight", distance="8"), created["id"]) == 0.125


@pytest.mark.parametrize("value", ["0." + "0" * 300_000 + "1", "1." + "0" * 300_000, "9" * 310 + ".5",
                                   "1" * 39])
def test_attribute_values_out_of_bounds_are_units_invalid(api: Api, value: str) -> None:
    event = ingest(api, "huge", distance=value)
    assert event["ingestionStatus"]["status"] == "INGESTION_FAILED_UNITS_INVALID"
    r = api.post("/metrics", json={"startTime": "2024-01-01T00:00:00Z", "endTime": "2024-01-03T00:00:00Z",
                                   "metricQueries": [{"id": "q", "name": "METER_USAGE", "aggregationPeriod": "DAY"}]})
    assert r.status_code == 200, r.text


def test_units_beyond_the_bound_are_units_invalid(api: Api) -> None:
    created = api.post("/usage_meters", json=meter('{"*": [{"var": "attribute.distance"}, 1e99, 1e10]}')).json()
    api.post(f"/usage_meters/{created['id']}/activate")
    assert ingest(api, "big", distance="1.5")["ingestionStatus"]["status"] == "INGESTION_FAILED_UNITS_INVALID"


def test_an_import_refuses_what_creation_refuses(api: Api) -> None:
    state = api.get("/__mock/state").json()
    state["usageMeters"][0]["computations"] = [{"order": 1, "computation": "not json"}]
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and "usageMeters[0].computations[0].computation: is not a JSON-logic" in r.text
    state["usageMeters"][0]["computations"] = [{"order": 1, "computation": HOSTILE}]
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400 and "could take more than" in r.text, r.text
