"""A running processor fed the entries that used to crash it (each between valid events), the
policies for duplicates, late and out-of-window events, a restart over a log holding a bad row,
and a processor killed while it held a poison entry.

One module fixture drives a real `skyprophet live stream` through four phases on Redis database 5;
the tests check what each phase left: the rejects, the durable log, the counts and the logs.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis

from pipelines.features import build as build_features
from pipelines.live.features import LiveFeatures
from pipelines.live.replay import Replay
from pipelines.live.processor import Processor
from skyprophet.adapters.event_log import SCHEMA, EventLog
from skyprophet.adapters.stream import EventStream
from skyprophet.core.config import Settings
from skyprophet.core.events import CLOCK, SCHEDULE, Event, clock, make
from tests.conftest import redis_db_url
from tests.live.conftest import Live, live_setup
from tests.live.running import Running, write
from tests.poison import departure, flight, poison_cases

pytestmark = pytest.mark.live
START = datetime(2013, 12, 16, 0, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=12)
START_S = int(START.timestamp())
CASES = poison_cases(START_S + 3600)


@dataclass
class Fed:
    live: Live
    case_ids: dict[str, str] = field(default_factory=dict)  # poison case -> stream id
    policy_ids: dict[str, str] = field(default_factory=dict)  # policy case -> stream id
    valid: dict[str, Event] = field(default_factory=dict)  # event id -> every valid event written (first copy)
    logs: dict[str, str] = field(default_factory=dict)  # phase -> the processor's log
    dead_id: str = ""
    rebuilt: pd.DataFrame | None = None


def _chunk(replay: Replay, fed: Fed) -> None:
    """The replay's next grid step (its events, then its clock entry)."""
    before = replay.pos
    assert replay.step() is not None, "the replay ran out"
    for e in replay.entries[before:replay.pos]:
        if e.kind != CLOCK:
            fed.valid.setdefault(e.id, e)


def _bad_log_row(live: Live) -> None:
    """A schedule whose origin is a list, in the log as a processor before the contract wrote it."""
    data = {**flight(77, START_S + 7200), "origin": ["EWR"]}
    table = pa.Table.from_pydict({"stream_id": ["1-0"], "id": ["S:UA77:EWR:0"], "kind": [SCHEDULE], "at": [START_S + 7200],
                                  "data": [json.dumps(data)]}, schema=SCHEMA)
    day = live.event_log.events_dir / f"day={START:%Y-%m-%d}"
    day.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, day / "1-0.parquet")


@pytest.fixture(scope="module")
def fed(settings: Settings, canonical: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Fed:
    tmp = tmp_path_factory.mktemp("poison")
    live = live_setup(settings, tmp, redis_url, "poison", START, canonical)
    live.stream.ensure_group()
    out = Fed(live)
    replay = live.replay(END)
    proc_log = tmp / "processor.log"

    # 1. every poison case, each followed by a grid step of valid events; then the policies
    with Running(live, proc_log, "--from", START.isoformat()) as proc:
        proc.started()
        for name, (fields, _) in CASES.items():
            out.case_ids[name] = write(live, fields)
            _chunk(replay, out)
        proc.drained()
        clock_s = (replay.entries[replay.pos - 1].at // 60) * 60
        counted = next(e for e in out.valid.values() if e.kind == "departure")
        late = departure(flight(4242, clock_s - 86_400, carrier="ZZ"), 12)  # a day after its tick: late, counted
        too_late = departure(flight(4343, clock_s - 5 * 86_400, carrier="ZZ"), 7)  # five days: outside the window
        conflicting = departure({k: v for k, v in counted.data.items() if k not in ("actual", "delay")},
                                int(counted.data["delay"]) + 30)
        for name, e in (("late", late), ("five_days_late", too_late), ("conflicting_duplicate", conflicting),
                        ("same_payload_duplicate", counted)):
            out.policy_ids[name] = write(live, e.fields())
        out.valid[late.id] = late
        _chunk(replay, out)
        proc.drained()
        out.logs["fed"] = proc.stop()

    # 2. a restart over a log holding a row that fails the contract, and a build that merges it
    _bad_log_row(live)
    restart_log = tmp / "restart.log"
    with Running(live, restart_log) as proc:
        proc.started()
        _chunk(replay, out)
        proc.drained()
        build_features.build(live.settings, out_dir=tmp / "rebuilt", until=END)
        out.rebuilt = pd.read_parquet(tmp / "rebuilt" / "airline_stats.parquet")

        # 3. killed while it holds a poison entry that killed processors before it
        proc.signal(signal.SIGSTOP)
        poison = make(SCHEDULE, flight(999, clock_s + 900, carrier="ZZ"))
        out.dead_id = write(live, poison.fields())
        _chunk(replay, out)
        s = live.stream
        s.r.xreadgroup(s.group, "processor", {s.name: ">"}, count=10_000)  # delivered to it (once)
        proc.kill()
        s.r.xreadgroup(s.group, "processor", {s.name: "0"}, count=10_000)  # a restart that died on the batch
        s.r.xreadgroup(s.group, "processor", {s.name: "0"}, count=1)  # one that died on the poison alone
        assert s.oldest_pending("processor") == (out.dead_id, 3)
    out.logs["restart"] = restart_log.read_text(errors="replace")

    # 4. restarted: the poison is dead-lettered, the rest drained
    with Running(live, tmp / "after_kill.log") as proc:
        proc.started()
        proc.drained()
        _chunk(replay, out)
        proc.drained()
        out.logs["after_kill"] = proc.stop()
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_poison_entry_is_rejected_with_its_reason_and_the_processor_goes_on(fed: Fed, name: str) -> None:
    rejects = fed.live.event_log.rejects().set_index("stream_id")
    sid = fed.case_ids[name]
    assert sid in rejects.index, f"{name} is not in the rejects"
    assert CASES[name][1] in rejects.loc[sid, "reason"]
    assert sid not in set(fed.live.event_log.read()["stream_id"])


def test_every_valid_event_is_applied_and_logged_and_nothing_stays_pending(fed: Fed) -> None:
    logged = fed.live.event_log.read()
    assert set(logged["id"]) == set(fed.valid)  # the bad row written into the log (phase 2) is not read back
    counts = fed.live.stream.counts()
    assert counts["applied"] == len(fed.valid)
    expected_rejects = len(CASES) + 2 + 1  # the cases, five days late and the conflict, the dead letter
    assert counts["rejected"] == expected_rejects == len(fed.live.event_log.rejects())
    assert counts["dead_lettered"] == 1
    s = fed.live.stream
    assert s.r.xpending(s.name, s.group)["pending"] == 0 and s.lag() == 0


def test_late_duplicate_and_out_of_window_events_meet_their_policy(fed: Fed) -> None:
    rejects = fed.live.event_log.rejects().set_index("stream_id")
    assert "too late to be counted exactly once" in rejects.loc[fed.policy_ids["five_days_late"], "reason"]
    assert "conflicting duplicate" in rejects.loc[fed.policy_ids["conflicting_duplicate"], "reason"]
    for name in ("late", "same_payload_duplicate"):
        assert fed.policy_ids[name] not in rejects.index
    counts = fed.live.stream.counts()
    assert counts["late"] == 1 and counts["duplicates"] == 1
    assert "late 1," in fed.logs["fed"] and "duplicates 1," in fed.logs["fed"]


def test_a_bad_row_in_the_log_is_skipped_and_reported_at_start_and_in_a_build(fed: Fed) -> None:
    assert "1 row(s) fail the event contract and are skipped" in fed.logs["restart"]
    assert "data.origin" in fed.logs["restart"]
    assert fed.rebuilt is not None
    assert "ZZ" in set(fed.rebuilt["carrier"])  # the log's valid events were merged (the late ZZ departure)


def test_an_entry_that_killed_its_processors_is_dead_lettered_and_the_rest_drained(fed: Fed) -> None:
    rejects = fed.live.event_log.rejects().set_index("stream_id")
    assert "dead letter: delivered 4 times" in rejects.loc[fed.dead_id, "reason"]
    logged = fed.live.event_log.read()
    assert fed.dead_id not in set(logged["stream_id"])
    assert "dead-lettered 1)" in fed.logs["after_kill"]


class _Failing(LiveFeatures):
    """Window state with a bug for one event id (the error the contract could not foresee)."""

    def __init__(self, step: int, bad_id: str):
        super().__init__(step)
        self.bad_id = bad_id

    def apply(self, event: Event) -> None:
        if event.id == self.bad_id:
            raise RuntimeError("a bug met by this event alone")
        super().apply(event)


def test_an_error_while_applying_one_event_rejects_that_event_alone(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_db_url(redis_url, "poison-recovery"))
    client.flushdb()
    stream = EventStream(client, name="test:failing")
    stream.ensure_group()
    t0 = START_S
    flights = [make(SCHEDULE, flight(n, t0 + 300 + n * 60)) for n in range(1, 6)]
    bad = flights[2]
    state = _Failing(15, bad.id)
    state.last_tick = t0 // 60
    written: list[tuple[str, int]] = []
    proc = Processor(stream, EventLog(tmp_path / "live"), lambda view, df: written.append((view, len(df))), state, start_s=t0)
    stream.publish([*flights, clock(t0 + 900)])
    assert proc.poll(block_ms=100) == len(flights) + 1
    rejects = proc.event_log.rejects()
    assert len(rejects) == 1 and "failed while applying: RuntimeError: a bug met by this event alone" in rejects["reason"][0]
    assert proc.counts["failed"] == proc.counts["rejected"] == 1 and proc.counts["applied"] == len(flights) - 1
    assert state.scheduled.n.get("EWR") == len(flights) - 1  # the others counted in the window
    assert written and state.last_tick == (t0 + 900) // 60  # the tick was written
    more = make(SCHEDULE, flight(9, t0 + 1200))
    stream.publish([more, clock(t0 + 1800)])
    assert proc.poll(block_ms=100) == 2 and proc.counts["applied"] == len(flights)  # and it goes on
    assert stream.counts()["failed"] == 1 and stream.r.xpending(stream.name, stream.group)["pending"] == 0
