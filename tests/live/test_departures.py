"""The departures board's data: the processor keeps, per origin, the flights of the next 24 h
(from the timetable, 24 h ahead) and of the last hours, with their outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skyprophet.adapters.departures import KEEP_S, Departures
from skyprophet.core.config import Settings
from tests.live.conftest import live_setup

pytestmark = pytest.mark.live
START = datetime(2013, 12, 20, 0, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=8)


def _s(ts: pd.Series) -> np.ndarray:
    return np.where(ts.notna(), ts.astype("int64") // 1_000_000, -1)


def test_processor_lists_the_next_day_and_the_outcomes(settings: Settings, canonical: pd.DataFrame, tmp_path: Path, redis_url: str) -> None:
    live = live_setup(settings, tmp_path, redis_url, "departures", START, canonical)
    board = Departures(live.stream.r, live.settings.stream_name)
    proc = live.processor(board=board)
    replay = live.replay(END)
    while replay.step() is not None:
        while proc.poll(block_ms=None):
            pass
    now = int(END.timestamp())
    sched = _s(canonical["sched_dep_utc"])
    for origin in ("EWR", "JFK", "LGA"):
        got = board.listed(origin, now - KEEP_S, now + 24 * 3600)
        want = canonical[(canonical["origin"] == origin) & (sched > now - KEEP_S) & (sched <= now + 24 * 3600)]
        w_sched, w_actual = _s(want["sched_dep_utc"]), _s(want["actual_dep_utc"])
        keys = [(f["carrier"], f["flight_number"], f["sched"]) for f in got]
        assert [k[2] for k in keys] == sorted(k[2] for k in keys)  # by scheduled departure
        assert sorted(keys) == sorted(zip(want["carrier"], want["flight_number"].tolist(), w_sched.tolist(), strict=True))
        by_key = {(f["carrier"], f["flight_number"], f["sched"]): f["outcome"] for f in got}
        for c, n, s, a, d, x in zip(want["carrier"], want["flight_number"], w_sched, w_actual, want["dep_delay_min"],
                                    want["cancelled"], strict=True):
            o = by_key[(c, n, int(s))]
            if 0 <= a <= now:
                assert o == {"actual": int(a), "delay": float(d)}
            elif x and s + 3 * 3600 <= now:
                assert o == {"cancelled": True}
            else:
                assert o is None
        assert len(got) > 200
    # flights scheduled more than KEEP_S before the clock were listed (seeded at START) and are gone
    start = int(START.timestamp())
    assert ((canonical["origin"] == "EWR").to_numpy() & (sched > start) & (sched < now - KEEP_S)).sum() > 10
    assert board.listed("EWR", 0, now - KEEP_S - 1) == []
