"""``scl``: the format of the original SkyProphet data set (Santiago, SCEL).

Columns ``Fecha-I, Vlo-I, Ori-I, Des-I, Emp-I, Fecha-O, Vlo-O, Ori-O, Des-O, Emp-O, DIA, MES,
AÑO, DIANOM, TIPOVUELO, OPERA, SIGLAORI, SIGLADES``: ``-I`` is the schedule, ``-O`` the flight
as operated (known only once it departed). Airports and airlines are ICAO codes (``SCEL``,
``LAN``), mapped to IATA (``airportsdata``; for airlines the carriers file's ``icao`` column,
then OpenFlights' list of active airlines bundled in ``data/airlines.csv``). Times are local and
naive in the origin's time zone. The departure delay is ``Fecha-O`` - ``Fecha-I``. No tail
number, no cancellations; the distance is the great-circle distance between the airports.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.sources.airports import great_circle_mi, iata_of_icao
from pipelines.sources.converted import Converted
from pipelines.sources.localtime import local_to_utc
from skyprophet.core.contract import CONTRACT_VERSION, FLIGHTS
from skyprophet.core.errors import SchemaError
from skyprophet.core.keys import flight_numbers

COLUMNS = ("Fecha-I", "Vlo-I", "Ori-I", "Des-I", "Emp-I", "Fecha-O", "Vlo-O", "Ori-O", "Des-O", "Emp-O",
           "DIA", "MES", "AÑO", "DIANOM", "TIPOVUELO", "OPERA", "SIGLAORI", "SIGLADES")
REQUIRED = ("Fecha-I", "Vlo-I", "Ori-I", "Des-I", "Emp-I", "Fecha-O")


@lru_cache(maxsize=1)
def airline_iata() -> dict[str, str]:
    """ICAO airline code -> IATA code, from OpenFlights' active airlines (``data/airlines.csv``)."""
    table = pd.read_csv(Path(__file__).with_name("data") / "airlines.csv", dtype=str, keep_default_na=False)
    return dict(zip(table["icao"], table["iata"], strict=True))


def check(raw: pd.DataFrame, source: str) -> None:
    """Raise SchemaError naming every required SCL column ``raw`` lacks."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise SchemaError(f"{source}: not an SCL file: lacks {', '.join(missing)} (expected {', '.join(COLUMNS)}; "
                          f"contract {CONTRACT_VERSION})")


def airport_codes(raw: pd.DataFrame) -> set[str]:
    """The IATA codes of the ICAO airport codes a file names (the ones ``airportsdata`` knows)."""
    icao = pd.concat([raw["Ori-I"], raw["Des-I"]]).dropna().astype(str).str.strip().unique()
    return set(iata_of_icao(icao).values())


def convert(raw: pd.DataFrame, source: str, airports: pd.DataFrame, carriers: dict[str, str] | None = None) -> Converted:
    """One SCL file as contract flights; ``carriers`` (ICAO -> IATA, from the carriers file) wins
    over the bundled list."""
    check(raw, source)
    s = {c: raw[c].astype("string").str.strip() for c in REQUIRED}
    icao_ap = iata_of_icao(pd.concat([s["Ori-I"], s["Des-I"]]).dropna().unique())
    origin, dest = s["Ori-I"].map(icao_ap), s["Des-I"].map(icao_ap)
    ap = airports.set_index("faa")
    airline = {**airline_iata(), **(carriers or {})}
    carrier = s["Emp-I"].map(airline)
    sched_local = pd.to_datetime(s["Fecha-I"], format="ISO8601", errors="coerce")
    oper_local = pd.to_datetime(s["Fecha-O"], format="ISO8601", errors="coerce")
    delay = (oper_local - sched_local) / pd.Timedelta(minutes=1)
    flight = flight_numbers(s["Vlo-I"])
    tz = origin.map(ap["tzone"])
    distance = great_circle_mi(origin.map(ap["lat"]), origin.map(ap["lon"]), dest.map(ap["lat"]), dest.map(ap["lon"]))
    reasons = [
        ("unparseable scheduled time", sched_local.isna()),
        ("unparseable operated time", oper_local.isna()),
        ("unknown origin airport", origin.isna() | tz.isna()),
        ("unknown destination airport", dest.isna() | dest.map(ap["tzone"]).isna()),
        ("airline code has no IATA code (add it to the airlines file's icao column)", carrier.isna()),
        ("malformed flight number (1 to 4 digits and an optional letter)", flight.isna()),
    ]
    flights = pd.DataFrame({
        "carrier": carrier,
        "flight_number": flight,
        "origin": origin, "dest": dest,
        "tailnum": pd.Series(pd.NA, index=raw.index, dtype="string"),
        "sched_dep_utc": local_to_utc(sched_local, tz),
        "dep_delay_min": delay.astype("float64"),
        "cancelled": False,
        "distance": distance,
        "sched_arr_utc": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]"),
        "arr_delay_min": np.nan,
        "diverted": pd.Series(pd.NA, index=raw.index, dtype="boolean"),
    })
    return Converted.of(source, raw, flights, reasons, FLIGHTS)
