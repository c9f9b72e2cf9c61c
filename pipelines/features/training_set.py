"""Labelled, point-in-time training sets: flights -> entity rows at T -> the feature service.

Shared by training, evaluation, promotion and the benchmark, so that every model is scored on
rows built one way. Splits are the month windows of ``pipelines.model.params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.features.retrieval import DEFAULT_CHUNK_ROWS, historical_table
from skyprophet.adapters.progress import SILENT, Steps
from skyprophet.core.config import FEATURE_SERVICE
from skyprophet.core.errors import TrainingSetError
from skyprophet.core.features import SEP, model_feature_names
from skyprophet.core.keys import ROW_ID, TIMESTAMP, entity_frame
from skyprophet.core.months import Window
from skyprophet.core.windows import delayed

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from feast import FeatureService, FeatureStore

    from skyprophet.core.config import Settings

LABEL = "label"
SPLIT = "split"
LOCAL_MONTH = "local_month"
LEAD_INPUT = "lead_minutes"  # the request feature that carries the lead (flight_timing)
LEAD = "lead"  # the row's prediction lead in minutes (T = scheduled - lead); not a model input by this name
# What a set keeps besides the inputs: keys of the row and the baseline model's inputs.
KEPT = (ROW_ID, TIMESTAMP, "carrier", "origin", "dest", "sched_dep_epoch_s", "utc_offset_min")
# The flights' columns a set is made of (entity rows, label, split).
LABELLED_COLUMNS = ("flight_row_id", "carrier", "flight_number", "origin", "dest", "tailnum", "sched_dep_utc",
                    "utc_offset_min", "cancelled", "dep_delay_min")


def resolve_service(store: FeatureStore, name: str) -> FeatureService:
    """The registered feature service ``name``, or a TrainingSetError naming it."""
    from feast.errors import FeatureServiceNotFoundException

    try:
        return store.get_feature_service(name)
    except FeatureServiceNotFoundException:
        known = ", ".join(sorted(s.name for s in store.list_feature_services()))
        raise TrainingSetError(f"unknown feature service {name!r} (registered: {known or 'none'})") from None


def local_departure(flights: pd.DataFrame) -> pd.Series:
    """Each flight's scheduled departure in local time at its origin (UTC clock shifted by the offset)."""
    return flights["sched_dep_utc"] + pd.to_timedelta(flights["utc_offset_min"], unit="min")


def local_month(flights: pd.DataFrame) -> pd.Series:
    """The local "YYYY-MM" month of each flight's scheduled departure (at its origin)."""
    return local_departure(flights).dt.strftime("%Y-%m")


@dataclass
class TrainingSet:
    """Features, label and split of every labelled flight in the windows."""

    frame: pd.DataFrame
    feature_names: list[str]
    service_name: str
    lead_minutes: int  # the headline lead (the one scored without a clock)
    cancelled_excluded: int
    leads: list[int] = field(default_factory=list)  # every lead in the frame, longest first
    # A spooled set (``build(spool=...)``): the inputs are in parquet files there, by lead, split and batch
    # of flights (``spooled``), and ``frame`` holds the other columns only. None: the inputs are in ``frame``.
    spool: Path | None = None

    def part(self, name: str, lead: int | None = None) -> pd.DataFrame:
        """The rows of one split, at one lead when given."""
        keep = self.frame[SPLIT] == name
        if lead is not None:
            keep &= self.frame[LEAD] == lead
        return self.frame[keep]

    def leads_of(self, name: str) -> np.ndarray:
        """The lead of each row of one split, in ``part(name)``'s order (without copying the part)."""
        return self.frame.loc[self.frame[SPLIT] == name, LEAD].to_numpy()

    def spooled(self, name: str) -> list[Path]:
        """A spooled set's parquet files holding one split's inputs, in ``part(name)``'s row order."""
        if self.spool is None:
            raise ValueError("the training set holds its inputs in its frame: it was built without a spool")
        return [f for lead in self.leads for f in spool_files(self.spool, lead, name)]

    def rows(self) -> dict[str, int]:
        counts = self.frame[SPLIT].value_counts()
        return {
            "train": int(counts.get("train", 0)),
            "validation": int(counts.get("validation", 0)),
            "test": int(counts.get("test", 0)),
            "cancelled_excluded": self.cancelled_excluded,
        }


def flights_in(flights: pd.DataFrame, windows: list[Window]) -> pd.DataFrame:
    """Flights whose local day falls in a window (of months or of days), with a ``split`` column
    (first window wins)."""
    day = local_departure(flights).dt.strftime("%Y-%m-%d")
    split = pd.Series(None, index=flights.index, dtype=object)
    for w in windows:
        first, last = w.days
        split = split.where(split.notna() | ~day.between(first, last), w.name)
    return flights.assign(**{SPLIT: split, LOCAL_MONTH: day.str.slice(0, 7)})[split.notna()]


def check_inputs(store: FeatureStore, canonical: pd.DataFrame, windows: list[Window], service_name: str,
                 leads: list[int] | None = None, require: tuple[str, ...] = ("train", "validation", "test"),
                 ) -> tuple[FeatureService, pd.DataFrame]:
    """What ``build`` checks before any retrieval, cheap enough to run before anything else (the
    train command does, before it opens the tracking store): the feature service, its lead input
    when several leads are asked for, and a labelled flight in every required window. Returns the
    service and the windows' flights (with their split).

    Raises:
        TrainingSetError: naming what is wrong.
    """
    service = resolve_service(store, service_name)
    names = model_feature_names(service)
    if leads and len(leads) > 1 and not any(n.endswith(f"{SEP}{LEAD_INPUT}") for n in names):
        raise TrainingSetError(f"feature service {service_name!r} has no {LEAD_INPUT} input: a model trained at "
                               f"several leads ({leads}) could not tell them apart (use flight_delay_v3 or later)")
    chosen = flights_in(canonical, windows)
    labelled = chosen[~chosen["cancelled"].to_numpy(dtype=bool)]
    for w in windows:
        if w.name in require and not (labelled[SPLIT] == w.name).any():
            raise TrainingSetError(f"no labelled flights in the {w.name} window {w} (data has {_span(canonical)})")
    return service, chosen


def build(
    store: FeatureStore,
    canonical: pd.DataFrame,
    windows: list[Window],
    service_name: str = FEATURE_SERVICE,
    lead_minutes: int = 120,
    label_delay_minutes: float = 15,
    require: tuple[str, ...] = ("train", "validation", "test"),
    steps: Steps = SILENT,
    leads: list[int] | None = None,
    leads_per_flight: int | None = None,
    spool: Path | None = None,
) -> TrainingSet:
    """The training set of the labelled flights in ``windows``, as of T = scheduled - lead for
    each lead (one row per flight and lead).

    Args:
        store: the feature store (registry applied).
        canonical: the canonical flight table.
        windows: named month windows (train, validation, test).
        service_name: the feature service that lists the model's inputs.
        lead_minutes: the headline lead (the only one unless ``leads`` is given).
        leads: every lead to build rows at (default: ``[lead_minutes]``); each row's
            ``event_timestamp`` is scheduled - its lead, kept in the ``lead`` column.
        label_delay_minutes: the label is ``dep_delay > label_delay_minutes``.
        require: windows that must hold at least one labelled flight.
        steps: progress display (none by default).
        leads_per_flight: when given, each flight contributes rows at this many of the leads
            only, drawn per flight by ``drawn_leads`` (in every window: each lead's figures are
            then over the flights that drew it, about ``leads_per_flight / len(leads)`` of them).
        spool: a folder for the inputs: each lead's rows are retrieved ``SPOOL_FLIGHTS`` flights
            at a time and written there split by split (``TrainingSet.spooled``), and the returned
            frame holds the other columns only. The set's memory then no longer grows with the inputs (a national year's four
            leads a flight are about 30 million rows of about 60 float64 inputs: 14 GB as a frame).

    Returns:
        One row per labelled flight and lead (per drawn lead) with its features, ``label``, ``split``, ``lead``,
        its keys and the baseline's inputs (the entity rows' other columns are left out).

    Raises:
        TrainingSetError: unknown feature service, or a required window with no labelled flight.
    """
    service, chosen = check_inputs(store, set_columns(canonical), windows, service_name, leads, require)
    names = model_feature_names(service)
    cancelled = chosen["cancelled"].to_numpy(dtype=bool)
    labelled = chosen[~cancelled]
    del chosen  # one copy of the flights: a national year's are gigabytes
    leads = sorted(leads or [lead_minutes], reverse=True)
    label = delayed(labelled["dep_delay_min"], label_delay_minutes)
    keep = [*KEPT, *names]
    extra = {LABEL: np.asarray(label), SPLIT: labelled[SPLIT].to_numpy(), LOCAL_MONTH: labelled[LOCAL_MONTH].to_numpy()}
    chosen_rows = drawn_leads(labelled["flight_row_id"].to_numpy(), len(leads), leads_per_flight or len(leads))
    parts = []
    with steps.step("training set: point-in-time retrieval (rows)", total=int(chosen_rows.sum())) as advance:
        for j, lead in enumerate(leads):  # one lead at a time, as Arrow: only the kept columns of each stay in memory
            rows = chosen_rows[:, j]
            flights = labelled if rows.all() else labelled[rows]
            columns = {name: values[rows] for name, values in {**extra, LEAD: np.full(len(labelled), lead, np.int16)}.items()}
            batch = len(flights) if spool is None else SPOOL_FLIGHTS  # spooled: a bounded batch of flights at a time
            for b, start in enumerate(range(0, len(flights), batch)):
                table = historical_table(store, entity_frame(flights.iloc[start: start + batch], lead), service,
                                         on_chunk=advance, columns=keep)
                for name, values in columns.items():
                    values = values[start: start + batch]
                    table = table.append_column(name, pa.array(values, pa.string() if values.dtype == object else None))
                if spool is None:
                    parts.append(table)
                else:
                    spool_inputs(table, spool, lead, b, names, first=j == 0 and b == 0)
                del table
    if spool is not None:  # the other columns read back whole: nothing of one batch's retrieval stays beside the next
        parts = [pq.read_table(f) for lead in leads for f in spool_files(spool, lead, ROWS)]
    # One conversion, freeing the Arrow buffers as it goes: the peak stays near one copy of the set.
    whole = pa.concat_tables(parts, promote_options="permissive")
    del parts
    frame = whole.to_pandas(self_destruct=True, split_blocks=True)
    del whole
    return TrainingSet(frame, names, service_name, lead_minutes, int(cancelled.sum()), leads, spool)


SPOOL_ROW_GROUP = 65_536  # rows per parquet row group of a spooled split: the batch a fit reads at once
SPOOL_FLIGHTS = 1_000_000  # flights retrieved and written at once when spooling (a lead of a national year is 3.7 million)
ROWS = "rows"  # a spooled batch's file of the columns other than the inputs


def spool_files(spool: Path, lead: int, split: str) -> list[Path]:
    """One lead's spooled files of a split (or of ``ROWS``), batch by batch."""
    return sorted(spool.glob(f"lead-{lead:04d}-{split}-*.parquet"))


def spool_inputs(table: pa.Table, spool: Path, lead: int, batch: int, names: list[str], first: bool) -> None:
    """Write one batch of a lead's inputs to ``spool`` split by split (rows in the table's order),
    and its other columns (keys, label, split, lead) to a file of their own. ``first``: the build's
    first batch, which empties the folder."""
    import pyarrow.compute as pc

    if first:
        spool.mkdir(parents=True, exist_ok=True)
        for old in spool.glob("lead-*.parquet"):
            old.unlink()
    split = table.column(SPLIT)
    for name in pc.unique(split).to_pylist():
        rows = table.filter(pc.equal(split, name)).select(names)
        pq.write_table(rows, spool / f"lead-{lead:04d}-{name}-{batch:04d}.parquet", row_group_size=SPOOL_ROW_GROUP)
        del rows
    pq.write_table(table.drop_columns(names), spool / f"lead-{lead:04d}-{ROWS}-{batch:04d}.parquet")


def set_columns(canonical: pd.DataFrame) -> pd.DataFrame:
    """The canonical flights' columns a training set is made of (a caller holding a national year
    can keep these only)."""
    return canonical[[c for c in canonical.columns if c in (*LABELLED_COLUMNS, "origin_country")]]


def drawn_leads(row_ids: np.ndarray, n_leads: int, k: int, seed: int = 0) -> np.ndarray:
    """Which of ``n_leads`` leads each flight contributes when each draws ``k`` of them at random:
    a boolean (flights x leads) matrix with ``k`` True in every row. The draw is a function of the
    flight's row id (and ``seed``) only, so a flight draws the same leads in every build whatever
    else is in the set, and each lead is drawn by about ``k / n_leads`` of the flights.

    Raises:
        TrainingSetError: ``k`` is not between 1 and ``n_leads``.
    """
    if not 1 <= k <= n_leads:
        raise TrainingSetError(f"leads per flight must be between 1 and the number of leads ({n_leads}), got {k}")
    if k == n_leads:
        return np.ones((len(row_ids), n_leads), dtype=bool)
    # splitmix64 of (row id, lead index, seed): a uniform 64-bit key per flight and lead; the k smallest win
    x = (row_ids.astype(np.uint64)[:, None] * np.uint64(n_leads) + np.arange(n_leads, dtype=np.uint64)[None, :]
         + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15))
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    mask = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(mask, np.argpartition(x, k - 1, axis=1)[:, :k], True, axis=1)
    return mask


def write_labelled(
    store: FeatureStore,
    canonical_path: Path,
    out_dir: Path,
    service_name: str = FEATURE_SERVICE,
    lead_minutes: int = 120,
    label_delay_minutes: float = 15,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: Callable[[float], None] | None = None,
) -> int:
    """Every labelled flight of the canonical table at T = scheduled - lead, with the service's
    features, its keys, ``label`` and ``lead``, written to ``out_dir`` as one parquet file per
    chunk of flights (``part-00000.parquet``, ... in scheduled order: a parquet dataset).

    Unlike ``build``, which hands training one frame, nothing here grows with the data: the flight
    table is held as Arrow with only the columns used (tens of bytes a flight), and each chunk's
    entity rows and features are written and dropped before the next. Returns the rows written.
    """
    import pyarrow.compute as pc

    service = resolve_service(store, service_name)
    keep = [*KEPT, *model_feature_names(service)]
    flights = pq.read_table(canonical_path, columns=list(LABELLED_COLUMNS))
    flights = flights.filter(pc.invert(flights.column("cancelled"))).sort_by("sched_dep_utc")
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("part-*.parquet"):
        old.unlink()
    written = 0
    for part, start in enumerate(range(0, flights.num_rows, chunk_rows)):
        chunk = flights.slice(start, chunk_rows).to_pandas()
        table = historical_table(store, entity_frame(chunk, lead_minutes), service, chunk_rows=chunk_rows, columns=keep)
        label = delayed(chunk["dep_delay_min"], label_delay_minutes)
        table = table.append_column(LABEL, pa.array(label)).append_column(LEAD, pa.array(np.full(len(chunk), lead_minutes, np.int16)))
        pq.write_table(table, out_dir / f"part-{part:05d}.parquet")
        written += table.num_rows
        del chunk, table
        if on_chunk is not None:
            on_chunk(min(chunk_rows, flights.num_rows - start))
    return written


def _span(canonical: pd.DataFrame) -> str:
    months = local_month(canonical)
    return f"{months.min()}..{months.max()}" if len(months) else "no flights"


def write_training_set(settings: Settings, out_dir: Path, service_name: str, lead_minutes: int, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                       on_chunk: Callable[[float], None] | None = None) -> int:
    """``write_labelled`` through the settings' offline store (``features training-set``); rows written."""
    from skyprophet.adapters.store import open_store

    return write_labelled(open_store(settings, online="sqlite"), settings.canonical_path, out_dir, service_name, lead_minutes,
                          chunk_rows=chunk_rows, on_chunk=on_chunk)
