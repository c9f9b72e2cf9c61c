"""Point-in-time training rows from Feast, in bounded chunks, one row per entity row.

``get_historical_features`` is called on slices of the entity rows (sorted by time, so each
slice touches a narrow band of feature rows); peak memory is bounded by the slice, and the
result is checked to hold exactly one row per entity row and put back in the input's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from skyprophet.adapters.store import release_retrieval
from skyprophet.core.config import FEATURE_SERVICE
from skyprophet.core.keys import ROW_ID, TIMESTAMP

if TYPE_CHECKING:
    from collections.abc import Callable

    from feast import FeatureService, FeatureStore

DEFAULT_CHUNK_ROWS = 100_000


class RetrievalError(RuntimeError):
    """Feast returned a training set that does not match its entity rows one to one."""


def _utc_timestamps(table: pa.Table) -> pa.Table:
    """Timestamps without a zone as UTC: Spark returns them naive, in its session's zone, which
    ``skyprophet.adapters.store.spark_conf`` sets to UTC (DuckDB returns them zoned)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp(f.type.unit, tz="UTC")))
    return table


def historical_features(
    store: FeatureStore,
    entity_df: pd.DataFrame,
    service: FeatureService | str = FEATURE_SERVICE,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Features of ``service`` as of each entity row's ``event_timestamp`` (``historical_table``
    as a data frame)."""
    return historical_table(store, entity_df, service, chunk_rows, on_chunk).to_pandas()


def historical_table(
    store: FeatureStore,
    entity_df: pd.DataFrame,
    service: FeatureService | str = FEATURE_SERVICE,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: Callable[[float], None] | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Features of ``service`` as of each entity row's ``event_timestamp``, as an Arrow table.

    Args:
        store: the feature store.
        entity_df: entity keys, ``event_timestamp``, request values and a unique ``row_id``.
        service: the feature service (or its name).
        chunk_rows: entity rows per Feast call.
        on_chunk: called with the number of entity rows of each chunk done (progress).
        columns: the columns to return (default: every entity column and feature); the others
            are dropped before the rows are put back in order, so they are never copied.

    Returns:
        One row per entity row, in ``entity_df``'s order, with full feature names.
    """
    if ROW_ID not in entity_df or not entity_df[ROW_ID].is_unique:
        raise ValueError(f"entity rows need a unique {ROW_ID!r} column")
    if isinstance(service, str):
        service = store.get_feature_service(service)
    ordered = entity_df.sort_values(TIMESTAMP, kind="stable")
    parts: list[pa.Table] = []
    for start in range(0, len(ordered), chunk_rows):
        chunk = ordered.iloc[start : start + chunk_rows]
        parts.append(
            store.get_historical_features(entity_df=chunk, features=service, full_feature_names=True).to_arrow()
        )
        release_retrieval(store)  # each call's scratch (Spark: the uploaded entity rows) before the next
        if on_chunk is not None:
            on_chunk(len(chunk))
    del ordered
    table = pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})
    del parts
    if columns is not None and table.num_columns:
        table = table.select([ROW_ID, *(c for c in columns if c != ROW_ID)])
    table = _utc_timestamps(table)
    got = pd.Index(table.column(ROW_ID).to_numpy()) if table.num_columns else pd.Index([])
    if len(got) != len(entity_df) or not got.is_unique:
        raise RetrievalError(f"{len(got)} feature rows for {len(entity_df)} entity rows")
    pos = got.get_indexer(pd.Index(entity_df[ROW_ID]))
    if (pos < 0).any():
        raise RetrievalError("feature rows missing for some entity rows")
    table = table.take(pa.array(pos))
    return table if columns is None or ROW_ID in columns else table.drop_columns([ROW_ID])
