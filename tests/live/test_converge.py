"""Batch and live converge: a week replayed through the stream from a build cut off at its start,
then ``features build`` over the raw data plus the live partitions, gives the tables of a build
of the complete data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.features import build as build_features
from pipelines.features.views import TABLES
from skyprophet.core.config import Settings
from tests.live.conftest import live_setup

pytestmark = pytest.mark.live
# A week over the 2013-11-03 change of daylight-saving time. CUT is an instant before which no flight
# scheduled after it had left: the raw data at CUT holds no flight of the replay, and a departure
# before CUT is not replayed. (Friday 2013-11-01 00:00 UTC fails that: three flights due after it
# left early, and the test then finds those departures missing, a fault of the set-up, not of the
# processor; `_raw_as_of_cut` would have to keep them.)
CUT = datetime(2013, 10, 28, 0, 0, tzinfo=timezone.utc)
END = CUT + timedelta(days=7)


def _seconds(ts: pd.Series) -> np.ndarray:
    return np.where(ts.notna(), ts.astype("int64") // 1_000_000, -1)


def _raw_as_of_cut(settings: Settings, canonical: pd.DataFrame, out: Path) -> Path:
    """The raw data as an ingest at CUT would have left it: the week's flights absent (they
    arrive as schedule events), no outcome known after CUT, no weather hour available after it."""
    out.mkdir()
    for f in settings.raw_dir.glob("*.parquet"):
        if f.name not in ("canonical_flights.parquet", "weather.parquet"):
            (out / f.name).symlink_to(f)
    cut_s, end_s = CUT.timestamp(), END.timestamp()
    sched, actual = _seconds(canonical["sched_dep_utc"]), _seconds(canonical["actual_dep_utc"])
    c = canonical[(sched <= cut_s) | (sched > end_s)].copy()
    sched, actual = _seconds(c["sched_dep_utc"]), _seconds(c["actual_dep_utc"])
    unknown = ~((actual >= 0) & (actual <= cut_s))
    c.loc[unknown, "actual_dep_utc"] = pd.NaT
    c.loc[unknown, "dep_delay_min"] = np.nan
    c["cancelled"] = c["cancelled"] & (sched + 3 * 3600 <= cut_s)
    c.to_parquet(out / "canonical_flights.parquet", index=False)
    w = pd.read_parquet(settings.raw_dir / "weather.parquet")
    hour = pd.to_datetime(w["time_hour"], utc=True, format="ISO8601")
    w[hour + pd.Timedelta(hours=1) <= pd.Timestamp(CUT)].to_parquet(out / "weather.parquet", index=False)
    return out


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in TABLES}


def test_week_replayed_then_rebuilt_equals_full_build(settings: Settings, canonical: pd.DataFrame, tmp_path: Path, redis_url: str) -> None:
    raw = _raw_as_of_cut(settings, canonical, tmp_path / "raw_at_cut")
    (tmp_path / "live").mkdir()
    live = live_setup(settings, tmp_path / "live", redis_url, "converge", CUT, canonical, raw=raw)
    proc = live.processor()  # seeded with what was known at CUT
    replay = live.replay(END)
    while replay.step() is not None:
        while proc.poll(block_ms=None):
            pass
    assert proc.state.last_tick == int(END.timestamp()) // 60
    assert proc.events_applied > 10_000

    full = tmp_path / "full"
    build_features.build(settings, out_dir=full, until=END, live=False)
    merged = tmp_path / "merged"
    build_features.build(live.settings, out_dir=merged, until=END)
    expected, got = _tables(full), _tables(merged)
    for name in TABLES:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=False, rtol=1e-12, obj=name)
    assert sum(len(t) for t in got.values()) > 500_000

    # The comparison has teeth: the same build without the live partitions is a different one.
    without = tmp_path / "without"
    build_features.build(live.settings, out_dir=without, until=END, live=False)
    differs = [n for n, t in _tables(without).items() if not t.equals(expected[n])]
    assert {"airline_stats", "origin_ops", "flight_history", "plane_recent"} <= set(differs)
