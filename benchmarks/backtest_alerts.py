"""The backtest's alert decisions: would an alert have started a retraining that paid?

Every seven days ``D`` from the weekly regime's fifth origin, the model in production is the one
retrained four weeks before (``STALE_DAYS``), and a retraining as of ``D`` would replace it:

- *paid* when the model retrained as of ``D`` beats it on the seven days that follow (all leads,
  log loss, its paired bootstrap interval entirely on the better side: what a promotion from the
  shadow asks);
- the monitor, run at ``D`` on the labels known by then, sees the last week before ``D`` (the
  window) scored by the production model, and compares it
  - with the four weeks before the window (the recent checks, ``pipelines.monitoring.alerts``);
  - with the production model's training months (the report's standing checks, today's alerts).

The recent checks' thresholds are calibrated on the decisions before the test months
(``CALIBRATE_BEFORE``: November and December are the project's test months) and counted on both;
the standing checks are counted at today's thresholds. A hit is an alert on a day retraining paid; a
false alarm, an alert on a day it did not.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

STALE_DAYS = 28
WINDOW_DAYS = 7
RECENT_WEEKS = 4
CALIBRATE_BEFORE = date(2013, 11, 1)
SMOKE_CALIBRATE_BEFORE = date(2013, 12, 15)
SAMPLE_ROWS = 40_000  # rows per side of a comparison (the validator samples 20,000 of them)


def _rows(year: Any, index: np.ndarray, p: np.ndarray, names: list[str]) -> pd.DataFrame:
    from pipelines.monitoring.stats import LABEL, PROBABILITY

    frame = year.ts.frame.iloc[index][names].reset_index(drop=True)
    return frame.assign(**{PROBABILITY: p, LABEL: year.y[index].astype(float)})


def _sample(index: np.ndarray, seed: int) -> np.ndarray:
    if len(index) <= SAMPLE_ROWS:
        return index
    return np.sort(np.random.default_rng(seed).choice(index, SAMPLE_ROWS, replace=False))


def _days(year: Any, first: date, until: date) -> np.ndarray:
    return (year.day >= np.datetime64(first.isoformat())) & (year.day < np.datetime64(until.isoformat()))


def decision(year: Any, params: Any, day: date, production: Any, fresh: dict[str, Any], score: Any, seed: int) -> dict[str, Any]:
    """The decision at ``day``: the recent and standing checks of the week before, and whether the
    retraining as of ``day`` (``fresh``) paid against ``production`` (retrained ``STALE_DAYS``
    before) on the week after."""
    from pipelines.model.compare import paired
    from pipelines.model.retrain import rolling_windows
    from pipelines.monitoring.alerts import recent_checks, standing_checks
    from pipelines.monitoring.report import calendar_inputs

    names, categorical = production.spec.feature_names, list(production.spec.categories)
    calendar = calendar_inputs(names)
    window_start = day - timedelta(days=WINDOW_DAYS)
    known = year.known < np.datetime64(day.isoformat(), "s")
    window = _sample(np.flatnonzero(known & _days(year, window_start, day)), seed)
    recent = _sample(np.flatnonzero(known & _days(year, window_start - timedelta(weeks=RECENT_WEEKS), window_start)), seed + 1)
    produced = day - timedelta(days=STALE_DAYS)  # what production was trained on: its train window, labels known then
    first, last = rolling_windows(produced, params.rolling, year.first_day)[0].days
    seen = year.known < np.datetime64(produced.isoformat(), "s")
    train = _sample(np.flatnonzero(seen & _days(year, date.fromisoformat(first), date.fromisoformat(last) + timedelta(days=1))), seed + 2)
    frames = {k: _rows(year, idx, score(production, idx), names) for k, idx in (("window", window), ("recent", recent), ("train", train))}
    after = fresh["_index"]
    got = paired(year.y[after], score(production, after), fresh["_p"], year.flight[after], metrics=("log_loss",),
                 resamples=200, seed=seed)["log_loss"]
    return {
        "day": day.isoformat(), "window": f"{window_start}..{day - timedelta(days=1)}", "window_rows": len(window),
        "paid": bool(got["b_better"]), "log_loss_difference": round(got["difference"], 5),
        "interval": [round(got["low"], 5), round(got["high"], 5)],
        "recent": _rounded(recent_checks(frames["recent"], frames["window"])),
        "standing": _rounded(standing_checks(frames["train"], frames["window"], names, categorical, exclude=calendar, seed=seed)),
    }


def _rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(float(v), 5) for k, v in values.items()}


def alerts(year: Any, params: Any, settings: Any, weekly: list[dict[str, Any]], score: Any, smoke: bool) -> dict[str, Any]:
    """Every decision the weekly retrainings allow, then ``summary``."""
    by_day = {date.fromisoformat(f["as_of"]): f for f in weekly}
    made = []
    for day, fresh in sorted(by_day.items()):
        stale = by_day.get(day - timedelta(days=STALE_DAYS))
        if stale is None:
            continue
        made.append(decision(year, params, day, stale["_model"], fresh, score, seed=7))
        d = made[-1]
        print(f"decision {day}: paid {d['paid']!s:5s} recent {d['recent']}", flush=True)  # noqa: T201
    return summary(made, SMOKE_CALIBRATE_BEFORE if smoke else CALIBRATE_BEFORE, settings)


def summary(made: list[dict[str, Any]], before: date, settings: Any) -> dict[str, Any]:
    """The recent checks' thresholds calibrated on the decisions before ``before``, and each set of
    alerts' hits and false alarms on those decisions and on the rest (the standing checks at the
    settings' thresholds)."""
    from pipelines.monitoring.alerts import RECENT_CHECKS, calibrate, tally

    parts = {"calibration": [d for d in made if d["day"] < before.isoformat()],
             "test": [d for d in made if d["day"] >= before.isoformat()]}
    thresholds = calibrate([d["recent"] for d in parts["calibration"]], [d["paid"] for d in parts["calibration"]], RECENT_CHECKS)
    standing = {"input_psi": settings.monitor_psi_alert, "adversarial_auc": settings.monitor_adversarial_auc_alert,
                "prediction_psi": settings.monitor_psi_alert, "brier": settings.monitor_brier_alert}
    counts = {name: {"decisions": len(ds), "paid": sum(d["paid"] for d in ds),
                     "recent": tally([d["recent"] for d in ds], [d["paid"] for d in ds], thresholds),
                     "standing": tally([d["standing"] for d in ds], [d["paid"] for d in ds], standing)}
              for name, ds in parts.items()}
    return {"production_age_days": STALE_DAYS, "window_days": WINDOW_DAYS, "recent_weeks": RECENT_WEEKS,
            "calibrated_before": before.isoformat(), "thresholds": {"recent": thresholds, "standing": standing},
            "counts": counts, "decisions": made}
