"""The delay model at inference: its stored spec, input encoding and probabilities.

One definition for training, batch scoring and the service. A model is a LightGBM ``Booster``
plus a ``ModelSpec`` stored in its MLflow metadata: the input order (the feature service's), the
vocabulary of each categorical input, the optional Platt calibration and the decision threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd


@dataclass(frozen=True)
class ModelSpec:
    """What a booster needs around it to turn features into a decision."""

    feature_service: str
    lead_minutes: int
    feature_names: list[str]
    threshold: float
    categories: dict[str, list[str]] = field(default_factory=dict)
    # Platt scaling on the booster's log-odds: p = sigmoid(a * logit + b); None = not applied.
    calibration: tuple[float, float] | None = None
    # The leads (minutes) it was trained at when several: it then scores a flight at any lead in
    # (0, max(leads)] from an instant T (its inputs include the lead); empty: at lead_minutes only.
    leads: list[int] = field(default_factory=list)

    @property
    def any_lead(self) -> bool:
        """Trained at several leads: scores as of any instant up to ``max_lead_minutes`` ahead."""
        return len(self.leads) > 1

    @property
    def trained_leads(self) -> list[int]:
        """Every lead it was trained at, longest first (its one lead when trained at one)."""
        return sorted(self.leads, reverse=True) if self.leads else [self.lead_minutes]

    @property
    def max_lead_minutes(self) -> int:
        return self.trained_leads[0]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["calibration"] = list(self.calibration) if self.calibration else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        cal = d.get("calibration")
        return cls(
            feature_service=str(d["feature_service"]),
            lead_minutes=int(d["lead_minutes"]),
            feature_names=[str(n) for n in d["feature_names"]],
            threshold=float(d["threshold"]),
            categories={str(k): [str(x) for x in v] for k, v in (d.get("categories") or {}).items()},
            calibration=(float(cal[0]), float(cal[1])) if cal else None,
            leads=[int(x) for x in d.get("leads") or []],
        )

    @cached_property
    def category_index(self) -> dict[str, dict[str, float]]:
        """Per categorical input: each known value's code (computed once per loaded model)."""
        return {name: {v: float(i) for i, v in enumerate(vocab)} for name, vocab in self.categories.items()}


def category_codes(values: Sequence[Any] | np.ndarray, index: Mapping[str, float]) -> np.ndarray:
    """Codes of ``values`` in a vocabulary's ``index`` as floats; unknown or missing values are NaN."""
    return np.array([index.get(v, math.nan) if isinstance(v, str) else math.nan for v in values], dtype=np.float64)


def encode_frame(frame: pd.DataFrame, spec: ModelSpec) -> np.ndarray:
    """The model's input matrix from a frame with one column per feature (training, batch)."""
    out = np.empty((len(frame), len(spec.feature_names)), dtype=np.float64)
    for j, name in enumerate(spec.feature_names):
        col = frame[name]
        if name in spec.categories:
            out[:, j] = category_codes(col.to_numpy(dtype=object), spec.category_index[name])
        else:
            out[:, j] = np.asarray(col.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    return out


def encode_rows(rows: Sequence[Mapping[str, Any]], spec: ModelSpec) -> np.ndarray:
    """The model's input matrix from feature dicts by full name (online reads); None is NaN."""
    names = spec.feature_names
    return encode_values([[r.get(n) for n in names] for r in rows], spec)


def encode_values(rows: Sequence[Sequence[Any]], spec: ModelSpec) -> np.ndarray:
    """The model's input matrix from value lists in ``spec.feature_names`` order; None is NaN."""
    names = spec.feature_names
    if not rows:
        return np.empty((0, len(names)), dtype=np.float64)
    cats = [(j, spec.category_index[n]) for j, n in enumerate(names) if n in spec.category_index]
    nan = math.nan
    matrix = []
    for values in rows:
        row = list(values)
        for j, index in cats:
            v = row[j]
            row[j] = index.get(v, nan) if isinstance(v, str) else nan
        matrix.append([nan if v is None else v for v in row])
    return np.array(matrix, dtype=np.float64)


def calibrate(raw: np.ndarray, calibration: tuple[float, float] | None) -> np.ndarray:
    """Apply Platt scaling on the log-odds of ``raw`` probabilities (identity when None)."""
    if calibration is None:
        return raw
    a, b = calibration
    p = np.clip(raw, 1e-12, 1 - 1e-12)
    return 1.0 / (1.0 + np.exp(-(a * np.log(p / (1 - p)) + b)))


def probabilities(booster: lgb.Booster, x: np.ndarray, spec: ModelSpec, num_threads: int = 1) -> np.ndarray:
    """Delay probabilities for the rows of ``x`` (columns in ``spec.feature_names`` order)."""
    raw = booster.predict(x, num_threads=num_threads)
    return calibrate(np.asarray(raw, dtype=np.float64), spec.calibration)


def contributions(booster: lgb.Booster, x: np.ndarray, spec: ModelSpec, num_threads: int = 1) -> np.ndarray:
    """Per-feature contributions to each row's log-odds (last column: the bias), LightGBM ``pred_contrib``.

    With Platt calibration the calibrated log-odds are ``a * raw + b``, so contributions scale by ``a``.
    """
    contrib = np.asarray(booster.predict(x, pred_contrib=True, num_threads=num_threads))
    return contrib * spec.calibration[0] if spec.calibration is not None else contrib


def top_factors(spec: ModelSpec, values: Mapping[str, Any], contrib: np.ndarray, n: int) -> list[dict[str, Any]]:
    """The ``n`` largest contributions of one row by magnitude (bias excluded), with the feature's value."""
    names = spec.feature_names
    order = np.argsort(-np.abs(contrib[: len(names)]))[:n]
    return [{"feature": names[i], "value": values.get(names[i]), "contribution": round(float(contrib[i]), 6)} for i in order]
