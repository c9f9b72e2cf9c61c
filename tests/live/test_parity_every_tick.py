"""Parity every tick: a replay over a UTC midnight and the 2013-11-03 change of daylight-saving
time, from a build cut off at its start. After each grid tick, for every entity with a row at that
tick (in the stream's output or in the full build), the online store read through Feast and
through the service's own reader equals offline retrieval at the same instant from the full build."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis

from pipelines.live.features import COLUMNS, VIEWS
from skyprophet.adapters.online import FlightKeys, OnlineFeatures
from skyprophet.core.config import Settings
from skyprophet.core.keys import TIMESTAMP, entity_frame
from tests.conftest import historical, normalized
from tests.live.conftest import EMPTY_ON_NYCFLIGHTS13, live_setup

pytestmark = pytest.mark.live
START = datetime(2013, 11, 2, 0, 0, tzinfo=timezone.utc)
END = START + timedelta(days=2)  # over 2013-11-03 00:00 UTC and the DST change at 06:00 UTC


def _same(a: Any, b: Any) -> bool:
    a, b = normalized(a), normalized(b)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


def test_online_equals_offline_after_every_tick(
    settings: Settings, offline_store: Any, canonical: pd.DataFrame, tmp_path: Path, redis_url: str
) -> None:
    live = live_setup(settings, tmp_path, redis_url, "parity-every-tick", START, canonical)
    batch = {v: pd.read_parquet(settings.processed_dir / f"{v}.parquet", filters=[("event_ts", ">", pd.Timestamp(START))]) for v in VIEWS}
    service = OnlineFeatures(live.store, redis_client=redis.Redis.from_url(live.settings.redis_url))
    feast_seen: list[dict[str, Any]] = []  # (view, key, g, values online)
    service_seen: list[tuple[pd.DataFrame, list[Any]]] = []
    sched = canonical["sched_dep_utc"]

    def check(g_min: int) -> None:
        g = pd.Timestamp(g_min * 60, unit="s", tz="UTC")
        day = g.strftime("%Y-%m-%d")
        for view, key in VIEWS.items():
            b = batch[view]
            keys = set(b.loc[b["event_ts"] == g, key]) | emitted[view].pop(g_min, set())
            if not keys:
                continue
            keys_l = sorted(keys)
            refs = [f"{view}:{c}" for c in COLUMNS[view]]
            got = live.store.get_online_features(features=refs, entity_rows=[{key: k, "as_of_day": day} for k in keys_l]).to_dict()
            for i, k in enumerate(keys_l):
                feast_seen.append({"view": view, "key": k, "g": g, **{c: got[c][i] for c in COLUMNS[view]}})
        # the service's reader, for the flights whose prediction time T = scheduled - 2 h is this tick
        due = canonical[(sched > g + pd.Timedelta(minutes=105)) & (sched <= g + pd.Timedelta(minutes=120))]
        if len(due):
            rows = entity_frame(due, as_of=g)
            keys = [FlightKeys(r.carrier, int(r.flight_id[len(r.carrier):]), r.origin, r.dest, int(r.sched_dep_epoch_s),
                               int(r.utc_offset_min), r.tailnum or None) for r in rows.itertuples()]
            service_seen.append((rows.reset_index(drop=True), service.read(keys, as_of=[g.to_pydatetime()] * len(keys))))

    emitted: dict[str, dict[int, set[str]]] = {v: {} for v in VIEWS}
    proc = live.processor(on_tick=check)
    original_write = proc.write

    def spy(view: str, df: pd.DataFrame) -> None:  # which entities the processor wrote at which tick
        for k, t in zip(df[VIEWS[view]], df["event_ts"], strict=True):
            emitted[view].setdefault(int(t.timestamp()) // 60, set()).add(k)
        original_write(view, df)

    proc.write = spy
    replay = live.replay(END)
    ticks = 0
    while (at := replay.step()) is not None:
        while proc.state.last_tick < at // 60:
            proc.poll(block_ms=50)
        ticks += 1
    assert ticks == 192 and proc.ticks == 192

    # offline retrieval at each instant from the full build, one call per view
    mismatches = []
    seen = pd.DataFrame(feast_seen)
    for view, key in VIEWS.items():
        part = seen[seen["view"] == view].reset_index(drop=True)
        if view in EMPTY_ON_NYCFLIGHTS13:  # no flight of it has an inbound leg: nothing to read either way
            assert part.empty and batch[view].empty
            continue
        day = part["g"].dt.strftime("%Y-%m-%d")
        entity = pd.DataFrame({key: part["key"], "as_of_day": day, TIMESTAMP: part["g"], "_i": range(len(part))})
        refs = [f"{view}:{c}" for c in COLUMNS[view]]
        off = offline_store.get_historical_features(entity_df=entity, features=refs).to_df().sort_values("_i").reset_index(drop=True)
        assert len(off) == len(part) > 0
        for c in COLUMNS[view]:
            bad = [i for i, (a, b) in enumerate(zip(off[c], part[c], strict=True)) if not _same(a, b)]
            mismatches += [(view, part.at[i, "key"], part.at[i, "g"], c, off.at[i, c], part.at[i, c]) for i in bad[:3]]
    assert not mismatches, mismatches[:10]
    per_view = seen.groupby("view").size()
    assert per_view["airline_stats"] == 192 * 16 and per_view["route_history"] > 300 and per_view["flight_history"] > 1000

    flights = pd.concat([r for r, _ in service_seen], ignore_index=True)
    online = [ff for _, got in service_seen for ff in got]
    assert len(flights) > 1000
    off = historical(offline_store, flights)
    bad = [(i, n) for i, ff in enumerate(online) for n in service.feature_names if not _same(off.at[i, n], ff.values[n])]
    assert not bad, [(flights.at[i, "flight_id"], flights.at[i, TIMESTAMP], n, off.at[i, n], online[i].values[n]) for i, n in bad[:10]]
