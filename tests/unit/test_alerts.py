"""The recent checks, and thresholds calibrated on when retraining paid (``pipelines.monitoring.alerts``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipelines.monitoring.alerts import calibrate, fired, recent_checks, tally


def _rows(rng: np.random.Generator, n: int, shift: float, p: np.ndarray | None = None) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    prob = 1 / (1 + np.exp(-x)) if p is None else p
    label = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(float)
    label[:5] = np.nan  # outcomes not known yet
    return pd.DataFrame({"x": x, "carrier": rng.choice(["AA", "UA"], n), "delay_probability": prob, "label": label})


def _log_loss(y: list[float], p: list[float]) -> float:
    return sum(-(a * math.log(b) + (1 - a) * math.log(1 - b)) for a, b in zip(y, p, strict=True)) / len(y)


def test_recent_checks_match_a_hand_computation() -> None:
    rng = np.random.default_rng(3)
    ref, win = _rows(rng, 2_000, 0.0), _rows(rng, 2_000, 0.0, p=np.full(2_000, 0.2))  # the window's model says 0.2 for all
    got = recent_checks(ref, win)
    known_r, known_w = ref.dropna(subset=["label"]), win.dropna(subset=["label"])
    rise = (_log_loss(known_w["label"].tolist(), known_w["delay_probability"].tolist())
            - _log_loss(known_r["label"].tolist(), known_r["delay_probability"].tolist()))
    assert got["log_loss_rise"] == pytest.approx(rise, rel=1e-9)
    assert got["calibration_gap"] == pytest.approx(abs(0.2 - known_w["label"].mean()), rel=1e-9)
    assert got["prediction_psi"] > 1  # every prediction in one decile of the reference's


def test_without_outcomes_the_performance_checks_are_none_and_never_fire() -> None:
    rng = np.random.default_rng(4)
    ref, win = _rows(rng, 500, 0.0), _rows(rng, 500, 2.0).assign(label=np.nan)
    got = recent_checks(ref, win)
    assert got["log_loss_rise"] is None and got["calibration_gap"] is None
    assert got["prediction_psi"] > 0.25  # x moved by two deviations, and the probabilities with it
    assert fired(got, {"log_loss_rise": 0.0, "calibration_gap": 0.0, "prediction_psi": 0.25}) == ["prediction_psi"]


def test_calibrate_maximises_hits_minus_false_alarms_and_prefers_fewer_alerts() -> None:
    values = [0.1, 0.2, 0.3, 0.4, 0.5, None]
    paid = [False, False, True, False, True, True]
    decisions = [{"a": v, "b": 1.0 - (v or 0)} for v in values]
    got = calibrate(decisions, paid, checks=("a", "b"))
    # a > 0.25 fires on 0.3, 0.4, 0.5: 2 hits, 1 false alarm (score 1); a > 0.45 fires on 0.5: 1 hit (score 1,
    # higher threshold, fewer alerts); nothing scores more
    assert got["a"] == pytest.approx(0.45)
    # b's values are 0.9..0.5 and 1.0 for the decision without a: its best is b > 0.95 (the None one, paid: 1 - 0)
    assert got["b"] == pytest.approx(0.95)
    counts = tally(decisions, paid, got)
    assert counts["a"] == {"threshold": got["a"], "fired": 1, "hits": 1, "false_alarms": 0, "misses": 2, "quiet": 3}
    assert counts["any"]["fired"] == 2 and counts["any"]["hits"] == 2 and counts["any"]["false_alarms"] == 0


def test_a_check_that_only_cries_wolf_gets_no_threshold() -> None:
    decisions = [{"a": v} for v in (0.9, 0.8, 0.1)]
    assert calibrate(decisions, [False, False, True], checks=("a",)) == {"a": None}  # catching 0.1 costs two false alarms
    assert calibrate(decisions, [True, True, True], checks=("a",)) == {"a": pytest.approx(0.1 - 1e-9)}  # every one paid
    assert tally(decisions, [False, False, False], {"a": None})["a"]["fired"] == 0


def test_a_check_that_adds_only_false_alarms_to_the_alert_is_left_out() -> None:
    paid = [True, True, False, False, False, True]
    # b catches the first two paid weeks and nothing else (alone: 2); a catches them too and a week that
    # did not pay (alone: 2 - 1 = 1, but beside b it adds only the false alarm); c catches the last paid week
    b = [0.9, 0.8, 0.1, 0.1, 0.1, 0.1]
    a = [0.9, 0.9, 0.9, 0.1, 0.1, 0.1]
    c = [0.1, 0.1, 0.1, 0.1, 0.1, 0.9]
    decisions = [{"a": x, "b": y, "c": z} for x, y, z in zip(a, b, c, strict=True)]
    got = calibrate(decisions, paid, checks=("a", "b", "c"))
    assert got == {"a": None, "b": pytest.approx(0.45), "c": pytest.approx(0.5)}
    assert tally(decisions, paid, got)["any"] == {"threshold": None, "fired": 3, "hits": 3, "false_alarms": 0, "misses": 0, "quiet": 3}


def test_a_threshold_setting_left_empty_turns_its_alert_off_and_garbage_is_refused_by_name() -> None:
    from pydantic import ValidationError

    from skyprophet.core.config import Settings

    assert Settings(monitor_calibration_gap_alert="", monitor_log_loss_rise_alert="  ").monitor_calibration_gap_alert is None
    assert Settings(monitor_log_loss_rise_alert="-0.01").monitor_log_loss_rise_alert == pytest.approx(-0.01)
    with pytest.raises(ValidationError, match="monitor_recent_prediction_psi_alert"):
        Settings(monitor_recent_prediction_psi_alert="lots")
    with pytest.raises(ValidationError, match="monitor_calibration_gap_alert"):
        Settings(monitor_calibration_gap_alert=-0.1)
