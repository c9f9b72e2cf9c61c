"""Two models on the same flights: each one's ROC AUC, Brier score and log loss, and the difference
with a paired bootstrap interval.

Paired: every resample draws flights (with replacement) and scores both models on the same draw,
so the interval is of the difference itself, far narrower than two separate intervals would
suggest. A flight's rows at several leads are drawn together (they are not independent).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
EPS = 1e-15


def roc_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """ROC AUC with row weights, in one pass over the distinct scores (ties count a half): a
    bootstrap calls it hundreds of times on hundreds of thousands of rows."""
    scores, index = np.unique(p, return_inverse=True)
    weights = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    pos = np.bincount(index, weights=weights * y, minlength=len(scores))
    neg = np.bincount(index, weights=weights * (1 - y), minlength=len(scores))
    below = np.cumsum(neg) - neg  # negatives scored lower than each distinct score
    total = pos.sum() * neg.sum()
    if total == 0:
        raise ValueError("ROC AUC needs both classes")
    return float((pos * (below + 0.5 * neg)).sum() / total)


def brier(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    return float(np.average((p - y) ** 2, weights=w))


def log_loss(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(np.average(-(y * np.log(q) + (1 - y) * np.log(1 - q)), weights=w))


METRICS: dict[str, Metric] = {"roc_auc": roc_auc, "brier": brier, "log_loss": log_loss}
HIGHER_IS_BETTER = {"roc_auc": True, "brier": False, "log_loss": False}


def paired(
    y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, groups: np.ndarray | None = None, *, metrics: tuple[str, ...] = tuple(METRICS),
    resamples: int = 200, level: float = 0.95, seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Each metric of ``a`` and of ``b`` on the rows ``y``, the difference ``b - a`` and its paired
    bootstrap interval at ``level`` (percentiles of ``resamples`` draws of the ``groups``, e.g. the
    flights; each row its own group when None), and whether the interval says ``b`` is better
    (``b_better``: the whole interval on the better side of 0) or worse (``b_worse``)."""
    y = np.asarray(y, dtype=float)
    p_a, p_b = np.asarray(p_a, dtype=float), np.asarray(p_b, dtype=float)
    if not len(y) == len(p_a) == len(p_b):
        raise ValueError(f"rows differ: {len(y)} labels, {len(p_a)} and {len(p_b)} probabilities")
    _, index = np.unique(np.arange(len(y)) if groups is None else np.asarray(groups), return_inverse=True)
    n = int(index.max()) + 1 if len(index) else 0
    rng = np.random.default_rng(seed)
    draws = [np.bincount(rng.integers(0, n, n), minlength=n)[index].astype(float) for _ in range(resamples)]
    out = {}
    for name in metrics:
        f = METRICS[name]
        a, b = f(y, p_a, None), f(y, p_b, None)
        diffs = np.array([f(y, p_b, w) - f(y, p_a, w) for w in draws if (w * y).sum() > 0 and (w * (1 - y)).sum() > 0])
        low, high = np.quantile(diffs, [(1 - level) / 2, 1 - (1 - level) / 2])
        up = HIGHER_IS_BETTER[name]
        out[name] = {"a": a, "b": b, "difference": b - a, "low": float(low), "high": float(high),
                     "b_better": bool(low > 0 if up else high < 0), "b_worse": bool(high < 0 if up else low > 0)}
    return out
