"""Parquet I/O shared by the pipeline stages: idempotent writes and the canonical flight table."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from skyprophet.core.errors import MissingData


def parquet_bytes(df: pd.DataFrame, row_group_size: int | None = None) -> bytes:
    """``df`` as zstd-compressed parquet, without the index."""
    buf = io.BytesIO()
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, buf, compression="zstd", row_group_size=row_group_size)
    return buf.getvalue()


def write_if_changed(df: pd.DataFrame, path: Path, row_group_size: int | None = None) -> bool:
    """Write ``df`` as parquet unless the file already holds exactly these bytes (atomic replace)."""
    data = parquet_bytes(df, row_group_size)
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def read_frame(path: Path, *, compact: bool = False) -> pd.DataFrame:
    """A parquet file as a frame; ``compact``: its text columns as Arrow-backed strings (a few
    bytes a value, not a Python object each: a national year's flights in a third of the memory)."""
    if not compact:
        return pd.read_parquet(path)
    arrow_strings = pd.StringDtype("pyarrow")
    return pq.read_table(path).to_pandas(types_mapper=lambda t: arrow_strings if t in (pa.string(), pa.large_string()) else None,
                                         self_destruct=True)


def read_canonical(path: Path, *, compact: bool = False) -> pd.DataFrame:
    """The canonical flight table written by ingest (``Settings.canonical_path``); ``compact``
    as ``read_frame``'s.

    Raises:
        MissingData: the file is not there.
    """
    if not path.exists():
        raise MissingData(f"{path} is missing: run `make features` (ingest) first")
    return read_frame(path, compact=compact)


def airport_countries(raw_dir: Path) -> dict[str, str]:
    """Airport code -> ISO country code, from the airports ingest wrote (empty when there are none,
    or they say no country)."""
    path = raw_dir / "airports.parquet"
    if not path.exists():
        return {}
    airports = pd.read_parquet(path)
    if "country" not in airports:
        return {}
    known = airports.dropna(subset=["faa", "country"])
    return dict(zip(known["faa"].astype(str), known["country"].astype(str), strict=True))
