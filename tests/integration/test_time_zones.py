"""Any number of origins and time zones: a generated data set (generated, for correctness only) in
the BTS format, with origins in six zones: New York and Phoenix (no daylight saving), Honolulu
(UTC-10, none), Santiago and Sydney (southern hemisphere, their own changes), Auckland (UTC+12/+13).
Flights sit on every 2013 daylight-saving change of those zones and around local midnight
(``2400`` included). The expected UTC instants come from Python's ``zoneinfo`` (PEP 495: a
wall-clock time in a skipped hour is read with the offset before the change, fold 0 for a
repeated one), not from the adapter's pandas code. Then the as-of rule holds on it: the
feature tables built only from events up to T0 give every flight at or before T0 the same
features as the tables built from everything."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from pipelines.features import build as build_features
from pipelines.features.ingest import ingest
from pipelines.features.store import apply
from pipelines.sources.bts import STYLES
from pipelines.sources.spec import Sources
from skyprophet.adapters.online import model_feature_names
from skyprophet.adapters.store import open_store
from skyprophet.core.config import FEATURE_SERVICE, Settings
from skyprophet.core.keys import ROW_ID, TIMESTAMP, entity_frame
from tests.conftest import historical

pytestmark = pytest.mark.integration

ZONES = {"JFK": "America/New_York", "PHX": "America/Phoenix", "HNL": "Pacific/Honolulu", "SCL": "America/Santiago",
         "SYD": "Australia/Sydney", "AKL": "Pacific/Auckland"}
# 2013's changes: US 10 Mar / 3 Nov; Chile 28 Apr / 8 Sep; Sydney 7 Apr / 6 Oct; Auckland 7 Apr / 29 Sep
CHANGES = [date(2013, 3, 10), date(2013, 11, 3), date(2013, 4, 28), date(2013, 9, 8), date(2013, 4, 7), date(2013, 10, 6),
           date(2013, 9, 29)]
DAYS = sorted({d + timedelta(days=k) for d in CHANGES for k in range(-3, 4)})
T0 = datetime(2013, 10, 1, 3, 7, tzinfo=timezone.utc)
TIMES = [0, 5, 130, 159, 200, 230, 259, 300, 330, 600, 915, 1200, 1545, 1800, 2130, 2345, 2359, 2400]


def _utc(day: date, hhmm: int, zone: str) -> datetime:
    """The instant a schedule's local ``hhmm`` on ``day`` names (``2400``: the next midnight)."""
    if hhmm == 2400:
        day, hhmm = day + timedelta(days=1), 0
    return datetime(day.year, day.month, day.day, hhmm // 100, hhmm % 100, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The BTS file, and the truth: each flight's scheduled departure and arrival in UTC."""
    rng = np.random.default_rng(2013)
    rows, truth = [], []
    dests = list(ZONES)
    for day in DAYS:
        for origin, zone in ZONES.items():
            for k, hhmm in enumerate(TIMES):
                dest = dests[(dests.index(origin) + 1 + k % 5) % len(dests)]
                dep = _utc(day, hhmm, zone)
                block = timedelta(minutes=int(rng.integers(45, 15 * 60)))
                arr_local = (dep + block).astimezone(ZoneInfo(ZONES[dest]))
                cancelled = rng.random() < 0.03
                delay = None if cancelled else int(rng.choice([-5, 0, 3, 10, 20, 45, 90, 200]))
                clock = None if delay is None else (dep + timedelta(minutes=delay)).astimezone(ZoneInfo(zone))
                rows.append({
                    "FlightDate": day.isoformat(), "Reporting_Airline": ["AA", "QF", "LA", "NZ"][k % 4],
                    "Flight_Number_Reporting_Airline": str(100 + k), "Tail_Number": f"N{k % 9}{dests.index(origin)}",
                    "Origin": origin, "Dest": dest, "CRSDepTime": f"{hhmm:04d}",
                    "DepTime": "" if clock is None else f"{clock.hour * 100 + clock.minute:04d}",
                    "DepDelay": "" if delay is None else str(delay), "CRSArrTime": f"{arr_local.hour * 100 + arr_local.minute:04d}",
                    "ArrTime": "", "ArrDelay": "", "Cancelled": "1" if cancelled else "0", "Diverted": "0",
                    "Distance": str(500 + 37 * (dests.index(origin) * 7 + dests.index(dest))),
                })
                # an arrival in a repeated hour is ambiguous on the wall clock: the rule reads the first (fold 0)
                arrival = arr_local.replace(fold=0).astimezone(timezone.utc)
                assert arrival > dep
                truth.append({"carrier": rows[-1]["Reporting_Airline"], "flight_number": str(100 + k), "origin": origin,
                              "sched_dep_utc": pd.Timestamp(dep), "sched_arr_utc": pd.Timestamp(arrival),
                              "offset": int(dep.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() // 60)})
    folder = tmp_path_factory.mktemp("zones")
    assert set(STYLES["monthly"].values()) <= set(rows[0])
    pd.DataFrame(rows).to_csv(folder / "flights.csv", index=False)
    return folder / "flights.csv", pd.DataFrame(truth)


@pytest.fixture(scope="module")
def zoned(generated: tuple[Path, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(data_dir=tmp_path_factory.mktemp("zoned-data"))
    ingest(settings, Sources(flights={"format": "bts", "paths": [str(generated[0])]}))
    return settings


def test_every_utc_time_is_right(zoned: Settings, generated: tuple[Path, pd.DataFrame]) -> None:
    _, truth = generated
    canonical = pd.read_parquet(zoned.canonical_path)
    assert len(canonical) == len(truth) == len(DAYS) * len(ZONES) * len(TIMES)  # nothing rejected
    key = ["carrier", "flight_number", "origin", "sched_dep_utc"]
    got = canonical.merge(truth.astype({"sched_dep_utc": "datetime64[us, UTC]", "sched_arr_utc": "datetime64[us, UTC]"}),
                          on=key, how="outer", indicator=True, suffixes=("", "_true"))
    assert (got["_merge"] == "both").all(), got[got["_merge"] != "both"][key + ["_merge"]].head()
    assert (got["sched_arr_utc"] == got["sched_arr_utc_true"]).all()
    assert (got["utc_offset_min"] == got["offset"]).all()
    assert set(got["utc_offset_min"]) >= {-600, -420, -300, -240, -180, 600, 660, 720, 780}  # every zone, both sides of its change


def test_no_feature_sees_past_t0(zoned: Settings, tmp_path: Path) -> None:
    build_features.build(zoned, live=False)
    cut_dir = tmp_path / "processed_until"
    build_features.build(zoned, cut_dir, until=T0, live=False)
    full = open_store(zoned, online="sqlite", data_dir=zoned.data_dir)
    apply(full, zoned)
    cut = open_store(zoned, online="sqlite", data_dir=tmp_path)
    apply(cut, zoned, cut_dir)
    canonical = pd.read_parquet(zoned.canonical_path)
    rows = entity_frame(canonical, lead_minutes=120)
    rows = rows[rows[TIMESTAMP] <= T0].reset_index(drop=True)
    assert len(rows) > 1000
    a, b = historical(full, rows), historical(cut, rows)
    names = model_feature_names(full.get_feature_service(FEATURE_SERVICE))
    pd.testing.assert_frame_equal(a[[ROW_ID, *names]], b[[ROW_ID, *names]], check_exact=True)
    # the weather is missing (no source), not an error; the flights' own history is there
    assert a["origin_ops__wx_temp"].isna().all() and a["airline_stats__deps_7d"].max() > 0
