"""Feast commands with progress: apply the repo, materialize in bounded chunks, show a sample.

Materialization walks each view's window in fixed time chunks and writes the latest row per
entity in batches (``pull_latest_features`` and ``online_write_batch_size``), so its memory is
bounded by a chunk, not by the window. ``incremental`` starts each view where its last run
ended, or at ``end - ttl`` the first time (older rows are expired at ``end`` anyway), as
``feast materialize-incremental`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from rich.progress import Progress

from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.store import OnlineKind, open_store
from skyprophet.core.config import Settings
from skyprophet.core.errors import NoData
from skyprophet.core.features import FlightFeatures
from skyprophet.core.keys import FlightKeys

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def apply(store: FeatureStore, settings: Settings, processed_dir: Path | None = None) -> list[str]:
    """Register every object of ``feature_repo``: sources under ``processed_dir`` (default:
    ``settings.processed_dir``), dense views with ``settings.grid_minutes``' ttl."""
    from feature_repo.definitions import objects

    objs = objects(processed_dir or settings.processed_dir, settings.grid_minutes, settings.offline_store)
    names = {(type(o).__name__, o.name) for o in objs}
    registered: list[Any] = [
        *store.list_feature_services(),
        *store.list_on_demand_feature_views(),
        *store.list_feature_views(),
        *store.list_entities(),
        *store.list_data_sources(),
    ]
    # Like `feast apply`: what the repo no longer defines leaves the registry.
    stale = [o for o in registered if (type(o).__name__, o.name) not in names and o.name != "__dummy"]
    store.apply(objs, objects_to_delete=stale, partial=False)
    if stale:
        log.info("removed %s", ", ".join(sorted(o.name for o in stale)))
    return [o.name for o in objs]


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


def _source_start(fv: FeatureView) -> datetime:
    """Earliest event timestamp of a view's parquet source (from the file's statistics)."""
    source = fv.batch_source
    path = str(getattr(source, "path", None) or "")  # a FileSource (DuckDB) or a SparkSource
    if source is None or not path.endswith(".parquet"):
        raise TypeError(f"feature view {fv.name!r} is not backed by a parquet file")
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.to_arrow_schema().get_field_index(source.timestamp_field)
    mins = [meta.row_group(i).column(col).statistics.min for i in range(meta.num_row_groups)]
    start = min(mins) if mins else EPOCH
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

    Returns:
        Number of chunks materialized per view.
    """
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
    return done


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
        flight_number=int(row["flight_number"]),
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
                online: OnlineKind | None = None) -> dict[str, int]:
    """Load the settings' online store up to ``end`` in chunks of ``settings.materialize_chunk``
    (``features materialize``); rows by view."""
    return materialize(open_store(settings, online=online), end, chunk=settings.materialize_chunk, start=start,
                       incremental=incremental)


def demo_flight(settings: Settings, after: datetime, online: OnlineKind | None = None) -> Demo:
    """``demo`` on the settings' store (``features demo``)."""
    return demo(open_store(settings, online=online), settings, after)
