"""LightGBM parameter sweep scored on the validation month only (October), cost in view.

For each setting: validation log loss (over every lead of the training set), ROC AUC and PR AUC
(all leads, and at the headline lead), and the one-row cost of a plain prediction and of
``pred_contrib`` (the service's explanations) on one thread. The choice is the lowest
validation log loss among settings whose explanation costs at most ``--explain-budget-ms``.
Writes reports/bench/tune.json. The test months are never read: the sweep builds only the train
and validation windows. The chosen setting is copied into params.yaml by hand. ``--smoke``: one
setting on a slice (``benchmarks.smoke.smoke_slice``), reports/bench/smoke/tune.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.model.params import TrainParams, load_params
from pipelines.model.fit import fit_booster, untuned_spec
from pipelines.features.training_set import LABEL, LEAD, TrainingSet, build
from skyprophet.adapters.parquet import read_canonical
from skyprophet.core.config import Settings, get_settings
from benchmarks.smoke import report_path, require, smoke_slice
from skyprophet.core.model import ModelSpec, encode_frame
from skyprophet.adapters.store import open_store

# Depth is a cost lever: TreeSHAP's cost per tree grows with leaves x depth squared.
# The single-lead sweeps (lr 0.05-0.15, 15-63 leaves, depth -1/6/8, 200/500 rows per leaf) chose
# lr 0.1, 47 leaves, depth 8, 500 rows. With eight leads per flight the set is eight times larger
# (rows of one flight are alike), so this sweep looks at larger leaves and a lower rate.
GRID: dict[str, list[float]] = {
    "learning_rate": [0.05, 0.1],
    "num_leaves": [47, 95],
    "max_depth": [8],
    "min_data_in_leaf": [500, 2000],
}


@dataclass
class OctoberData:
    """The train and validation windows of the current service, encoded for LightGBM.

    Only these two windows are built: the test months are never read.
    """

    params: TrainParams
    flights: pd.DataFrame  # the canonical flight table the training set was built from
    training_set: TrainingSet
    spec: ModelSpec
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]

    @classmethod
    def load(cls, settings: Settings, params: TrainParams | None = None) -> OctoberData:
        """The windows of ``params`` (params.yaml's when None)."""
        params = params or load_params(settings)
        windows = [w for w in params.windows if w.name != "test"]
        flights = read_canonical(settings.canonical_path)
        ts = build(open_store(settings), flights, windows, params.feature_service,
                   params.lead_minutes, params.label_delay_minutes, require=("train", "validation"), leads=params.leads)
        spec = untuned_spec(ts)
        return cls(params, flights, ts, spec, *(cls.encoded(ts.part(n), spec) for n in ("train", "validation")))

    @staticmethod
    def encoded(frame: pd.DataFrame, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
        return encode_frame(frame, spec), frame[LABEL].to_numpy()


def p50_ms(fn: Any, repeats: int = 300) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1e3, 3)


def main(argv: list[str] | None = None) -> None:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-threads", type=int, default=2)
    parser.add_argument("--explain-budget-ms", type=float, default=1.5, help="pred_contrib cost allowed for one row")
    parser.add_argument("--smoke", action="store_true", help="one setting on a slice (make bench-smoke)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING)
    settings = get_settings()
    base = load_params(settings)
    october = OctoberData.load(settings, smoke_slice(base) if args.smoke else base)
    grid = {k: v[:1] for k, v in GRID.items()} if args.smoke else GRID
    params, spec, (xt, yt), (xv, yv) = october.params, october.spec, october.train, october.validation
    head = october.training_set.part("validation")[LEAD].to_numpy() == params.lead_minutes
    results: list[dict[str, Any]] = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        trial = replace(params, lightgbm={**params.lightgbm, **setting})
        t0 = time.perf_counter()
        booster = fit_booster(xt, yt, xv, yv, spec, trial, args.num_threads)
        p = np.asarray(booster.predict(xv, num_threads=args.num_threads))
        row = xv[:1]
        results.append({
            **setting,
            "best_iteration": booster.best_iteration,
            "validation_logloss": round(float(log_loss(yv, p)), 5),
            "validation_roc_auc": round(float(roc_auc_score(yv, p)), 4),
            "validation_pr_auc": round(float(average_precision_score(yv, p)), 4),
            f"validation_roc_auc_lead_{params.lead_minutes}": round(float(roc_auc_score(yv[head], p[head])), 4),
            f"validation_pr_auc_lead_{params.lead_minutes}": round(float(average_precision_score(yv[head], p[head])), 4),
            "seconds": round(time.perf_counter() - t0, 1),
            "predict_ms": p50_ms(lambda: booster.predict(row, num_threads=1)),
            "explain_ms": p50_ms(lambda: booster.predict(row, pred_contrib=True, num_threads=1)),
        })
        print(json.dumps(results[-1]), flush=True)  # noqa: T201 - progress of a long sweep
    results.sort(key=lambda r: r["validation_logloss"])
    affordable = [r for r in results if r["explain_ms"] <= args.explain_budget_ms]
    out = report_path("tune", args.smoke)
    report = {"smoke": args.smoke, "explain_budget_ms": args.explain_budget_ms, "chosen": affordable[0] if affordable else None,
              "results": results}
    out.write_text(json.dumps(report, indent=2))
    print("best on October overall:", json.dumps(results[0]))  # noqa: T201
    print("chosen (explanation within budget):", json.dumps(affordable[0] if affordable else None))  # noqa: T201
    require("tune_october", report, [f"results.0.{k}" for k in ("validation_logloss", "validation_roc_auc", "predict_ms", "explain_ms")])


if __name__ == "__main__":
    main()
