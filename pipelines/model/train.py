"""Train the delay model on a point-in-time training set, log it to MLflow and register it.

Steps: check the inputs (the feature service, a labelled flight in each window), check the tracking
store answers, build the training set through the feature service
(train / validation / test windows of local months), train LightGBM with early stopping on the
validation window, decide on Platt calibration (kept only if it lowers the validation Brier score
out of fold), choose the F1-optimal threshold on validation, train the original SkyProphet
baseline on the same rows, and log both runs; the model is registered as ``flight-delay`` and
the ``candidate`` alias moved to it. Nothing is registered when any step fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.features.training_set import TrainingSet, build, check_inputs, set_columns
from pipelines.model import quality, spooled
from pipelines.model.fit import BASELINE_COLUMNS, Baseline, Fitted, fit_baseline_model, fit_model
from pipelines.model.params import TrainParams
from skyprophet.adapters.event_log import known_data
from skyprophet.adapters.progress import SILENT, Steps
from skyprophet.adapters.tracking import CANDIDATE, connect, experiment_id
from skyprophet.core.config import Settings
from skyprophet.core.model import ModelSpec

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore
    from mlflow import MlflowClient

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_id: str
    baseline_run_id: str
    version: str | None
    spec: ModelSpec
    metrics: dict[str, dict[str, float]]
    rows: dict[str, int]
    best_iteration: int
    seconds: dict[str, float]
    by_lead: dict[str, dict[int, dict[str, float]]]  # by split, then lead (one lead when trained at one)


def data_version(paths: list[Path]) -> str:
    """A content hash of the input files (name and bytes), short hex."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def input_files(settings: Settings) -> list[Path]:
    return [settings.canonical_path, *sorted(settings.processed_dir.glob("*.parquet"))]


def service_version(name: str, store: FeatureStore) -> str:
    """The feature service's ``version`` tag (falls back to the name's ``_vN`` suffix)."""
    svc = store.get_feature_service(name)
    if "version" in svc.tags:
        return str(svc.tags["version"])
    return name.rsplit("_v", 1)[-1] if "_v" in name else "0"


def _requirements(*dists: str) -> list[str]:
    """Pinned requirements of a logged model (MLflow's inference would import and time it)."""
    from importlib.metadata import version

    return [f"{d}=={version(d)}" for d in dists]


@dataclass(frozen=True)
class RunContext:
    """What both MLflow runs of a training share: the experiment, tags and parameters."""

    experiment_id: str
    tags: dict[str, str]
    params: dict[str, Any]
    rows: dict[str, int]  # of the training set, by split (and cancelled flights left out)


def run_context(settings: Settings, store: FeatureStore, params: TrainParams, ts: TrainingSet, exp_id: str,
                shuffle_labels: bool, more_tags: dict[str, str] | None = None) -> RunContext:
    """Tags (feature service and its version, data version) and parameters (params.yaml, row counts)."""
    dv = data_version(input_files(settings))
    tags = {
        "feature_service": ts.service_name,
        "feature_service_version": service_version(ts.service_name, store),
        "data_version": dv,
        "shuffled_labels": str(shuffle_labels).lower(),
        **(more_tags or {}),
    }
    rows = ts.rows()
    common = {**params.flat(), **{f"rows_{k}": v for k, v in rows.items()}, "data_version": dv}
    return RunContext(exp_id, tags, common, rows)


def log_baseline_run(ctx: RunContext, baseline: Baseline) -> str:
    """The baseline's MLflow run (parameters, scores, the sklearn model); returns its id."""
    import mlflow
    import mlflow.sklearn

    with mlflow.start_run(experiment_id=ctx.experiment_id, run_name="baseline-logreg") as run:
        mlflow.set_tags({**ctx.tags, "role": "baseline"})
        mlflow.log_params({**ctx.params, "model": "onehot(" + ",".join(BASELINE_COLUMNS) + ") + LogisticRegression(balanced)"})
        for split in ("validation", "test"):
            mlflow.log_metrics({f"{split}_{k}": v for k, v in baseline.metrics[f"baseline_{split}"].items()})
        mlflow.sklearn.log_model(baseline.model, name="model", pip_requirements=_requirements("scikit-learn", "pandas", "numpy"))
    return str(run.info.run_id)


def log_model_run(
    ctx: RunContext, fitted: Fitted, baseline: Baseline, baseline_run_id: str, threads: int, registered_name: str | None
) -> tuple[str, str | None]:
    """The model's MLflow run: parameters, scores beside the baseline's, plots, the spec and the
    booster with its signature (registered under ``registered_name`` when given).

    Returns:
        The run id and the registered version (None when not registered).
    """
    import mlflow
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    booster, spec, y = fitted.booster, fitted.spec, fitted.y
    with mlflow.start_run(experiment_id=ctx.experiment_id, run_name=f"lightgbm-{spec.feature_service}") as run:
        mlflow.set_tags({**ctx.tags, "role": "model", "baseline_run_id": baseline_run_id})
        mlflow.log_params(
            {
                **ctx.params,
                "num_threads": threads,
                "best_iteration": booster.best_iteration,
                "num_features": len(spec.feature_names),
                "calibration": "platt" if spec.calibration else "none",
            }
        )
        for split in ("validation", "test"):
            mlflow.log_metrics({f"{split}_{k}": v for k, v in fitted.metrics[split].items()})
            mlflow.log_metrics({f"baseline_{split}_{k}": v for k, v in baseline.metrics[f"baseline_{split}"].items()})
        mlflow.log_metrics({**fitted.calibration_report, **{f"rows_{k}": float(v) for k, v in ctx.rows.items()}})
        head = fitted.headline
        curves = {"validation": (y["validation"][head["validation"]], fitted.p_validation[head["validation"]]),
                  "test": (y["test"][head["test"]], fitted.p_test[head["test"]]),
                  "baseline test": (y["test"][head["test"]], baseline.p_test)}
        figures = {
            "roc": quality.roc_figure(curves),
            "pr": quality.pr_figure(curves),
            "calibration": quality.calibration_figure({k: v for k, v in curves.items() if k != "baseline test"}),
            "feature_importance": quality.importance_figure(spec.feature_names, booster.feature_importance("gain")),
        }
        if spec.any_lead:  # metrics at each lead: test_roc_auc_lead_120, ...; a table and a plot
            for split, table in fitted.by_lead.items():
                mlflow.log_metrics({f"{split}_{k}_lead_{lead}": m[k] for lead, m in table.items() for k in quality.BY_LEAD_METRICS})
            mlflow.log_dict({s: {str(k): m for k, m in t.items()} for s, t in fitted.by_lead.items()}, "by_lead.json")
            mlflow.log_text(quality.by_lead_table(fitted.by_lead["test"]), "by_lead_test.txt")
            figures["by_lead"] = quality.by_lead_figure(fitted.by_lead)
        for name, fig in figures.items():
            mlflow.log_figure(fig, f"plots/{name}.png")
        mlflow.log_dict(spec.to_dict(), "model_spec.json")
        example = spooled.frame_head(fitted.x["test"], spec)
        info = mlflow.lightgbm.log_model(
            booster,
            name="model",
            signature=infer_signature(example, np.asarray(booster.predict(example.to_numpy(), num_threads=threads))),
            input_example=example,
            metadata={"skyprophet": spec.to_dict()},
            registered_model_name=registered_name,
            pip_requirements=_requirements("lightgbm", "numpy", "pandas"),
        )
    version = str(info.registered_model_version) if registered_name else None
    return str(run.info.run_id), version


def register_candidate(client: MlflowClient, settings: Settings, version: str, ctx: RunContext, fitted: Fitted, run_id: str) -> None:
    """Tag the registered version (data, features, test ROC AUC, run) and move ``candidate`` to it."""
    tags = {**ctx.tags, "test_roc_auc": f"{fitted.metrics['test']['roc_auc']:.4f}", "run_id": run_id}
    for k, v in tags.items():
        client.set_model_version_tag(settings.model_name, version, k, v)
    client.set_registered_model_alias(settings.model_name, CANDIDATE, version)


def train(
    settings: Settings,
    params: TrainParams,
    *,
    num_threads: int | None = None,
    shuffle_labels: bool = False,
    register: bool = True,
    store: FeatureStore | None = None,
    client: MlflowClient | None = None,
    steps: Steps = SILENT,
    canonical: pd.DataFrame | None = None,
    tags: dict[str, str] | None = None,
) -> TrainResult:
    """Train, evaluate, log and (optionally) register one model and its baseline.

    Args:
        settings: paths, tracking URI, model name.
        params: windows, lead, feature service and LightGBM parameters.
        num_threads: LightGBM threads (default: params, else 2).
        shuffle_labels: permute the train and validation labels (sanity check; test labels stay real).
        register: register the model as ``settings.model_name`` and move ``candidate`` to it.
        store: a feature store (default: opened from settings).
        client: an MLflow client (default: connected from settings).
        steps: progress display (none by default).
        canonical: the flights to train on (default: the raw data and the live event log's partitions).
        tags: more MLflow tags, on both runs and the registered version (a retraining's reason and window).

    Returns:
        Run ids, the registered version (None when not registered), spec, metrics and row counts.

    Raises:
        TrackingUnavailable: the tracking store does not answer.
        TrainingSetError: unknown feature service, empty window, missing inputs.
    """
    from skyprophet.adapters.store import open_store

    store = store or open_store(settings, online="sqlite")
    if canonical is None:
        canonical, _ = known_data(settings.raw_dir, settings.live_dir)  # labels of flights received live too
    canonical = set_columns(canonical)  # the columns the set is made of: a national year's flights are gigabytes
    # Bad input is named before the tracking store is opened (creating a new store takes seconds),
    # and the store is checked before the minutes of work.
    check_inputs(store, canonical, params.windows, params.feature_service, params.leads)
    client = client or connect(settings)
    exp_id = experiment_id(client, settings)

    t0 = time.perf_counter()
    ts = build(store, canonical, params.windows, params.feature_service, params.lead_minutes, params.label_delay_minutes,
               steps=steps, leads=params.leads, leads_per_flight=params.leads_per_flight,
               spool=settings.data_dir / "training-set" if params.spool else None)
    seconds = {"training_set": time.perf_counter() - t0}
    log.info("training set: %s", ts.rows())

    threads = int(num_threads or params.lightgbm.get("num_threads", 2))
    fitted = fit_model(ts, params, threads, shuffle_labels, steps)
    seconds["lightgbm"] = fitted.fit_seconds
    t0 = time.perf_counter()
    baseline = fit_baseline_model(ts, fitted.y, fitted.headline, steps)
    seconds["baseline"] = time.perf_counter() - t0

    with steps.step("MLflow: log both runs, register the model"):
        ctx = run_context(settings, store, params, ts, exp_id, shuffle_labels, tags or {})
        baseline_run_id = log_baseline_run(ctx, baseline)
        run_id, version = log_model_run(ctx, fitted, baseline, baseline_run_id, threads, settings.model_name if register else None)
        if version is not None:
            register_candidate(client, settings, version, ctx, fitted, run_id)
    metrics = {**fitted.metrics, **baseline.metrics}
    log.info(
        "model: test ROC AUC %.4f, PR AUC %.4f (baseline %.4f); registered version %s",
        metrics["test"]["roc_auc"], metrics["test"]["pr_auc"], metrics["baseline_test"]["roc_auc"], version,
    )
    return TrainResult(run_id, baseline_run_id, version, fitted.spec, metrics, ctx.rows, fitted.booster.best_iteration, seconds,
                       fitted.by_lead)


def write_summary(settings: Settings, result: TrainResult) -> Path:
    """``reports/model/train.json``: what a training produced (DVC's train stage output) and where
    to find it in MLflow."""
    summary = settings.reports_dir / "model" / "train.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps({
        "model": settings.model_name, "version": result.version, "run_id": result.run_id,
        "baseline_run_id": result.baseline_run_id, "best_iteration": result.best_iteration,
        "feature_service": result.spec.feature_service, "lead_minutes": result.spec.lead_minutes,
        "rows": result.rows, "test": result.metrics["test"], "validation": result.metrics["validation"],
        "leads_minutes": result.spec.trained_leads,
        "by_lead": {s: {str(k): m for k, m in t.items()} for s, t in result.by_lead.items()},
    }, indent=2) + "\n")
    return summary
