"""Drift statistics between a reference sample and a window: PSI, KS, chi-square, and the
adversarial validator (a LightGBM classifier that tries to tell the two apart).

KS and chi-square come from Evidently (its telemetry off), with its per-input page; the validator
is LightGBM. PSI is computed here, over the reference's deciles plus a bin for the missing (an
input that goes missing in served traffic is drift too), because Evidently's PSI bins numeric
inputs in equal-width Sturges bins over the pooled samples: on a heavy-tailed input almost every
row lands in one bin, and a shift the bands exist to catch goes unseen (measured by
``python -m studies.psi_binning``: the previous leg's delay shifted by 10 minutes scores 0.007
with Evidently, 2.9 over deciles). The bands (0.1, 0.25) are those of decile PSI.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from skyprophet.core.monitoring import AdversarialPart, ComparedRows, InputDriftPart, Ranked

# The usual bands: < 0.1 stable, 0.1-0.25 watch, > 0.25 act.
PSI_WATCH = 0.1
PSI_ACT = 0.25
EPS = 1e-4  # a share of 0 counts as this much (PSI is infinite otherwise)
MISSING = "(missing)"


def band(psi: float) -> str:
    """``stable`` below 0.1, ``watch`` up to 0.25, ``act`` above."""
    return "act" if psi > PSI_ACT else "watch" if psi >= PSI_WATCH else "stable"


def psi_of_shares(expected: np.ndarray, actual: np.ndarray, eps: float = EPS) -> float:
    """Population stability index of two distributions over the same bins: sum((a - e) ln(a / e))."""
    e = np.clip(np.asarray(expected, dtype=np.float64), eps, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), eps, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def decile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's deciles (distinct values only: a lumpy input has fewer bins)."""
    x = reference[~np.isnan(reference)]
    if x.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))


def numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares per bin (each bin holds its lower edge), then the share missing."""
    x = np.asarray(values, dtype=np.float64)
    present = ~np.isnan(x)
    counts = np.bincount(np.searchsorted(edges, x[present], side="right"), minlength=len(edges) + 1)
    counts = np.append(counts, int((~present).sum()))
    return counts / max(int(counts.sum()), 1)


def numeric_psi(reference: np.ndarray, window: np.ndarray, bins: int = 10) -> float:
    """PSI over the reference's deciles and a missing bin."""
    edges = decile_edges(np.asarray(reference, dtype=np.float64), bins)
    return psi_of_shares(numeric_shares(reference, edges), numeric_shares(window, edges))


def categorical_psi(reference: Sequence[Any], window: Sequence[Any]) -> float:
    """PSI over the categories of both samples (missing is a category)."""
    r, w = pd.Series([_label(v) for v in reference]), pd.Series([_label(v) for v in window])
    cats = sorted(set(r) | set(w))
    rc, wc = r.value_counts().reindex(cats, fill_value=0), w.value_counts().reindex(cats, fill_value=0)
    return psi_of_shares(rc.to_numpy() / max(len(r), 1), wc.to_numpy() / max(len(w), 1))


def column_psi(reference: pd.Series, window: pd.Series, categorical: bool) -> float:
    """One input's PSI: over its categories, or over the reference's deciles (numbers as floats)."""
    if categorical:
        return categorical_psi(reference.tolist(), window.tolist())
    return numeric_psi(floats(reference), floats(window))


def _label(v: Any) -> str:
    return MISSING if v is None or (isinstance(v, float) and v != v) else str(v)


def _missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy()


@dataclass
class InputDrift:
    """One input's drift from the reference to the window."""

    name: str
    kind: str  # numeric | categorical
    psi: float
    test: str  # ks (two-sample) | chi2 (goodness of fit of the window's counts to the reference's shares)
    p_value: float
    new_categories: list[str]
    missing_reference: float
    missing_window: float

    @property
    def band(self) -> str:
        return band(self.psi)

    def fields(self) -> dict[str, Any]:
        """The report's figures (rounded as written)."""
        return {
            "kind": self.kind, "psi": round(self.psi, 6), "band": self.band, "test": self.test,
            "p_value": float(f"{self.p_value:.6g}"), "new_categories": self.new_categories,
            "missing_reference": round(self.missing_reference, 6), "missing_window": round(self.missing_window, 6),
        }

    def part(self) -> InputDriftPart:
        return InputDriftPart(**self.fields())


def input_drift(
    reference: pd.DataFrame, window: pd.DataFrame, names: Sequence[str], categorical: Sequence[str]
) -> tuple[list[InputDrift], Any]:
    """Every input's drift, largest PSI first, and Evidently's snapshot (its HTML shows each input).

    PSI is this module's (deciles, see the module); Evidently gives each test's p-value (KS for
    numeric inputs, chi-square for categorical ones) on the present values; the share missing
    and the categories the reference never had are counted here. An input with no value on one
    side has no test (p-value NaN; Evidently refuses it) but its PSI still shows the change.
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry stays off
    with warnings.catch_warnings():  # its web framework's deprecation notices on import: not ours to fix
        warnings.simplefilter("ignore")
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import ValueDrift

    numeric = [n for n in names if n not in set(categorical)]
    cats = [n for n in names if n in set(categorical)]
    ref, cur = _frame(reference, numeric, cats), _frame(window, numeric, cats)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=cats)
    tested = [n for n in names if ref[n].notna().any() and cur[n].notna().any()]
    metrics = [ValueDrift(column=n, method="ks" if n in numeric else "chisquare") for n in tested]
    with warnings.catch_warnings():  # Evidently's own divide-by-zero on empty bins (it clips them)
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report(metrics).run(Dataset.from_pandas(cur, data_definition=definition),
                                       Dataset.from_pandas(ref, data_definition=definition))
    p = dict.fromkeys(names, float("nan")) | {n: float(m["value"]) for n, m in zip(tested, snapshot.dict()["metrics"], strict=True)}
    psi = [column_psi(ref[n], cur[n], n in cats) for n in names]
    out = []
    for i, name in enumerate(names):
        kind = "categorical" if name in cats else "numeric"
        new = sorted(set(cur[name].dropna()) - set(ref[name].dropna())) if kind == "categorical" else []
        out.append(InputDrift(name, kind, psi[i], "chi2" if kind == "categorical" else "ks", p[name], [str(x) for x in new],
                              float(_missing(ref[name]).mean()), float(_missing(cur[name]).mean())))
    return sorted(out, key=lambda d: -d.psi), snapshot


def _frame(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numeric inputs as floats (NaN: missing), categorical ones as strings (None: missing)."""
    out = {n: floats(frame[n]) for n in numeric}
    for n in categorical:
        col = frame[n].astype(object)
        out[n] = col.where(col.notna(), None).to_numpy()
    return pd.DataFrame(out)


def floats(col: pd.Series) -> np.ndarray:
    """A column as floats (NaN: missing or not a number)."""
    return np.asarray(pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


@dataclass
class Adversarial:
    """The validator's verdict: how well reference and window rows can be told apart."""

    auc: float
    ranking: list[tuple[str, float]]  # inputs by their share of the validator's gain, largest first
    excluded: list[str]  # inputs left out (the calendar's: they separate any two periods by construction)
    rows: tuple[int, int]  # reference rows, window rows used

    def part(self) -> AdversarialPart:
        return AdversarialPart(auc=round(self.auc, 6), ranking=[Ranked(input=n, gain_share=round(g, 6)) for n, g in self.ranking],
                               excluded=self.excluded, rows=ComparedRows(reference=self.rows[0], window=self.rows[1]))


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
            x[:, j] = np.concatenate([floats(ref[name]), floats(cur[name])])
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
