"""``bts``: the US DOT "Reporting Carrier On-Time Performance" CSVs, in both header styles.

The TranStats download names its columns ``FL_DATE, OP_UNIQUE_CARRIER, OP_CARRIER_FL_NUM, ...``;
the monthly zip files ``FlightDate, Reporting_Airline, Flight_Number_Reporting_Airline, ...``.
Times are local ``hhmm`` at each airport on the flight's scheduled date; ``2400`` is the next
midnight. The actual departure is the scheduled one plus ``DEP_DELAY``, never the clock time
``DEP_TIME`` (which rolls past midnight without changing the date); ``DEP_TIME`` is only checked
against it, on the origin's wall clock at that instant (which may have changed since the
scheduled time: a daylight-saving change overnight).
"""

from __future__ import annotations

import pandas as pd

from pipelines.sources.converted import Converted
from pipelines.sources.localtime import arrival_utc, hhmm_minutes, local_minutes, local_to_utc
from skyprophet.core.contract import CONTRACT_VERSION, FLIGHTS
from skyprophet.core.errors import SchemaError
from skyprophet.core.keys import flight_numbers

# contract-side name -> the column of each header style
STYLES: dict[str, dict[str, str]] = {
    "transtats": {
        "date": "FL_DATE", "carrier": "OP_UNIQUE_CARRIER", "flight": "OP_CARRIER_FL_NUM", "tail": "TAIL_NUM",
        "origin": "ORIGIN", "dest": "DEST", "crs_dep": "CRS_DEP_TIME", "dep_time": "DEP_TIME", "dep_delay": "DEP_DELAY",
        "crs_arr": "CRS_ARR_TIME", "arr_time": "ARR_TIME", "arr_delay": "ARR_DELAY", "cancelled": "CANCELLED",
        "diverted": "DIVERTED", "distance": "DISTANCE",
    },
    "monthly": {
        "date": "FlightDate", "carrier": "Reporting_Airline", "flight": "Flight_Number_Reporting_Airline",
        "tail": "Tail_Number", "origin": "Origin", "dest": "Dest", "crs_dep": "CRSDepTime", "dep_time": "DepTime",
        "dep_delay": "DepDelay", "crs_arr": "CRSArrTime", "arr_time": "ArrTime", "arr_delay": "ArrDelay",
        "cancelled": "Cancelled", "diverted": "Diverted", "distance": "Distance",
    },
}
REQUIRED = ("date", "carrier", "flight", "origin", "dest", "crs_dep", "dep_delay", "cancelled", "distance")


def style_of(columns: pd.Index, source: str) -> dict[str, str]:
    """The header style ``columns`` follow (its contract-side -> column map).

    Raises:
        SchemaError: neither style's required columns are all there; names every missing one of
            the style the file is closest to.
    """
    missing = {name: [cols[k] for k in REQUIRED if cols[k] not in columns] for name, cols in STYLES.items()}
    best = min(missing, key=lambda name: len(missing[name]))
    if missing[best]:
        raise SchemaError(f"{source}: not a BTS on-time file: lacks {', '.join(missing[best])} "
                          f"(the {best} header style; contract {CONTRACT_VERSION})")
    return STYLES[best]


def _dates(s: pd.Series) -> pd.Series:
    """Calendar dates: ``2013-01-01``, or the TranStats download's ``1/1/2013 12:00:00 AM``."""
    iso = pd.to_datetime(s, format="ISO8601", errors="coerce")
    us = pd.to_datetime(s.where(iso.isna()).str.split(" ").str[0], format="%m/%d/%Y", errors="coerce")
    return iso.fillna(us).dt.normalize()


def _flag(s: pd.Series) -> pd.Series:
    """0/1 (or 0.00/1.00) as a nullable boolean; blank is null."""
    v = pd.to_numeric(s, errors="coerce")
    return (v == 1).astype("boolean").where(v.isin([0, 1]), pd.NA)


def check(raw: pd.DataFrame, source: str) -> None:
    """Raise SchemaError unless ``raw`` has one header style's required columns."""
    style_of(raw.columns, source)


def airport_codes(raw: pd.DataFrame) -> set[str]:
    """The airport codes (IATA) a file's flights name."""
    cols = style_of(raw.columns, "file")
    return set(pd.concat([raw[cols["origin"]], raw[cols["dest"]]]).dropna().astype(str).str.strip())


def convert(raw: pd.DataFrame, source: str, airports: pd.DataFrame, carriers: dict[str, str] | None = None) -> Converted:
    """One BTS file as contract flights, with the reason each unusable row is rejected (BTS names
    carriers by IATA code already: ``carriers`` is not used)."""
    cols = style_of(raw.columns, source)
    tz_of = dict(zip(airports["faa"], airports["tzone"], strict=True))
    col = {k: raw[c].astype("string").str.strip() if c in raw.columns else pd.Series(pd.NA, index=raw.index, dtype="string")
           for k, c in cols.items()}
    date = _dates(col["date"])
    dep_min = hhmm_minutes(col["crs_dep"])
    flight = flight_numbers(col["flight"])
    cancelled = _flag(col["cancelled"])
    delay = pd.to_numeric(col["dep_delay"], errors="coerce")
    distance = pd.to_numeric(col["distance"], errors="coerce")
    origin_tz, dest_tz = col["origin"].map(tz_of), col["dest"].map(tz_of)
    sched = local_to_utc(date + pd.to_timedelta(dep_min, unit="min"), origin_tz)
    arr_min = hhmm_minutes(col["crs_arr"])
    sched_arr = arrival_utc(sched, date + pd.to_timedelta(arr_min, unit="min"), dest_tz)
    actual_clock = hhmm_minutes(col["dep_time"])
    reasons = [
        ("unparseable date", date.isna()),
        ("impossible scheduled departure time", dep_min.isna()),
        ("malformed flight number (1 to 4 digits and an optional letter)", flight.isna()),
        ("unknown origin airport", origin_tz.isna()),
        ("unknown destination airport", dest_tz.isna()),
        ("cancelled is not 0 or 1", cancelled.isna()),
        ("unparseable departure delay", col["dep_delay"].fillna("").ne("") & delay.isna()),
        ("no departure delay on a flight not cancelled", (cancelled == False) & delay.isna()),  # noqa: E712
        ("unparseable distance", distance.isna()),
        ("impossible scheduled arrival time", col["crs_arr"].fillna("").ne("") & arr_min.isna()),
        ("departure time disagrees with scheduled time + delay",
         (cancelled == False) & actual_clock.notna() & delay.notna()  # noqa: E712
         & (local_minutes(sched + pd.to_timedelta(delay, unit="min"), origin_tz) != (actual_clock % 1440))),
    ]
    arr_delay = pd.to_numeric(col["arr_delay"], errors="coerce")
    flights = pd.DataFrame({
        "carrier": col["carrier"],
        "flight_number": flight,
        "origin": col["origin"],
        "dest": col["dest"],
        "tailnum": col["tail"].where(col["tail"].fillna("") != ""),
        "sched_dep_utc": sched,
        "dep_delay_min": delay.where(cancelled != True),  # noqa: E712
        "cancelled": cancelled.fillna(False).astype(bool),
        "distance": distance,
        "sched_arr_utc": sched_arr,
        "arr_delay_min": arr_delay.astype("float64"),
        "diverted": _flag(col["diverted"]),
    })
    return Converted.of(source, raw, flights, reasons, FLIGHTS)
