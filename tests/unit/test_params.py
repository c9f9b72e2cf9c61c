"""params.yaml's leads: a published list the training set is built at, the headline among them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.model.params import TrainParams, sampled_leaf
from skyprophet.core.config import PARAMS_FILE
from skyprophet.core.errors import TrainingSetError

SPLIT = "split:\n  train: [2013-01, 2013-09]\n  validation: [2013-10, 2013-10]\n  test: [2013-11, 2013-12]\n"


def test_the_project_trains_at_eight_leads_from_24_h_to_30_min() -> None:
    params = TrainParams.load(PARAMS_FILE)
    assert params.leads == [1440, 720, 360, 240, 180, 120, 60, 30]
    assert params.lead_minutes == 120 and params.feature_service == "flight_delay_v3"
    assert params.flat()["leads_minutes"] == "1440,720,360,240,180,120,60,30"


def test_without_a_list_the_lead_is_the_only_one(tmp_path: Path) -> None:
    f = tmp_path / "params.yaml"
    f.write_text("lead_minutes: 90\n" + SPLIT)
    assert TrainParams.load(f).leads == [90]


@pytest.mark.parametrize(
    ("leads", "says"),
    [("[1440, 60]", "must be one of"), ("[120, 120]", "distinct"), ("[120, 0]", "positive"), ("[]", "distinct positive")],
)
def test_bad_lead_lists_are_refused(tmp_path: Path, leads: str, says: str) -> None:
    f = tmp_path / "params.yaml"
    f.write_text(f"lead_minutes: 120\nleads_minutes: {leads}\n" + SPLIT)
    with pytest.raises(TrainingSetError, match=says):
        TrainParams.load(f)


def test_lead_weights_weigh_each_row_by_its_lead_and_unnamed_leads_weigh_one(tmp_path: Path) -> None:
    import numpy as np

    f = tmp_path / "params.yaml"
    f.write_text("lead_minutes: 120\nleads_minutes: [720, 120, 30]\ntraining:\n  lead_weights: {720: 0.25, 30: 2}\n" + SPLIT)
    params = TrainParams.load(f)
    leads = np.array([30, 720, 120, 720, 30])
    assert params.row_weights(leads).tolist() == [2.0, 0.25, 1.0, 0.25, 2.0]
    assert params.flat()["lead_weights"] == "30:2,720:0.25"


def test_without_lead_weights_lightgbm_gets_no_weights(tmp_path: Path) -> None:
    import numpy as np

    f = tmp_path / "params.yaml"
    f.write_text("lead_minutes: 120\nleads_minutes: [720, 120]\ntraining:\n  lead_weights: {720: 1}\n" + SPLIT)
    assert TrainParams.load(f).row_weights(np.array([720, 120])) is None


@pytest.mark.parametrize(("weights", "says"), [("{60: 0.5}", "not in leads_minutes"), ("{720: 0}", "positive and finite"),
                                               ("{720: .inf}", "positive and finite")])
def test_bad_lead_weights_are_refused(tmp_path: Path, weights: str, says: str) -> None:
    f = tmp_path / "params.yaml"
    f.write_text(f"lead_minutes: 120\nleads_minutes: [720, 120]\ntraining:\n  lead_weights: {weights}\n" + SPLIT)
    with pytest.raises(TrainingSetError, match=says):
        TrainParams.load(f)


def test_leads_per_flight_defaults_to_every_lead_and_is_read(tmp_path: Path) -> None:
    assert TrainParams.load(PARAMS_FILE).leads_per_flight is None
    f = tmp_path / "params.yaml"
    f.write_text("lead_minutes: 120\nleads_minutes: [720, 120, 30]\ntraining:\n  leads_per_flight: 2\n" + SPLIT)
    params = TrainParams.load(f)
    assert params.leads_per_flight == 2 and params.flat()["leads_per_flight"] == 2


@pytest.mark.parametrize("value", ["0", "4", "1.5", "true", "two"])
def test_bad_leads_per_flight_is_refused(tmp_path: Path, value: str) -> None:
    f = tmp_path / "params.yaml"
    f.write_text(f"lead_minutes: 120\nleads_minutes: [720, 120, 30]\ntraining:\n  leads_per_flight: {value}\n" + SPLIT)
    with pytest.raises(TrainingSetError, match="leads_per_flight must be a whole number from 1 to 3"):
        TrainParams.load(f)


def test_spool_is_off_unless_asked_and_must_be_a_yes_or_no(tmp_path: Path) -> None:
    assert TrainParams.load(PARAMS_FILE).spool is False
    f = tmp_path / "params.yaml"
    f.write_text("lead_minutes: 120\ntraining:\n  spool: true\n" + SPLIT)
    assert TrainParams.load(f).spool is True and TrainParams.load(f).flat()["spool"] is True
    f.write_text("lead_minutes: 120\ntraining:\n  spool: 'yes'\n" + SPLIT)
    with pytest.raises(TrainingSetError, match="training.spool must be true or false, got 'yes'"):
        TrainParams.load(f)


@pytest.mark.parametrize(("leaf", "k", "n", "expected"), [(2000, 8, 8, 2000), (2000, 4, 8, 1000), (2000, 1, 8, 250), (3, 1, 8, 1)])
def test_a_drawn_sets_leaf_holds_as_many_flights(leaf: int, k: int, n: int, expected: int) -> None:
    # k of n leads a flight: a leaf of leaf * k / n rows holds as many flights, and never under one row
    assert sampled_leaf(leaf, k, n) == expected
