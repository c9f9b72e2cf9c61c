"""Stream entries a producer could get wrong, with the verdict the event contract must reach.

The expected verdict comes from how an entry was made (a valid event, or one broken on purpose
in a named way), never from the code under test. Used by the contract's unit tests and by the
live tests that write these entries to a running processor.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from skyprophet.core.events import ARRIVAL, CANCELLATION, DEPARTURE, PLANNED, SCHEDULE, WEATHER, Event, make

Fields = dict[str, Any]  # str or bytes values, as written with XADD


def flight(number: int | str, sched: int, carrier: str = "UA", origin: str = "EWR", dest: str = "IAH",
           tailnum: str | None = "N14228") -> dict[str, Any]:
    return {"carrier": carrier, "flight_number": str(number), "origin": origin, "dest": dest, "tailnum": tailnum,
            "sched": sched, "distance": 1400.0, "utc_offset_min": -300}


def departure(f: dict[str, Any], delay: int) -> Event:
    return make(DEPARTURE, {**f, "actual": f["sched"] + 60 * delay, "delay": float(delay)})


def arrival(f: dict[str, Any], block_min: int, delay: int) -> Event:
    """``f`` arriving ``delay`` minutes after its scheduled arrival, ``block_min`` after its scheduled departure."""
    sched_arr = f["sched"] + 60 * block_min
    return make(ARRIVAL, {**f, "sched_arr": sched_arr, "arrived": sched_arr + 60 * delay, "arr_delay": float(delay)})


def weather(origin: str, hour: int, **values: float | None) -> Event:
    return make(WEATHER, {"origin": origin, "hour": hour, "temp": 40.1, "dewp": 30.2, "humid": 67.0, "wind_dir": 250.0,
                          "wind_speed": 12.7, "wind_gust": None, "precip": 0.0, "pressure": 1012.3, "visib": 10.0, **values})


def with_data(e: Event, **changes: Any) -> Fields:
    """The entry of ``e`` as its producer wrote it, with payload values changed (the id and
    ``at`` kept as for the valid event; NaN and Infinity written as the JSON tokens)."""
    data = {**e.data, **changes}
    return {**e.fields(), "data": json.dumps(data, separators=(",", ":"))}


def poison_cases(sched: int) -> dict[str, tuple[Fields, str]]:
    """The entries that crashed (or silently corrupted) the processor before the contract, each
    with a word its rejection reason must contain. ``sched``: a scheduled departure to build
    them around (on the hour)."""
    f = flight(1545, sched)
    dep = departure(f, 10)
    sch = make(SCHEDULE, f)
    wx = weather("EWR", sched)
    return {
        "departure_actual_abc": (with_data(dep, actual="abc"), "data.actual"),
        "departure_actual_nan": (with_data(dep, actual=math.nan), "data.actual"),
        "departure_actual_infinity": (with_data(dep, actual=math.inf), "data.actual"),
        "schedule_sched_abc": (with_data(sch, sched="abc"), "data.sched"),
        "weather_hour_abc": (with_data(wx, hour="abc"), "data.hour"),
        "schedule_flight_number_abc": (with_data(sch, flight_number="abc"), "data.flight_number"),
        "schedule_sched_1e30": (with_data(sch, sched=1e30), "data.sched"),
        "non_utf8_data": ({**sch.fields(), "data": b'{"carrier":"U\xffA"}'}, "not UTF-8"),
        "non_utf8_extra_field": ({**sch.fields(), "note": b"\xc3\x28"}, "not UTF-8"),
        "departure_delay_abc": (with_data(dep, delay="abc"), "data.delay"),
        "weather_temp_abc": (with_data(wx, temp="abc"), "data.temp"),
        "weather_origin_list": (with_data(wx, origin=["EWR"]), "data.origin"),
        "departure_tailnum_list": (with_data(dep, tailnum=["N14228"]), "data.tailnum"),
        "schedule_origin_list": (with_data(sch, origin=["EWR"]), "data.origin"),
        "departure_delay_nan": (with_data(dep, delay=math.nan), "data.delay"),
        "schedule_dated_1969": (with_data(sch, sched=-86_400 * 100), "data.sched"),
        "extra_key_of_1mb": ({**sch.fields(), "blob": "x" * 1_000_000}, "byte"),
    }


# ------------------------------------------------------------------ generated entries

_CODE_WRONG = ["ewr", "", "TOOLONG", 123, ["EWR"], None, True, {"a": 1}]
_INT_WRONG = ["123", "abc", 1.5, True, None, [1], {"a": 1}, 1e30]
_FLIGHT_NUMBER_WRONG = ["abc", "", "12345", "1545a", " 15", "15 ", "0", 0, 10_000, 1.5, True, None, [1], {"a": 1}, 1e30]
_EPOCH_WRONG = ["abc", 1.5, 1e30, -1, 10**15, None, True, math.nan, "1357045200"]
_FLOAT_WRONG = ["abc", True, math.nan, math.inf, -math.inf, [1.0], 1e300, "1.5"]
_TAIL_WRONG = [123, ["N1"], "N 1", "x" * 11, True, ""]
WRONG: dict[str, list[Any]] = {
    "carrier": _CODE_WRONG, "origin": _CODE_WRONG, "dest": _CODE_WRONG, "flight_number": _FLIGHT_NUMBER_WRONG,
    "utc_offset_min": _INT_WRONG, "sched": _EPOCH_WRONG, "actual": _EPOCH_WRONG, "hour": _EPOCH_WRONG,
    "tailnum": _TAIL_WRONG, "delay": [*_FLOAT_WRONG, None], "distance": _FLOAT_WRONG,
    "sched_arr": _EPOCH_WRONG, "arrived": _EPOCH_WRONG, "arr_delay": [*_FLOAT_WRONG, None],
    **{c: _FLOAT_WRONG for c in ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")},
}
REQUIRED = {
    PLANNED: list(flight(1, 0)), SCHEDULE: list(flight(1, 0)), CANCELLATION: list(flight(1, 0)),
    DEPARTURE: [*flight(1, 0), "actual", "delay"], ARRIVAL: [*flight(1, 0), "sched_arr", "arrived", "arr_delay"],
    WEATHER: ["origin", "hour"],
}


@dataclass(frozen=True)
class Made:
    """A generated entry and what the contract must say of it: ``valid`` entries are counted
    (or recognised as duplicates), the others rejected; ``how`` names the mutation."""

    fields: Fields
    valid: bool
    how: str
    event: Event | None = None


@st.composite
def valid_events(draw: st.DrawFn, around_s: int) -> Event:
    """A valid event of any kind but clock, available within a day of ``around_s``, with an
    identity of its own (carrier ZZ, or a weather station no replay writes)."""
    kind = draw(st.sampled_from([PLANNED, SCHEDULE, DEPARTURE, ARRIVAL, CANCELLATION, WEATHER]))
    if kind == WEATHER:
        hour = (around_s // 3600 + draw(st.integers(-20, 20))) * 3600
        values = draw(st.fixed_dictionaries({}, optional={
            "temp": st.none() | st.floats(-40, 110), "precip": st.none() | st.floats(0, 3), "visib": st.floats(0, 10)}))
        return weather(draw(st.sampled_from(["QXA", "QXB", "KQXC"])), hour, **values)
    lead = {PLANNED: -86_400, SCHEDULE: 0, DEPARTURE: 0, ARRIVAL: 0, CANCELLATION: 3 * 3600}[kind]
    sched = around_s - lead + draw(st.integers(-20, 20)) * 3600 // 60 * 60
    number = draw(st.integers(1, 9999).map(str) | st.from_regex(r"[1-9][0-9]{0,3}[A-Z]", fullmatch=True))
    f = flight(number, sched, carrier="ZZ", origin=draw(st.sampled_from(["EWR", "JFK", "SCEL"])),
               dest="BOS", tailnum=draw(st.none() | st.from_regex(r"N[0-9A-Z]{1,5}", fullmatch=True)))
    if kind == DEPARTURE:
        delay = draw(st.integers(-30, 600))
        return departure({**f, "sched": sched - 60 * delay}, delay)
    if kind == ARRIVAL:
        block, delay = draw(st.integers(30, 600)), draw(st.integers(-30, 600))
        return arrival({**f, "sched": sched - 60 * (block + delay)}, block, delay)
    return make(kind, f)


def _moved(e: Event, to_s: int) -> Event:
    """``e`` with every instant of its payload moved so that it is scheduled (or observed) at ``to_s``."""
    if e.kind == WEATHER:
        return make(e.kind, {**e.data, "hour": to_s // 3600 * 3600})
    shift = to_s - int(e.data["sched"])
    return make(e.kind, {**e.data, **{k: int(e.data[k]) + shift for k in ("sched", "actual", "sched_arr", "arrived")
                                      if e.data.get(k) is not None}})


def _bytes_in(text: str, at: int) -> bytes:
    raw = text.encode()
    at = min(at, len(raw))
    return raw[:at] + b"\xff" + raw[at:]


@st.composite
def made_entries(draw: st.DrawFn, around_s: int) -> Made:
    """A valid event as its producer would write it, or one broken in one named way."""
    e = draw(valid_events(around_s))
    how = draw(st.sampled_from(["valid", "wrong_type", "missing", "extra_payload_key", "extra_entry_field", "no_field",
                                "bad_kind", "bad_at", "bad_id", "non_utf8", "huge", "too_late", "too_early", "bad_clock"]))
    f: Fields = e.fields()
    if how == "valid":
        return Made(f, True, how, e)
    if how == "wrong_type":
        name = draw(st.sampled_from([k for k in e.data if k in WRONG]))
        value = draw(st.sampled_from(WRONG[name]))
        return Made(with_data(e, **{name: value}), False, f"{how}:{name}={value!r}")
    if how == "missing":
        name = draw(st.sampled_from(REQUIRED[e.kind]))
        return Made({**f, "data": json.dumps({k: v for k, v in e.data.items() if k != name})}, False, f"{how}:{name}")
    if how == "extra_payload_key":
        return Made(with_data(e, extra=draw(st.integers() | st.text(max_size=5))), False, how)
    if how == "extra_entry_field":
        return Made({**f, draw(st.sampled_from(["trace", "source", "Kind"])): "x"}, False, how)
    if how == "no_field":
        gone = draw(st.sampled_from(["kind", "at", "id", "data"]))
        return Made({k: v for k, v in f.items() if k != gone}, False, f"{how}:{gone}")
    if how == "bad_kind":
        return Made({**f, "kind": draw(st.sampled_from(["departed", "", "CLOCK", "weather "]))}, False, how)
    if how == "bad_at":
        return Made({**f, "at": draw(st.sampled_from(["abc", "1.5", "", str(e.at + 60), " 1", "1e9", "--5"]))}, False, how)
    if how == "bad_id":
        return Made({**f, "id": draw(st.sampled_from([e.id + "x", "", e.id.lower(), "S:" + e.id]))}, False, how)
    if how == "non_utf8":
        name = draw(st.sampled_from(sorted(f)))
        return Made({**f, name: _bytes_in(f[name], draw(st.integers(0, 40)))}, False, f"{how}:{name}")
    if how == "huge":
        return Made({**f, "pad": "y" * draw(st.integers(17_000, 300_000))}, False, how)
    if how == "too_late":  # over the 2-day window before the processor's clock
        return Made(_moved(e, around_s - 4 * 86_400).fields(), False, how)
    if how == "too_early":  # over the 31-day window after it
        return Made(_moved(e, around_s + 40 * 86_400).fields(), False, how)
    bad_clock = draw(st.sampled_from([
        {"kind": "clock", "at": str(around_s + 40 * 86_400), "data": "{}"},  # a month of ticks at once
        {"kind": "clock", "at": str(around_s), "data": '{"now":1}'},
        {"kind": "clock", "at": str(around_s), "id": "c1", "data": "{}"},
        {"kind": "clock", "at": "soon", "data": "{}"},
    ]))
    return Made(bad_clock, False, how)
