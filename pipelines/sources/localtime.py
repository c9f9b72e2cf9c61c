"""Local clock times at an airport into UTC, and back, for every time zone at once.

Sources write times as local ``hhmm`` at the airport. A local time that does not exist (the hour
skipped when clocks go forward) is read as the same wall-clock reading an hour later, as a
schedule written in standard time would mean it; one that occurs twice (the hour repeated when
clocks go back) is read as the first, summer-time occurrence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def hhmm_minutes(s: pd.Series) -> pd.Series:
    """Minutes after local midnight of ``hhmm`` values (``2400`` is the next midnight, 1440);
    NaN where a value is not a time (text, negative, minutes past 59, past 2400)."""
    v = pd.to_numeric(s, errors="coerce")
    hh, mm = v // 100, v % 100
    ok = (v >= 0) & (v == np.floor(v)) & (mm <= 59) & ((hh <= 23) | (v == 2400))
    return (hh * 60 + mm).where(ok)


def local_to_utc(local: pd.Series, tz: pd.Series) -> pd.Series:
    """Naive local timestamps, each in the time zone ``tz`` names on its row, as UTC (NaT where
    either is missing)."""
    out = pd.Series(pd.NaT, index=local.index, dtype="datetime64[us, UTC]")
    known = local.notna() & tz.notna()
    for zone, idx in local[known].groupby(tz[known]).groups.items():
        loc = local.loc[idx]
        utc = loc.dt.tz_localize(str(zone), ambiguous=np.ones(len(loc), dtype=bool), nonexistent=pd.Timedelta(hours=1))
        out.loc[idx] = utc.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return out


def utc_offset_min(utc: pd.Series, tz: pd.Series) -> pd.Series:
    """Each UTC instant's local offset from UTC in minutes, in the time zone ``tz`` names on its row."""
    out = pd.Series(0, index=utc.index, dtype="int64")
    for zone, idx in utc.groupby(tz).groups.items():
        u = utc.loc[idx]
        local = u.dt.tz_convert(str(zone))
        out.loc[idx] = (local.dt.tz_localize(None) - u.dt.tz_localize(None)) // pd.Timedelta(minutes=1)
    return out


def local_minutes(utc: pd.Series, tz: pd.Series) -> pd.Series:
    """Minutes after local midnight of each UTC instant on its row's time zone's wall clock
    (NaN where either is missing)."""
    offset = utc_offset_min(utc.fillna(pd.Timestamp(0, tz="UTC")), tz.fillna("UTC"))
    minutes = (utc.dt.hour * 60 + utc.dt.minute + offset) % 1440
    return minutes.where(utc.notna() & tz.notna())


def arrival_utc(dep_utc: pd.Series, local_arr: pd.Series, dest_tz: pd.Series) -> pd.Series:
    """The scheduled arrival: the local clock time ``local_arr`` at the destination (written on the
    departure's date), on whichever local day puts it soonest after the departure. Sources write an
    arrival past midnight, or one on the day before (westward over the date line), on the
    departure's date; no flight lasts a day. Each day is read on its own wall clock, so a
    daylight-saving change at the destination between the two dates is taken into account."""
    best = pd.Series(pd.NaT, index=dep_utc.index, dtype="datetime64[us, UTC]")
    for days in (-1, 0, 1, 2):
        cand = local_to_utc(local_arr + pd.Timedelta(days=days), dest_tz)
        after = (cand > dep_utc) & (cand - dep_utc <= pd.Timedelta(days=1))
        take = after & (best.isna() | (cand < best))
        best = best.mask(take, cand)
    return best
