"""A lead weight reaches LightGBM: a row weighing 2 trains the booster as that row twice would."""

from __future__ import annotations

import numpy as np

from pipelines.model.params import TrainParams

from skyprophet.core.months import Window
from pipelines.model.fit import fit_booster
from skyprophet.core.model import ModelSpec

EXACT = {"objective": "binary", "learning_rate": 0.2, "num_leaves": 7, "min_data_in_leaf": 1, "min_sum_hessian_in_leaf": 0.0,
         "feature_fraction": 1.0, "bagging_fraction": 1.0, "lambda_l2": 0.0, "seed": 1, "deterministic": True,
         "min_data_in_bin": 1, "force_row_wise": True}


def _data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.integers(0, 8, size=(n, 2)).astype(float)  # few distinct values: the bins are the values themselves
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 1]) / 3))).astype(int)
    return x, y


def test_weight_two_is_the_row_twice_and_changes_the_fit() -> None:
    rng = np.random.default_rng(3)
    x, y = _data(rng, 400)
    xv, yv = _data(rng, 200)
    heavy = x[:, 0] >= 5  # rows given weight 2
    params = TrainParams(windows=[Window("train", "2013-01", "2013-09")], lightgbm=EXACT, num_boost_round=20,
                         early_stopping_rounds=20)
    spec = ModelSpec("svc", 120, ["a", "b"], 0.5)
    grid = np.array([[a, b] for a in range(8) for b in range(8)], dtype=float)

    weighted = fit_booster(x, y, xv, yv, spec, params, 1, weights=(np.where(heavy, 2.0, 1.0), None))
    doubled = fit_booster(np.vstack([x, x[heavy]]), np.concatenate([y, y[heavy]]), xv, yv, spec, params, 1)
    plain = fit_booster(x, y, xv, yv, spec, params, 1)

    assert np.allclose(weighted.predict(grid), doubled.predict(grid), atol=1e-9)
    assert not np.allclose(weighted.predict(grid), plain.predict(grid), atol=1e-3)
