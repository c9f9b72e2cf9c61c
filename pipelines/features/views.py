"""The feature views, one function each, and ``build_tables``, which yields them one at a time.

Each row is what was known at its ``event_ts`` (the as-of rule: see ``pipelines.features.build``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pandas as pd

from pipelines.features.inbound import inbound_leg
from pipelines.features.timeline import (
    Events,
    KeyedSeries,
    Timeline,
    by_partition,
    ceil_grid,
    codes_in,
    day_runs,
    dense_points,
    dense_view,
    departures,
    epoch_minutes,
    factorize_ints,
    floor_grid,
    from_minutes,
    grid_points,
    interval_counts,
    load_events,
    partition_bands,
    per_pair,
    sparse_points,
    time_ordered,
    window_view,
    with_day,
)
from skyprophet.core.errors import NoData
from skyprophet.core.keys import route_id
from skyprophet.core.windows import (
    AIRLINE_WINDOWS,
    BACKLOG_WINDOW,
    CARRIER_ORIGIN_WINDOW,
    DAY,
    DELAYED_AFTER_MIN,
    FLIGHT_WINDOW,
    LATE_AFTER_MIN,
    ORIGIN_DEP_WINDOW,
    ORIGIN_SCHED_WINDOW,
    PLANE_ACTIVE,
    WEATHER_COLUMNS,
    WEATHER_DELAY,
    WEATHER_MAX_AGE,
)

STATIC_TS = pd.Timestamp("2000-01-01", tz="UTC")


def airline_stats(ev: Events, grid: np.ndarray) -> pd.DataFrame:
    """Departures of each carrier in the last 1 and 7 days and 3 hours, at every grid point."""
    dep = ev.departed
    codes, carriers = factorize_ints(ev.carrier)
    deps = Timeline(codes[dep], ev.actual[dep], ev.delay[dep])

    def part(g: np.ndarray, band: tuple[int, int]) -> pd.DataFrame:
        ks = KeyedSeries(*deps.band(band, max(AIRLINE_WINDOWS.values())))
        qc, qt = dense_points(len(carriers), g)
        out = {"carrier": carriers[qc], "event_ts": from_minutes(qt)}
        for name, window in AIRLINE_WINDOWS.items():
            n, share, mean = ks.window_stats(qc, qt, window)
            out[f"deps_{name}"] = n
            out[f"delayed_share_{name}"] = share
            out[f"mean_delay_{name}"] = mean
        return pd.DataFrame(out)

    return dense_view(part, grid)


def origin_ops(ev: Events, weather: pd.DataFrame, grid: np.ndarray, step: int, until_min: int | None) -> pd.DataFrame:
    """Schedule pressure, recent departures and weather at each origin, at every grid point."""
    codes, origins = factorize_ints(ev.origin)
    scheduled = Timeline(codes, ev.sched)
    dep = ev.departed
    deps = Timeline(codes[dep], ev.actual[dep], ev.delay[dep])
    # A flight is in the backlog at g when sched <= g < sched + 3 h and it has not departed by g.
    not_before = np.where(dep, ev.actual, np.iinfo(np.int64).max // 4)
    backlog_end = np.minimum(ev.sched + BACKLOG_WINDOW, np.maximum(not_before, ev.sched))
    late_end = np.minimum(ev.sched + BACKLOG_WINDOW, np.maximum(not_before, ev.sched + LATE_AFTER_MIN))
    backlog = interval_counts(codes, ev.sched, backlog_end, len(origins), grid, step)
    late = interval_counts(codes, ev.sched + LATE_AFTER_MIN, late_end, len(origins), grid, step)
    observations = weather_timeline(weather, origins, until_min)

    def part(g: np.ndarray, band: tuple[int, int]) -> pd.DataFrame:
        qc, qt = dense_points(len(origins), g)
        rows = slice(*np.searchsorted(grid, [g[0], g[-1] + 1]))
        n, share, mean = KeyedSeries(*deps.band(band, ORIGIN_DEP_WINDOW)).window_stats(qc, qt, ORIGIN_DEP_WINDOW)
        return pd.DataFrame(
            {
                "airport": origins[qc],
                "event_ts": from_minutes(qt),
                "sched_deps_1h": KeyedSeries(*scheduled.band(band, ORIGIN_SCHED_WINDOW)).count(qc, qt, ORIGIN_SCHED_WINDOW),
                "deps_2h": n,
                "delayed_share_2h": share,
                "mean_delay_2h": mean,
                "backlog_3h": backlog[rows].ravel(),
                "late_backlog_3h": late[rows].ravel(),
                **weather_on_grid(observations, len(origins), g, band),
            }
        )

    return dense_view(part, grid)


def weather_timeline(weather: pd.DataFrame, origins: np.ndarray, until_min: int | None) -> Timeline:
    """The weather observations of ``origins`` by the time they become available (label + 1 h)."""
    avail = epoch_minutes(pd.to_datetime(weather["time_hour"], utc=True, format="ISO8601")) + WEATHER_DELAY
    stations = weather["origin"].astype(str).to_numpy()
    values = weather[list(WEATHER_COLUMNS)].astype("float64").to_numpy()
    keep = np.isin(stations, origins)
    if until_min is not None:
        keep &= avail <= until_min
    return Timeline(codes_in(stations[keep], origins), avail[keep], values[keep])


def weather_on_grid(observations: Timeline, n_origins: int, grid: np.ndarray, band: tuple[int, int]) -> dict[str, np.ndarray]:
    """At each (origin, grid point g) of a band: the latest observation available at or before g.

    An observation labelled hour H is available at H + 1 h; it is used while at most two hours
    old (one missing hour is tolerated), else the values are null.
    """
    codes, avail, values = observations.band(band, WEATHER_MAX_AGE + 1)
    ks = KeyedSeries(codes, avail)
    vals = values[ks.order]
    qc, qt = dense_points(n_origins, grid)
    lo, hi = ks.bounds(qc, qt, WEATHER_MAX_AGE + 1)  # observations in (g - 121, g], i.e. [g - 120, g]
    found = hi > lo
    out = {}
    for i, col in enumerate(WEATHER_COLUMNS):
        v = np.full(len(qc), np.nan)
        v[found] = vals[hi[found] - 1, i]
        out[f"wx_{col}"] = v
    return out


def airport_static(airports: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "airport": airports["faa"].astype(str),
            "event_ts": STATIC_TS,
            "lat": airports["lat"].astype("float64"),
            "lon": airports["lon"].astype("float64"),
            "alt": airports["alt"].astype("float64"),
        }
    ).astype({"event_ts": "datetime64[us, UTC]"})


def plane_static(planes: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tailnum": planes["tailnum"].astype(str),
            "event_ts": STATIC_TS,
            "year_built": planes["year"].astype("float64"),
            "seats": planes["seats"].astype("int64"),
            "engines": planes["engines"].astype("int64"),
            "manufacturer": planes["manufacturer"].astype(str),
        }
    ).astype({"event_ts": "datetime64[us, UTC]"})


def flight_history(ev: Events, step: int, end: int, start: int) -> pd.DataFrame:
    """Each flight number's departures over the last 28 days."""
    deps = departures(ev, ev.flight_id)
    return by_partition(lambda band: window_view("flight_id", deps, FLIGHT_WINDOW, "28d", step, end, band), start, end)


def carrier_origin_recent(ev: Events, step: int, end: int, start: int) -> pd.DataFrame:
    """Each carrier's departures at each airport over the last 2 hours, on the grid while any."""
    deps = departures(ev, ev.carrier_origin)
    return by_partition(
        lambda band: window_view("carrier_origin", deps, CARRIER_ORIGIN_WINDOW, "2h", step, end, band, on_grid=True), start, end
    )


def route_static(canonical: pd.DataFrame) -> pd.DataFrame:
    """Each route's distance: the schedule's most frequent value for it (reference data, like
    the airport and plane tables, so built from the whole schedule whatever the cut-off)."""
    routes = pd.Series(per_pair(canonical["origin"], canonical["dest"], route_id), index=canonical.index)
    counts = canonical.groupby([routes.rename("route"), "distance"]).size().rename("n").reset_index()
    top = counts.sort_values(["route", "n", "distance"], ascending=[True, False, True]).drop_duplicates("route")
    return pd.DataFrame(
        {"route": top["route"].astype(str).to_numpy(), "event_ts": STATIC_TS, "distance": top["distance"].astype("float64").to_numpy()}
    ).astype({"event_ts": "datetime64[us, UTC]"})


def route_history(ev: Events, end: int, start: int) -> pd.DataFrame:
    """Each route's departures over all of its past, as of each UTC midnight.

    A slowly moving aggregate: a daily grid keeps it to one row per route and day, which
    keeps the point-in-time join to one candidate row per flight. Built band by band: each band
    adds its own departures to the running totals of everything before it.
    """
    deps = departures(ev, ev.route)
    codes, routes = factorize_ints(deps.keys)
    first = np.full(len(routes), np.iinfo(np.int64).max)
    np.minimum.at(first, codes, deps.times)
    first_row = ceil_grid(first, DAY)  # a route has a row every midnight from its first departure on
    n_before = np.zeros(len(routes), dtype=np.int64)
    delayed_before = np.zeros(len(routes), dtype=np.int64)
    delay_before = np.zeros(len(routes))
    frames = []
    for lo, hi in partition_bands(start, end):  # lo is a midnight
        a, b = np.searchsorted(deps.times, [lo, hi], side="left")
        c, t, d = codes[a:b], deps.times[a:b], deps.values[a:b]
        s0 = np.maximum(first_row, lo)
        count = np.where(s0 <= min(hi - 1, end), (min(hi - 1, end) - s0) // DAY + 1, 0)
        qc, qt = day_runs(np.arange(len(routes), dtype=np.int64), s0, count)
        ks = KeyedSeries(c, t, d)
        lo_i, hi_i = ks.bounds(qc, qt, None)
        n = n_before[qc] + (hi_i - lo_i)
        delayed = delayed_before[qc] + (ks.cs_delayed[hi_i] - ks.cs_delayed[lo_i])
        total = delay_before[qc] + (ks.cs_delay[hi_i] - ks.cs_delay[lo_i])
        frames.append(time_ordered(pd.DataFrame({
            "route": routes[qc],
            "event_ts": from_minutes(qt),
            "deps_hist": pd.array(n, dtype="Int64"),
            "delayed_share_hist": delayed / n,
            "mean_delay_hist": total / n,
        })))
        n_before += np.bincount(c, minlength=len(routes))
        delayed_before += np.bincount(c, weights=d > DELAYED_AFTER_MIN, minlength=len(routes)).astype(np.int64)
        delay_before += np.bincount(c, weights=d, minlength=len(routes))
    out = pd.concat(frames, ignore_index=True)
    out.attrs["time_ordered"] = True
    return out


def plane_recent(ev: Events, step: int, end: int, start: int) -> pd.DataFrame:
    """Each aircraft's latest departure: its delay and when it left."""
    deps = departures(ev, ev.tailnum)
    return by_partition(lambda band: _plane_recent(deps, step, end, band), start, end)


def _plane_recent(deps: Timeline, step: int, end: int, band: tuple[int, int]) -> pd.DataFrame:
    # Rows exist while the last departure is at most PLANE_ACTIVE old: that is the lookback.
    keys, times, delays = deps.band(band, PLANE_ACTIVE + step + DAY)
    codes, vocab = factorize_ints(keys)
    ks = KeyedSeries(codes, times, delays)
    qc, qt = sparse_points(codes, times, step, end, active_for=PLANE_ACTIVE, exits=None, band=band)
    lo, hi = ks.bounds(qc, qt, None)
    assert np.all(hi > lo), "every plane row follows one of its departures"
    last = hi - 1
    return pd.DataFrame(
        {
            "tailnum": vocab[qc],
            "event_ts": from_minutes(qt),
            "prev_dep_delay": ks.delays[last],
            "prev_dep_ts": ks.times[last] * 60,
        }
    )


# What build_tables yields, in order.
TABLES = (
    "airline_stats", "origin_ops", "airport_static", "flight_history", "route_history", "plane_static", "plane_recent",
    "carrier_origin_recent", "route_static", "inbound_leg",
)


def build_tables(
    canonical: pd.DataFrame,
    weather: pd.DataFrame,
    planes: pd.DataFrame,
    airports: pd.DataFrame,
    *,
    until: datetime | None = None,
    grid_minutes: int = 15,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Compute the feature tables one at a time from in-memory inputs (see the module docstring).

    A generator, so that a caller that writes each table before asking for the next holds one
    output table at a time.
    """
    step = grid_minutes
    until_min = None if until is None else int(pd.Timestamp(until).tz_convert("UTC").timestamp() // 60)
    ev = load_events(canonical, until_min)
    if len(ev.sched) == 0:
        raise NoData("no flights at or before the cut-off")
    known = np.concatenate([ev.sched, ev.actual[ev.departed]])
    start = int(floor_grid(int(known.min()), DAY))
    end = int(ceil_grid(np.array([known.max()]), step)[0]) + DAY
    if until_min is not None:
        end = min(end, int(floor_grid(until_min, step)))
    grid = grid_points(start, end, step)
    yield "airline_stats", with_day(airline_stats(ev, grid))
    yield "origin_ops", with_day(origin_ops(ev, weather, grid, step, until_min))
    yield "airport_static", airport_static(airports)
    yield "flight_history", with_day(flight_history(ev, step, end, start))
    yield "route_history", with_day(route_history(ev, end, start))
    yield "plane_static", plane_static(planes)
    yield "plane_recent", with_day(plane_recent(ev, step, end, start))
    yield "carrier_origin_recent", with_day(carrier_origin_recent(ev, step, end, start))
    yield "route_static", route_static(canonical)
    yield "inbound_leg", with_day(inbound_leg(canonical, step, end, until_min))
