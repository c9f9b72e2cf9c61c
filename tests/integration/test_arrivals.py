"""Arrivals in the model of the world: the replay publishes each flight's arrival at its actual
arrival (event contract 1.1), and what the stream logged fills the canonical arrival columns again.

Expected values come from the canonical table's own columns (scheduled arrival + arrival delay),
not from the replay or the merge under test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.live.replay import flight_events
from skyprophet.adapters.event_log import merge_flights
from skyprophet.core.events import ARRIVAL, parse_entry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def day(canonical: pd.DataFrame) -> pd.DataFrame:
    sched = canonical["sched_dep_utc"]
    on_the_day = (sched >= pd.Timestamp("2013-07-04", tz="UTC")) & (sched < pd.Timestamp("2013-07-05", tz="UTC"))
    return canonical[on_the_day].reset_index(drop=True)


def test_the_replay_publishes_each_arrival_at_its_actual_arrival(day: pd.DataFrame) -> None:
    events = [e for _, _, e in flight_events(day)]
    arrivals = {e.id: e for e in events if e.kind == ARRIVAL}
    arrived = day[day["actual_dep_utc"].notna() & day["arr_delay_min"].notna() & (day["sched_arr_utc"] > day["sched_dep_utc"])]
    assert len(arrived) > 500 and (day["cancelled"] | day["arr_delay_min"].isna()).any()  # both kinds of flight in the day
    assert len(arrivals) == len(arrived)
    for f in arrived.itertuples():
        e = arrivals[f"A:{f.carrier}{f.flight_number}:{f.origin}:{int(f.sched_dep_utc.timestamp())}"]
        expected = f.sched_arr_utc + pd.Timedelta(minutes=f.arr_delay_min)
        assert e.at == int(expected.timestamp()) and e.data["arr_delay"] == f.arr_delay_min
        assert e.data["sched_arr"] == int(f.sched_arr_utc.timestamp())
    for e in events:  # every event the replay writes passes the contract as the processor reads it
        assert parse_entry(e.fields()) == e


def test_logged_arrivals_fill_the_canonical_arrival_columns(day: pd.DataFrame) -> None:
    events = [e for _, _, e in flight_events(day) if e.kind == ARRIVAL]
    log = pd.DataFrame({"kind": [e.kind for e in events], "id": [e.id for e in events], "at": [e.at for e in events],
                        "data": [json.dumps(e.data) for e in events]})
    blank = day.copy()
    gone = blank["arr_delay_min"].notna().to_numpy() & (np.arange(len(blank)) % 2 == 0)
    blank.loc[gone, ["actual_arr_utc"]] = pd.NaT
    blank.loc[gone, ["arr_delay_min"]] = np.nan
    merged = merge_flights(blank, log)
    cols = ["flight_row_id", "sched_arr_utc", "actual_arr_utc", "arr_delay_min"]
    ordered = day.sort_values("flight_row_id").reset_index(drop=True)
    got = merged.sort_values("flight_row_id")[cols].reset_index(drop=True)
    published = ordered["arr_delay_min"].notna() & (ordered["sched_arr_utc"] > ordered["sched_dep_utc"]) & ordered["actual_dep_utc"].notna()
    assert gone.sum() > 200 and published.sum() == len(events)
    pd.testing.assert_frame_equal(got[published], ordered.loc[published, cols])
