"""The event contract: what it accepts, what it refuses and why, and that reading an entry can
never raise anything but a rejection."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyprophet.core.errors import InvalidInput
from skyprophet.core.events import (
    AHEAD_LIMIT_S,
    ARRIVAL,
    CLOCK,
    DEPARTURE,
    LATE_LIMIT_S,
    MAX_ENTRY_BYTES,
    SCHEDULE,
    WEATHER,
    clock,
    make,
    parse_entry,
    printable,
    schemas,
    window_problem,
)
from tests.poison import Made, arrival, departure, flight, made_entries, poison_cases, weather

SCHED = 1_357_052_400  # 2013-01-01 15:00 UTC, on the hour
CASES = poison_cases(SCHED)


@pytest.mark.parametrize("name", list(CASES))
def test_each_entry_that_crashed_the_processor_is_rejected_naming_the_problem(name: str) -> None:
    fields, word = CASES[name]
    with pytest.raises(InvalidInput) as err:
        parse_entry(fields)
    assert word in str(err.value), str(err.value)


def test_valid_events_of_every_kind_round_trip_as_str_and_as_bytes() -> None:
    f = flight(1545, SCHED)
    events = [make(SCHEDULE, f), make("planned", f), make("cancellation", {**f, "tailnum": None, "distance": None}),
              departure(f, -5), departure(f, 1301), weather("EWR", SCHED), weather("JFK", SCHED, temp=None, wind_gust=31.0),
              make(WEATHER, {"origin": "LGA", "hour": SCHED}), clock(SCHED + 17),
              make(SCHEDULE, {**f, "sched_arr": SCHED + 4 * 3600}), make(SCHEDULE, {**f, "sched_arr": None}),
              arrival(f, 240, 12), arrival(f, 240, -20), arrival({**f, "tailnum": None}, 30, 1440)]
    for e in events:
        assert parse_entry(e.fields()) == e
        assert parse_entry({k.encode(): v.encode() for k, v in e.fields().items()}) == e


@pytest.mark.parametrize(("change", "word"), [
    ({"delay": 25.0}, "disagrees"),  # actual says 10 min
    ({"delay": 1441.0}, "data.delay"),  # beyond a day
    ({"flight_number": 0}, "data.flight_number"),
    ({"flight_number": True}, "data.flight_number"),
    ({"dest": "EWR"}, "origin equals destination"),
    ({"utc_offset_min": 900}, "data.utc_offset_min"),
    ({"distance": -3.0}, "data.distance"),
    ({"carrier": "united"}, "data.carrier"),
    ({"sched": "1357052400"}, "data.sched"),  # a number written as a string
])
def test_departure_values_out_of_type_range_or_agreement_are_refused(change: dict[str, object], word: str) -> None:
    e = departure(flight(1545, SCHED), 10)
    with pytest.raises(InvalidInput, match=word):
        parse_entry({**e.fields(), "data": json.dumps({**e.data, **change})})


def test_an_arrival_is_known_at_its_actual_arrival_and_agrees_with_its_schedule() -> None:
    e = arrival(flight(1545, SCHED), 240, 12)
    assert (e.id, e.at) == (f"A:UA1545:EWR:{SCHED}", SCHED + 240 * 60 + 12 * 60)  # computed apart from the contract
    for change, word in [({"arr_delay": 30.0}, "disagrees"), ({"sched_arr": SCHED}, "not after sched"),
                         ({"sched_arr": None}, "data.sched_arr"), ({"arrived": "x"}, "data.arrived"),
                         ({"arr_delay": 2000.0}, "data.arr_delay")]:
        with pytest.raises(InvalidInput, match=word):
            parse_entry({**e.fields(), "data": json.dumps({**e.data, **change})})
    early = arrival(flight(1545, SCHED), -1500, 0)  # "arrived" more than a day before it was due to leave
    with pytest.raises(InvalidInput, match="not after sched"):
        parse_entry(early.fields())
    with pytest.raises(InvalidInput, match="availability time"):
        parse_entry({**e.fields(), "at": str(SCHED + 240 * 60)})  # at its scheduled arrival: too early


def test_entry_level_rules() -> None:
    e = make(SCHEDULE, flight(1545, SCHED))
    refusals = [
        ("unknown field", {**e.fields(), "trace": "x"}),
        ("kind must be one of", {**e.fields(), "kind": "departed"}),
        ("whole seconds", {**e.fields(), "at": "1357052400.0"}),
        ("availability time", {**e.fields(), "at": str(SCHED + 60)}),
        ("payload's identity", {**e.fields(), "id": "S:UA1545:EWR:0"}),
        ("payload's identity", {k: v for k, v in e.fields().items() if k != "id"}),
        ("outside", {**e.fields(), "at": "99999999999"}),
        ("a clock has none", {**clock(SCHED).fields(), "id": "c"}),
        ("on the hour", {"kind": WEATHER, "id": f"W:EWR:{SCHED + 60}", "at": str(SCHED + 3660),
                         "data": json.dumps({"origin": "EWR", "hour": SCHED + 60})}),
        ("bytes, over", {**e.fields(), "data": json.dumps({**e.data, "x": "y" * MAX_ENTRY_BYTES})}),
    ]
    for word, fields in refusals:
        with pytest.raises(InvalidInput, match=word):
            parse_entry(fields)


def test_the_window_around_the_processors_clock() -> None:
    now = SCHED
    sched = make(SCHEDULE, flight(1, now - LATE_LIMIT_S + 60))  # late, inside the window
    assert window_problem(sched, now) is None
    old = make(SCHEDULE, flight(1, now - LATE_LIMIT_S - 60))
    assert "too late to be counted exactly once" in (window_problem(old, now) or "")
    far = make(SCHEDULE, flight(1, now + AHEAD_LIMIT_S + 60))
    assert "days after" in (window_problem(far, now) or "")
    assert window_problem(clock(now + AHEAD_LIMIT_S), now) is None
    assert "days after" in (window_problem(clock(now + AHEAD_LIMIT_S + 1), now) or "")
    assert window_problem(clock(now - 10 * 86_400), now) is None  # a clock behind is harmless: nothing to tick


def test_published_json_schemas_agree_with_the_contract() -> None:
    """An independent validator (jsonschema) reading the published schemas accepts the valid
    payloads and refuses the mistyped ones the contract refuses."""
    s = schemas()
    assert set(s) == {"planned", "schedule", "departure", "arrival", "cancellation", "weather", "clock"}
    jsonschema.validate(arrival(flight(1545, SCHED), 240, 12).data, s[ARRIVAL])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**arrival(flight(1545, SCHED), 240, 12).data, "sched_arr": None}, s[ARRIVAL])
    e = departure(flight(1545, SCHED), 10)
    jsonschema.validate(e.data, s[DEPARTURE])
    jsonschema.validate(weather("EWR", SCHED).data, s[WEATHER])
    jsonschema.validate({}, s[CLOCK])
    for bad in ({**e.data, "actual": "abc"}, {**e.data, "origin": ["EWR"]}, {**e.data, "carrier": "ua"},
                {**e.data, "extra": 1}, {k: v for k, v in e.data.items() if k != "delay"}, {**e.data, "delay": 5000.0}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, s[DEPARTURE])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(made_entries(SCHED))
def test_generated_entries_get_the_verdict_of_how_they_were_made(made: Made) -> None:
    try:
        e = parse_entry(made.fields)
    except InvalidInput as exc:
        assert not made.valid, f"{made.how}: a valid entry was refused: {exc}"
        assert str(exc)
        return
    if made.how in ("too_late", "too_early") or (made.how == "bad_clock" and e.kind == CLOCK):
        assert window_problem(e, SCHED), f"{made.how}: inside the window"  # the contract is right; the window refuses
        return
    assert made.valid, f"{made.how}: accepted {made.fields}"
    assert e == made.event


_anything = st.binary(max_size=60) | st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["kind", "id", "at", "data", "other"]) | _anything, _anything, max_size=6))
def test_reading_any_fields_raises_nothing_but_a_rejection(raw: dict[object, object]) -> None:
    try:
        parse_entry(raw)
    except InvalidInput:
        pass
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in printable(raw).items())


@pytest.mark.parametrize(("written", "canonical"), [(1545, "1545"), ("1545", "1545"), ("0123", "123"), ("1545A", "1545A"), (9999, "9999")])
def test_a_flight_number_is_taken_as_the_airline_writes_it_and_kept_in_one_spelling(written: object, canonical: str) -> None:
    written_event = make(SCHEDULE, {**flight(1, SCHED), "flight_number": written})
    e = parse_entry(written_event.fields())
    assert e.data["flight_number"] == canonical
    assert e.id == f"S:UA{canonical}:EWR:{SCHED}"
