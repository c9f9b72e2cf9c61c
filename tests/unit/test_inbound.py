"""The inbound-leg table on rotations worked out by hand: the leg not yet departed, departed but not
landed, landed late, and flights with no inbound leg known; and no row sees past its instant."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipelines.features.inbound import inbound_leg
from skyprophet.core.windows import INBOUND_COLUMNS

STEP = 15
T = pd.Timestamp


def _flight(tail: str | None, number: int, origin: str, dest: str, sched: str, block_min: int, dep_delay: float | None,
            arr_delay: float | None) -> dict[str, object]:
    s = T(sched, tz="UTC")
    sa = s + pd.Timedelta(minutes=block_min)
    return {"carrier": "UA", "flight_number": str(number), "origin": origin, "dest": dest, "tailnum": tail,
            "sched_dep_utc": s, "sched_arr_utc": sa,
            "actual_dep_utc": None if dep_delay is None else s + pd.Timedelta(minutes=dep_delay), "dep_delay_min": dep_delay,
            "actual_arr_utc": None if arr_delay is None else sa + pd.Timedelta(minutes=arr_delay), "arr_delay_min": arr_delay}


FLIGHTS = pd.DataFrame([
    _flight("N1", 10, "ORD", "EWR", "2013-07-01 10:00", 120, 20.0, 35.0),  # the inbound leg of UA11: lands 12:35, 35 late
    _flight("N1", 11, "EWR", "BOS", "2013-07-01 13:00", 75, 50.0, 40.0),  # turn 60 min
    _flight("N2", 20, "JFK", "LGA", "2013-07-01 08:00", 45, 0.0, 0.0),  # lands at LGA ...
    _flight("N2", 21, "EWR", "BOS", "2013-07-01 11:00", 60, 5.0, 0.0),  # ... so UA21 from EWR has no inbound leg
    _flight(None, 30, "ATL", "EWR", "2013-07-01 06:00", 120, 0.0, 0.0),
    _flight(None, 31, "EWR", "ATL", "2013-07-01 10:00", 120, 0.0, 0.0),  # no tail number: nothing known
    _flight("N3", 40, "ATL", "EWR", "2013-06-29 10:00", 120, 0.0, 0.0),  # two days before: too long ago to count
    _flight("N3", 41, "EWR", "ATL", "2013-07-01 10:00", 120, 0.0, 0.0),
    _flight("N4", 50, "DCA", "EWR", "2013-07-01 16:00", 60, None, None),  # cancelled: never departs
    _flight("N4", 51, "EWR", "DCA", "2013-07-01 18:00", 60, 10.0, 5.0),
])
for col in ("sched_dep_utc", "sched_arr_utc", "actual_dep_utc", "actual_arr_utc"):
    FLIGHTS[col] = pd.to_datetime(FLIGHTS[col], utc=True).astype("datetime64[us, UTC]")
FLIGHTS["tailnum"] = FLIGHTS["tailnum"].astype("string")
END = int(T("2013-07-02", tz="UTC").timestamp() // 60)


def _key(number: int, sched: str) -> str:
    return f"UA{number}:EWR:{int(T(sched, tz='UTC').timestamp())}"


def _at(table: pd.DataFrame, key: str, when: str) -> dict[str, float] | None:
    """The row in force at ``when``: the latest at or before it."""
    rows = table[(table["departure_id"] == key) & (table["event_ts"] <= T(when, tz="UTC"))]
    return None if rows.empty else rows.iloc[-1][list(INBOUND_COLUMNS)].to_dict()


def _same(got: dict[str, float] | None, want: tuple[float, ...]) -> bool:
    assert got is not None
    return all((math.isnan(w) and math.isnan(g)) or g == w for g, w in zip(got.values(), want, strict=True))


NAN = float("nan")


@pytest.mark.parametrize(("when", "want"), [
    # departed, dep delay, arrived, arr delay, scheduled turn, slack
    ("2013-06-30 13:00", (0, NAN, 0, NAN, 60.0, 60.0)),  # the rotation is known a day ahead
    ("2013-07-01 10:15", (0, NAN, 0, NAN, 60.0, 60.0)),  # due out at 10:00, not gone yet
    ("2013-07-01 10:30", (1, 20.0, 0, NAN, 60.0, 40.0)),  # left at 10:20: 20 late carried into the turn
    ("2013-07-01 12:30", (1, 20.0, 0, NAN, 60.0, 40.0)),
    ("2013-07-01 12:45", (1, 20.0, 1, 35.0, 60.0, 25.0)),  # landed 12:35, 35 late: 25 minutes left
])
def test_a_rotation_worked_by_hand(when: str, want: tuple[float, ...]) -> None:
    table = inbound_leg(FLIGHTS, STEP, END)
    assert _same(_at(table, _key(11, "2013-07-01 13:00"), when), want)


def test_before_the_rotation_is_known_and_flights_without_an_inbound_leg() -> None:
    table = inbound_leg(FLIGHTS, STEP, END)
    assert _at(table, _key(11, "2013-07-01 13:00"), "2013-06-30 12:45") is None  # more than a day ahead
    keys = set(table["departure_id"])
    assert keys == {_key(11, "2013-07-01 13:00"), _key(51, "2013-07-01 18:00")}  # UA21, UA31, UA41 have none
    cancelled = _at(table, _key(51, "2013-07-01 18:00"), "2013-07-01 17:30")  # its inbound never left
    assert _same(cancelled, (0, NAN, 0, NAN, 60.0, 60.0))


def test_rows_hold_a_midnight_heartbeat_and_stop_at_the_departure() -> None:
    table = inbound_leg(FLIGHTS, STEP, END)
    rows = table[table["departure_id"] == _key(11, "2013-07-01 13:00")]
    assert T("2013-07-01 00:00", tz="UTC") in set(rows["event_ts"])  # T's own day always has a row
    assert rows["event_ts"].max() <= T("2013-07-01 13:00", tz="UTC")


@pytest.mark.parametrize("cut", ["2013-07-01 10:10", "2013-07-01 10:20", "2013-07-01 12:40"])
def test_no_row_sees_past_its_instant(cut: str) -> None:
    """A build from what was known at the cut-off gives the full build's rows up to it."""
    until = int(T(cut, tz="UTC").timestamp() // 60)
    full = inbound_leg(FLIGHTS, STEP, END)
    cutoff = inbound_leg(FLIGHTS, STEP, until - until % STEP, until_min=until)
    upto = full[full["event_ts"] <= T(cut, tz="UTC")].reset_index(drop=True)
    pd.testing.assert_frame_equal(cutoff.reset_index(drop=True), upto)
    assert len(upto) and np.isfinite(upto["inbound_sched_turn"]).all()
