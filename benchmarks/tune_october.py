"""LightGBM parameter sweep scored on the validation month only (October).

Prints validation log loss, ROC AUC and PR AUC for each setting, best log loss first, and
writes reports/bench/tune.json. The test months are never read: the sweep builds only the
train and validation windows. The chosen setting is copied into params.yaml by hand.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
import warnings
from typing import Any

import numpy as np

from pipelines.train import TrainParams, fit_booster, vocabularies
from pipelines.training_set import LABEL, build, read_canonical
from skyprophet.config import get_settings
from skyprophet.model import ModelSpec, encode_frame
from skyprophet.store import open_store

GRID = {
    "num_leaves": [31, 63, 127],
    "min_data_in_leaf": [100, 200, 500],
    "feature_fraction": [0.6, 0.8],
}


def main(argv: list[str] | None = None) -> None:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-threads", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING)
    settings = get_settings()
    params = TrainParams.load(settings.params_path)
    windows = [w for w in params.windows if w.name != "test"]
    ts = build(open_store(settings), read_canonical(settings.raw_dir), windows, params.feature_service,
               params.lead_minutes, params.label_delay_minutes, require=("train", "validation"))
    spec = ModelSpec(ts.service_name, params.lead_minutes, ts.feature_names, 0.5, vocabularies(ts))
    xt, xv = encode_frame(ts.part("train"), spec), encode_frame(ts.part("validation"), spec)
    yt, yv = ts.part("train")[LABEL].to_numpy(), ts.part("validation")[LABEL].to_numpy()
    results: list[dict[str, Any]] = []
    for values in itertools.product(*GRID.values()):
        setting = dict(zip(GRID, values))
        trial = TrainParams(**{**params.__dict__, "lightgbm": {**params.lightgbm, **setting}})
        t0 = time.perf_counter()
        booster = fit_booster(xt, yt, xv, yv, spec, trial, args.num_threads)
        p = np.asarray(booster.predict(xv, num_threads=args.num_threads))
        results.append({
            **setting,
            "best_iteration": booster.best_iteration,
            "validation_logloss": round(float(log_loss(yv, p)), 5),
            "validation_roc_auc": round(float(roc_auc_score(yv, p)), 4),
            "validation_pr_auc": round(float(average_precision_score(yv, p)), 4),
            "seconds": round(time.perf_counter() - t0, 1),
        })
        print(json.dumps(results[-1]), flush=True)  # noqa: T201 - progress of a long sweep
    results.sort(key=lambda r: r["validation_logloss"])
    out = settings.reports_dir / "bench" / "tune.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print("best on October:", json.dumps(results[0]))  # noqa: T201


if __name__ == "__main__":
    main()
