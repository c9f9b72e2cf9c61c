"""How much the 2 h test figures move with LightGBM's seed alone: a measurement, not a choice.

The multi-horizon model (params.yaml as it is: flight_delay_v3, eight leads) and the single-lead
model it is held against (flight_delay_v2, lead 2 h only) are fitted with the same settings and
several seeds (params.yaml's seed first). For each fit it records the 2 h rows' ROC AUC, PR AUC
and Brier score on October (validation) and November-December (test). Nothing is chosen from the
test figures: params.yaml is not changed and the seed stays what it is. The spread says whether a
gap on the test months is larger than what the seed alone moves.

Writes reports/bench/seed_spread.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import warnings
from dataclasses import replace
from typing import Any

from pipelines.model.params import TrainParams, load_params
from pipelines.model.fit import fit_model
from pipelines.features.training_set import build
from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.store import open_store
from benchmarks.smoke import report_path, require, smoke_slice
from skyprophet.core.config import get_settings

SINGLE_LEAD_SERVICE = "flight_delay_v2"
METRICS = ("roc_auc", "pr_auc", "brier")


def spread(params: TrainParams, ts: Any, seeds: list[int], threads: int) -> list[dict[str, Any]]:
    rows = []
    for seed in seeds:
        p = replace(params, lightgbm={**params.lightgbm, "seed": seed})
        fitted = fit_model(ts, p, threads=threads, shuffle_labels=False)
        row: dict[str, Any] = {"seed": seed, "rounds": fitted.booster.best_iteration}
        for split in ("validation", "test"):
            m = fitted.by_lead[split][params.lead_minutes]
            row[split] = {k: round(float(m[k]), 4) for k in METRICS}
        rows.append(row)
        print(json.dumps(row), flush=True)  # noqa: T201 (progress)
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    return {split: {k: {"min": min(r[split][k] for r in rows), "median": statistics.median(r[split][k] for r in rows),
                        "max": max(r[split][k] for r in rows)} for k in METRICS} for split in ("validation", "test")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: params.yaml's, 11, 23")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="two seeds on a slice (make bench-smoke)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.getLogger("lightgbm").setLevel(logging.ERROR)
    settings = get_settings()
    params = load_params(settings)
    seeds = args.seeds or [int(params.lightgbm.get("seed", 7)), 11, 23]
    if args.smoke:
        params, seeds = smoke_slice(params), seeds[:2]
    store = open_store(settings)
    flights = read_canonical(settings.canonical_path)
    report: dict[str, Any] = {"smoke": args.smoke, "seeds": seeds, "lead_minutes": params.lead_minutes}
    single = replace(params, feature_service=SINGLE_LEAD_SERVICE, leads_minutes=[params.lead_minutes])
    for name, p in (("multi_horizon", params), ("single_lead", single)):
        ts = build(store, flights, p.windows, p.feature_service, p.lead_minutes, p.label_delay_minutes, leads=p.leads)
        rows = spread(p, ts, seeds, args.threads)
        report[name] = {"feature_service": p.feature_service, "leads": p.leads, "fits": rows, "summary": summary(rows)}
        del ts
    out = report_path("seed_spread", args.smoke)
    out.write_text(json.dumps(report, indent=2))
    for name in ("multi_horizon", "single_lead"):
        for split in ("validation", "test"):
            s = report[name]["summary"][split]
            print(f"{name:<14}{split:<11}" + "  ".join(  # noqa: T201
                f"{k} {s[k]['min']:.4f}..{s[k]['max']:.4f} (median {s[k]['median']:.4f})" for k in METRICS))
    print(f"wrote {out}")  # noqa: T201
    require("seed_spread", report, [f"{n}.summary.{s}.{k}.median" for n in ("multi_horizon", "single_lead")
                                    for s in ("validation", "test") for k in METRICS])


if __name__ == "__main__":
    main()
