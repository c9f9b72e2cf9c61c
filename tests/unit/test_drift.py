"""Drift statistics against independent computations: PSI as the symmetric Kullback-Leibler
divergence (scipy's ``rel_entr``) over bins cut by pandas, and the adversarial validator on
samples whose difference is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import rel_entr

from pipelines.monitoring import drift


def _scipy_psi(e: np.ndarray, a: np.ndarray) -> float:
    # PSI = sum((a - e) ln(a / e)) = KL(a || e) + KL(e || a)
    return float(np.sum(rel_entr(a, e) + rel_entr(e, a)))


def test_psi_of_shares_is_the_symmetric_kl_divergence() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        e, a = rng.dirichlet(np.ones(12)), rng.dirichlet(np.ones(12))
        assert drift.psi_of_shares(e, a) == pytest.approx(_scipy_psi(e, a), rel=1e-12)
    same = rng.dirichlet(np.ones(5))
    assert drift.psi_of_shares(same, same) == 0.0


def test_numeric_psi_bins_at_the_reference_deciles_with_a_missing_bin() -> None:
    rng = np.random.default_rng(2)
    ref = rng.lognormal(0, 1, 5_000)  # heavy tailed
    cur = np.r_[rng.lognormal(0.3, 1, 4_000), np.full(1_000, np.nan)]
    # independent binning: pandas cuts at the reference's deciles (each bin holds its lower edge)
    inner = np.quantile(ref, np.linspace(0.1, 0.9, 9))
    edges = np.r_[-np.inf, inner, np.inf]

    def shares(x: np.ndarray) -> np.ndarray:
        counts = pd.cut(pd.Series(x).dropna(), edges, right=False).value_counts(sort=False).to_numpy()
        return np.r_[counts, np.isnan(x).sum()] / len(x)

    def floored(s: np.ndarray) -> np.ndarray:  # an empty bin counts as a share of 1e-4, then shares sum to 1 again
        s = np.clip(s, 1e-4, None)
        return s / s.sum()

    expected = _scipy_psi(floored(shares(ref)), floored(shares(cur)))
    assert drift.numeric_psi(ref, cur) == pytest.approx(expected, rel=1e-9)
    assert drift.numeric_psi(ref, ref) == 0.0
    # the same sample with a fifth of it missing has drifted
    holes = ref.copy()
    holes[:1_000] = np.nan
    assert drift.numeric_psi(ref, holes) > drift.PSI_WATCH


def test_categorical_psi_counts_new_categories_and_missing() -> None:
    ref = ["EWR"] * 50 + ["JFK"] * 30 + ["LGA"] * 20
    cur = ["EWR"] * 40 + ["JFK"] * 30 + ["LGA"] * 10 + ["BOS"] * 10 + [None] * 10
    e = np.array([0.0, 0.0, 0.5, 0.3, 0.2])  # shares of (missing), BOS, EWR, JFK, LGA
    a = np.array([0.1, 0.1, 0.4, 0.3, 0.1])
    assert drift.categorical_psi(ref, cur) == pytest.approx(drift.psi_of_shares(e, a), rel=1e-12)
    assert drift.categorical_psi(ref, ref) == 0.0


@pytest.mark.parametrize(("psi", "band"), [(0.0, "stable"), (0.099, "stable"), (0.1, "watch"), (0.25, "watch"), (0.2501, "act")])
def test_bands(psi: float, band: str) -> None:
    assert drift.band(psi) == band


def _frames(shift: float, n: int = 3_000, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(moved: float) -> pd.DataFrame:
        return pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(moved, 1, n), "c": rng.exponential(1, n),
                             "k": rng.choice(["x", "y", "z"], n)})
    return frame(0.0), frame(shift)


def test_the_adversarial_validator_finds_the_moved_input_and_only_when_it_moved() -> None:
    ref, cur = _frames(1.0)
    found = drift.adversarial(ref, cur, ["a", "b", "c", "k"], ["k"], num_threads=1)
    assert found.auc > 0.65
    assert found.ranking[0][0] == "b"
    clean = drift.adversarial(*_frames(0.0), ["a", "b", "c", "k"], ["k"], num_threads=1)
    assert clean.auc < 0.55
    left_out = drift.adversarial(ref, cur, ["a", "b", "c", "k"], ["k"], exclude=["b"], num_threads=1)
    assert left_out.excluded == ["b"] and "b" not in dict(left_out.ranking) and left_out.auc < 0.55


def test_input_drift_orders_by_psi_and_gives_the_tests_p_values() -> None:
    from scipy.stats import chisquare, ks_2samp

    ref, cur = _frames(0.5)
    got = {d.name: d for d in drift.input_drift(ref, cur, ["a", "b", "c", "k"], ["k"])[0]}
    assert list(got)[0] == "b" and got["b"].psi > drift.PSI_ACT and max(d.psi for d in got.values() if d.name != "b") < drift.PSI_WATCH
    assert got["b"].p_value == pytest.approx(ks_2samp(ref["b"], cur["b"]).pvalue, rel=1e-6, abs=1e-12)
    # chi-square: goodness of fit of the window's counts to the reference's shares
    observed = cur["k"].value_counts().sort_index()
    expected = ref["k"].value_counts().sort_index() * len(cur) / len(ref)
    assert got["k"].p_value == pytest.approx(chisquare(observed, expected).pvalue, rel=1e-6)
    assert got["k"].kind == "categorical" and got["b"].kind == "numeric"


def test_an_input_missing_on_one_side_has_no_test_but_its_psi_shows_it() -> None:
    ref, cur = _frames(0.0)
    cur = cur.assign(c=np.nan)
    got = {d.name: d for d in drift.input_drift(ref, cur, ["a", "b", "c", "k"], ["k"])[0]}
    assert np.isnan(got["c"].p_value) and got["c"].missing_window == 1.0 and got["c"].psi > drift.PSI_ACT
    assert not np.isnan(got["a"].p_value)
