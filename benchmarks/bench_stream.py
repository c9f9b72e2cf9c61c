"""The stream processor against Feast's standard way to keep an online store fresh, in one run.

- ``december_replay_s``: December 2013 replayed at max speed into Redis, every tick's rows
  written, from the first entry published to the processor's last tick (the processor runs as
  ``skyprophet live stream``; its start-up, which rebuilds the state from the raw data, is not counted).
- ``tick_cost_ratio``: the peer's cost per tick (``features build --until g`` then an incremental
  materialization of the last grid step into Redis) over the processor's (December's processing
  time divided by its ticks).
- ``lag_p99_ms``: at speed 600, from a clock entry's XADD to the rows of that tick in Redis (the
  processor in this process, the replay in a thread).
- ``peak_rss_mb``: the processor's peak RSS (its own VmHWM) over the month, beside the same over
  one week.

Writes ``reports/bench/stream.json``. Needs Redis at REDIS_URL (database 11 is used and emptied).
``--smoke``: one day and two days instead of a week and the month, one peer tick, one hour of lag
(reports/bench/smoke/stream.json); fails when a figure is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pandas as pd
import redis

from benchmarks.smoke import report_path, require
from pipelines.features import build as build_features
from pipelines.features.store import apply, materialize
from pipelines.live.replay import Replay, prepare
from pipelines.live.processor import Processor
from skyprophet.adapters.event_log import EventLog
from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.store import online_writer, open_store
from skyprophet.adapters.stream import EventStream
from skyprophet.core.config import Settings, get_settings

DECEMBER = datetime(2013, 12, 1, tzinfo=timezone.utc)
CLI = str(Path(sys.executable).with_name("skyprophet"))


def _setup(settings: Settings, tmp: Path, start: datetime) -> tuple[Settings, Any, EventStream]:
    url = settings.redis_url.rsplit("/", 1)[0] + "/11"
    client = redis.Redis.from_url(url)
    client.flushdb()
    tmp.mkdir(parents=True, exist_ok=True)
    if not (tmp / "raw").exists():
        (tmp / "raw").symlink_to(settings.raw_dir.resolve())
    s = settings.model_copy(update={"redis_url": url, "data_dir": tmp, "stream_name": "bench:events"})
    build_features.build(s, until=start)
    return (s, *loaded_at(s, client, start))


def loaded_at(s: Settings, client: redis.Redis, start: datetime) -> tuple[Any, EventStream]:
    """The online store (Redis at ``s.redis_url``) loaded with the day up to ``start`` from the built
    tables, and the settings' stream emptied with its consumer group: where a processor starts."""
    store = open_store(s, online="redis", registry_ttl_s=600)
    apply(store, s)
    materialize(store, start, start=start - timedelta(days=1), chunk=timedelta(days=1), show_progress=False)
    stream = EventStream(client, name=s.stream_name)
    stream.reset()
    stream.ensure_group()
    return store, stream


def timed_processor(s: Settings, stream: EventStream, start: datetime, end: datetime,
                    entries: Callable[[], list[Any]]) -> tuple[float, float, str, int]:
    """``skyprophet live stream`` over (start, end] as a process of its own, fed ``entries()`` at max
    speed once its state is rebuilt (the start-up is not counted): the seconds from the first entry
    published to its exit, its own peak RSS in MB, its closing log line and the entries sent."""
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(s.data_dir), "REDIS_URL": s.redis_url, "SKYPROPHET_STREAM_NAME": s.stream_name}
    proc = subprocess.Popen([CLI, "live", "stream", "--from", start.isoformat(), "--to", end.isoformat()],
                            env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the state is rebuilt
        if line.startswith("processor at"):
            break
    sent = entries()
    t0 = time.perf_counter()
    Replay(stream, sent).run()
    rest = proc.stderr.read()
    proc.wait()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(rest[-3000:])
    rss_mb = float(rest.rsplit("peak RSS ", 1)[1].split()[0])  # the processor's own figure
    return wall, rss_mb, rest.strip().splitlines()[-1], len(sent)


def _replay_subprocess(settings: Settings, days: int) -> dict[str, float]:
    """The processor as a process over ``days`` of December at max speed: wall time and peak RSS."""
    with tempfile.TemporaryDirectory() as d:
        s, _, stream = _setup(settings, Path(d), DECEMBER)
        end = DECEMBER + timedelta(days=days)
        wall, rss_mb, _, sent = timed_processor(s, stream, DECEMBER, end, lambda: prepare(
            read_canonical(s.canonical_path), pd.read_parquet(s.raw_dir / "weather.parquet"),
            int(DECEMBER.timestamp()), int(end.timestamp()), s.grid_minutes))
        ticks = days * 96
        return {"wall_s": wall, "ticks": ticks, "entries": sent, "peak_rss_mb": rss_mb, "s_per_tick": wall / ticks}


def _peer(settings: Settings, n: int = 3) -> dict[str, Any]:
    """features build --until g + incremental materialization of the last step, per tick."""
    times = []
    with tempfile.TemporaryDirectory() as d:
        start = DECEMBER + timedelta(days=10)
        s, store, _ = _setup(settings, Path(d), start)
        for i in range(1, n + 1):
            g = start + timedelta(minutes=s.grid_minutes * i)
            t0 = time.perf_counter()
            build_features.build(s, until=g)
            materialize(store, g, chunk=timedelta(days=1), show_progress=False)
            times.append(time.perf_counter() - t0)
    return {"s_per_tick_median": statistics.median(times), "samples_s": times}


def _lag(settings: Settings, hours: int = 3, speed: float = 600.0) -> dict[str, float]:
    """Clock entry XADD -> that tick's rows in Redis, at ``speed``."""
    with tempfile.TemporaryDirectory() as d:
        start = DECEMBER + timedelta(days=20)
        s, store, stream = _setup(settings, Path(d), start)
        canonical = read_canonical(s.canonical_path)
        weather = pd.read_parquet(s.raw_dir / "weather.parquet")
        written: dict[int, float] = {}
        proc = Processor.start(stream, EventLog(s.live_dir), online_writer(store), canonical, weather, int(start.timestamp()),
                               s.grid_minutes, on_tick=lambda g: written.__setitem__(g * 60, time.perf_counter()))
        end = start + timedelta(hours=hours)
        replay = Replay(stream, prepare(canonical, weather, int(start.timestamp()), int(end.timestamp()), s.grid_minutes), speed=speed)
        t = threading.Thread(target=replay.run)
        t.start()
        while (proc.state.last_tick or 0) < int(end.timestamp()) // 60:
            proc.poll(block_ms=20)
        t.join()
        lags = sorted((written[g] - replay.sent_at[g]) * 1000 for g in written if g in replay.sent_at)
        return {"ticks": len(lags), "p50_ms": lags[len(lags) // 2], "p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
                "max_ms": lags[-1]}


SMOKE_FIGURES = ["december_replay_s", "processor_s_per_tick", "peer_s_per_tick", "tick_cost_ratio", "lag_p99_ms", "peak_rss_mb",
                 "peak_rss_week_mb", "rss_month_over_week"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="days instead of a week and a month (make bench-smoke)")
    args = parser.parse_args(argv)
    settings = get_settings()
    week = _replay_subprocess(settings, 1 if args.smoke else 7)
    month = _replay_subprocess(settings, 2 if args.smoke else 31)
    peer = _peer(settings, 1 if args.smoke else 3)
    lag = _lag(settings, hours=1 if args.smoke else 3)
    report = {
        "december_replay_s": round(month["wall_s"], 2),
        "december": month,
        "week": week,
        "processor_s_per_tick": month["s_per_tick"],
        "peer_s_per_tick": peer["s_per_tick_median"],
        "peer": peer,
        "tick_cost_ratio": round(peer["s_per_tick_median"] / month["s_per_tick"], 1),
        "lag_p99_ms": round(lag["p99_ms"], 1),
        "lag": lag,
        "peak_rss_mb": round(month["peak_rss_mb"], 1),
        "peak_rss_week_mb": round(week["peak_rss_mb"], 1),
        "rss_month_over_week": round(month["peak_rss_mb"] / week["peak_rss_mb"], 3),
        "targets": {"december_replay_s": "<= 60", "tick_cost_ratio": ">= 50", "lag_p99_ms": "<= 250", "peak_rss_mb": "<= 1024",
                    "rss_month_over_week": "<= 1.10"},
    }
    out = report_path("stream", args.smoke)
    out.write_text(json.dumps({"smoke": args.smoke, **report}, indent=2))
    print(render(month, week, peer, lag))  # noqa: T201
    print(f"wrote {out}")  # noqa: T201
    require("bench_stream", report, SMOKE_FIGURES)


def render(month: dict[str, Any], week: dict[str, Any], peer: dict[str, Any], lag: dict[str, Any]) -> str:
    return "\n".join([
        f"{'':28}{'processor':>14}{'peer (build + materialize)':>30}",
        f"{'s per tick':28}{month['s_per_tick']:>14.4f}{peer['s_per_tick_median']:>30.2f}",
        f"December at max speed: {month['wall_s']:.1f} s ({month['entries']} entries, {month['ticks']} ticks)",
        f"lag at 600x: p50 {lag['p50_ms']:.1f} ms, p99 {lag['p99_ms']:.1f} ms",
        f"peak RSS: month {month['peak_rss_mb']:.0f} MB, week {week['peak_rss_mb']:.0f} MB",
    ])


if __name__ == "__main__":
    main()
