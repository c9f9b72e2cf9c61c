"""The paired comparison of two models: its point values are sklearn's, its interval sits around
the difference, and it says better only when the whole interval is on one side of 0."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from pipelines.model.compare import paired


def _data(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (signal + rng.normal(size=n) > 0.8).astype(int)
    sharp = 1 / (1 + np.exp(-(2 * signal - 1.5)))  # sees the signal
    blunt = 1 / (1 + np.exp(-(0.3 * signal + 0.2 * rng.normal(size=n) - 1.2)))  # barely
    return y, blunt, sharp


def test_point_values_are_sklearns() -> None:
    y, a, b = _data()
    got = paired(y, a, b, resamples=20)
    assert got["roc_auc"]["a"] == pytest.approx(roc_auc_score(y, a))
    assert got["brier"]["b"] == pytest.approx(brier_score_loss(y, b))
    assert got["log_loss"]["difference"] == pytest.approx(log_loss(y, b) - log_loss(y, a))


def test_the_weighted_roc_auc_is_sklearns_ties_and_weights_included() -> None:
    from pipelines.model.compare import roc_auc

    rng = np.random.default_rng(4)
    y = (rng.random(2000) < 0.3).astype(float)
    p = np.round(rng.random(2000) + 0.3 * y, 2)  # many ties
    w = rng.integers(0, 4, 2000).astype(float)  # a bootstrap's counts, zeros included
    assert roc_auc(y, p, w) == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_a_clearly_better_model_is_called_better_and_the_other_way_round_worse() -> None:
    y, a, b = _data()
    got = paired(y, a, b, resamples=100)
    for metric, d in got.items():
        assert d["low"] <= d["difference"] <= d["high"], metric
        assert d["b_better"] and not d["b_worse"], (metric, d)
    back = paired(y, b, a, resamples=100)
    assert all(d["b_worse"] and not d["b_better"] for d in back.values()), back


def test_the_same_model_is_never_better_nor_worse() -> None:
    y, a, _ = _data()
    got = paired(y, a, a.copy(), resamples=50)
    assert all(d["difference"] == 0 and d["low"] == 0 == d["high"] and not d["b_better"] and not d["b_worse"] for d in got.values())


def test_noise_alone_is_no_difference() -> None:
    rng = np.random.default_rng(3)
    y, a, _ = _data(n=3000)
    b = np.clip(a + rng.normal(scale=0.002, size=len(a)), 1e-6, 1 - 1e-6)  # the same model, jittered
    got = paired(y, a, b, resamples=200)
    assert not any(d["b_better"] or d["b_worse"] for d in got.values()), got


def test_rows_of_one_flight_are_drawn_together_so_the_interval_widens() -> None:
    # Each flight's rows repeated eight times (eight leads): drawn as flights, the interval is that of
    # 500 flights; drawn as rows it would be that of 4,000 independent rows, far too narrow.
    y, a, b = _data(n=500, seed=5)
    rep = np.repeat(np.arange(500), 8)
    by_flight = paired(y[rep], a[rep], b[rep], rep, resamples=200)
    by_row = paired(y[rep], a[rep], b[rep], None, resamples=200)
    for metric in by_flight:
        width_flight = by_flight[metric]["high"] - by_flight[metric]["low"]
        width_row = by_row[metric]["high"] - by_row[metric]["low"]
        assert width_flight > 2 * width_row, (metric, width_flight, width_row)


def test_mismatched_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="rows differ"):
        paired(np.array([0, 1]), np.array([0.1, 0.9]), np.array([0.2]))
