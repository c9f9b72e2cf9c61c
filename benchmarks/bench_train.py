"""Training benchmark: training-set build, LightGBM on 1 and 2 threads, the whole train command.

Each measurement runs in its own process so that its peak RSS (VmHWM) is its own; LightGBM
timings are medians of three fits. The whole `python -m pipelines.train` command is timed from
outside, against a throw-away MLflow store, and its test metrics are reported beside the
quality targets and the baseline (the original SkyProphet model) from the same run.

Prints a table and writes reports/bench/train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_features import median_of
from skyprophet.adapters.progress import peak_rss_mb
from skyprophet.core.config import PROJECT_ROOT, get_settings

TARGETS = {"roc_auc": (">=", 0.76), "pr_auc": (">=", 0.52), "brier": ("<=", 0.136), "f1": (">=", 0.49)}
LEAK_ROC = 0.80


def stage(name: str, work: Path) -> dict[str, Any]:
    """Run one measurement in this process."""
    import warnings

    warnings.simplefilter("ignore")
    import pandas as pd

    from pipelines.params import TrainParams
    from pipelines.train import fit_booster, untuned_spec
    from pipelines.training_set import LABEL, TrainingSet, build
    from skyprophet.adapters.parquet import read_canonical
    from skyprophet.core.model import encode_frame
    from skyprophet.adapters.store import open_store

    settings = get_settings()
    params = TrainParams.load(settings.params_path)
    out: dict[str, Any] = {}
    cache = work / "training_set.parquet"
    if name == "training_set":
        store = open_store(settings, online="sqlite")
        canonical = read_canonical(settings.canonical_path)
        t = time.perf_counter()
        ts = build(store, canonical, params.windows, params.feature_service, params.lead_minutes, params.label_delay_minutes)
        out["seconds"] = round(time.perf_counter() - t, 2)
        out["rows"] = ts.rows()
        ts.frame.to_parquet(cache)
        (work / "feature_names.json").write_text(json.dumps(ts.feature_names))
    elif name.startswith("lightgbm_"):
        threads = int(name.split("_")[1])
        frame = pd.read_parquet(cache)
        names = json.loads((work / "feature_names.json").read_text())
        ts = TrainingSet(frame, names, params.feature_service, params.lead_minutes, 0)
        spec = untuned_spec(ts)
        xt, xv = encode_frame(ts.part("train"), spec), encode_frame(ts.part("validation"), spec)
        yt, yv = ts.part("train")[LABEL].to_numpy(), ts.part("validation")[LABEL].to_numpy()
        t = time.perf_counter()
        booster = fit_booster(xt, yt, xv, yv, spec, params, threads)
        out["seconds"] = round(time.perf_counter() - t, 2)
        out["num_threads"] = threads
        out["best_iteration"] = booster.best_iteration
        out["trees"] = booster.num_trees()
    else:
        raise ValueError(name)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def measure(name: str, work: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-W", "ignore", "-m", "benchmarks.bench_train", "--stage", name, "--work-dir", str(work)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=PROJECT_ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_command(work: Path) -> dict[str, Any]:
    """Wall time of `python -m pipelines.train` into a fresh MLflow store, and its metrics."""
    from mlflow import MlflowClient

    db = work / "mlflow.db"
    db.unlink(missing_ok=True)
    env = {
        **os.environ,
        "SKYPROPHET_MLFLOW_TRACKING_URI": f"sqlite:///{db}",
        "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(work / "artifacts"),
    }
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipelines.train"], check=True, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = round(time.perf_counter() - t, 2)
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.get_experiment_by_name(get_settings().experiment_name)
    assert exp is not None
    run = client.search_runs([exp.experiment_id], "tags.role = 'model'", max_results=1)[0]
    m = run.data.metrics
    keys = ("roc_auc", "pr_auc", "brier", "precision", "recall", "f1", "threshold")
    return {
        "seconds": seconds,
        "test": {k: round(m[f"test_{k}"], 4) for k in keys},
        "validation": {k: round(m[f"validation_{k}"], 4) for k in keys},
        "baseline_test": {k: round(m[f"baseline_test_{k}"], 4) for k in keys},
        "best_iteration": int(run.data.params["best_iteration"]),
        "calibration": run.data.params["calibration"],
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"{'measurement':<36}{'seconds':>9}{'peak MB':>9}  note"]
    ts = report.get("training_set")
    if ts:
        n = sum(ts["rows"][k] for k in ("train", "validation", "test"))
        lines.append(f"{'training-set build':<36}{ts['seconds']:>9}{ts['peak_rss_mb']:>9}  {n} rows")
    for k in ("lightgbm_1", "lightgbm_2"):
        r = report.get(k)
        if r:
            label = f"LightGBM fit, {r['num_threads']} thread(s)"
            lines.append(f"{label:<36}{r['seconds']:>9}{r['peak_rss_mb']:>9}  median of 3, {r['best_iteration']} trees")
    cmd = report.get("train_command")
    if cmd:
        lines.append(f"{'whole train command':<36}{cmd['seconds']:>9}{'':>9}  incl. baseline, MLflow logging, registration")
        lines.append("")
        lines.append(f"{'test Nov-Dec, 2 h lead':<24}{'model':>9}{'baseline':>10}{'target':>10}  met")
        for k, (op, v) in TARGETS.items():
            ours = cmd["test"][k]
            ok = ours >= v if op == ">=" else ours <= v
            lines.append(f"{k:<24}{ours:>9.4f}{cmd['baseline_test'][k]:>10.4f}{op + str(v):>10}  {'yes' if ok else 'NO'}")
        if cmd["test"]["roc_auc"] > LEAK_ROC:
            lines.append(f"test ROC AUC above {LEAK_ROC}: audit for leakage")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(stage(args.stage, args.work_dir)))  # noqa: T201 (child protocol)
        return
    out = PROJECT_ROOT / "reports" / "bench" / "train.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        work = Path(tmp)
        report["training_set"] = measure("training_set", work)
        for threads in (1, 2):
            report[f"lightgbm_{threads}"] = median_of([measure(f"lightgbm_{threads}", work) for _ in range(3)])
            out.write_text(json.dumps(report, indent=2))
        report["train_command"] = train_command(work)
    out.write_text(json.dumps(report, indent=2))
    print(render(report))  # noqa: T201
    print(f"wrote {out}")  # noqa: T201


if __name__ == "__main__":
    main()
