"""A split's model inputs, whether in memory (a matrix) or spooled to parquet (``build(spool=...)``).

LightGBM reads a spooled split through its ``Sequence`` interface: the parquet row groups are read
and encoded a batch at a time, so the float64 matrix of a national year's training rows (about
22 million rows of about 60 inputs: 10 GB) never exists; only LightGBM's binned copy does (a byte
or two an input). The values are the same float64 values a matrix would hold, read in the same row
order, so the booster is the same as the one fitted from the matrix (a test checks it). Predictions
over a spooled split go a batch at a time too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.features.training_set import TrainingSet
from skyprophet.core.model import ModelSpec, calibrate, encode_frame

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

# A split's inputs: the encoded matrix, or one sequence per spooled file (in the split's row order).
Inputs = np.ndarray | list["SpooledRows"]


class SpooledRows(lgb.Sequence):
    """The encoded rows of one spooled parquet file, read a row group at a time.

    LightGBM asks for single rows in increasing order while it samples the bin boundaries, then for
    ranges of ``batch_size`` rows: the last row group read is kept, so each is read and encoded once
    per pass."""

    def __init__(self, path: Path, spec: ModelSpec) -> None:
        self.file = pq.ParquetFile(path)
        self.spec = spec
        meta = self.file.metadata
        self.starts = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
        self.batch_size = int(meta.row_group(0).num_rows) if meta.num_row_groups else 1
        self._group = -1
        self._rows = np.empty((0, len(spec.feature_names)))

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _read(self, group: int) -> np.ndarray:
        if group != self._group:
            table = self.file.read_row_group(group, columns=self.spec.feature_names)
            self._rows, self._group = encode_frame(table.to_pandas(), self.spec), group
        return self._rows

    def __getitem__(self, idx: int | slice | list[int]) -> np.ndarray:
        if isinstance(idx, list):
            return np.array([self[i] for i in idx]).reshape(len(idx), len(self.spec.feature_names))
        if isinstance(idx, slice):
            start, stop, _ = idx.indices(len(self))
            if start >= stop:
                return np.empty((0, len(self.spec.feature_names)))
            first = int(np.searchsorted(self.starts, start, side="right")) - 1
            last = int(np.searchsorted(self.starts, stop - 1, side="right")) - 1
            parts = [self._read(g) for g in range(first, last + 1)]
            rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
            return rows[start - self.starts[first]: stop - self.starts[first]]
        group = int(np.searchsorted(self.starts, idx, side="right")) - 1
        return self._read(group)[idx - self.starts[group]]


def sequence_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` for a Dataset read through ``Sequence``, sampled as from a matrix.

    Given ``seed`` and no ``data_random_seed``, LightGBM (4.7) draws the rows it builds the bins
    from with the data seed it derives from ``seed`` when reading a matrix, but with the default
    seed when its Python code samples a ``Sequence``; above ``bin_construct_sample_cnt`` rows the
    bins, and so the model, would differ. The derived seed, read from a booster's resolved
    parameters, is set here explicitly: both paths then draw the same rows."""
    if "seed" not in params or "data_random_seed" in params:
        return params
    tiny = lgb.Dataset(np.arange(8.0).reshape(4, 2), np.array([0.0, 1.0, 0.0, 1.0]), params={"verbose": -1})
    resolved = lgb.Booster(params={"objective": "binary", "verbose": -1, "num_threads": 1, "seed": params["seed"]},
                           train_set=tiny).model_to_string()
    derived = next(line for line in resolved.splitlines() if line.startswith("[data_random_seed: "))
    return {**params, "data_random_seed": int(derived.removeprefix("[data_random_seed: ").rstrip("]"))}


def split_inputs(ts: TrainingSet, name: str, spec: ModelSpec) -> Inputs:
    """One split's encoded inputs: its matrix, or a sequence per spooled file."""
    if ts.spool is None:
        return encode_frame(ts.part(name), spec)
    return [SpooledRows(path, spec) for path in ts.spooled(name)]


def batches(x: Inputs) -> Iterator[np.ndarray]:
    """The rows of ``x`` as matrices, a batch at a time."""
    if isinstance(x, np.ndarray):
        yield x
        return
    for seq in x:
        for start in range(0, len(seq), seq.batch_size):
            yield seq[start: start + seq.batch_size]


def head(x: Inputs, n: int) -> np.ndarray:
    """The first ``n`` rows of ``x`` as a matrix."""
    if isinstance(x, np.ndarray):
        return x[:n]
    return next(iter(batches(x)))[:n]


def raw_scores(booster: lgb.Booster, x: Inputs, threads: int) -> np.ndarray:
    """The booster's uncalibrated probabilities of every row of ``x``."""
    parts = [np.asarray(booster.predict(rows, num_threads=threads), dtype=np.float64) for rows in batches(x)]
    return np.concatenate(parts) if parts else np.empty(0)


def probabilities(booster: lgb.Booster, x: Inputs, spec: ModelSpec, threads: int) -> np.ndarray:
    """Delay probabilities of every row of ``x`` (``skyprophet.core.model.probabilities`` over batches)."""
    return calibrate(raw_scores(booster, x, threads), spec.calibration)


def vocabularies(ts: TrainingSet) -> dict[str, list[str]]:
    """Categorical inputs (text features) and their vocabulary from the training window.

    A spooled set's columns are typed as ``build`` types them when it joins its leads in memory
    (Arrow's permissive promotion, then pandas): text or no values at all in every file, or yes/no
    with a missing value, is a text (object) column; its vocabulary is read from the train files."""
    if ts.spool is None:
        train = ts.part("train")
        return {n: _vocabulary(train[n].dropna()) for n in ts.feature_names if train[n].dtype == object}
    every = [pq.ParquetFile(f) for s in ("train", "validation", "test") for f in ts.spooled(s)]
    if not every:
        return {}
    joined = pa.unify_schemas([f.schema_arrow for f in every], promote_options="permissive")
    out = {}
    for name in ts.feature_names:
        kind = joined.field(name).type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
        if pa.types.is_boolean(kind):  # a yes/no column is an object column in pandas when a value is missing
            text = any(f.read(columns=[name]).column(0).null_count for f in every)
        if text:
            uniques = [pq.read_table(f, columns=[name]).column(0).unique() for f in ts.spooled("train")]
            out[name] = _vocabulary([v for u in uniques for v in u.to_pylist() if v is not None])
    return out


def _vocabulary(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if str(v)})


def frame_head(x: Inputs, spec: ModelSpec, n: int = 5) -> pd.DataFrame:
    """The first ``n`` encoded rows as a frame with the model's input names (MLflow's input example)."""
    return pd.DataFrame(head(x, n), columns=spec.feature_names)
