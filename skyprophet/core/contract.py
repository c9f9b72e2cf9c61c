"""The data contract: the tables every source adapter produces and every stage after ingest reads.

One definition, in code, of each table's columns (name, type, unit, whether it may be null,
what it means). Ingest checks each adapter's output against it before anything is written
(``check``), and the documentation's contract page is generated from it
(``skyprophet data contract``), so the two cannot disagree.

The version is ``CONTRACT_VERSION``: a column added with a null default is a minor change
(``1.x``), a column renamed, removed or retyped is a major one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from skyprophet.core.errors import SchemaError

CONTRACT_VERSION = "1.0"

Kind = Literal["text", "int", "float", "bool", "utc"]

_DTYPES: dict[Kind, str] = {
    "text": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "utc": "datetime64[us, UTC]",
}


@dataclass(frozen=True)
class Column:
    """One column: its type, its unit (None where it has none), and whether it may be null."""

    name: str
    kind: Kind
    meaning: str
    unit: str | None = None
    nullable: bool = False

    @property
    def dtype(self) -> str:
        return _DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    """A contract table: its columns in order and the columns that identify a row."""

    name: str
    meaning: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


FLIGHTS = Table(
    "flights",
    "One scheduled departure per row, cancelled ones included. Times are UTC; the adapters convert "
    "each source's local clock times with the airport's time zone.",
    (
        Column("carrier", "text", "the operating carrier's IATA code (two characters)"),
        Column("flight_number", "text", "the flight number as the carrier writes it, without the carrier code: one to four "
               "digits and an optional letter (1545, 1545A); leading zeros are dropped (0123 is 123)"),
        Column("origin", "text", "the departure airport's IATA code"),
        Column("dest", "text", "the arrival airport's IATA code"),
        Column("tailnum", "text", "the aircraft's registration (tail number), when the source has it", nullable=True),
        Column("sched_dep_utc", "utc", "scheduled departure"),
        Column("dep_delay_min", "float", "departure delay; null when cancelled", "minutes", nullable=True),
        Column("cancelled", "bool", "never departed: in the schedule, never a departure, never labelled"),
        Column("distance", "float", "great-circle distance between the airports", "statute miles"),
        Column("sched_arr_utc", "utc", "scheduled arrival, where the source has it", nullable=True),
        Column("arr_delay_min", "float", "arrival delay, where the source has it", "minutes", nullable=True),
        Column("diverted", "bool", "landed somewhere other than `dest`, where the source says", nullable=True),
    ),
    ("carrier", "flight_number", "origin", "sched_dep_utc"),
)

AIRPORTS = Table(
    "airports",
    "Every airport a flight departs from or arrives at. A user's airports file wins over the "
    "reference (`airportsdata`), which completes it.",
    (
        Column("faa", "text", "the airport's IATA (or FAA) code, as flights name it"),
        Column("icao", "text", "the airport's ICAO code", nullable=True),
        Column("name", "text", "the airport's name", nullable=True),
        Column("lat", "float", "latitude", "degrees north"),
        Column("lon", "float", "longitude", "degrees east"),
        Column("alt", "float", "elevation", "feet", nullable=True),
        Column("tzone", "text", "the IANA time zone of its local clock (e.g. America/New_York)"),
        Column("country", "text", "ISO 3166-1 alpha-2 country code; holidays follow it", nullable=True),
    ),
    ("faa",),
)

WEATHER = Table(
    "weather",
    "One observation per airport and hour. The observation labelled hour H is the first report in "
    "the clock hour [H, H + 1 h) UTC, so it is available from H + 1 h (the as-of rule).",
    (
        Column("origin", "text", "the airport's IATA code (the station at it)"),
        Column("time_hour", "text", "the hour H the observation is labelled with, ISO 8601 UTC (2013-01-01T06:00:00Z)"),
        Column("temp", "float", "air temperature", "°F", nullable=True),
        Column("dewp", "float", "dew point", "°F", nullable=True),
        Column("humid", "float", "relative humidity", "%", nullable=True),
        Column("wind_dir", "float", "wind direction (from)", "degrees", nullable=True),
        Column("wind_speed", "float", "wind speed", "mph", nullable=True),
        Column("wind_gust", "float", "wind gust", "mph", nullable=True),
        Column("precip", "float", "precipitation in the hour", "inches", nullable=True),
        Column("pressure", "float", "sea-level pressure", "millibars", nullable=True),
        Column("visib", "float", "visibility", "miles", nullable=True),
    ),
    ("origin", "time_hour"),
)

PLANES = Table(
    "planes",
    "Aircraft by tail number (optional: without it the plane's static inputs are missing).",
    (
        Column("tailnum", "text", "the aircraft's registration"),
        Column("year", "float", "year of manufacture", nullable=True),
        Column("type", "text", "aircraft type", nullable=True),
        Column("manufacturer", "text", "manufacturer", nullable=True),
        Column("model", "text", "model", nullable=True),
        Column("engines", "int", "number of engines"),
        Column("seats", "int", "number of seats"),
        Column("engine", "text", "engine type", nullable=True),
    ),
    ("tailnum",),
)

CARRIERS = Table(
    "airlines",
    "The carriers flights name.",
    (
        Column("carrier", "text", "the carrier's IATA code (two characters)"),
        Column("name", "text", "the carrier's name", nullable=True),
    ),
    ("carrier",),
)

TABLES: dict[str, Table] = {t.name: t for t in (FLIGHTS, AIRPORTS, WEATHER, PLANES, CARRIERS)}


def check(table: Table, df: pd.DataFrame, source: str) -> None:
    """Raise SchemaError naming every column of ``table`` that ``df`` lacks, and ``source``."""
    missing = [c for c in table.names if c not in df.columns]
    if missing:
        raise SchemaError(f"{source}: the {table.name} table lacks {', '.join(missing)} (contract {CONTRACT_VERSION})")


def conform(table: Table, df: pd.DataFrame) -> pd.DataFrame:
    """``df``'s contract columns, in the contract's order and types (checked first)."""
    check(table, df, "adapter output")
    return pd.DataFrame({c.name: df[c.name].astype(c.dtype) for c in table.columns}, index=df.index)  # type: ignore[call-overload]


def empty(table: Table) -> pd.DataFrame:
    """A table with the contract's columns and no rows."""
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in table.columns})


def markdown(tables: dict[str, Table] = TABLES) -> str:
    """The contract as Markdown tables, one per table (the docs' contract page)."""
    out = [f"Contract version **{CONTRACT_VERSION}**.", ""]
    for t in tables.values():
        out += [f"### {t.name}", "", t.meaning, "", f"Key: {', '.join(f'`{k}`' for k in t.key)}.", "",
                "| column | type | unit | null | meaning |", "|---|---|---|---|---|"]
        out += [f"| `{c.name}` | {c.kind} | {c.unit or ''} | {'yes' if c.nullable else 'no'} | {c.meaning} |" for c in t.columns]
        out.append("")
    return "\n".join(out)
