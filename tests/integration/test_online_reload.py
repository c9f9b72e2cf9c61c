"""Loading the online store as of an earlier instant than a previous load (a replay started again
from an earlier point): rows the previous load wrote ahead must not shadow the ones loaded now.
Such a load is refused, naming both instants, unless it replaces what the store holds."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import redis

from pipelines.features.store import apply, clear_online, held_until, materialize
from skyprophet.adapters.online import FlightKeys, OnlineFeatures
from skyprophet.adapters.store import open_store
from skyprophet.core.config import Settings
from skyprophet.core.errors import InvalidInput
from skyprophet.core.keys import entity_frame
from tests.conftest import historical, normalized, redis_db_url

pytestmark = pytest.mark.integration
EARLY = datetime(2013, 12, 1, 6, 0, tzinfo=timezone.utc)
LATE = datetime(2013, 12, 2, 18, 0, tzinfo=timezone.utc)


def test_a_reload_at_an_earlier_instant_serves_that_instant(settings: Settings, tmp_path: Path, canonical: pd.DataFrame,
                                                            redis_url: str) -> None:
    url = redis_db_url(redis_url, "online-reload")
    redis.Redis.from_url(url).flushdb()
    s = settings.model_copy(update={"redis_url": url})
    store = open_store(s, online="redis", data_dir=tmp_path)
    apply(store, s)
    day = timedelta(days=1)
    materialize(store, LATE, start=LATE - day, chunk=day, show_progress=False)  # the previous run, ahead
    sched = canonical["sched_dep_utc"]
    pick = canonical[(sched > pd.Timestamp(EARLY)) & (sched <= pd.Timestamp(EARLY) + timedelta(hours=6))].head(150)
    keys = [FlightKeys(r.carrier, str(r.flight_number), r.origin, r.dest, int(r.sched_dep_utc.timestamp()), int(r.utc_offset_min),
                       r.tailnum if isinstance(r.tailnum, str) else None) for r in pick.itertuples()]
    reader = OnlineFeatures(store, redis_client=redis.Redis.from_url(url))

    def stale_share() -> float:
        got = reader.read(keys, as_of=[EARLY] * len(keys))
        return sum(len(ff.stale) for ff in got) / (len(keys) * len(reader.feature_names))

    with pytest.raises(InvalidInput, match=re.escape(f"holds values up to {LATE.isoformat()}; loading up to {EARLY.isoformat()}")):
        materialize(store, EARLY, start=EARLY - day, chunk=day, show_progress=False)
    assert held_until(store) == LATE
    store.materialize(EARLY - day, EARLY)  # what the refusal prevents: Feast keeps the rows ahead
    assert stale_share() > 0.1  # and they shadow those of EARLY: served as missing
    materialize(store, EARLY, start=EARLY - day, chunk=day, show_progress=False, replace=True)  # cleared first
    assert held_until(store) == EARLY
    got = reader.read(keys, as_of=[EARLY] * len(keys))
    off = historical(store, entity_frame(pick, as_of=pd.Timestamp(EARLY)).reset_index(drop=True))
    for i, ff in enumerate(got):
        for name in reader.feature_names:
            assert normalized(off.at[i, name]) == normalized(ff.values[name]), (i, name)
    clear_online(store)
    assert held_until(store) is None  # a cleared store holds nothing: any window loads
