"""No feature sees the future: brute-force recomputation and truncation invariance."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.features import build as build_features
from pipelines.features.store import apply
from skyprophet.core.config import FEATURE_SERVICE, Settings
from skyprophet.core.keys import ROW_ID, TIMESTAMP, entity_frame
from skyprophet.adapters.online import model_feature_names
from skyprophet.adapters.store import open_store
from tests.conftest import historical

pytestmark = pytest.mark.integration
GRID = pd.Timedelta(minutes=15)


@pytest.fixture(scope="module")
def grid_rows(canonical: pd.DataFrame) -> pd.DataFrame:
    """600 real flights (cancelled included) re-timed to a random grid-aligned T in 2013."""
    rng = np.random.default_rng(7)
    sample = canonical.sample(600, random_state=7).reset_index(drop=True)
    start = pd.Timestamp("2013-01-02", tz="UTC")
    offsets = rng.integers(0, 362 * 96, len(sample))
    t = start + pd.to_timedelta(offsets * 15, unit="min")
    sample["sched_dep_utc"] = (t + pd.Timedelta(hours=2)).astype("datetime64[us, UTC]")
    return entity_frame(sample, lead_minutes=120)


WX = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")


class Events:
    """The raw events split by each key a feature is computed over, each part kept in the order of
    ``departed`` (by actual departure), so that the departures at or before T are a prefix of it."""

    def __init__(self, ev: pd.DataFrame, departed: pd.DataFrame, wx: pd.DataFrame):
        self._departed = {k: dict(tuple(departed.groupby(k, sort=False))) for k in ("carrier", "origin", "flight_id", "route", "tailnum")}
        self.scheduled = dict(tuple(ev.groupby("origin", sort=False)))  # every flight, departed or not
        self.distances = dict(tuple(ev.groupby("route", sort=False)["distance"]))
        self.weather = dict(tuple(wx.groupby("origin", sort=False)))
        self._empty = departed.iloc[:0]

    def departed_by(self, key: str, value: object, t: pd.Timestamp) -> pd.DataFrame:
        """The departures with ``key == value`` whose actual departure is at or before ``t``."""
        part = self._departed[key].get(value)
        if part is None:
            return self._empty
        return part.iloc[: int(part["actual_dep_utc"].searchsorted(t, side="right"))]


def _expected(events: Events, row: pd.Series) -> dict[str, float | int | None]:
    """Every rolling feature (and the route's distance) at T recomputed from the raw events by its as-of rule."""
    t = row[TIMESTAMP]

    def stats(d: pd.DataFrame, prefix: str, sparse: bool) -> dict[str, float | int | None]:
        n = len(d)
        if n == 0:
            return {f"{prefix}deps": None if sparse else 0, f"{prefix}share": None, f"{prefix}mean": None}
        delays = d["dep_delay_min"].to_numpy()
        return {
            f"{prefix}deps": n,
            f"{prefix}share": float((delays > 15).sum()) / n,
            f"{prefix}mean": float(delays.sum()) / n,
        }

    out: dict[str, float | int | None] = {}
    car = events.departed_by("carrier", row["carrier"], t)
    for w, span in (("1d", pd.Timedelta(days=1)), ("7d", pd.Timedelta(days=7)), ("3h", pd.Timedelta(hours=3))):
        s = stats(car[car["actual_dep_utc"] > t - span], "", False)
        out |= {f"airline_stats__deps_{w}": s["deps"], f"airline_stats__delayed_share_{w}": s["share"],
                f"airline_stats__mean_delay_{w}": s["mean"]}
    s = stats(car[(car["origin"] == row["origin"]) & (car["actual_dep_utc"] > t - pd.Timedelta(hours=2))], "", True)
    out |= {"carrier_origin_recent__deps_2h": s["deps"], "carrier_origin_recent__delayed_share_2h": s["share"],
            "carrier_origin_recent__mean_delay_2h": s["mean"]}
    # the route's distance: the schedule's most frequent value (the smallest among ties), whatever T
    counts = events.distances[row["route"]].value_counts()
    out["route_static__distance"] = float(min(counts[counts == counts.max()].index))
    org = events.scheduled[row["origin"]]
    odep = events.departed_by("origin", row["origin"], t)
    s = stats(odep[odep["actual_dep_utc"] > t - pd.Timedelta(hours=2)], "", False)
    out |= {"origin_ops__deps_2h": s["deps"], "origin_ops__delayed_share_2h": s["share"],
            "origin_ops__mean_delay_2h": s["mean"]}
    out["origin_ops__sched_deps_1h"] = int(((org["sched_dep_utc"] > t - pd.Timedelta(hours=1)) & (org["sched_dep_utc"] <= t)).sum())
    recent = org[(org["sched_dep_utc"] > t - pd.Timedelta(hours=3)) & (org["sched_dep_utc"] <= t)]
    waiting = recent[~(recent["actual_dep_utc"].notna() & (recent["actual_dep_utc"] <= t))]
    out["origin_ops__backlog_3h"] = len(waiting)
    out["origin_ops__late_backlog_3h"] = int((waiting["sched_dep_utc"] <= t - pd.Timedelta(minutes=15)).sum())
    fl = events.departed_by("flight_id", row["flight_id"], t)
    fl = fl[fl["actual_dep_utc"] > t - pd.Timedelta(days=28)]
    s = stats(fl, "", True)
    out |= {"flight_history__deps_28d": s["deps"], "flight_history__delayed_share_28d": s["share"],
            "flight_history__mean_delay_28d": s["mean"]}
    # the route's whole past, as of the latest UTC midnight at or before T
    s = stats(events.departed_by("route", row["route"], t.floor("D")), "", True)
    out |= {"route_history__deps_hist": s["deps"], "route_history__delayed_share_hist": s["share"],
            "route_history__mean_delay_hist": s["mean"]}
    # weather: the latest observation available (hour + 1 h) at or before T, if at most 2 h old
    wx = events.weather.get(row["origin"])
    obs = None if wx is None else wx[(wx["available"] <= t) & (wx["available"] >= t - pd.Timedelta(hours=2))]
    latest = obs.sort_values("available").iloc[-1] if obs is not None and len(obs) else None
    for c in WX:
        out[f"origin_ops__wx_{c}"] = None if latest is None or pd.isna(latest[c]) else float(latest[c])
    # previous departure: kept until the first UTC midnight more than 7 days after it
    pl = events.departed_by("tailnum", row["tailnum"], t)
    midnight = t.floor("D")
    if len(pl) and pl["actual_dep_utc"].iloc[-1] > midnight - pd.Timedelta(days=7):
        out["plane_recent__prev_dep_delay"] = float(pl["dep_delay_min"].iloc[-1])
    else:
        out["plane_recent__prev_dep_delay"] = None
    return out


def _same(a: object, b: object) -> bool:
    if a is None or (isinstance(a, float) and np.isnan(a)) or a is pd.NA:
        return b is None or (isinstance(b, float) and np.isnan(b)) or b is pd.NA
    if b is None or b is pd.NA or (isinstance(b, float) and np.isnan(b)):
        return False
    return bool(a == b)


def test_brute_force_rolling_features(  # type: ignore[no-untyped-def]
    offline_store, canonical: pd.DataFrame, grid_rows: pd.DataFrame, data_dir: Path
) -> None:
    wx = pd.read_parquet(data_dir / "raw" / "weather.parquet")
    wx["available"] = pd.to_datetime(wx["time_hour"], utc=True) + pd.Timedelta(hours=1)
    used = ["carrier", "origin", "tailnum", "sched_dep_utc", "actual_dep_utc", "dep_delay_min", "distance"]
    ev = canonical[used].assign(
        flight_id=canonical["carrier"] + canonical["flight_number"].astype(str),
        route=canonical["origin"] + "-" + canonical["dest"],
    )
    departed = ev[ev["actual_dep_utc"].notna()].sort_values("actual_dep_utc", kind="stable")
    got = historical(offline_store, grid_rows)
    events = Events(ev, departed, wx)
    checked = mismatches = 0
    for i, row in grid_rows.iterrows():
        for name, exp in _expected(events, row).items():
            checked += 1
            if not _same(exp, got.at[i, name]):
                mismatches += 1
                assert mismatches < 1, f"{name} at {row[TIMESTAMP]} for {row.to_dict()}: expected {exp}, got {got.at[i, name]}"
    assert checked >= 500 * 34


def test_truncation_invariance(settings: Settings, tmp_path: Path, canonical: pd.DataFrame) -> None:
    t0 = datetime(2013, 6, 15, 13, 7, tzinfo=timezone.utc)
    trunc_dir = tmp_path / "processed_until"
    build_features.build(settings, trunc_dir, until=t0)
    full = open_store(settings, online="sqlite", data_dir=settings.data_dir)
    cut = open_store(settings, online="sqlite", data_dir=tmp_path)
    apply(cut, settings, trunc_dir)
    flights = canonical[(canonical["sched_dep_utc"] - pd.Timedelta(hours=2) <= t0)]
    # weight the sample towards the last days before the cut-off, where a leak would show
    near = flights[flights["sched_dep_utc"] > t0 - pd.Timedelta(days=2)]
    sample = pd.concat([near.sample(min(600, len(near)), random_state=1), flights.sample(600, random_state=2)])
    rows = entity_frame(sample.drop_duplicates("flight_row_id"), lead_minutes=120)
    assert len(rows) >= 1000 and (rows[TIMESTAMP] <= t0).all()
    a, b = historical(full, rows), historical(cut, rows)
    names = model_feature_names(full.get_feature_service(FEATURE_SERVICE))
    pd.testing.assert_frame_equal(a[[ROW_ID, *names]], b[[ROW_ID, *names]], check_exact=True)
    # the cut-off really removed information: later rows exist only in the full build
    later = pd.read_parquet(settings.processed_dir / "airline_stats.parquet")
    assert later["event_ts"].max() > t0 >= pd.read_parquet(trunc_dir / "airline_stats.parquet")["event_ts"].max()
