"""Entity keys of one flight, for any instant a request can name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyprophet.core.keys import FlightKeys, as_of_day, as_of_day_of, flight_numbers, sort_flights


@pytest.mark.parametrize("epoch_s", [0, 1_388_408_400, 1_383_465_599, 1_383_465_600, -86_401])
def test_day_of_an_instant_is_the_columns_day(epoch_s: int) -> None:
    # Independently: pandas' own UTC date of the instant, through the column function.
    ts = pd.Series([pd.Timestamp(epoch_s, unit="s", tz="UTC")])
    assert as_of_day_of(epoch_s) == as_of_day(ts).iloc[0]


@pytest.mark.parametrize(
    ("iso", "lead_minutes"),
    [("0001-01-01T00:30:00+00:00", 120), ("9999-12-31T23:59:00-12:00", 0), ("0001-01-01T00:00:00+14:00", 120)],
)
def test_any_date_time_a_request_can_send_has_entity_rows(iso: str, lead_minutes: int) -> None:
    from datetime import datetime

    sched = int(datetime.fromisoformat(iso).timestamp())
    row = FlightKeys("UA", 1545, "EWR", "IAH", sched, 0).request_row(lead_minutes)
    expected = str(np.datetime64(sched - 60 * lead_minutes, "s").astype("datetime64[D]"))
    assert row["as_of_day"] == expected


def test_entity_rows_carry_t_at_a_lead_or_at_one_instant() -> None:
    from skyprophet.core.keys import entity_frame

    flights = pd.DataFrame({
        "flight_row_id": [1, 2], "carrier": ["UA", "DL"], "flight_number": [1545, 1597], "origin": ["EWR", "LGA"],
        "dest": ["IAH", "ATL"], "tailnum": ["N14228", None], "utc_offset_min": [-300, -300],
        "sched_dep_utc": pd.to_datetime(["2013-12-30 14:00", "2013-12-31 01:30"]).tz_localize("UTC"),
    })
    sched_s = [1_388_412_000, 1_388_453_400]  # the two scheduled departures, seconds since the epoch
    at_lead = entity_frame(flights, 90)
    assert at_lead["as_of_epoch_s"].tolist() == [s - 5400 for s in sched_s]
    assert at_lead["as_of_day"].tolist() == ["2013-12-30", "2013-12-31"]
    t = pd.Timestamp("2013-12-30 23:00", tz="UTC")
    at_t = entity_frame(flights, as_of=t)
    assert at_t["as_of_epoch_s"].tolist() == [1_388_444_400] * 2 and at_t["as_of_day"].tolist() == ["2013-12-30"] * 2
    assert (at_t["event_timestamp"] == t).all() and at_t["tailnum"].tolist() == ["N14228", ""]
    with pytest.raises(ValueError, match="not both"):
        entity_frame(flights, 90, as_of=t)


def test_flight_numbers_read_from_files_take_one_spelling_and_refuse_what_is_not_one() -> None:
    read = pd.Series(["1545", "0123", " 77 ", "1545a", "12.0", "", "abc", "12345", "0", None, "15 A"])
    got = flight_numbers(read).tolist()
    assert got == ["1545", "123", "77", "1545A", "12", pd.NA, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA]


def test_flights_are_ordered_by_number_as_a_number_with_a_suffix_after_its_number() -> None:
    t = pd.Timestamp("2013-01-01 15:00", tz="UTC")
    numbers = ["10", "9", "1545A", "1545", "100"]
    flights = pd.DataFrame({"sched_dep_utc": [t] * 5, "carrier": ["UA"] * 5, "flight_number": numbers, "origin": ["EWR"] * 5})
    assert sort_flights(flights)["flight_number"].tolist() == ["9", "10", "100", "1545", "1545A"]
    # on numbers alone the order is the numbers' (what an integer column sorted as)
    ints = [int(n) for n in numbers if n.isdigit()]
    only = flights[flights["flight_number"].str.isdigit()]
    assert sort_flights(only)["flight_number"].tolist() == [str(n) for n in sorted(ints)]


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789Aa ٣²-.", max_size=7), st.text(max_size=6), st.integers(-5, 12_000)))
def test_one_flight_number_agrees_with_its_written_pattern(value: object) -> None:
    # Independently of flight_number's fast path: the documented pattern, then leading zeros dropped.
    import re

    from skyprophet.core.keys import FLIGHT_NUMBER_MAX, FLIGHT_NUMBER_PATTERN, flight_number

    if isinstance(value, int):
        want = str(value) if 1 <= value <= FLIGHT_NUMBER_MAX else None
    else:
        text = str(value).strip().upper()
        want = text.lstrip("0") if re.fullmatch(FLIGHT_NUMBER_PATTERN.strip("^$"), text, flags=re.ASCII) else None
    try:
        got: str | None = flight_number(value)
    except ValueError:
        got = None
    assert got == want
