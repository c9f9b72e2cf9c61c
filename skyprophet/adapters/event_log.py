"""The durable side of the stream: every received event, in daily parquet partitions.

``<data>/live/events/day=YYYY-MM-DD/<first stream id>.parquet``, one file per day touched by a
read batch, written (and fsynced) before the batch is acknowledged. A redelivered event may be
written twice: readers keep the first copy of each id. Entries refused by the event contract, the
processor's window or its dead-letter rule go to ``<data>/live/rejects/`` with their reason.

The processor logs only events that passed the contract, and readers check every row again
(``EventLog.read``): a row that fails it (a log written before the contract, or edited by hand) is
skipped and reported, never raised on, so no single row can keep the processor or a build from
starting.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skyprophet.core.config import CANONICAL_FLIGHTS
from skyprophet.core.errors import InvalidInput
from skyprophet.core.events import ARRIVAL, CANCELLATION, DEPARTURE, FLIGHT_KINDS, WEATHER, Event, parse_logged
from skyprophet.core.keys import sort_flights
from skyprophet.core.windows import WEATHER_COLUMNS

log = logging.getLogger(__name__)

SCHEMA = pa.schema([("stream_id", pa.string()), ("id", pa.string()), ("kind", pa.string()), ("at", pa.int64()), ("data", pa.string())])


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EventLog:
    def __init__(self, root: Path):
        self.root = root
        self.events_dir = root / "events"
        self.rejects_dir = root / "rejects"
        self.skipped: list[tuple[str, str]] = []  # (stream id, reason) of rows the latest read() skipped

    def append(self, entries: list[tuple[str, Event]]) -> int:
        """Write (stream id, event) pairs to their days' partitions; the number written."""
        by_day: dict[str, list[tuple[str, Event]]] = {}
        for sid, e in entries:
            day = pd.Timestamp(e.at, unit="s").strftime("%Y-%m-%d")
            by_day.setdefault(day, []).append((sid, e))
        for day, rows in by_day.items():
            table = pa.Table.from_pydict(
                {
                    "stream_id": [s for s, _ in rows],
                    "id": [e.id for _, e in rows],
                    "kind": [e.kind for _, e in rows],
                    "at": [e.at for _, e in rows],
                    "data": [json.dumps(e.data, separators=(",", ":")) for _, e in rows],
                },
                schema=SCHEMA,
            )
            _write(table, self.events_dir / f"day={day}" / f"{rows[0][0]}.parquet")
        return len(entries)

    def reject(self, entries: list[tuple[str, dict[str, str], str]]) -> None:
        """Keep entries that could not be read, with the reason."""
        if not entries:
            return
        table = pa.Table.from_pydict(
            {
                "stream_id": [s for s, _, _ in entries],
                "fields": [json.dumps(f) for _, f, _ in entries],
                "reason": [r for _, _, r in entries],
            }
        )
        name = next((sid for sid, _, _ in entries if sid), f"startup-{time.time_ns()}")
        _write(table, self.rejects_dir / f"{name}.parquet")

    def rejects(self) -> pd.DataFrame:
        """Every rejected entry: stream id, its fields (JSON) and the reason."""
        files = sorted(self.rejects_dir.glob("*.parquet"))
        if not files:
            return pd.DataFrame(columns=["stream_id", "fields", "reason"])
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

    def read(self) -> pd.DataFrame:
        """Every valid logged event once (first copy of each id), by availability, then stream
        order; rows that fail the event contract are left out and listed in ``skipped``."""
        return self._load().drop(columns="event")

    def _load(self) -> pd.DataFrame:
        """``read``'s rows with an ``event`` column: each row parsed by the contract, once."""
        self.skipped = []
        files = sorted(self.events_dir.glob("day=*/*.parquet"))
        if not files:
            return SCHEMA.empty_table().to_pandas().assign(event=None)
        df = pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files]).to_pandas()
        df["event"] = self._parsed(df)
        df = df[df["event"].notna()]
        df = df.assign(_seq=df["stream_id"].map(_stream_order)).sort_values("_seq", kind="stable").drop_duplicates("id", keep="first")
        return df.sort_values(["at", "_seq"], kind="stable").drop(columns="_seq").reset_index(drop=True)

    def _parsed(self, df: pd.DataFrame) -> list[Event | None]:
        """Each row as an ``Event``, None for a row that fails the contract (listed in ``skipped``)."""
        out: list[Event | None] = []
        for sid, k, i_d, at, data in zip(df["stream_id"], df["kind"], df["id"], df["at"], df["data"], strict=True):
            try:
                out.append(parse_logged(str(k), str(i_d), int(at), str(data)))
            except InvalidInput as exc:
                out.append(None)
                self.skipped.append((str(sid), str(exc)))
        if self.skipped:
            log.warning("event log %s: %d row(s) fail the event contract and are skipped; first: stream entry %s: %s",
                        self.events_dir, len(self.skipped), *self.skipped[0])
        return out

    def recovery_point(self, step_min: int) -> int | None:
        """The latest grid point (seconds) up to which every event has been logged: the last one
        before the latest logged event (producers write in availability order); None if empty."""
        days = sorted(self.events_dir.glob("day=*"))
        files = sorted(days[-1].glob("*.parquet")) if days else []
        if not files:
            return None
        latest = max(int(pq.read_table(f, columns=["at"]).column("at").to_numpy().max()) for f in files)
        step = step_min * 60
        return (latest - 1) // step * step

    def events(self) -> list[tuple[str, Event]]:
        """``read``'s rows as (stream id, event) pairs."""
        df = self._load()
        return list(zip(df["stream_id"], df["event"], strict=True))


def _stream_order(sid: Any) -> tuple[int, int]:
    ms, _, seq = str(sid).partition("-")
    return int(ms), int(seq or 0)


def stream_id_le(a: str, b: str) -> bool:
    return _stream_order(a) <= _stream_order(b)


# ---------------------------------------------------------------- raw data + the log

FLIGHT_KEY = ["carrier", "flight_number", "origin", "sched_s"]


def _flight_updates(log: pd.DataFrame) -> pd.DataFrame:
    """One row per flight identity in the log's flight events: its fields, and what the log says
    of its outcome (``actual``/``delay`` from a departure, ``cancelled`` from a cancellation)."""
    flights = log[log["kind"].isin(FLIGHT_KINDS)]
    if flights.empty:
        return pd.DataFrame(columns=[*FLIGHT_KEY, "kind"])
    data = pd.DataFrame([json.loads(d) for d in flights["data"]], index=flights.index)
    data["kind"] = flights["kind"].to_numpy()
    data["sched_s"] = data["sched"].astype("int64")
    data["flight_number"] = data["flight_number"].astype(str)  # validated: canonical (an older log: whole numbers)
    for col in ("actual", "delay", "sched_arr", "arrived", "arr_delay"):
        if col not in data:
            data[col] = np.nan
    data["departed"] = data["kind"] == DEPARTURE
    data["cancel"] = data["kind"] == CANCELLATION
    dep = data[data["departed"]].drop_duplicates(FLIGHT_KEY, keep="last").set_index(FLIGHT_KEY)[["actual", "delay"]]
    arr = data[data["kind"] == ARRIVAL].drop_duplicates(FLIGHT_KEY, keep="last").set_index(FLIGHT_KEY)[["arrived", "arr_delay"]]
    cancelled = data[data["cancel"]].drop_duplicates(FLIGHT_KEY).set_index(FLIGHT_KEY).index
    out = data.drop_duplicates(FLIGHT_KEY, keep="first").set_index(FLIGHT_KEY)
    out = out.drop(columns=["actual", "delay", "arrived", "arr_delay"]).join(dep).join(arr)
    out["cancelled"] = out.index.isin(cancelled)
    return out.reset_index()


def _utc(seconds: pd.Series) -> pd.Series:
    return pd.to_datetime(seconds.astype("float64"), unit="s", utc=True).astype("datetime64[us, UTC]")


def merge_flights(canonical: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """The canonical flight table with what the log adds: flights it schedules that are not in
    it (appended), departures (actual time and delay), arrivals (actual arrival and its delay) and
    cancellations of the flights it has.

    A flight is matched by its identity (carrier, flight number, origin, scheduled departure).
    The result is in the canonical table's order (scheduled departure, carrier, number, origin).
    """
    upd = _flight_updates(log)
    if upd.empty:
        return canonical
    out = canonical.copy()
    sched_s = (out["sched_dep_utc"].astype("int64") // 1_000_000).astype("int64")
    index = pd.MultiIndex.from_arrays([out["carrier"], out["flight_number"], out["origin"], sched_s], names=FLIGHT_KEY)
    keyed = upd.set_index(FLIGHT_KEY)
    known = keyed.index.isin(index)
    new = keyed[~known].reset_index()
    if len(new):
        rows = pd.DataFrame({
            "flight_row_id": np.arange(len(new), dtype="int64") + (int(out["flight_row_id"].max()) + 1 if len(out) else 0),
            "carrier": new["carrier"].astype(str),
            "flight_number": new["flight_number"].astype("string"),
            "origin": new["origin"].astype(str),
            "dest": new["dest"].astype(str),
            "tailnum": new["tailnum"].astype("string"),
            "sched_dep_utc": _utc(new["sched_s"]),
            "actual_dep_utc": pd.Series(pd.NaT, index=new.index, dtype="datetime64[us, UTC]"),
            "dep_delay_min": np.nan,
            "cancelled": False,
            "distance": new["distance"].astype("float64"),
            "utc_offset_min": new["utc_offset_min"].astype("int64"),
            "sched_arr_utc": _utc(new["sched_arr"]),
        })
        # what a schedule event does not carry (whether it was diverted, ...) is unknown: null; the
        # origin's country is that of the origin's other flights
        rows = rows.reindex(columns=out.columns)
        if "origin_country" in out:
            rows["origin_country"] = rows["origin"].map(out.drop_duplicates("origin").set_index("origin")["origin_country"])
        out = pd.concat([out, rows.astype(out.dtypes.to_dict())], ignore_index=True)
        index = index.append(pd.MultiIndex.from_frame(new[FLIGHT_KEY]))
    pos = pd.Series(np.arange(len(out)), index=index)
    departed = keyed[keyed["actual"].notna()]
    if len(departed):
        at = pos.loc[departed.index].to_numpy()
        out.loc[at, "actual_dep_utc"] = _utc(departed["actual"]).to_numpy()
        out.loc[at, "dep_delay_min"] = departed["delay"].astype("float64").to_numpy()
        out.loc[at, "cancelled"] = False
    arrived = keyed[keyed["arrived"].notna()]
    if len(arrived) and "actual_arr_utc" in out:
        at = pos.loc[arrived.index].to_numpy()
        out.loc[at, "actual_arr_utc"] = _utc(arrived["arrived"]).to_numpy()
        out.loc[at, "arr_delay_min"] = arrived["arr_delay"].astype("float64").to_numpy()
        known_arr = arrived["sched_arr"].notna()
        out.loc[at[known_arr.to_numpy()], "sched_arr_utc"] = _utc(arrived.loc[known_arr, "sched_arr"]).to_numpy()
    cancelled = keyed[keyed["cancelled"] & keyed["actual"].isna()]
    if len(cancelled):
        out.loc[pos.loc[cancelled.index].to_numpy(), "cancelled"] = True
    return sort_flights(out)


def merge_weather(weather: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """The weather table with the log's observations: an hour the log has replaces the table's."""
    obs = log[log["kind"] == WEATHER]
    if obs.empty:
        return weather
    data = pd.DataFrame([json.loads(d) for d in obs["data"]])
    hours = pd.to_datetime(data["hour"].astype("int64"), unit="s", utc=True)
    rows = pd.DataFrame({
        "origin": data["origin"].astype(str),
        "time_hour": hours.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **{c: pd.to_numeric(data[c], errors="coerce").astype("float64") if c in data else np.nan for c in WEATHER_COLUMNS},
    }).drop_duplicates(["origin", "time_hour"], keep="last")
    keys = pd.MultiIndex.from_frame(rows[["origin", "time_hour"]])
    kept = weather[~pd.MultiIndex.from_arrays([weather["origin"].astype(str), weather["time_hour"].astype(str)]).isin(keys)]
    return pd.concat([kept, rows], ignore_index=True).sort_values(["origin", "time_hour"], kind="stable").reset_index(drop=True)


def known_data(raw_dir: Path, live_dir: Path | None, *, compact: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The canonical flights and the weather of ``raw_dir``, with the events logged under
    ``live_dir`` merged in (None: the raw data alone). ``compact``: text columns as Arrow-backed
    strings (``read_frame``'s; the stream processor reads them so)."""
    from skyprophet.adapters.parquet import read_canonical, read_frame

    canonical = read_canonical(raw_dir / CANONICAL_FLIGHTS, compact=compact)
    weather = read_frame(raw_dir / "weather.parquet", compact=compact)
    if live_dir is None:
        return canonical, weather
    log = EventLog(live_dir).read()
    if log.empty:
        return canonical, weather
    return merge_flights(canonical, log), merge_weather(weather, log)

