"""The aircraft's inbound leg (the ``inbound_leg`` table): for each flight, what is known at each grid
point of the leg its aircraft flies into the flight's origin before it.

The inbound leg L of a flight F is the latest leg of F's tail number scheduled before F, when it
lands at F's origin and was scheduled to leave at most ``INBOUND_MAX_GAP`` before F (and no other
leg of the tail shares its scheduled time: an ambiguous rotation has no inbound leg). The rotation
is known with the timetable, ``ROTATION_KNOWN`` (a day) before F; L's departure delay is known
from its actual departure, its arrival delay from its actual arrival (only for a leg with a
scheduled arrival after its departure, as the event stream carries it).

Rows are keyed by F's identity (``departure_id``: carrier + number, origin and scheduled departure
in seconds) at grid points g <= F's scheduled departure: the first grid point at or after the
rotation is known, the grid points at or after L's departure and arrival, and every UTC midnight
between them (the day bucket's heartbeat). Each row holds what is known at g
(``skyprophet.core.windows.inbound_values``, the stream's definition too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.features.timeline import ceil_grid, epoch_minutes, from_minutes
from skyprophet.core.keys import departure_ids
from skyprophet.core.windows import DAY, INBOUND_COLUMNS, INBOUND_MAX_GAP, ROTATION_KNOWN, inbound_values


def _legs(canonical: pd.DataFrame, until_min: int | None) -> pd.DataFrame:
    """Every flight with a tail number, by (tail, scheduled departure), with what is known of it
    (times in minutes; -1 or NaN when unknown, or later than ``until_min``)."""
    c = canonical[canonical["tailnum"].notna()]
    sched = epoch_minutes(c["sched_dep_utc"])
    sched_arr = epoch_minutes(c["sched_arr_utc"])
    sched_arr = np.where(sched_arr > sched, sched_arr, -1)  # a scheduled arrival is one after the departure
    actual = epoch_minutes(c["actual_dep_utc"])
    arrived = epoch_minutes(c["actual_arr_utc"])
    arr_delay = c["arr_delay_min"].to_numpy(dtype="float64")
    arrived = np.where((actual >= 0) & (sched_arr >= 0) & ~np.isnan(arr_delay), arrived, -1)
    if until_min is not None:
        actual = np.where(actual <= until_min, actual, -1)
        arrived = np.where(arrived <= until_min, arrived, -1)
    legs = pd.DataFrame({
        "tail": c["tailnum"].astype(str).to_numpy(), "sched": sched, "origin": c["origin"].astype(str).to_numpy(),
        "dest": c["dest"].astype(str).to_numpy(), "sched_arr": sched_arr, "actual": actual,
        "dep_delay": np.where(actual >= 0, c["dep_delay_min"].to_numpy(dtype="float64"), np.nan),
        "arrived": arrived, "arr_delay": np.where(arrived >= 0, arr_delay, np.nan),
        "id": departure_ids(c, c["sched_dep_utc"]),
    })
    return legs.sort_values(["tail", "sched"], kind="stable").reset_index(drop=True)


def rotations(canonical: pd.DataFrame, until_min: int | None = None) -> pd.DataFrame:
    """Each flight with an inbound leg: the flight's identity and scheduled departure, and the leg's
    scheduled arrival, departure and arrival (as ``_legs``)."""
    legs = _legs(canonical, until_min)
    groups = legs.groupby(["tail", "sched"], sort=False)
    first = np.arange(len(legs)) - groups.cumcount().to_numpy()  # the first leg sharing its tail and time
    alone = groups["sched"].transform("size").to_numpy() == 1
    prev = first - 1  # the latest leg of an earlier time
    p = np.maximum(prev, 0)
    tail, sched = legs["tail"].to_numpy(), legs["sched"].to_numpy()
    ok = (prev >= 0) & (tail[p] == tail) & alone[p]
    ok &= legs["dest"].to_numpy()[p] == legs["origin"].to_numpy()
    ok &= sched - sched[p] <= INBOUND_MAX_GAP
    f, leg = np.flatnonzero(ok), p[ok]
    out = pd.DataFrame({"departure_id": legs["id"].to_numpy()[f], "sched": sched[f]})
    for col in ("sched_arr", "actual", "dep_delay", "arrived", "arr_delay"):
        out[col] = legs[col].to_numpy()[leg]
    return out


def inbound_leg(canonical: pd.DataFrame, step: int, end: int, until_min: int | None = None) -> pd.DataFrame:
    """The ``inbound_leg`` table (see the module docstring), rows at grid points <= ``end``."""
    r = rotations(canonical, until_min)
    known = ceil_grid(r["sched"].to_numpy() - ROTATION_KNOWN, step)
    sched = r["sched"].to_numpy()
    times = [known]
    for col in ("actual", "arrived"):
        t = r[col].to_numpy()
        times.append(np.where(t >= 0, np.maximum(ceil_grid(t, step), known), known))
    first_midnight = ceil_grid(known, DAY)
    times += [first_midnight, first_midnight + DAY]
    n = len(r)
    idx = np.tile(np.arange(n), len(times))
    g = np.concatenate(times)
    keep = (g <= sched[idx]) & (g <= end)
    pairs = np.unique(np.stack([idx[keep], g[keep]], axis=1), axis=0) if keep.any() else np.empty((0, 2), dtype=np.int64)
    i, g = pairs[:, 0], pairs[:, 1]
    dep = np.where((r["actual"].to_numpy()[i] >= 0) & (r["actual"].to_numpy()[i] <= g), r["dep_delay"].to_numpy()[i], np.nan)
    arr = np.where((r["arrived"].to_numpy()[i] >= 0) & (r["arrived"].to_numpy()[i] <= g), r["arr_delay"].to_numpy()[i], np.nan)
    sched_arr = r["sched_arr"].to_numpy()[i]
    turn = np.where(sched_arr >= 0, (sched[i] - sched_arr).astype(np.float64), np.nan)
    values = inbound_values(turn, dep, arr)
    out = pd.DataFrame({"departure_id": r["departure_id"].to_numpy()[i], "event_ts": from_minutes(g)})
    for name, v in zip(INBOUND_COLUMNS, values, strict=True):
        out[name] = v
    return out
