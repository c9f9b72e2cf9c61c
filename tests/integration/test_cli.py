"""`skyprophet model predict` as a user runs it: the registered model, point-in-time features, the reasons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from skyprophet.core.config import PROJECT_ROOT, Settings
from skyprophet.core.keys import entity_frame, flight_query
from tests.conftest import historical

pytestmark = pytest.mark.integration
ALIAS = "cli-test"


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SKYPROPHET_DATA_DIR": str(settings.data_dir),
        "SKYPROPHET_REPORTS_DIR": str(settings.reports_dir),
        "SKYPROPHET_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
    }


def _predict(settings: Settings, query: dict[str, Any]) -> dict[str, Any]:
    args = [str(Path(sys.executable).with_name("skyprophet")), "model", "predict", "--alias", ALIAS, "--json"]
    for key, value in query.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run(args, cwd=PROJECT_ROOT, env=_env(settings), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def aliased(mlflow_settings: Settings, trained_model) -> Any:  # type: ignore[no-untyped-def]
    """The session's real model under an alias of this module's own (other tests move the others)."""
    from mlflow import MlflowClient

    MlflowClient(mlflow_settings.mlflow_tracking_uri).set_registered_model_alias(mlflow_settings.model_name, ALIAS, trained_model.version)
    return trained_model


def test_predict_scores_the_flight_as_of_its_prediction_time(mlflow_settings: Settings, aliased, canonical, offline_store) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    # A real December flight with a tail number, scheduled in the afternoon (busy airports).
    day = canonical[(canonical["sched_dep_utc"] >= "2013-12-30 18:00") & canonical["tailnum"].notna()]
    row = day.iloc[0:1]
    answer = _predict(mlflow_settings, flight_query(next(row.itertuples())))
    from serving.schemas import PredictResponse

    PredictResponse.model_validate(answer)  # the API's own response shape
    (got,) = answer["predictions"]

    # Expected, computed apart from the command: the run's logged booster (not the registry alias),
    # features from Feast's offline retrieval at T = scheduled - lead, Platt applied by hand.
    spec = aliased.spec
    mlflow.set_tracking_uri(mlflow_settings.mlflow_tracking_uri)
    booster = mlflow.lightgbm.load_model(f"runs:/{aliased.run_id}/model")
    features = historical(offline_store, entity_frame(row.assign(flight_row_id=0), spec.lead_minutes))
    def column(name: str) -> np.ndarray:
        if name not in spec.categories:
            return features[name].astype(float).to_numpy()
        codes = pd.Categorical(features[name], categories=spec.categories[name]).codes.astype(float)
        return np.where(codes < 0, np.nan, codes)  # outside the vocabulary: unknown, as in training

    x = np.column_stack([column(n) for n in spec.feature_names])
    raw = float(booster.predict(x)[0])
    if spec.calibration:
        a, b = spec.calibration
        raw = 1 / (1 + np.exp(-(a * np.log(raw / (1 - raw)) + b)))
    assert got["delay_probability"] == pytest.approx(raw, abs=1e-6)
    assert got["delayed"] is (got["delay_probability"] >= spec.threshold)
    assert got["threshold"] == pytest.approx(spec.threshold)
    assert answer["as_of"] == (row["sched_dep_utc"].iloc[0] - pd.Timedelta(minutes=spec.lead_minutes)).isoformat()
    assert answer["model"] == {"name": mlflow_settings.model_name, "version": aliased.version, "alias": ALIAS}
    assert got["status"] == "ok" and got["lead_minutes"] == spec.lead_minutes

    contrib = booster.predict(x, pred_contrib=True)[0][: len(spec.feature_names)]
    if spec.calibration:
        contrib = contrib * spec.calibration[0]
    order = np.argsort(-np.abs(contrib))[:5]
    assert [f["feature"] for f in got["top_factors"]] == [spec.feature_names[i] for i in order]
    assert [f["contribution"] for f in got["top_factors"]] == pytest.approx([contrib[i] for i in order], abs=1e-5)
    assert got["missing_features"] == [n for n in spec.feature_names if pd.isna(features[n].iloc[0])]
    present = sum(not pd.isna(features[n].iloc[0]) for n in spec.feature_names) / len(spec.feature_names)
    assert got["coverage"] == pytest.approx(present, abs=1e-4) and got["reliable"] is (present >= 0.8)


def test_predict_for_keys_outside_the_data_names_what_is_missing(mlflow_settings: Settings, aliased) -> None:  # type: ignore[no-untyped-def]
    # The example: no tail number given and no such scheduled flight that day.
    (got,) = _predict(mlflow_settings, {
        "carrier": "UA", "flight_number": 1545, "origin": "EWR", "dest": "IAH", "scheduled_departure": "2013-12-30T08:00-05:00",
    })["predictions"]
    assert 0 < got["delay_probability"] < 1
    assert {"plane_static__seats", "plane_recent__prev_dep_delay"} <= set(got["missing_features"])
    assert "airline_stats__delayed_share_7d" not in got["missing_features"]  # UA flew that week
    assert len(got["top_factors"]) == 5
