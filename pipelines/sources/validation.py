"""Row rules of the contract's tables, whatever the source: each table split into accepted rows
and rejected rows with the first rule a row breaks as its reason, and the counts per source file
(rows in = accepted + rejected)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.sources.airports import complete as complete_airports
from pipelines.sources.converted import Converted, first_reason
from skyprophet.core.bounds import MAX_ABS_DELAY_MIN, MAX_DISTANCE_MI, MAX_WIND_MPH
from skyprophet.core.contract import Table, empty


@dataclass
class TableResult:
    """Accepted rows and rejected rows (with a ``reject_reason`` column) of one table, and per
    source file: rows in, accepted, rejected."""

    name: str
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    rows_in: int = field(init=False)
    files: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows_in = len(self.accepted) + len(self.rejected)
        if not self.files:
            self.files = {self.name: {"rows_in": self.rows_in, "accepted": len(self.accepted), "rejected": len(self.rejected)}}

    @classmethod
    def nothing(cls, table: Table) -> TableResult:
        """A contract table no source supplies: no rows, no file."""
        return cls(table.name, empty(table), pd.DataFrame({"reject_reason": []}), {})


Rule = tuple[str, Callable[[pd.DataFrame], "pd.Series[bool]"]]


def apply_rules(name: str, df: pd.DataFrame, rules: list[Rule]) -> TableResult:
    """Split ``df`` by ``rules`` (reason, predicate-of-bad-rows); the first failing rule is the reason."""
    df = df.reset_index(drop=True)
    reason = first_reason(df.index, [(text, is_bad(df)) for text, is_bad in rules])
    rejected = df[reason.notna()].copy()
    rejected.insert(0, "source_row", rejected.index.astype("int64"))
    rejected["reject_reason"] = reason[reason.notna()]
    return TableResult(name, df[reason.isna()].reset_index(drop=True), rejected.reset_index(drop=True))


def dup(cols: list[str]) -> Callable[[pd.DataFrame], "pd.Series[bool]"]:
    return lambda d: d.duplicated(cols, keep="first")


def utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")


def validate_airlines(df: pd.DataFrame) -> TableResult:
    rules: list[Rule] = [
        ("missing carrier code", lambda d: d["carrier"].isna()),
        ("malformed carrier code", lambda d: ~d["carrier"].astype(str).str.fullmatch(r"[A-Z0-9]{2}")),
        ("duplicate carrier", dup(["carrier"])),
    ]
    return apply_rules("airlines", df, rules)


def validate_airports(df: pd.DataFrame, needed: Iterable[str] = ()) -> TableResult:
    """Airports, completed from the airportsdata reference with the ``needed`` codes they lack."""
    df = complete_airports(df, needed)
    rules: list[Rule] = [
        ("missing airport code", lambda d: d["faa"].isna()),
        ("latitude out of range", lambda d: ~d["lat"].between(-90, 90)),
        ("longitude out of range", lambda d: ~d["lon"].between(-180, 180)),
        ("unknown time zone", lambda d: d["tzone"].isna()),
        ("duplicate airport", dup(["faa"])),
    ]
    return apply_rules("airports", df, rules)


def validate_planes(df: pd.DataFrame, last_flight_year: int) -> TableResult:
    """Planes; a build year after the flights' last year (or before 1900) is impossible."""
    rules: list[Rule] = [
        ("missing tail number", lambda d: d["tailnum"].isna()),
        ("impossible build year", lambda d: d["year"].notna() & ~d["year"].between(1900, last_flight_year)),
        ("non-positive seat count", lambda d: d["seats"] <= 0),
        ("non-positive engine count", lambda d: d["engines"] <= 0),
        ("duplicate tail number", dup(["tailnum"])),
    ]
    return apply_rules("planes", df, rules)


def weather_rules(airports: set[str]) -> list[Rule]:
    """What every hourly observation must satisfy, whatever its source."""
    return [
        ("unknown airport", lambda d: ~d["origin"].isin(airports)),
        ("unparseable time_hour", lambda d: utc(d["time_hour"]).isna()),
        ("humidity out of range", lambda d: d["humid"].notna() & ~d["humid"].between(0, 100)),
        ("impossible wind speed", lambda d: d["wind_speed"].notna() & ~d["wind_speed"].between(0, MAX_WIND_MPH)),
        ("impossible wind direction", lambda d: d["wind_dir"].notna() & ~d["wind_dir"].between(0, 360)),
        ("negative precipitation", lambda d: d["precip"] < 0),
        ("negative visibility", lambda d: d["visib"] < 0),
        ("duplicate observation", dup(["origin", "time_hour"])),
    ]


def validate_weather(df: pd.DataFrame, airports: set[str]) -> TableResult:
    return apply_rules("weather", df, weather_rules(airports))


def contract_rules(carriers: set[str] | None) -> list[Rule]:
    """What every source's flights must satisfy, whatever their format."""
    rules: list[Rule] = [
        ("missing carrier code", lambda d: d["carrier"].isna()),
        ("malformed carrier code", lambda d: ~d["carrier"].astype(str).str.fullmatch(r"[A-Z0-9]{2}")),
    ]
    if carriers is not None:
        rules.append(("unknown carrier", lambda d: ~d["carrier"].isin(carriers)))
    return rules + [
        ("malformed flight number", lambda d: d["flight_number"].isna()),
        ("origin equals destination", lambda d: d["origin"] == d["dest"]),
        ("non-positive distance", lambda d: ~(d["distance"] > 0)),
        ("distance beyond any scheduled flight", lambda d: d["distance"] > MAX_DISTANCE_MI),
        ("impossible departure delay", lambda d: d["dep_delay_min"].abs() > MAX_ABS_DELAY_MIN),
        ("duplicate flight", dup(["carrier", "flight_number", "origin", "sched_dep_utc"])),
    ]


def settle(contract: Table, parts: list[Converted], rules: list[Rule]) -> TableResult:
    """Adapter output of many files as one table: rows the adapter kept go through the contract's
    ``rules`` (over all files at once: a duplicate across two files is found); rejected rows keep
    their source columns as read, with ``source_file``, ``source_row`` and ``reject_reason``."""
    if not parts:
        return TableResult(contract.name, empty(contract), pd.DataFrame({"reject_reason": []}))
    table = pd.concat([p.table for p in parts], ignore_index=True)
    reason = pd.concat([p.reason for p in parts], ignore_index=True)
    ok = reason.isna()
    later = first_reason(table.index[ok], [(t, bad(table[ok])) for t, bad in rules])
    reason[ok] = later
    file_of = np.concatenate([np.full(len(p.table), p.source, dtype=object) for p in parts])
    row_of = np.concatenate([np.arange(len(p.table)) for p in parts])
    raw = pd.concat([p.raw for p in parts], ignore_index=True)
    bad_rows = reason.notna().to_numpy()
    rejected = raw[bad_rows].copy()
    rejected.insert(0, "source_row", row_of[bad_rows].astype("int64"))
    rejected.insert(0, "source_file", file_of[bad_rows])
    rejected["reject_reason"] = reason[bad_rows].to_numpy()
    files = {}
    for p in parts:
        mine = file_of == p.source
        files[p.source] = {"rows_in": int(mine.sum()), "accepted": int((mine & ~bad_rows).sum()), "rejected": int((mine & bad_rows).sum())}
    return TableResult(contract.name, table[~bad_rows].reset_index(drop=True), rejected.reset_index(drop=True), files)
