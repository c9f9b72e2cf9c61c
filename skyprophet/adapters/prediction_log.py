"""The prediction log: every flight the service scores, written off the request path into Feast's
feature log of the model's feature service (its ``LoggingConfig`` destination, parquet).

A request hands its scored flights to ``PredictionLog.offer``, which never blocks and never
raises: they wait in a bounded buffer as one compact record per request (tuples of plain values,
which the garbage collector stops tracking: the request's feature objects are not kept alive),
and a writer thread turns what has accumulated into one
Arrow table and appends it to the destination as one more parquet file (written aside, synced,
renamed into place). Feast's own ``FeatureStore.write_logged_features`` is not used: with the
DuckDB offline store it goes through ibis, which fails on the log's time-zone-aware timestamps
(``ConversionException: Could not convert TimestampTZ to Microsecond``, Feast 0.67) and writes
files literally named ``<uuid>-{i}.parquet`` into a folder it does not create; the files here
hold the same schema in the same folder. When the buffer is full
the request's flights are dropped and counted; a failed write keeps its records for the next
attempt (they count as dropped only when the buffer must make room). ``close`` writes what is
left.

The table is Feast's logging schema of the service (``FeatureServiceLoggingSource``): the join
keys and request fields, each input's value, ``__timestamp`` (its row's event time; the instant
read for request features) and ``__status`` (Feast's ``FieldStatus``: 1 present, 2 null value,
3 not found, 4 outside max age), ``__log_timestamp``, ``__log_date`` and ``__request_id``;
followed by what the prediction was: ``flight_number``, ``scheduled_departure``, ``as_of``,
``lead_minutes``, ``model_name``, ``model_version``, ``delay_probability``, ``delayed``,
``threshold`` and ``prediction_status``. Feast reads it back through the destination's data
source (``logging_config.destination.to_data_source()``), DuckDB with ``read_parquet``.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import time
from pathlib import Path
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from skyprophet.core.features import SEP, FlightFeatures
from skyprophet.core.keys import FlightKeys

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

log = logging.getLogger(__name__)

PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE = 1, 2, 3, 4  # feast.protos.feast.serving.ServingService_pb2.FieldStatus

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

PREDICTION_FIELDS = pa.schema([
    ("flight_number", pa.string()),
    ("scheduled_departure", pa.timestamp("us", tz="UTC")),
    ("as_of", pa.timestamp("us", tz="UTC")),
    ("lead_minutes", pa.float64()),
    ("model_name", pa.string()),
    ("model_version", pa.string()),
    ("delay_probability", pa.float64()),
    ("delayed", pa.bool_()),
    ("threshold", pa.float64()),
    ("prediction_status", pa.string()),
])


@dataclass(frozen=True)
class Scored:
    """One request's scored flights, as handed over by the request (nothing computed there)."""

    request_id: str
    logged_at: float  # seconds since the epoch
    model_name: str
    model_version: str
    threshold: float
    flights: Sequence[FlightKeys]
    as_of_s: Sequence[int]  # the instant each flight was read as of
    features: Sequence[FlightFeatures]
    probabilities: Sequence[float]
    statuses: Sequence[str]  # "ok" or "refused"


# One request as the buffer holds it (``PredictionLog.compact``): request id, time logged, model name,
# version, threshold, then per flight: its keys, the instant read, the inputs' values (in the log's
# order), each view's row time, the stale inputs, the probability and the status.
Record = tuple[Any, ...]


def log_schema(store: FeatureStore, service: FeatureService) -> pa.Schema:
    """Feast's logging schema of ``service`` followed by the prediction's own fields."""
    from feast.feature_logging import FeatureServiceLoggingSource

    feast_schema = FeatureServiceLoggingSource(service, store.config.project).get_schema(store.registry)
    return pa.schema(list(feast_schema) + list(PREDICTION_FIELDS))


class PredictionLog:
    """A bounded buffer of scored flights and the thread that writes them (see the module)."""

    def __init__(
        self,
        store: FeatureStore,
        service_name: str,
        max_flights: int = 50_000,
        flush_s: float = 1.0,
        on_count: Callable[[str, int], None] = lambda outcome, n: None,
    ):
        self.store = store
        self.service = store.get_feature_service(service_name)
        if self.service.logging_config is None:
            raise ValueError(f"feature service {service_name!r} has no logging configuration")
        self.schema = log_schema(store, self.service)
        self.max_flights = max_flights
        self.flush_s = flush_s
        self.on_count = on_count  # ("written" | "dropped" | "failed", flights)
        self._buffer: deque[Record] = deque()
        self._pending = 0  # flights in the buffer
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._features = [n[: -len("__status")] for n in self.schema.names if n.endswith("__status")]
        self._views = [n.split(SEP, 1)[0] for n in self._features]  # the view (or alias) of each input
        self._view_order = list(dict.fromkeys(self._views))
        per_feature = {f"{n}{suffix}" for n in self._features for suffix in ("", "__timestamp", "__status")}
        # the join keys and request fields: what is neither an input, a system field nor the prediction's
        self._keys = [n for n in self.schema.names if n not in per_feature and not n.startswith("__")
                      and n not in PREDICTION_FIELDS.names]
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @property
    def destination(self) -> str:
        return str(self.service.logging_config.destination.path)  # type: ignore[union-attr]

    def offer(self, scored: Scored) -> bool:
        """Queue one request's flights for the log; False (and counted) when the buffer is full."""
        n = len(scored.flights)
        if n == 0:
            return True
        record = self.compact(scored)
        with self._lock:
            if self._pending + n > self.max_flights or self._stop:
                full = True
            else:
                full = False
                self._buffer.append(record)
                self._pending += n
        if full:
            self.on_count("dropped", n)
            return False
        if self._pending >= self.max_flights // 4:
            self._wake.set()
        return True

    def flush(self) -> int:
        """Write what the buffer holds now (the writer thread's step); returns the flights written."""
        with self._writing:  # one writer at a time: a batch is written once
            return self._flush()

    def _flush(self) -> int:
        with self._lock:
            batch = list(self._buffer)
        if not batch:
            return 0
        n = sum(len(r[5]) for r in batch)
        try:
            self._write(self.table(batch))
        except Exception:
            log.exception("prediction log: writing %d flights failed (kept for the next attempt)", n)
            self.on_count("failed", n)
            return 0
        with self._lock:
            for _ in batch:
                self._buffer.popleft()
            self._pending -= n
        self.on_count("written", n)
        return n

    def _write(self, table: pa.Table) -> None:
        """One new parquet file in the destination, complete or absent: written aside, synced to
        disk, then renamed into place (readers never see half a file)."""
        import pyarrow.parquet as pq

        dest = Path(self.destination)
        dest.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex}.parquet"
        tmp = dest / f".{name}.tmp"
        try:
            with open(tmp, "wb") as f:
                pq.write_table(table, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest / name)
        finally:
            tmp.unlink(missing_ok=True)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop taking records and write what is left."""
        with self._lock:
            self._stop = True
        self._wake.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            stopping = self._stop
            try:
                self.flush()
            except Exception:  # never let the writer die
                log.exception("prediction log: flush failed")
            if stopping:
                return

    def compact(self, s: Scored) -> Record:
        """One request's flights as the buffer keeps them: tuples of plain values only, which the
        garbage collector stops tracking (the request's feature objects are not kept alive)."""
        names, views = self._features, self._view_order
        return (
            s.request_id, s.logged_at, s.model_name, s.model_version, s.threshold,
            tuple((k.carrier, k.flight_number, k.origin, k.dest, k.sched_dep_epoch_s, k.utc_offset_min, k.tailnum, k.country)
                  for k in s.flights),
            tuple(s.as_of_s),
            tuple(tuple(ff.values.get(n) for n in names) for ff in s.features),
            tuple(tuple(ff.stamps.get(v) for v in views) for ff in s.features),  # None: a view not read (request features)
            tuple(tuple(ff.stale) for ff in s.features),
            tuple(float(p) for p in s.probabilities),
            tuple(s.statuses),
        )

    def table(self, batch: Sequence[Record]) -> pa.Table:
        """The log rows of ``batch``, one per flight, in ``self.schema`` (built column by column:
        this runs beside the requests, on the same interpreter)."""
        keys: list[tuple[Any, ...]] = []
        t_s: list[int] = []
        values: list[tuple[Any, ...]] = []
        view_stamps: list[tuple[int | None, ...]] = []
        stale: list[tuple[str, ...]] = []
        cols: dict[str, list[Any]] = {name: [] for name in PREDICTION_FIELDS.names}
        cols |= {"__log_timestamp": [], "__log_date": [], "__request_id": []}
        for rid, logged_at, model_name, model_version, threshold, r_keys, r_t, r_values, r_stamps, r_stale, probs, statuses in batch:
            n = len(r_keys)
            at = datetime.fromtimestamp(logged_at, timezone.utc)
            keys.extend(r_keys)
            t_s.extend(r_t)
            values.extend(r_values)
            view_stamps.extend(r_stamps)
            stale.extend(r_stale)
            cols["__log_timestamp"] += [at] * n
            cols["__log_date"] += [at.date()] * n
            cols["__request_id"] += [rid] * n
            cols["model_name"] += [model_name] * n
            cols["model_version"] += [model_version] * n
            cols["threshold"] += [threshold] * n
            cols["delay_probability"] += probs
            cols["delayed"] += [p >= threshold for p in probs]
            cols["prediction_status"] += statuses
        flights = [FlightKeys(*k) for k in keys]
        sched = [k.sched_dep_epoch_s for k in flights]
        cols["flight_number"] = [k.flight_number for k in flights]
        cols["scheduled_departure"] = [x * 1_000_000 for x in sched]
        cols["as_of"] = [t * 1_000_000 for t in t_s]
        cols["lead_minutes"] = [(x - t) / 60 for x, t in zip(sched, t_s, strict=True)]
        rows = [k.request_row_at(t) for k, t in zip(flights, t_s, strict=True)]
        for key in self._keys:
            cols[key] = [r.get(key) for r in rows]
        per_s = _PER_SECOND[self.schema.field(f"{self._features[0]}__timestamp").type.unit]  # Feast's unit (ms in 0.67)
        stamps: dict[str, tuple[list[int], list[int | None]]] = {}  # per view: each flight's row time, raw and in the log's unit
        by_view = list(zip(*view_stamps, strict=True)) if view_stamps else [()] * len(self._view_order)
        for j, view in enumerate(self._view_order):
            raw = [t if x is None else x for x, t in zip(by_view[j], t_s, strict=True)]  # request features: the instant read
            stamps[view] = (raw, [x * per_s if x else None for x in raw])
        by_name = list(zip(*values, strict=True)) if values else [()] * len(self._features)
        for j, (name, view) in enumerate(zip(self._features, self._views, strict=True)):
            column = list(by_name[j])
            raw, scaled = stamps[view]
            cols[name] = column
            cols[f"{name}__timestamp"] = scaled
            cols[f"{name}__status"] = [
                PRESENT if v is not None else OUTSIDE_MAX_AGE if name in st else NULL_VALUE if x else NOT_FOUND
                for v, st, x in zip(column, stale, raw, strict=True)
            ]
        return pa.Table.from_pydict({name: cols[name] for name in self.schema.names}, schema=self.schema)
