"""The stream's window state against the batch build, over the whole year: every row of every
time-varying table, at every grid point, from events applied one at a time."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.live import replay
from pipelines.live.features import VIEWS, LiveFeatures, frames
from skyprophet.core.config import Settings
from tests.live.conftest import EMPTY_ON_NYCFLIGHTS13

pytestmark = pytest.mark.live


def test_whole_year_event_by_event_equals_batch(settings: Settings, canonical: pd.DataFrame) -> None:
    weather = pd.read_parquet(settings.raw_dir / "weather.parquet")
    events = replay.timeline(canonical, weather)
    batch = {v: pd.read_parquet(settings.processed_dir / f"{v}.parquet") for v in VIEWS}
    step = settings.grid_minutes
    start = int(batch["airline_stats"]["event_ts"].min().timestamp()) // 60
    end = int(batch["airline_stats"]["event_ts"].max().timestamp()) // 60
    # the batch writes dense rows for every carrier and origin of the year: seed the same vocabulary
    state = LiveFeatures(step, carriers=canonical["carrier"].unique(), origins=canonical["origin"].unique())
    ticks, i = [], 0
    for g in range(start, end + 1, step):
        while i < len(events) and events[i].at_min <= g:
            state.apply(events[i])
            i += 1
        ticks.append(state.tick(g))
    live = frames(ticks)
    for view, key in VIEWS.items():
        want = batch[view].sort_values(["event_ts", key]).reset_index(drop=True)
        got = live[view].sort_values(["event_ts", key]).reset_index(drop=True)[list(want.columns)]
        if view in EMPTY_ON_NYCFLIGHTS13:  # no aircraft is seen arriving at New York: no inbound leg, either way
            assert got.empty and want.empty, view
            continue
        assert len(got) == len(want) > 50_000, view
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9, atol=1e-9, obj=view)
