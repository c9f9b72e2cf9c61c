"""The time-varying feature tables kept up to date event by event (the stream processor's state).

``LiveFeatures.apply(event)`` takes the events in availability order; ``tick(g)`` then returns
the rows that ``build_features`` writes at grid point g, for every view, with the same columns
and values. The state is bounded by the windows (7 days of carrier departures, 28 of flight
numbers, a week of aircraft, the route totals): nothing rebuilds the history per tick.

The windows themselves are ``skyprophet.core.windows``: one definition for batch and stream.
``tests/integration/test_live_features.py`` replays the whole year through this class and
compares every row with the batch build.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.live.inbound import Rotations
from skyprophet.core.events import ARRIVAL, CANCELLATION, CLOCK, DEPARTURE, PLANNED, SCHEDULE, WEATHER, Event, flight_identity
from skyprophet.core.keys import as_of_day, carrier_origin_id, flight_id, route_id
from skyprophet.core.windows import (
    AIRLINE_WINDOWS,
    BACKLOG_WINDOW,
    CARRIER_ORIGIN_WINDOW,
    DAY,
    DELAYED_AFTER_MIN,
    FLIGHT_WINDOW,
    INBOUND_COLUMNS,
    LATE_AFTER_MIN,
    ORIGIN_DEP_WINDOW,
    ORIGIN_SCHED_WINDOW,
    PLANE_ACTIVE,
    WEATHER_COLUMNS,
    WEATHER_MAX_AGE,
)

NAN = float("nan")
# The time-varying tables, in build_features' order, with their entity column.
VIEWS = {
    "airline_stats": "carrier",
    "origin_ops": "airport",
    "flight_history": "flight_id",
    "route_history": "route",
    "plane_recent": "tailnum",
    "carrier_origin_recent": "carrier_origin",
    "inbound_leg": "departure_id",
}
_WINDOW = ("deps", "delayed_share", "mean_delay")
COLUMNS = {
    "airline_stats": [f"{s}_{w}" for w in AIRLINE_WINDOWS for s in _WINDOW],
    "origin_ops": ["sched_deps_1h", "deps_2h", "delayed_share_2h", "mean_delay_2h", "backlog_3h", "late_backlog_3h",
                   *(f"wx_{c}" for c in WEATHER_COLUMNS)],
    "flight_history": [f"{s}_28d" for s in _WINDOW],
    "route_history": [f"{s}_hist" for s in _WINDOW],
    "plane_recent": ["prev_dep_delay", "prev_dep_ts"],
    "carrier_origin_recent": [f"{s}_2h" for s in _WINDOW],
    "inbound_leg": list(INBOUND_COLUMNS),
}
# Counts that are null, not 0, when the window is empty (sparse views, as the batch writes them).
NULLABLE_COUNTS = {"flight_history": "deps_28d", "carrier_origin_recent": "deps_2h", "route_history": "deps_hist"}


class Windows:
    """Departures of many keys in (g - width, g]: per key the count, delayed count and delay
    total, updated as departures come in and leave (one queue for all keys, in time order)."""

    def __init__(self, width: int):
        self.width = width
        self.queue: deque[tuple[int, str, float]] = deque()
        self.n: dict[str, int] = {}
        self.delayed: dict[str, int] = {}
        self.total: dict[str, float] = {}

    def add(self, key: str, t: int, delay: float) -> None:
        item = (t, key, delay)
        if self.queue and t < self.queue[-1][0]:  # a late event: keep the queue in time order
            self.queue.insert(bisect.bisect_right(self.queue, t, key=lambda x: x[0]), item)
        else:
            self.queue.append(item)
        self.n[key] = self.n.get(key, 0) + 1
        self.delayed[key] = self.delayed.get(key, 0) + (delay > DELAYED_AFTER_MIN)
        self.total[key] = self.total.get(key, 0.0) + delay

    def expire(self, g: int) -> list[str]:
        """Drop departures at or before g - width; the keys that lost some."""
        limit = g - self.width
        q, out = self.queue, []
        while q and q[0][0] <= limit:
            _, key, delay = q.popleft()
            out.append(key)
            left = self.n[key] - 1
            if left == 0:  # reset, so sums never carry rounding from departed values
                del self.n[key], self.delayed[key], self.total[key]
            else:
                self.n[key] = left
                self.delayed[key] -= delay > DELAYED_AFTER_MIN
                self.total[key] -= delay
        return out

    def stats(self, key: str) -> tuple[int, float, float]:
        n = self.n.get(key, 0)
        if n == 0:
            return 0, NAN, NAN
        return n, self.delayed[key] / n, self.total[key] / n


@dataclass
class _Rows:
    """Rows of one view, column by column."""

    keys: list[str] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    values: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, key: str, t: int, values: tuple[Any, ...]) -> None:
        self.keys.append(key)
        self.times.append(t)
        self.values.append(values)

    def extend(self, other: _Rows) -> None:
        self.keys.extend(other.keys)
        self.times.extend(other.times)
        self.values.extend(other.values)

    def __len__(self) -> int:
        return len(self.keys)


class LiveFeatures:
    """The state of every time-varying view, advanced by events and grid ticks.

    ``carriers`` and ``origins`` seed the dense views' entities (the batch build writes a row
    for every carrier and origin it knows, active or not); any flight event adds to them.
    """

    def __init__(self, step: int, carriers: Iterable[str] = (), origins: Iterable[str] = ()):
        self.step = step
        self.last_tick: int | None = None
        self.carriers: set[str] = set(carriers)
        self.origins: set[str] = set(origins)
        self.airline = {name: Windows(w) for name, w in AIRLINE_WINDOWS.items()}
        self.scheduled = Windows(ORIGIN_SCHED_WINDOW)
        self.origin_deps = Windows(ORIGIN_DEP_WINDOW)
        self.pending: dict[str, dict[str, int]] = {}  # origin -> flight identity -> scheduled minute
        self.departed: dict[str, int] = {}  # identities that left (-> scheduled minute), until out of the backlog
        self.weather: dict[str, tuple[int, tuple[float, ...]]] = {}
        self.flights = Windows(FLIGHT_WINDOW)
        self.carrier_origin = Windows(CARRIER_ORIGIN_WINDOW)
        self.co_last: dict[str, int] = {}
        self.planes: dict[str, tuple[int, float]] = {}
        self.routes: dict[str, list[float]] = {}  # route -> [count, delayed, delay total]
        self.new_flights: set[str] = set()
        self.new_planes: set[str] = set()
        self.rotations = Rotations()  # the aircraft's inbound legs

    # ------------------------------------------------------------------ events

    def apply(self, event: Event) -> None:
        """Count one event (availability order; the caller drops duplicates by id)."""
        kind, d = event.kind, event.data
        if kind == CLOCK:
            return
        if kind == PLANNED:  # the timetable: the departures board, and each aircraft's rotation
            self.rotations.planned(d, flight_identity(d))
            return
        if kind == ARRIVAL:
            self.rotations.outcome(flight_identity(d), 1, float(d["arr_delay"]))
            return
        if kind == WEATHER:
            if d["origin"] in self.origins:
                self.weather[d["origin"]] = (event.at_min, tuple(_num(d.get(c)) for c in WEATHER_COLUMNS))
            return
        carrier, origin = str(d["carrier"]), str(d["origin"])
        self.carriers.add(carrier)
        self.origins.add(origin)
        sched = int(d["sched"]) // 60
        ident = flight_identity(d)
        if kind == SCHEDULE:
            self.scheduled.add(origin, sched, 0.0)
            if ident not in self.departed:
                self.pending.setdefault(origin, {})[ident] = sched
        elif kind == DEPARTURE:
            self._departure(d, carrier, origin, sched, ident)
        elif kind != CANCELLATION:  # a cancelled flight stays pending until it leaves the backlog
            raise ValueError(f"unknown event kind {kind!r}")

    def _departure(self, d: dict[str, Any], carrier: str, origin: str, sched: int, ident: str) -> None:
        t = int(d["actual"]) // 60
        delay = float(d["delay"])
        for w in self.airline.values():
            w.add(carrier, t, delay)
        self.origin_deps.add(origin, t, delay)
        self.pending.get(origin, {}).pop(ident, None)
        self.departed[ident] = sched
        self.rotations.outcome(ident, 0, delay)
        fid = flight_id(carrier, str(d["flight_number"]))  # validated: canonical
        self.flights.add(fid, t, delay)
        self.new_flights.add(fid)
        co = carrier_origin_id(carrier, origin)
        self.carrier_origin.add(co, t, delay)
        self.co_last[co] = max(t, self.co_last.get(co, t))
        tail = d.get("tailnum")
        if tail:
            if tail not in self.planes or t >= self.planes[tail][0]:
                self.planes[tail] = (t, delay)
            self.new_planes.add(tail)
        totals = self.routes.setdefault(route_id(origin, str(d["dest"])), [0, 0, 0.0])
        totals[0] += 1
        totals[1] += delay > DELAYED_AFTER_MIN
        totals[2] += delay

    # ------------------------------------------------------------------ ticks

    def tick(self, g: int, emit: bool = True) -> dict[str, _Rows]:
        """Advance to grid point g (minutes since the epoch) and return its rows by view
        (nothing when ``emit`` is false: a bootstrap only moves the state)."""
        out = {view: _Rows() for view in VIEWS}
        for w in self.airline.values():
            w.expire(g)
        self.scheduled.expire(g)
        self.origin_deps.expire(g)
        self.carrier_origin.expire(g)
        exits = set(self.flights.expire(g))
        self._expire_backlog(g)
        midnight = g % DAY == 0
        if emit:
            self._dense_rows(g, out)
            self._flight_rows(g, exits, midnight, out["flight_history"])
            self._carrier_origin_rows(g, out["carrier_origin_recent"])
            self._plane_rows(g, midnight, out["plane_recent"])
            if midnight:
                for route in sorted(self.routes):
                    n, delayed, total = self.routes[route]
                    out["route_history"].add(route, g, (int(n), delayed / n, total / n))
            self.rotations.rows(g, midnight, out["inbound_leg"].add)
        else:
            self._prune_co(g)
        if midnight:
            stale = [p for p, (t, _) in self.planes.items() if t <= g - PLANE_ACTIVE]
            for p in stale:
                del self.planes[p]
        self.new_flights.clear()
        self.new_planes.clear()
        self.rotations.advance(g)
        self.last_tick = g
        return out

    def _expire_backlog(self, g: int) -> None:
        gone = g - BACKLOG_WINDOW
        for flights in self.pending.values():
            old = [k for k, s in flights.items() if s <= gone]
            for k in old:
                del flights[k]
        if self.departed and len(self.departed) > 4096:
            self.departed = {k: s for k, s in self.departed.items() if s > gone}

    def _dense_rows(self, g: int, out: dict[str, _Rows]) -> None:
        rows = out["airline_stats"]
        for c in sorted(self.carriers):
            values: list[Any] = []
            for w in self.airline.values():
                values.extend(w.stats(c))
            rows.add(c, g, tuple(values))
        rows = out["origin_ops"]
        late_after = g - LATE_AFTER_MIN
        for o in sorted(self.origins):
            pend = self.pending.get(o, {})
            wx = self.weather.get(o)
            weather = wx[1] if wx is not None and wx[0] >= g - WEATHER_MAX_AGE else (NAN,) * len(WEATHER_COLUMNS)
            rows.add(o, g, (
                self.scheduled.n.get(o, 0),
                *self.origin_deps.stats(o),
                len(pend),
                sum(1 for s in pend.values() if s <= late_after),
                *weather,
            ))

    def _flight_rows(self, g: int, exits: set[str], midnight: bool, rows: _Rows) -> None:
        keys = self.new_flights | exits
        if midnight:
            keys |= self.flights.n.keys()
        for f in sorted(keys):
            rows.add(f, g, self.flights.stats(f))

    def _prune_co(self, g: int) -> list[str]:
        """Keys whose last departure is recent enough for a row at g (a row at every grid point
        in [ceil(a), ceil(a + 2 h)] of each departure a, as the batch writes them)."""
        horizon = g - CARRIER_ORIGIN_WINDOW - self.step
        gone = [k for k, t in self.co_last.items() if t <= horizon]
        for k in gone:
            del self.co_last[k]
        return sorted(self.co_last)

    def _carrier_origin_rows(self, g: int, rows: _Rows) -> None:
        for k in self._prune_co(g):
            rows.add(k, g, self.carrier_origin.stats(k))

    def _plane_rows(self, g: int, midnight: bool, rows: _Rows) -> None:
        keys = set(self.new_planes)
        if midnight:
            keys |= {p for p, (t, _) in self.planes.items() if t > g - PLANE_ACTIVE}
        for p in sorted(keys):
            t, delay = self.planes[p]
            rows.add(p, g, (delay, t * 60))


def _num(v: Any) -> float:
    return NAN if v is None else float(v)


def frames(batches: Iterable[dict[str, _Rows]]) -> dict[str, pd.DataFrame]:
    """The rows of many ticks as tables shaped like build_features' (columns and dtypes)."""
    merged: dict[str, _Rows] = {v: _Rows() for v in VIEWS}
    for batch in batches:
        for view, rows in batch.items():
            merged[view].extend(rows)
    return {view: table(view, rows) for view, rows in merged.items()}


def table(view: str, rows: _Rows) -> pd.DataFrame:
    """One view's rows as a frame: entity, as_of_day, event_ts, then the features."""
    cols = COLUMNS[view]
    minutes = np.asarray(rows.times, dtype=np.int64)
    ts = pd.Series(pd.to_datetime(minutes * 60, unit="s", utc=True)).astype("datetime64[us, UTC]")
    day = as_of_day(ts).to_numpy()  # the batch build's own day key (strftime of each row was most of a year's frames)
    values = list(zip(*rows.values, strict=True)) if rows.values else [() for _ in cols]
    out: dict[str, Any] = {VIEWS[view]: np.asarray(rows.keys, dtype=object), "as_of_day": day, "event_ts": ts}
    for name, col in zip(cols, values, strict=True):
        out[name] = _column(view, name, col)
    return pd.DataFrame(out)


def _column(view: str, name: str, values: tuple[Any, ...] | list[Any]) -> Any:
    if name == NULLABLE_COUNTS.get(view):
        n = np.asarray(values, dtype=np.int64)
        return pd.Series(n, dtype="Int64").where(n > 0, pd.NA).array
    if name.startswith("deps_") or name in ("sched_deps_1h", "backlog_3h", "late_backlog_3h", "prev_dep_ts", "inbound_departed",
                                            "inbound_arrived"):
        return np.asarray(values, dtype=np.int64)
    return np.asarray(values, dtype=np.float64)
