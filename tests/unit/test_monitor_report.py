"""The monitoring report's contract: what the pipeline writes is what the service reads back, a
file that is not a report is refused whole (never read key by key), and the alerts follow the
thresholds with calendar inputs never alerted on. The reports here are written by hand."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from serving.metrics import Metrics
from serving.monitoring import MonitorGauges
from skyprophet.core.monitoring import MonitorReport, Thresholds

LIMITS = {"psi": 0.25, "adversarial_auc": 0.6, "skew_match_min": 0.99, "brier": 0.2}


def _drift(psi: float) -> dict[str, Any]:
    band = "act" if psi > 0.25 else "watch" if psi > 0.1 else "stable"
    return {"kind": "numeric", "psi": psi, "band": band, "test": "ks", "p_value": 0.5, "new_categories": [],
            "missing_reference": 0.0, "missing_window": 0.0}


def _report(**changes: Any) -> dict[str, Any]:
    psi = {"flight_timing__month": 3.1, "origin_ops__wx_temp": 0.4, "route__distance": 0.01}
    report = {
        "name": "hand", "created_at": "2026-12-06T00:00:00+00:00",
        "model": {"name": "skyprophet", "version": "3", "feature_service": "svc"},
        "reference": {"months": "2013-01..2013-09", "rows": 100},
        "window": {"source": "prediction_log", "log": "/x", "since": None, "until": None, "models": ["skyprophet v3"],
                   "outcomes_known_at": None, "outside_data": 2, "rows": 80, "labelled": 40},
        "adversarial_auc": 0.7, "psi": psi, "skew_match_rate": {"route__distance": 0.5, "origin_ops__wx_temp": 1.0},
        "performance": {"rows": 40, "delayed_share": 0.2, "roc_auc": 0.7, "pr_auc": 0.4, "brier": 0.25, "precision": 0.5,
                        "recall": 0.5, "f1": 0.5, "threshold": 0.22, "calibration": [{"predicted": 0.1, "observed": 0.12}],
                        "by_carrier": {}, "by_origin": {}, "by_lead": {"120": {"rows": 40, "roc_auc": 0.7, "pr_auc": 0.4,
                                                                               "brier": 0.25}}},
        "adversarial": {"auc": 0.7, "ranking": [{"input": "origin_ops__wx_temp", "gain_share": 0.9}],
                        "excluded": ["flight_timing__month"], "rows": {"reference": 100, "window": 80}},
        "calendar_inputs": ["flight_timing__month"],
        "drift": {k: _drift(v) for k, v in psi.items()},
        "prediction_drift": {**_drift(0.3), "reference_mean": 0.2, "window_mean": 0.3},
        "skew": {"rows": 80, "match_rate": {"route__distance": 0.5, "origin_ops__wx_temp": 1.0},
                 "by_view": {"route": 0.5, "origin_ops": 1.0}},
        "freshness": {"origin_ops": {"age_p50_s": float("nan"), "age_p95_s": float("nan"), "present": 0.0, "stale": 0.0,
                                     "not_found": 1.0}},
        "thresholds": LIMITS, "alerts": [], "seconds": 1.5,
    }
    report.update(changes)
    return report


def test_the_alerts_follow_the_thresholds_and_leave_the_calendar_out() -> None:
    report = MonitorReport.model_validate(_report())
    found = {(a.check, a.input) for a in report.alerts_past(Thresholds(**LIMITS), watched=["origin_ops__wx_temp", "route__distance"],
                                                            probability="delay_probability")}
    assert found == {("psi", "origin_ops__wx_temp"), ("adversarial_auc", "origin_ops__wx_temp"),
                     ("prediction_psi", "delay_probability"), ("skew", "route__distance"), ("brier", None)}
    calm = MonitorReport.model_validate(_report(adversarial_auc=0.5, performance=None, skew_match_rate=None,
                                                prediction_drift={**_drift(0.01), "reference_mean": 0.2, "window_mean": 0.2}))
    assert calm.alerts_past(Thresholds(**LIMITS), watched=["route__distance"], probability="delay_probability") == []


def test_a_report_round_trips_through_its_json_with_nan_kept() -> None:
    report = MonitorReport.model_validate(_report())
    again = MonitorReport.model_validate_json(report.to_json())
    assert math.isnan(again.freshness["origin_ops"].age_p50_s)  # type: ignore[index]
    assert again.model_dump(exclude={"freshness"}) == report.model_dump(exclude={"freshness"})
    assert json.loads(report.to_json().replace("NaN", "null"))["window"]["source"] == "prediction_log"


@pytest.mark.parametrize("change", [
    {"surprise": 1},  # a key the contract does not know
    {"psi": {"x": "high"}},  # a figure that is not a number
    {"window": {"source": "tea-leaves", "rows": 1, "labelled": 0}},  # a window of no known kind
])
def test_anything_else_is_refused_whole(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MonitorReport.model_validate(_report(**change))


def test_the_service_sets_its_gauges_from_a_report_and_ignores_what_is_not_one(tmp_path: Path) -> None:
    metrics = Metrics()
    gauges = MonitorGauges(metrics, tmp_path)
    old, new = tmp_path / "monitor" / "old", tmp_path / "monitor" / "new"
    old.mkdir(parents=True), new.mkdir(parents=True)
    (old / "report.json").write_text(MonitorReport.model_validate(_report()).to_json())
    gauges.refresh()
    assert metrics.monitor_adversarial_auc._value.get() == 0.7
    assert metrics.monitor_alerts._value.get() == 0
    (new / "report.json").write_text(json.dumps({"psi": {"x": 9.0}}))  # newer, not a report: nothing is set from it
    os.utime(new / "report.json", (2e9, 2e9))
    gauges.refresh()
    assert metrics.monitor_adversarial_auc._value.get() == 0.7
    assert metrics.monitor_brier._value.get() == 0.25


def test_a_retired_challenger_leaves_no_version_on_the_gauge() -> None:
    from types import SimpleNamespace

    metrics = Metrics()

    def version(alias: str) -> float | None:
        return metrics.registry.get_sample_value("skyprophet_model_version", {"name": "flight_delay", "alias": alias})

    served = SimpleNamespace(name="flight_delay", version="3", alias="production")
    metrics.record_reload("loaded", False, served)  # type: ignore[arg-type]
    metrics.record_challenger("loaded", SimpleNamespace(name="flight_delay", version="4", alias="challenger"))  # type: ignore[arg-type]
    assert (version("production"), version("challenger")) == (3.0, 4.0)
    metrics.record_challenger("unchanged", None)  # a check that finds the same version touches nothing
    assert version("challenger") == 4.0
    metrics.record_challenger("absent", None)  # promoted or retired: the alias names no version any more
    assert (version("production"), version("challenger")) == (3.0, 0.0)
