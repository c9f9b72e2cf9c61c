"""Drift statistics between a reference sample and a window: PSI, KS, chi-square, and the
adversarial validator (a LightGBM classifier that tries to tell the two apart).

PSI, KS and chi-square come from Evidently (its telemetry off); the validator is LightGBM.
Evidently leaves missing values out of its statistics, so the share missing on each side is
reported beside them: an input that goes missing in served traffic is drift too.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# The usual bands: < 0.1 stable, 0.1-0.25 watch, > 0.25 act.
PSI_WATCH = 0.1
PSI_ACT = 0.25


def band(psi: float) -> str:
    """``stable`` below 0.1, ``watch`` up to 0.25, ``act`` above."""
    return "act" if psi > PSI_ACT else "watch" if psi >= PSI_WATCH else "stable"


def _missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy()


@dataclass
class InputDrift:
    """One input's drift from the reference to the window."""

    name: str
    kind: str  # numeric | categorical
    psi: float
    test: str  # ks | chi2
    p_value: float
    new_categories: list[str]
    missing_reference: float
    missing_window: float

    @property
    def band(self) -> str:
        return band(self.psi)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "psi": round(self.psi, 6), "band": self.band, "test": self.test,
            "p_value": float(f"{self.p_value:.6g}"), "new_categories": self.new_categories,
            "missing_reference": round(self.missing_reference, 6), "missing_window": round(self.missing_window, 6),
        }


def input_drift(
    reference: pd.DataFrame, window: pd.DataFrame, names: Sequence[str], categorical: Sequence[str]
) -> tuple[list[InputDrift], Any]:
    """Every input's drift, largest PSI first, and Evidently's snapshot (its HTML shows each input).

    Evidently computes PSI (numeric: over the reference's quantile bins; categorical: over the
    categories) and the test's p-value (KS for numeric inputs, chi-square for categorical ones)
    on the present values; the share missing and the categories the reference never had are
    counted here.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry stays off
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    numeric = [n for n in names if n not in set(categorical)]
    cats = [n for n in names if n in set(categorical)]
    ref, cur = _frame(reference, numeric, cats), _frame(window, numeric, cats)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=cats)
    metrics = [ValueDrift(column=n, method="psi", threshold=PSI_ACT) for n in names]
    metrics += [ValueDrift(column=n, method="ks" if n in numeric else "chisquare") for n in names]
    with warnings.catch_warnings():  # Evidently's own divide-by-zero on empty bins (it clips them)
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report(metrics).run(Dataset.from_pandas(cur, data_definition=definition),
                                       Dataset.from_pandas(ref, data_definition=definition))
    values = [float(m["value"]) for m in snapshot.dict()["metrics"]]
    psi, p = values[: len(names)], values[len(names):]
    out = []
    for i, name in enumerate(names):
        kind = "categorical" if name in cats else "numeric"
        new = sorted(set(cur[name].dropna()) - set(ref[name].dropna())) if kind == "categorical" else []
        out.append(InputDrift(name, kind, psi[i], "chi2" if kind == "categorical" else "ks", p[i], [str(x) for x in new],
                              float(_missing(ref[name]).mean()), float(_missing(cur[name]).mean())))
    return sorted(out, key=lambda d: -d.psi), snapshot


def _frame(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numeric inputs as floats (NaN: missing), categorical ones as strings (None: missing)."""
    out = {n: _floats(frame[n]) for n in numeric}
    for n in categorical:
        col = frame[n].astype(object)
        out[n] = col.where(col.notna(), None).to_numpy()
    return pd.DataFrame(out)


def _floats(col: pd.Series) -> np.ndarray:
    return np.asarray(pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


@dataclass
class Adversarial:
    """The validator's verdict: how well reference and window rows can be told apart."""

    auc: float
    ranking: list[tuple[str, float]]  # inputs by their share of the validator's gain, largest first
    excluded: list[str]  # inputs left out (the calendar's: they separate any two periods by construction)
    rows: tuple[int, int]  # reference rows, window rows used

    def to_dict(self) -> dict[str, Any]:
        return {"auc": round(self.auc, 6), "ranking": [{"input": n, "gain_share": round(g, 6)} for n, g in self.ranking],
                "excluded": self.excluded, "rows": {"reference": self.rows[0], "window": self.rows[1]}}


def adversarial(
    reference: pd.DataFrame,
    window: pd.DataFrame,
    names: Sequence[str],
    categorical: Sequence[str],
    exclude: Sequence[str] = (),
    max_rows: int = 20_000,
    folds: int = 3,
    seed: int = 7,
    num_threads: int = 2,
) -> Adversarial:
    """Train LightGBM to separate reference rows (0) from window rows (1), out of fold; report
    the ROC AUC of its out-of-fold scores (0.5: indistinguishable) and the inputs it used most.

    Both sides are sampled to the same size (at most ``max_rows``), so the AUC does not depend
    on their ratio; categorical inputs are coded over the union of both samples' values.
    """
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    used = [n for n in names if n not in set(exclude)]
    n = min(len(reference), len(window), max_rows)
    rng = np.random.default_rng(seed)
    ref = reference.iloc[rng.choice(len(reference), n, replace=False)]
    cur = window.iloc[rng.choice(len(window), n, replace=False)]
    x = np.empty((2 * n, len(used)), dtype=np.float64)
    for j, name in enumerate(used):
        if name in categorical:
            both = pd.concat([ref[name], cur[name]], ignore_index=True).astype(object)
            codes, _ = pd.factorize(both.where(both.notna(), None))
            x[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            x[:, j] = np.concatenate([_floats(ref[name]), _floats(cur[name])])
    y = np.r_[np.zeros(n), np.ones(n)]
    cats = [j for j, name in enumerate(used) if name in categorical]
    params = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 100,
              "feature_fraction": 1.0, "verbose": -1, "seed": seed, "num_threads": num_threads}
    scores = np.empty(2 * n)
    gain = np.zeros(len(used))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        data = lgb.Dataset(x[train], y[train], feature_name=list(used), categorical_feature=cats, free_raw_data=True)
        booster = lgb.train(params, data, num_boost_round=100)
        scores[test] = booster.predict(x[test], num_threads=num_threads)
        gain += booster.feature_importance("gain")
    total = gain.sum() or 1.0
    ranking = sorted(((name, float(g / total)) for name, g in zip(used, gain, strict=True)), key=lambda t: -t[1])
    return Adversarial(float(roc_auc_score(y, scores)), ranking, [n for n in names if n in set(exclude)], (n, n))
