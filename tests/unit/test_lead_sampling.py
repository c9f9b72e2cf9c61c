"""Leads drawn per flight (``training.leads_per_flight``): k of the leads for every flight, the
same draw for a flight whatever else is in the set, every lead drawn about equally often."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.features.training_set import drawn_leads
from skyprophet.core.errors import TrainingSetError


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_every_flight_draws_exactly_k_leads(k: int) -> None:
    mask = drawn_leads(np.arange(10_000), 8, k)
    assert mask.shape == (10_000, 8) and mask.dtype == bool
    assert (mask.sum(axis=1) == k).all()


def test_a_flight_draws_the_same_leads_whatever_else_is_in_the_set() -> None:
    ids = np.arange(5_000, dtype=np.int64)
    whole = drawn_leads(ids, 8, 2)
    rng = np.random.default_rng(3)
    some = rng.choice(ids, 700, replace=False)
    assert (drawn_leads(some, 8, 2) == whole[some]).all()  # a subset, shuffled: row by row the same
    assert not (drawn_leads(ids, 8, 2, seed=1) == whole).all()  # another seed, another draw


def test_each_lead_and_each_pair_of_leads_is_drawn_about_equally_often() -> None:
    n = 80_000
    mask = drawn_leads(np.arange(n), 8, 2)
    share = mask.mean(axis=0)
    # each lead with probability 2/8; binomial sd sqrt(p(1-p)/n) = 0.0015, five sd allowed
    assert np.abs(share - 0.25).max() < 0.008, share
    pairs = mask.astype(np.int64).T @ mask.astype(np.int64)  # flights drawing both lead i and lead j
    off = pairs[~np.eye(8, dtype=bool)] / n
    assert np.abs(off - 1 / 28).max() < 0.004, off  # 28 pairs, each equally likely


def test_consecutive_flights_are_not_drawn_alike() -> None:
    mask = drawn_leads(np.arange(20_000), 8, 1)
    lead = mask.argmax(axis=1)
    assert (lead[1:] == lead[:-1]).mean() == pytest.approx(1 / 8, abs=0.01)


@pytest.mark.parametrize("k", [0, 9, -1])
def test_k_outside_one_to_the_number_of_leads_is_refused(k: int) -> None:
    with pytest.raises(TrainingSetError, match="between 1 and the number of leads"):
        drawn_leads(np.arange(3), 8, k)
