"""A spooled training set (inputs written to parquet split by split as they are retrieved, read by
LightGBM a batch at a time) is the in-memory set: the same rows in the same order, the same encoded
values, and the same booster, calibration and scores when fitted. On a generated national-shaped
data set (for correctness only) with inbound legs, text inputs and several leads drawn per flight."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from pipelines.features import training_set
from pipelines.features.build import build
from pipelines.features.ingest import ingest
from pipelines.features.store import apply
from pipelines.model import spooled
from pipelines.model.fit import SPLITS, fit_model, untuned_spec
from pipelines.model.params import TrainParams
from pipelines.sources import synth
from pipelines.sources.spec import Sources
from skyprophet.adapters.store import open_store
from skyprophet.core.config import Settings
from skyprophet.core.model import encode_frame
from skyprophet.core.months import Window

pytestmark = pytest.mark.integration
SHAPE = synth.Shape(airports=16, carriers=4, flights=2400, days=90, seed=5)  # January to March 2019
WINDOWS = [Window("train", "2019-01", "2019-01"), Window("validation", "2019-02", "2019-02"), Window("test", "2019-03", "2019-03")]
LEADS = [720, 120, 30]


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[training_set.TrainingSet, training_set.TrainingSet]:
    out = tmp_path_factory.mktemp("spooled")
    synth.write(SHAPE, out / "files")
    settings = Settings(data_dir=out / "data")
    ingest(settings, Sources.load(out / "files" / "sources.yaml"))
    build(settings, live=False)
    store = open_store(settings, online="sqlite", data_dir=out)
    apply(store, settings)
    canonical = pd.read_parquet(settings.canonical_path)
    args = (store, canonical, WINDOWS, "flight_delay_v5", 120, 15)
    in_memory = training_set.build(*args, leads=LEADS, leads_per_flight=2)
    old = training_set.SPOOL_ROW_GROUP, training_set.SPOOL_FLIGHTS
    # several row groups a file (batches and single rows cross their edges) and several batches of flights a lead
    training_set.SPOOL_ROW_GROUP, training_set.SPOOL_FLIGHTS = 500, 400
    try:
        spool = training_set.build(*args, leads=LEADS, leads_per_flight=2, spool=out / "spool")
    finally:
        training_set.SPOOL_ROW_GROUP, training_set.SPOOL_FLIGHTS = old
    return in_memory, spool


def test_the_spooled_set_holds_the_same_rows_and_values(sets: tuple[training_set.TrainingSet, training_set.TrainingSet]) -> None:
    in_memory, spool = sets
    names = in_memory.feature_names
    assert not set(names) & set(spool.frame.columns)  # the inputs are not in memory
    pd.testing.assert_frame_equal(spool.frame, in_memory.frame.drop(columns=names))
    spec = untuned_spec(in_memory)
    assert spec.categories and untuned_spec(spool).categories == spec.categories  # text inputs, the same vocabularies
    rng = np.random.default_rng(0)
    for split in SPLITS:
        want = encode_frame(in_memory.part(split), spec)
        seqs = spooled.split_inputs(spool, split, spec)
        assert sum(len(s) for s in seqs) == len(want) > 1000 and len(seqs) > len(LEADS)  # a lead's split over several batches
        got = np.concatenate(list(spooled.batches(seqs)))
        np.testing.assert_array_equal(got, want)  # NaN where NaN, every value exactly
        offset = 0
        for seq in seqs:  # ranges across row groups, and single rows, as LightGBM asks for them
            for a, b in np.sort(rng.integers(0, len(seq), size=(20, 2)), axis=1):
                np.testing.assert_array_equal(seq[a:b], want[offset + a: offset + b])
                np.testing.assert_array_equal(seq[int(a)], want[offset + a])
            offset += len(seq)
    inbound = [n for n in names if n.startswith("inbound_leg__")]
    assert inbound and np.isfinite(want[:, [names.index(n) for n in inbound]]).mean() > 0.3  # real inbound values compared


def test_a_fit_on_the_spooled_set_is_the_fit_in_memory(sets: tuple[training_set.TrainingSet, training_set.TrainingSet]) -> None:
    in_memory, spool = sets
    params = TrainParams(windows=WINDOWS, leads_minutes=LEADS, num_boost_round=40, early_stopping_rounds=10,
                         lightgbm={"learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 20, "seed": 3, "deterministic": True,
                                   "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
                                   "bin_construct_sample_cnt": 400},  # the bins from a sample of the rows, as at scale
                         lead_weights={30: 2.0})
    a = fit_model(in_memory, params, threads=2, shuffle_labels=False)
    b = fit_model(spool, params, threads=2, shuffle_labels=False)
    assert a.booster.num_trees() > 5
    assert b.booster.model_to_string() == a.booster.model_to_string()
    assert b.spec == a.spec
    np.testing.assert_array_equal(b.p_test, a.p_test)
    assert b.metrics == a.metrics and b.by_lead == a.by_lead
    pd.testing.assert_frame_equal(spooled.frame_head(b.x["test"], b.spec), spooled.frame_head(a.x["test"], a.spec))
