"""The stream processor's state at a replay's start, from the flights and weather known then.

The windows at the start reach 29 days back (``FLIGHT_WINDOW`` and a day), so the state is the
route totals of every flight that departed before the seed (a midnight 29 days back) and the
events after it, applied in order. A national year is millions of flights: only four columns of
it are summed, and the events are made and handed over a day at a time (a day's events are a
thirtieth of the 29 days'), so the processor's peak does not hold the month's events at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from pipelines.live.features import LiveFeatures
from pipelines.live.replay import epoch_seconds, timeline
from skyprophet.core.events import CANCELLED_AFTER_S, PLANNED_AHEAD_S, WEATHER_DELAY_S, Event
from skyprophet.core.keys import route_id
from skyprophet.core.windows import DAY, DELAYED_AFTER_MIN, FLIGHT_WINDOW

DAY_S = DAY * 60
SeedDays = Iterator[tuple[int, list[Event]]]


def seeded_state(canonical: pd.DataFrame, weather: pd.DataFrame, start_s: int, step: int) -> tuple[LiveFeatures, SeedDays, int]:
    """The window state before the seed's events, the events of (seed, start_s] a day at a time
    (``seed_days``), and the seed (minutes, a midnight; the state's last tick)."""
    start_min = start_s // 60
    seed = (start_min - FLIGHT_WINDOW - DAY) // DAY * DAY  # a midnight; every window at start fits after it
    sched_s = epoch_seconds(canonical["sched_dep_utc"])
    actual_s = epoch_seconds(canonical["actual_dep_utc"])
    actual = np.where(actual_s >= 0, actual_s // 60, -1)
    known = (sched_s // 60 <= start_min) | ((actual >= 0) & (actual <= start_min))
    state = LiveFeatures(step, carriers=canonical["carrier"][known].unique(), origins=canonical["origin"][known].unique())
    del known
    old = (actual >= 0) & (actual <= seed)
    delay = canonical["dep_delay_min"].to_numpy()[old]
    totals = pd.DataFrame(
        {
            "origin": canonical["origin"][old].reset_index(drop=True),  # Arrow-backed strings stay so (compact)
            "dest": canonical["dest"][old].reset_index(drop=True),
            "n": 1,
            "delayed": (delay > DELAYED_AFTER_MIN).astype(int),
            "total": delay,
        }
    ).groupby(["origin", "dest"], sort=False).sum()
    del old, delay
    routes = route_id(pd.Series(totals.index.get_level_values("origin")), pd.Series(totals.index.get_level_values("dest")))
    for route, n, delayed, total in zip(routes, totals["n"], totals["delayed"], totals["total"], strict=True):
        state.routes[route] = [int(n), int(delayed), float(total)]
    state.last_tick = seed
    return state, seed_days(canonical, weather, seed * 60, start_s), seed


def seed_days(canonical: pd.DataFrame, weather: pd.DataFrame, after_s: int, until_s: int) -> SeedDays:
    """``timeline(canonical, weather, after_s, until_s)`` cut into days: (the day's end in
    minutes, its events) for each day (lo, lo + 1 day] from ``after_s``, the last one ending at
    ``until_s``. Each day's events come from the flights and weather hours with one in it (a
    superset of ``flight_events``' and ``weather_events``' own windows, which then decide)."""
    sched_s = epoch_seconds(canonical["sched_dep_utc"])
    actual_s = epoch_seconds(canonical["actual_dep_utc"])
    arrived_s = epoch_seconds(canonical["actual_arr_utc"]) if "actual_arr_utc" in canonical else np.full(len(canonical), -1)
    hours = epoch_seconds(pd.to_datetime(weather["time_hour"], utc=True, format="ISO8601"))
    for lo in range(after_s, until_s, DAY_S):
        hi = min(lo + DAY_S, until_s)
        flights = ((sched_s > lo - CANCELLED_AFTER_S) & (sched_s <= hi + PLANNED_AHEAD_S)) | ((actual_s > lo) & (actual_s <= hi)) | (
            (arrived_s > lo) & (arrived_s <= hi))
        hourly = (hours > lo - WEATHER_DELAY_S - 3600) & (hours <= hi)
        yield hi // 60, timeline(canonical[flights], weather[hourly], lo, hi)
