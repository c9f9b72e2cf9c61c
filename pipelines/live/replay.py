"""The replay clock: 2013's events, in the order they became known, onto the event stream.

One producer of the event contract (``skyprophet.core.events``): timetable and schedule entries,
departures, arrivals, cancellations and weather observations from the ingested tables, each at its
availability time,
with a ``clock`` entry at every grid point. ``speed`` is simulated seconds per wall second
(``None``: as fast as the processor takes them). ``Replay.step()`` publishes one grid step at a
time, for tests.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from skyprophet.adapters.stream import EventStream
from skyprophet.core.config import Settings
from skyprophet.core.events import ARRIVAL, CANCELLATION, DEPARTURE, PLANNED, PLANNED_AHEAD_S, SCHEDULE, WEATHER, Event, clock, make
from skyprophet.core.windows import WEATHER_COLUMNS

log = logging.getLogger(__name__)


def epoch_seconds(ts: pd.Series) -> np.ndarray:
    """UTC timestamps -> int64 seconds since the epoch (-1 for null)."""
    out = np.full(len(ts), -1, dtype=np.int64)
    ok = ts.notna().to_numpy()
    out[ok] = ts[ok].astype("datetime64[s, UTC]").astype("int64").to_numpy()
    return out


def flight_events(canonical: pd.DataFrame, after_s: int | None = None, until_s: int | None = None) -> list[tuple[int, int, Event]]:
    """(at, source order, event) of every flight event with ``after_s < at <= until_s``."""
    c = canonical
    sched = epoch_seconds(c["sched_dep_utc"])
    actual = epoch_seconds(c["actual_dep_utc"])
    sched_arr = epoch_seconds(c["sched_arr_utc"]) if "sched_arr_utc" in c else np.full(len(c), -1, dtype=np.int64)
    arrived = epoch_seconds(c["actual_arr_utc"]) if "actual_arr_utc" in c else np.full(len(c), -1, dtype=np.int64)
    arr_delay = c["arr_delay_min"].to_numpy(dtype="float64") if "arr_delay_min" in c else np.full(len(c), np.nan)
    tail = c["tailnum"].astype(object).where(c["tailnum"].notna(), None).to_numpy(dtype=object)
    cols = zip(
        c["carrier"].to_numpy(dtype=object), c["flight_number"].to_numpy(), c["origin"].to_numpy(dtype=object),
        c["dest"].to_numpy(dtype=object), tail, sched, c["distance"].to_numpy(), c["utc_offset_min"].to_numpy(),
        actual, c["dep_delay_min"].to_numpy(), c["cancelled"].to_numpy(), sched_arr, arrived, arr_delay,
    )
    lo = -(2**62) if after_s is None else after_s
    hi = 2**62 if until_s is None else until_s
    out = []
    for i, (car, num, org, dst, tl, s, dist, off, act, delay, cancelled, sa, arr, adelay) in enumerate(cols):
        flight = {
            "carrier": car, "flight_number": str(num), "origin": org, "dest": dst, "tailnum": tl, "sched": int(s),
            "distance": None if dist != dist else float(dist), "utc_offset_min": int(off),
            "sched_arr": int(sa) if sa > s else None,
        }
        if lo < s - PLANNED_AHEAD_S <= hi:
            out.append((int(s) - PLANNED_AHEAD_S, 5 * i, make(PLANNED, flight)))
        if lo < s <= hi:
            out.append((int(s), 5 * i + 1, make(SCHEDULE, flight)))
        if act >= 0 and lo < act <= hi:
            out.append((int(act), 5 * i + 2, make(DEPARTURE, {**flight, "actual": int(act), "delay": float(delay)})))
        elif act < 0 and cancelled:
            e = make(CANCELLATION, flight)
            if lo < e.at <= hi:
                out.append((e.at, 5 * i + 3, e))
        if act >= 0 and flight["sched_arr"] is not None and arr >= 0 and adelay == adelay and lo < arr <= hi:
            out.append((int(arr), 5 * i + 4, make(ARRIVAL, {**flight, "arrived": int(arr), "arr_delay": float(adelay)})))
    return out


def weather_events(weather: pd.DataFrame, after_s: int | None = None, until_s: int | None = None) -> list[tuple[int, int, Event]]:
    hours = epoch_seconds(pd.to_datetime(weather["time_hour"], utc=True, format="ISO8601"))
    values = weather[list(WEATHER_COLUMNS)].astype("float64").to_numpy()
    origins = weather["origin"].astype(str).to_numpy()
    lo = -(2**62) if after_s is None else after_s
    hi = 2**62 if until_s is None else until_s
    out = []
    for i, (o, h, v) in enumerate(zip(origins, hours, values, strict=True)):
        data = {"origin": o, "hour": int(h), **{c: (None if math.isnan(x) else float(x)) for c, x in zip(WEATHER_COLUMNS, v, strict=True)}}
        e = make(WEATHER, data)
        if lo < e.at <= hi:
            out.append((e.at, 10**9 + i, e))
    return out


def timeline(canonical: pd.DataFrame, weather: pd.DataFrame, after_s: int | None = None, until_s: int | None = None) -> list[Event]:
    """Every event available in (after_s, until_s], in availability order (ties: source order)."""
    items = flight_events(canonical, after_s, until_s) + weather_events(weather, after_s, until_s)
    items.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in items]


def with_clock(events: list[Event], start_s: int, end_s: int, step_min: int) -> Iterator[Event]:
    """The events with a clock entry at every grid point in (start_s, end_s], placed after every
    event known at it (the watermark)."""
    step = step_min * 60
    g = (start_s // step + 1) * step
    for e in events:
        while g < e.at and g <= end_s:
            yield clock(g)
            g += step
        yield e
    while g <= end_s:
        yield clock(g)
        g += step


@dataclass
class Replay:
    """Publishes a prepared timeline, paced by ``speed`` (simulated s per wall s; None = max)."""

    stream: EventStream
    entries: list[Event]
    speed: float | None = None
    batch: int = 500
    max_lag: int = 0  # wait while the group has more unread entries than this (0: half the retention)
    pos: int = 0
    published: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)  # clock entry -> wall time it was sent

    def step(self) -> int | None:
        """Publish up to and including the next clock entry; its time (None at the end)."""
        chunk = []
        while self.pos < len(self.entries):
            e = self.entries[self.pos]
            self.pos += 1
            chunk.append(e)
            if e.kind == "clock":
                self._send(chunk)
                return e.at
        self._send(chunk)
        return None

    def run(self) -> int:
        """Publish everything; the number of entries."""
        t0, sim0 = time.perf_counter(), None
        limit = self.max_lag or self.stream.retention // 2
        while self.pos < len(self.entries):
            chunk = self.entries[self.pos : self.pos + self.batch]
            if self.speed is not None:
                # stop the chunk at its first clock entry, and send it when the wall clock says so
                for i, e in enumerate(chunk):
                    if e.kind == "clock":
                        chunk = chunk[: i + 1]
                        break
                last = chunk[-1].at
                sim0 = last if sim0 is None else sim0
                wait = t0 + (last - sim0) / self.speed - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            while self.stream.lag() > limit:  # backpressure: never let retention trim unread entries
                time.sleep(0.05)
            self.pos += len(chunk)
            self._send(chunk)
        return self.published

    def _send(self, chunk: list[Event]) -> None:
        if not chunk:
            return
        self.stream.publish(chunk)
        now = time.perf_counter()
        for e in chunk:
            if e.kind == "clock":
                self.sent_at[e.at] = now
        self.published += len(chunk)


def prepare(canonical: pd.DataFrame, weather: pd.DataFrame, start_s: int, end_s: int, step_min: int) -> list[Event]:
    """The replay of (start_s, end_s]: its events and clock entries."""
    return list(with_clock(timeline(canonical, weather, start_s, end_s), start_s, end_s, step_min))


def replay(settings: Settings, start: datetime, end: datetime, speed: float | None) -> Replay:
    """Replay the ingested year's events in (start, end] onto the settings' stream.

    Args:
        settings: Redis URL, stream name and retention, raw data, grid step.
        start: the instant the online store was loaded up to (events after it are published).
        end: the last instant replayed.
        speed: simulated seconds per wall second; None for as fast as the processor reads.
    """
    from skyprophet.adapters.parquet import read_canonical

    stream = EventStream.from_url(settings.redis_url, name=settings.stream_name, retention=settings.stream_retention)
    entries = prepare(
        read_canonical(settings.canonical_path), pd.read_parquet(settings.raw_dir / "weather.parquet"),
        int(start.timestamp()), int(end.timestamp()), settings.grid_minutes,
    )
    replay = Replay(stream, entries, speed=speed)
    log.info("replaying %d entries from %s to %s at %s", len(entries), start, end, "max speed" if speed is None else f"{speed:g}x")
    replay.run()
    return replay
