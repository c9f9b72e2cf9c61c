"""What else could lower the Brier score, judged on the validation month (October) only.

Builds the train and validation windows of the current feature service (the test months are
never read) and fits the params.yaml setting with several seeds. For each check it prints the
mean over seeds of October's log loss, Brier score, ROC AUC and PR AUC beside the reference
(the setting as trained), and the one-row explanation (``pred_contrib``) cost where it changes:

- averaging the log-odds of k boosters trained with different seeds (k = 1 is the reference);
- calibration of each booster out of fold on October: none, Platt (the rule ``train`` applies)
  and isotonic regression;
- candidate inputs computed from the flight table as of each row's T, added to the service's:
  - the aircraft's flights scheduled in (T - 6 h, T] and not departed by T (cancelled ones
    included, so no outcome leaks): how many, and minutes since the earliest was due;
  - the published schedule around the flight: departures scheduled at its origin within 30 min
    of its own, and in the 2 h before it (cancelled ones included).

Writes reports/bench/october_checks.json. ``--smoke``: one seed on a slice
(``benchmarks.smoke.smoke_slice``), reports/bench/smoke/october_checks.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from dataclasses import replace
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.smoke import report_path, require, smoke_slice
from pipelines.model.params import load_params
from studies.tune_october import OctoberData, p50_ms
from pipelines.features.timeline import BIG, epoch_minutes
from pipelines.model.fit import fit_booster, out_of_fold, platt_out_of_fold, untuned_spec
from pipelines.features.training_set import TrainingSet
from skyprophet.core.config import get_settings
from skyprophet.core.keys import ROW_ID
from skyprophet.core.model import ModelSpec

PENDING_LOOKBACK = 360  # minutes
_NEVER = np.iinfo(np.int64).max
ROW_ID_SOURCE = "flight_row_id"  # the canonical table's row id, carried as the training set's ROW_ID


def _utc_minutes(ts: pd.Series) -> np.ndarray:
    """Minutes since the epoch; a missing time (never departed) is "never"."""
    minutes = epoch_minutes(ts)
    return np.where(minutes < 0, _NEVER, minutes)


def _keyed(keys: pd.Series, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row key codes, and every row's ``code * BIG + minute`` sorted with its order."""
    codes = pd.factorize(keys)[0].astype(np.int64)
    keyed = codes * BIG + minutes
    order = np.argsort(keyed, kind="stable")
    return codes, keyed[order], order


def aircraft_pending(flights: pd.DataFrame, lead: int) -> pd.DataFrame:
    """The aircraft's flights scheduled in (T - 6 h, T] that had not departed by T, T = scheduled - lead."""
    f = flights[flights["tailnum"].notna()]
    sched, actual = _utc_minutes(f["sched_dep_utc"]), _utc_minutes(f["actual_dep_utc"])
    codes, keyed, order = _keyed(f["tailnum"].astype(str), sched)
    t = sched - lead
    lo = np.searchsorted(keyed, codes * BIG + t - PENDING_LOOKBACK, side="right")
    hi = np.searchsorted(keyed, codes * BIG + t, side="right")
    count = np.zeros(len(f), dtype=np.int64)
    overdue = np.full(len(f), np.nan)
    for k in range(int((hi - lo).max(initial=0))):
        j = np.minimum(lo + k, len(order) - 1)
        pending = (lo + k < hi) & (actual[order[j]] > t)
        overdue = np.where(pending & np.isnan(overdue), t - sched[order[j]], overdue)
        count += pending
    return pd.DataFrame({"aircraft_pending": count, "aircraft_overdue_min": overdue}, index=f[ROW_ID_SOURCE].to_numpy())


def scheduled_around(flights: pd.DataFrame) -> pd.DataFrame:
    """Departures scheduled at the flight's origin in (s - 30, s + 30] and in (s - 120, s], s = its own."""
    sched = _utc_minutes(flights["sched_dep_utc"])
    codes, keyed, _ = _keyed(flights["origin"].astype(str), sched)
    base = codes * BIG + sched

    def between(a: int, b: int) -> np.ndarray:
        return np.searchsorted(keyed, base + b, side="right") - np.searchsorted(keyed, base + a, side="right")

    return pd.DataFrame({"origin_sched_pm30": between(-30, 30), "origin_sched_prev2h": between(-120, 0)},
                        index=flights[ROW_ID_SOURCE].to_numpy())


CANDIDATES: dict[str, tuple[Callable[[pd.DataFrame, int], pd.DataFrame], list[str]]] = {
    "aircraft pending (count, minutes overdue)": (aircraft_pending, ["aircraft_pending", "aircraft_overdue_min"]),
    "scheduled at the origin (+-30 min, 2 h before)": (lambda f, _lead: scheduled_around(f), ["origin_sched_pm30", "origin_sched_prev2h"]),
}


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    return {"logloss": float(log_loss(y, p)), "brier": float(brier_score_loss(y, p)),
            "roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p))}


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(float(np.mean([r[k] for r in rows])), 5) for k in rows[0]}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _isotonic(raw: np.ndarray, y: np.ndarray, query: np.ndarray) -> np.ndarray:
    from sklearn.isotonic import IsotonicRegression

    return np.asarray(IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6).fit(raw, y).predict(query))


class Checks:
    def __init__(self, october: OctoberData, seeds: list[int], num_threads: int):
        self.october, self.seeds, self.num_threads = october, seeds, num_threads

    def fit(self, spec: ModelSpec, train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray], seed: int) -> Any:
        params = self.october.params
        trial = replace(params, lightgbm={**params.lightgbm, "seed": seed})
        return fit_booster(*train, *validation, spec, trial, self.num_threads)

    def reference(self) -> dict[str, Any]:
        """One booster per seed on the service's inputs, and the seed-averaging and calibration checks."""
        o = self.october
        x, y = o.validation
        boosters = [self.fit(o.spec, o.train, o.validation, s) for s in self.seeds]
        raws = [np.asarray(b.predict(x, num_threads=self.num_threads)) for b in boosters]
        logits = [np.asarray(b.predict(x, raw_score=True, num_threads=self.num_threads)) for b in boosters]
        row = x[:1]
        explain_ms = float(np.median([p50_ms(lambda b=b: b.predict(row, pred_contrib=True, num_threads=1)) for b in boosters]))
        calibration = {
            "none": _mean([_scores(y, r) for r in raws]),
            "platt (out of fold)": _mean([_scores(y, platt_out_of_fold(r, y)) for r in raws]),
            "isotonic (out of fold)": _mean([_scores(y, out_of_fold(r, y, _isotonic)) for r in raws]),
        }
        averaging = {"1 booster": {**calibration["none"], "explain_ms": explain_ms}}
        k = len(boosters)
        averaging[f"{k} boosters averaged"] = {**_scores(y, _sigmoid(np.mean(logits, axis=0))), "explain_ms": round(k * explain_ms, 3)}
        iterations = [b.best_iteration for b in boosters]
        return {"iterations": iterations, "seed_averaging": averaging, "calibration": calibration}

    def candidate(self, compute: Callable[[pd.DataFrame, int], pd.DataFrame], names: list[str]) -> dict[str, float]:
        """The service's inputs plus ``names``, one booster per seed."""
        o = self.october
        ts = o.training_set
        values = compute(o.flights, o.params.lead_minutes).reindex(ts.frame[ROW_ID].to_numpy())
        frame = ts.frame.assign(**{n: values[n].to_numpy() for n in names})
        wider = TrainingSet(frame, ts.feature_names + names, ts.service_name, ts.lead_minutes, ts.cancelled_excluded)
        spec = untuned_spec(wider)
        train, validation = (OctoberData.encoded(wider.part(n), spec) for n in ("train", "validation"))
        y = validation[1]
        return _mean([_scores(y, np.asarray(self.fit(spec, train, validation, s).predict(validation[0], num_threads=self.num_threads)))
                      for s in self.seeds])


def render(report: dict[str, Any]) -> str:
    ref = report["calibration"]["none"]
    lines = [f"October only; mean of seeds {report['seeds']} (boosting rounds {report['iterations']})",
             f"{'check':<52} {'log loss':>9} {'Δ':>8} {'Brier':>8} {'Δ':>8} {'ROC AUC':>8} {'PR AUC':>7} {'explain ms':>10}"]

    def line(name: str, r: dict[str, float]) -> None:
        explain = f"{r['explain_ms']:>10.2f}" if "explain_ms" in r else f"{'':>10}"
        lines.append(f"{name:<52} {r['logloss']:>9.5f} {r['logloss'] - ref['logloss']:>+8.5f} {r['brier']:>8.5f} "
                     f"{r['brier'] - ref['brier']:>+8.5f} {r['roc_auc']:>8.4f} {r['pr_auc']:>7.4f} {explain}")

    for group in ("seed_averaging", "calibration", "candidates"):
        lines.append(f"-- {group.replace('_', ' ')}")
        for name, r in report[group].items():
            line(name, r)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    parser.add_argument("--num-threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="one seed on a slice (make bench-smoke)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING)
    settings = get_settings()
    params = load_params(settings)
    seeds = args.seeds[:1] if args.smoke else args.seeds
    checks = Checks(OctoberData.load(settings, smoke_slice(params) if args.smoke else params), seeds, args.num_threads)
    report = checks.reference()
    report = {"smoke": args.smoke, "seeds": seeds, **report,
              "candidates": {name: checks.candidate(fn, names) for name, (fn, names) in CANDIDATES.items()}}
    out = report_path("october_checks", args.smoke)
    out.write_text(json.dumps(report, indent=2))
    print(render(report))  # noqa: T201 - the benchmark's output
    print(f"wrote {out}")  # noqa: T201
    require("october_checks", report, ["calibration.none.brier", "calibration.platt (out of fold).brier",
                                       "calibration.isotonic (out of fold).brier", "seed_averaging.1 booster.explain_ms"]
            + [f"candidates.{name}.brier" for name in CANDIDATES])


if __name__ == "__main__":
    main()
