"""The durable side of the stream: every received event, in daily parquet partitions.

``<data>/live/events/day=YYYY-MM-DD/<first stream id>.parquet``, one file per day touched by a
read batch, written (and fsynced) before the batch is acknowledged. A redelivered event may be
written twice: readers keep the first copy of each id. Malformed entries go to
``<data>/live/rejects/`` with their reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skyprophet.core.events import Event

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
        _write(table, self.rejects_dir / f"{entries[0][0]}.parquet")

    def read(self) -> pd.DataFrame:
        """Every logged event once (first copy of each id), by availability, then stream order."""
        files = sorted(self.events_dir.glob("day=*/*.parquet"))
        if not files:
            return SCHEMA.empty_table().to_pandas()
        df = pa.concat_tables([pq.read_table(f, schema=SCHEMA) for f in files]).to_pandas()
        df["_seq"] = df["stream_id"].map(_stream_order)
        df = df.sort_values("_seq", kind="stable").drop_duplicates("id", keep="first")
        return df.sort_values(["at", "_seq"], kind="stable").drop(columns="_seq").reset_index(drop=True)

    def events(self) -> list[tuple[str, Event]]:
        df = self.read()
        return [
            (sid, Event(kind=k, at=int(a), id=i, data=json.loads(d)))
            for sid, i, k, a, d in zip(df["stream_id"], df["id"], df["kind"], df["at"], df["data"], strict=True)
        ]


def _stream_order(sid: Any) -> tuple[int, int]:
    ms, _, seq = str(sid).partition("-")
    return int(ms), int(seq or 0)


def stream_id_le(a: str, b: str) -> bool:
    return _stream_order(a) <= _stream_order(b)
