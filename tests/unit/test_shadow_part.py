"""The monitoring report's shadow section (``pipelines.monitoring.report.shadow_part``): production
and the newest challenger the prediction log scored beside it, on the same flights once their
outcomes are known, checked against sklearn on the same rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from pipelines.monitoring.render import _shadow
from pipelines.monitoring.report import shadow_part

FLIGHTS = 900
KNOWN_AT = pd.Timestamp("2013-12-05 12:00", tz="UTC")


def _flights(rng: np.random.Generator) -> pd.DataFrame:
    sched = pd.Timestamp("2013-12-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 5 * 24 * 60, FLIGHTS), unit="min")
    delay = rng.choice([-5.0, 0.0, 30.0, 90.0], FLIGHTS, p=[0.4, 0.35, 0.15, 0.1])
    return pd.DataFrame({"carrier": "UA", "flight_number": [str(1000 + i) for i in range(FLIGHTS)], "origin": "EWR",
                         "sched_dep_utc": sched, "actual_dep_utc": sched + pd.to_timedelta(delay, unit="min"),
                         "dep_delay_min": delay, "cancelled": False})


def _log(flights: pd.DataFrame, rng: np.random.Generator, challengers: tuple[str, ...] = ("9",)) -> pd.DataFrame:
    late = (flights["dep_delay_min"] > 15).to_numpy(dtype=float)
    keys = {"__request_id": [f"r{i // 50}" for i in range(FLIGHTS)], "carrier": flights["carrier"],
            "flight_number": flights["flight_number"], "origin": flights["origin"], "scheduled_departure": flights["sched_dep_utc"]}
    served = pd.DataFrame({**keys, "delay_probability": np.clip(0.2 + 0.2 * late + rng.normal(0, 0.15, FLIGHTS), 0.01, 0.99),
                           "prediction_status": "ok", "model_version": "8"})
    shadows = [pd.DataFrame({**keys, "delay_probability": np.clip(0.1 + 0.6 * late + rng.normal(0, 0.1, FLIGHTS), 0.01, 0.99),
                             "prediction_status": "shadow", "model_version": v}) for v in challengers]
    return pd.concat([served, *shadows], ignore_index=True)


def test_the_newest_challenger_is_compared_with_production_on_the_flights_both_scored() -> None:
    rng = np.random.default_rng(5)
    flights = _flights(rng)
    logged = _log(flights, rng, challengers=("9", "10"))
    part = shadow_part(logged, flights, 15, KNOWN_AT.to_pydatetime())
    assert part is not None and (part.production, part.challenger) == ("8", "10")  # 10 is newer than 9
    # independently: the flights departed by KNOWN_AT, their label, both models' probabilities
    departed = flights["actual_dep_utc"] <= KNOWN_AT
    y = (flights["dep_delay_min"] > 15)[departed].astype(int).to_numpy()
    served = logged[logged["prediction_status"] == "ok"]["delay_probability"].to_numpy()[departed.to_numpy()]
    ten = logged[logged["model_version"] == "10"]["delay_probability"].to_numpy()[departed.to_numpy()]
    assert part.pairs == FLIGHTS and part.labelled == part.flights == int(departed.sum()) < FLIGHTS
    assert part.comparison["log_loss"]["a"] == pytest.approx(log_loss(y, served), rel=1e-9)
    assert part.comparison["log_loss"]["b"] == pytest.approx(log_loss(y, ten), rel=1e-9)
    assert part.comparison["roc_auc"]["b"] == pytest.approx(roc_auc_score(y, ten), rel=1e-9)
    assert part.comparison["log_loss"]["b_better"] and part.better  # the challenger sees the label far better
    page = _shadow(SimpleNamespace(shadow=part))  # type: ignore[arg-type]
    assert "Version 10 scored beside production version 8" in page and "would move production to it" in page


def test_no_shadow_score_or_no_outcome_yet_is_no_section() -> None:
    rng = np.random.default_rng(6)
    flights = _flights(rng)
    assert shadow_part(_log(flights, rng, challengers=()), flights, 15, None) is None
    before = pd.Timestamp("2013-11-30", tz="UTC").to_pydatetime()  # nothing departed yet
    assert shadow_part(_log(flights, rng), flights, 15, before) is None
    few = shadow_part(_log(flights, rng), flights, 15, None, min_flights=10_000)
    assert few is not None and not few.better and "too few labelled flights" in _shadow(SimpleNamespace(shadow=few))  # type: ignore[arg-type]
