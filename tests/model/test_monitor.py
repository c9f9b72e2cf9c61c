"""The monitor's detectors have teeth both ways, on the real data and the registered model: a
clean window (January-September flights held out of the reference) raises nothing; the same
window with one input shifted is flagged on that input by PSI and by the adversarial validator;
December against January-September is reported with the calendar inputs apart. Performance is
recomputed here with sklearn from the rows the report saved."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from pipelines.monitoring.report import LABEL, PROBABILITY, monitor
from skyprophet.core.monitoring import MonitorReport
from skyprophet.core.months import Window
from skyprophet.core.config import Settings

pytestmark = [pytest.mark.model, pytest.mark.integration]
SHIFTED = "origin_ops__mean_delay_2h"  # the origin's mean delay over the last 2 h, moved by 20 minutes
CLEAN = Window("window", "2013-01", "2013-09")


@pytest.fixture(scope="module")
def monitor_settings(mlflow_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return mlflow_settings.model_copy(update={"reports_dir": tmp_path_factory.mktemp("monitor"), "monitor_sample_flights": 5_000})


def _run(settings: Settings, trained_model: Any, offline_store: Any, name: str, window: Window, **kw: Any) -> dict[str, Any]:
    result = monitor(settings, window=window, name=name, version=trained_model.version, store=offline_store, **kw)
    on_disk = json.loads((result.folder / "report.json").read_text())
    assert on_disk["name"] == name and on_disk["adversarial_auc"] == pytest.approx(result.report.adversarial_auc)
    assert MonitorReport.model_validate_json((result.folder / "report.json").read_bytes()) == result.report
    return on_disk


@pytest.fixture(scope="module")
def clean(monitor_settings: Settings, trained_model: Any, offline_store: Any) -> dict[str, Any]:
    return _run(monitor_settings, trained_model, offline_store, "clean", CLEAN)


def test_a_clean_window_is_not_flagged(clean: dict[str, Any], monitor_settings: Settings) -> None:
    assert clean["adversarial_auc"] < 0.55
    assert max(clean["psi"].values()) < 0.25
    assert clean["alerts"] == []
    # held out: no flight of the window is in the reference
    folder = monitor_settings.reports_dir / "monitor" / "clean"
    ref, cur = pd.read_parquet(folder / "reference.parquet"), pd.read_parquet(folder / "window.parquet")
    assert len(ref) == len(cur) == 5_000
    assert not set(ref["flight_row_id"]) & set(cur["flight_row_id"])


def test_an_injected_drift_is_flagged_on_that_input(clean: dict[str, Any], monitor_settings: Settings, trained_model: Any,
                                                   offline_store: Any) -> None:
    def shift(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.assign(**{SHIFTED: rows[SHIFTED] + 20.0})

    shifted = _run(monitor_settings, trained_model, offline_store, "shifted", CLEAN, transform=shift)
    assert shifted["psi"][SHIFTED] > 0.25
    assert shifted["adversarial_auc"] > 0.6
    assert shifted["adversarial"]["ranking"][0]["input"] == SHIFTED
    # only that input moved: every other input's PSI is the clean window's (same samples, same seed)
    others = {k: v for k, v in shifted["psi"].items() if k != SHIFTED}
    assert others == pytest.approx({k: v for k, v in clean["psi"].items() if k != SHIFTED}, abs=1e-12)
    flagged = {(a["check"], a["input"]) for a in shifted["alerts"]}
    assert ("psi", SHIFTED) in flagged and ("adversarial_auc", SHIFTED) in flagged


def test_december_against_the_training_months(monitor_settings: Settings, trained_model: Any, offline_store: Any) -> None:
    report = _run(monitor_settings, trained_model, offline_store, "december", Window("window", "2013-12", "2013-12"))
    names = trained_model.spec.feature_names
    calendar = [n for n in names if n in ("flight_timing__month", "flight_timing__days_to_holiday", "route_history__deps_hist")]
    assert report["calendar_inputs"] == calendar and len(calendar) == 3
    # the calendar separates any two periods: reported, left out of the validator and of the alerts
    assert report["psi"]["flight_timing__month"] > 0.25
    assert report["adversarial"]["excluded"] == calendar
    assert not {r["input"] for r in report["adversarial"]["ranking"]} & set(calendar)
    assert not {a["input"] for a in report["alerts"]} & set(calendar)
    # what moved is the weather: winter is colder than January-September on average
    assert report["psi"]["origin_ops__wx_temp"] > 0.25 and report["adversarial_auc"] > 0.6
    for key in ("adversarial_auc", "psi", "skew_match_rate", "performance"):
        assert key in report
    # performance, recomputed from the saved rows
    folder = monitor_settings.reports_dir / "monitor" / "december"
    rows = pd.read_parquet(folder / "window.parquet")
    labelled = rows[rows[LABEL].notna()]
    perf = report["performance"]
    assert perf["rows"] == len(labelled)
    assert perf["roc_auc"] == pytest.approx(roc_auc_score(labelled[LABEL], labelled[PROBABILITY]), abs=1e-9)
    assert perf["brier"] == pytest.approx(brier_score_loss(labelled[LABEL], labelled[PROBABILITY]), abs=1e-9)
    leads = {str(int(x)) for x in np.unique(rows["lead_minutes"].round())}
    assert set(perf["by_lead"]) == leads == {str(x) for x in trained_model.spec.trained_leads}
    by_ewr = labelled[labelled["origin"] == "EWR"]
    assert perf["by_origin"]["EWR"]["roc_auc"] == pytest.approx(roc_auc_score(by_ewr[LABEL], by_ewr[PROBABILITY]), abs=1e-9)
    page = (folder / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5 and "Adversarial validator" in page
    assert (folder / "drift.html").stat().st_size > 10_000  # Evidently's page
    # the retraining alerts: December against the four weeks before it, recomputed from the saved rows
    recent = report["recent"]
    assert recent["reference"] == "2013-11-03..2013-11-30"
    before = pd.read_parquet(folder / "recent.parquet")
    assert recent["rows"] == len(before) and before["flight_row_id"].isin(rows["flight_row_id"]).sum() == 0
    known = before[before[LABEL].notna()]
    rise = log_loss(labelled[LABEL], labelled[PROBABILITY]) - log_loss(known[LABEL], known[PROBABILITY])
    assert recent["checks"]["log_loss_rise"] == pytest.approx(rise, abs=1e-9)
    assert recent["checks"]["calibration_gap"] == pytest.approx(abs(labelled[PROBABILITY].mean() - labelled[LABEL].mean()), abs=1e-9)
    limits = {k: v for k, v in recent["thresholds"].items() if v is not None}
    assert {a["check"] for a in recent["alerts"]} == {k for k, t in limits.items() if recent["checks"][k] > t}
    assert "Retraining alerts" in page and "2013-11-03..2013-11-30" in page


def test_a_window_with_nothing_before_it_has_no_recent_checks(clean: dict[str, Any]) -> None:
    assert clean["recent"] is None  # January 1 is the data's first day
