"""The stream processor's start-up state (``seeded_state``) copies only what it needs of the year
and hands its events over a day at a time, and what it builds equals the whole year's: the events
of the 29 days before the start as the replay's timeline gives them over every flight, and the
route totals as summed here over every flight that departed before the seed."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.live.seed import seeded_state
from pipelines.live.replay import timeline
from skyprophet.core.config import Settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("start", ["2013-02-10T05:00:00Z", "2013-07-01T00:00:00Z", "2013-12-30T12:00:00Z"])
def test_the_seed_equals_the_whole_years(canonical: pd.DataFrame, settings: Settings, start: str) -> None:
    weather = pd.read_parquet(settings.raw_dir / "weather.parquet")
    start_s = int(pd.Timestamp(start).timestamp())
    state, days, seed = seeded_state(canonical, weather, start_s, 15)
    cut = list(days)
    assert [end for end, _ in cut] == [*range(seed + 1440, start_s // 60, 1440), start_s // 60]  # a day each, the last to the start
    bounds = [seed, *(end for end, _ in cut)]
    for lo, hi, (_, day) in zip(bounds[:-1], bounds[1:], cut, strict=True):
        assert all(lo * 60 < e.at <= hi * 60 for e in day)
    events = [e for _, day in cut for e in day]

    whole = timeline(canonical, weather, seed * 60, start_s)
    assert len(events) > 10_000
    assert {e.kind for e in events} >= {"planned", "schedule", "departure", "arrival", "weather"}
    assert events == whole

    departed = canonical[canonical["actual_dep_utc"].notna()]
    before = departed[departed["actual_dep_utc"] <= pd.Timestamp(seed * 60, unit="s", tz="UTC")]
    by_route = before.assign(route=before["origin"] + "-" + before["dest"], delayed=before["dep_delay_min"] > 15).groupby("route")
    expected = {r: [int(n), int(d), float(t)] for r, n, d, t in zip(by_route.size().index, by_route.size(), by_route["delayed"].sum(),
                                                                    by_route["dep_delay_min"].sum(), strict=True)}
    assert len(expected) > 100
    assert state.routes == expected


def test_the_processors_compact_read_seeds_the_same(settings: Settings) -> None:
    # the processor reads text columns as Arrow-backed strings (a national year in a third of the memory)
    from skyprophet.adapters.event_log import known_data

    start_s = int(pd.Timestamp("2013-12-16T00:00:00Z").timestamp())
    plain, compact = known_data(settings.raw_dir, None), known_data(settings.raw_dir, None, compact=True)
    assert str(compact[0]["carrier"].dtype) == "string" and compact[0]["carrier"].dtype.storage == "pyarrow"
    assert compact[0].memory_usage(deep=True).sum() < plain[0].memory_usage(deep=True).sum() / 2
    (a, days_a, _), (b, days_b, _) = (seeded_state(c, w, start_s, 15) for c, w in (plain, compact))
    assert list(days_a) == list(days_b)
    assert (a.routes, a.carriers, a.origins) == (b.routes, b.carriers, b.origins)
