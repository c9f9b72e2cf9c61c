"""Property: whatever a producer writes, a running processor never exits, takes every valid event
(applied and logged), rejects every invalid entry with a reason, and leaves nothing pending.

Hypothesis generates entries (valid events, and events broken in named ways: mistyped, out of
range, missing or extra fields, bytes that are not UTF-8, huge, outside the processor's window;
``tests.poison``) and writes each example between two grid steps of the real replay to a
`skyprophet live stream` process on Redis database 4. The expected verdict of an entry is how it was
made, and whether its id was written before with the same payload (a duplicate) or another (a
conflict): never what the processor says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipelines.live.replay import Replay
from skyprophet.core.config import Settings
from skyprophet.core.events import CLOCK
from tests.live.conftest import Live, live_setup
from tests.live.running import Running, write
from tests.poison import Made, made_entries

pytestmark = pytest.mark.live
START = datetime(2013, 12, 2, 0, 0, tzinfo=timezone.utc)


@dataclass
class Feed:
    live: Live
    proc: Running
    replay: Replay
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> the payload first written
    seen_files: set[Path] = field(default_factory=set)

    def step(self) -> set[str]:
        """The replay's next grid step; the ids of its events."""
        before = self.replay.pos
        assert self.replay.step() is not None, "the replay ran out"
        return {e.id for e in self.replay.entries[before:self.replay.pos] if e.kind != CLOCK}

    @property
    def clock_s(self) -> int:
        return self.replay.entries[self.replay.pos - 1].at

    def _new(self, pattern: str) -> pd.DataFrame:
        files = sorted(set(self.live.event_log.root.glob(pattern)) - self.seen_files)
        self.seen_files |= set(files)
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame(
            columns=["stream_id", "id", "reason"])

    def new_rejects(self) -> dict[str, str]:
        df = self._new("rejects/*.parquet")
        return dict(zip(df["stream_id"], df["reason"], strict=True))

    def new_logged(self) -> pd.DataFrame:
        return self._new("events/day=*/*.parquet")


@pytest.fixture(scope="module")
def feed(settings: Settings, canonical: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Feed]:
    tmp = tmp_path_factory.mktemp("property")
    live = live_setup(settings, tmp, redis_url, "stream-property", START, canonical)
    live.stream.ensure_group()
    with Running(live, tmp / "processor.log", "--from", START.isoformat()) as proc:
        proc.started()
        f = Feed(live, proc, live.replay(START + timedelta(days=3)))
        f.step()
        proc.drained()
        f.new_logged()
        yield f
        proc.stop()


@settings(max_examples=60, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_entries_between_valid_events_never_stop_the_processor(feed: Feed, data: st.DataObject) -> None:
    made: list[Made] = data.draw(st.lists(made_entries(feed.clock_s), min_size=1, max_size=4))
    sids = [write(feed.live, m.fields) for m in made]
    valid_ids = feed.step()
    feed.proc.drained()  # fails at once if the processor exited
    rejects, logged = feed.new_rejects(), feed.new_logged()
    assert valid_ids <= set(logged["id"]), "a valid event of the replay was not logged"
    for sid, m in zip(sids, made, strict=True):
        if not m.valid:
            assert rejects.get(sid), f"{m.how}: not in the rejects with a reason"
            assert sid not in set(logged["stream_id"]), f"{m.how}: logged"
            continue
        assert m.event is not None
        first = feed.written.setdefault(m.event.id, m.event.data)
        if first is m.event.data:
            assert sid not in rejects, f"{m.how}: a valid event was rejected: {rejects.get(sid)}"
            assert sid in set(logged["stream_id"]), "a valid event was not logged"
        elif first == m.event.data:
            assert sid not in rejects, "a duplicate was rejected"
        else:
            assert "conflicting duplicate" in rejects.get(sid, ""), "a conflicting duplicate was not rejected"
