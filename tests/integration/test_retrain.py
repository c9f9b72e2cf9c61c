"""``retrain`` on the real year: it trains on the rolling windows as of a day, on the flights whose
label was known before that day's 00:00 UTC only (counted here from the canonical flights with
pandas alone), and registers the version with its reason and data window as MLflow tags."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

pytestmark = pytest.mark.integration


def _expected_rows(canonical: pd.DataFrame, cutoff: pd.Timestamp, windows: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Flights by window, from first principles: local scheduled day in the window; the label known
    before the cutoff (departed before it, or still on the ground 16 minutes after schedule)."""
    local_day = (canonical["sched_dep_utc"] + pd.to_timedelta(canonical["utc_offset_min"], unit="min")).dt.strftime("%Y-%m-%d")
    late_at = canonical["sched_dep_utc"] + pd.Timedelta(minutes=16)
    departed = canonical["actual_dep_utc"].notna() & (canonical["actual_dep_utc"] < cutoff)
    cancelled = canonical["cancelled"].astype(bool)
    known = ~cancelled & (departed | (late_at < cutoff))
    out = {name: int((known & local_day.between(*span)).sum()) for name, span in windows.items()}
    out["cancelled_excluded"] = int((cancelled & (canonical["sched_dep_utc"] < cutoff)
                                     & local_day.between(windows["train"][0], windows["test"][1])).sum())
    out["not_yet_known"] = int((~cancelled & ~known & local_day.between(windows["train"][0], windows["test"][1])).sum())
    return out


def test_retrain_sees_only_what_was_known_and_says_why(settings, offline_store, canonical, train_params, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    from pipelines.model.retrain import Rolling, retrain
    from tests.conftest import THREADS

    s = settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
                                    "mlflow_artifact_root": tmp_path / "artifacts"})
    params = replace(train_params, leads_minutes=[train_params.lead_minutes], num_boost_round=20, rolling=Rolling(2, 7, 7))
    result = retrain(s, params, date(2013, 11, 1), "drift", num_threads=THREADS, store=offline_store)

    windows = {"train": ("2013-08-18", "2013-10-17"), "validation": ("2013-10-18", "2013-10-24"), "test": ("2013-10-25", "2013-10-31")}
    want = _expected_rows(canonical, pd.Timestamp("2013-11-01", tz="UTC"), windows)
    assert want.pop("not_yet_known") > 0  # October 31's late evening flights: the rule has something to leave out
    assert result.rows == want

    client = MlflowClient(s.mlflow_tracking_uri)
    tags = client.get_model_version(s.model_name, result.version).tags
    assert tags["retrain_reason"] == "drift" and tags["retrained_as_of"] == "2013-11-01"
    assert tags["data_window"] == "2013-08-18..2013-10-31" and tags["train_window"] == "2013-08-18..2013-10-17"
    assert str(client.get_model_version_by_alias(s.model_name, "candidate").version) == result.version
    run = client.get_run(result.run_id)
    assert run.data.tags["test_window"] == "2013-10-25..2013-10-31" and run.data.params["retrain_window_months"] == "2"
