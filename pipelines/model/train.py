"""Train the delay model on a point-in-time training set, log it to MLflow and register it.

Steps: check the tracking store answers, build the training set through the feature service
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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.model import quality
from pipelines.model.params import TrainParams
from pipelines.features.training_set import LABEL, TrainingSet, build
from skyprophet.adapters.event_log import known_data
from skyprophet.adapters.progress import SILENT, Steps
from skyprophet.adapters.tracking import CANDIDATE, connect, experiment_id
from skyprophet.core.config import Settings
from skyprophet.core.errors import TrainingSetError
from skyprophet.core.model import ModelSpec, calibrate, encode_frame, probabilities

if TYPE_CHECKING:
    import lightgbm as lgb
    from feast import FeatureStore
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

BASELINE_COLUMNS = ("carrier", "month", "dest", "day_of_week")
SPLITS = ("train", "validation", "test")


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


def vocabularies(ts: TrainingSet) -> dict[str, list[str]]:
    """Categorical inputs (string features) and their vocabulary from the training window."""
    train = ts.part("train")
    out = {}
    for name in ts.feature_names:
        if train[name].dtype == object:
            values = train[name].dropna()
            out[name] = sorted({str(v) for v in values if str(v)})
    return out


def untuned_spec(ts: TrainingSet) -> ModelSpec:
    """The spec a booster is fitted with: the set's inputs and vocabularies, no calibration yet,
    threshold 0.5 until one is chosen on validation."""
    leads = list(ts.leads) if len(ts.leads) > 1 else []
    return ModelSpec(ts.service_name, ts.lead_minutes, ts.feature_names, 0.5, vocabularies(ts), leads=leads)


def fit_booster(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    spec: ModelSpec,
    params: TrainParams,
    num_threads: int,
    steps: Steps = SILENT,
    weights: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> lgb.Booster:
    """LightGBM with early stopping on the validation window.

    ``weights`` are the train and validation rows' weights (params' lead weights); early stopping
    then watches the same weighted loss the trees minimise."""
    import lightgbm as lgb

    p = {"objective": "binary", "metric": "binary_logloss", "verbose": -1, **params.lightgbm, "num_threads": num_threads}
    unknown = [n for n in params.monotone_increasing if n not in spec.feature_names]
    if unknown:
        raise TrainingSetError(f"monotone_increasing names features the service does not have: {unknown}")
    if params.monotone_increasing:
        p["monotone_constraints"] = [1 if n in params.monotone_increasing else 0 for n in spec.feature_names]
        # "advanced" broke the constraint here (LightGBM 4.7: probabilities fell by up to 0.007).
        p.setdefault("monotone_constraints_method", "intermediate")
    categorical = [i for i, n in enumerate(spec.feature_names) if n in spec.categories]
    train = lgb.Dataset(x_train, y_train, weight=weights[0], feature_name=spec.feature_names,
                        categorical_feature=categorical, free_raw_data=True)
    val = lgb.Dataset(x_val, y_val, weight=weights[1], reference=train)
    # The bar's total is the round limit; early stopping ends the step before it.
    with steps.step("LightGBM: boosting rounds", total=params.num_boost_round) as advance:
        return lgb.train(
            p,
            train,
            num_boost_round=params.num_boost_round,
            valid_sets=[val],
            valid_names=["validation"],
            callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False), lambda _: advance(1)],
        )


def split_weights(ts: TrainingSet, params: TrainParams) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The train and validation rows' weights by their leads (``fit_booster``'s ``weights``)."""
    return params.row_weights(ts.leads_of("train")), params.row_weights(ts.leads_of("validation"))


def _platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    p = np.clip(raw, 1e-12, 1 - 1e-12)
    z = np.log(p / (1 - p)).reshape(-1, 1)
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(z, y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def out_of_fold(
    raw: np.ndarray, y: np.ndarray, fit_apply: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], folds: int = 5
) -> np.ndarray:
    """Calibrated probabilities of every row from a map fitted on the other folds.

    ``fit_apply(raw_rest, y_rest, raw_block)`` fits on the rest and maps the block. Folds are
    contiguous blocks of the (time-ordered) validation rows, so each fold is calibrated on
    other days than its own.
    """
    oof = np.empty_like(raw)
    for block in np.array_split(np.arange(len(y)), folds):
        rest = np.setdiff1d(np.arange(len(y)), block)
        oof[block] = fit_apply(raw[rest], y[rest], raw[block])
    return oof


def platt_out_of_fold(raw: np.ndarray, y: np.ndarray, folds: int = 5) -> np.ndarray:
    """Platt-calibrated probabilities of every row, each fold's from a fit on the others."""
    return out_of_fold(raw, y, lambda r, t, q: calibrate(q, _platt(r, t)), folds)


def choose_calibration(raw: np.ndarray, y: np.ndarray, folds: int = 5) -> tuple[tuple[float, float] | None, dict[str, float]]:
    """Platt scaling if it lowers the Brier score on validation out of fold, else None."""
    oof = platt_out_of_fold(raw, y, folds)
    raw_brier = float(np.mean((raw - y) ** 2))
    cal_brier = float(np.mean((oof - y) ** 2))
    report = {"validation_brier_raw": raw_brier, "validation_brier_platt_oof": cal_brier}
    if cal_brier < raw_brier:
        a, b = _platt(raw, y)
        if a > 0:  # a non-positive slope would reverse the ranking; never keep it
            return (a, b), report
    return None, report


def baseline_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The original model's inputs: carrier, local month, destination, local day of week."""
    local = pd.to_datetime(frame["sched_dep_epoch_s"] + 60 * frame["utc_offset_min"], unit="s")
    return pd.DataFrame(
        {
            "carrier": frame["carrier"].astype(str).to_numpy(),
            "month": local.dt.month.astype(str).to_numpy(),
            "dest": frame["dest"].astype(str).to_numpy(),
            "day_of_week": local.dt.dayofweek.astype(str).to_numpy(),
        }
    )


def fit_baseline(train: pd.DataFrame, y: np.ndarray) -> Any:
    """One-hot carrier, month, destination and weekday into a balanced logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(class_weight="balanced", max_iter=2000))
    return model.fit(baseline_frame(train), y)


def _requirements(*dists: str) -> list[str]:
    """Pinned requirements of a logged model (MLflow's inference would import and time it)."""
    from importlib.metadata import version

    return [f"{d}=={version(d)}" for d in dists]


def _labels(ts: TrainingSet, name: str, shuffle: np.random.Generator | None) -> np.ndarray:
    y = ts.part(name)[LABEL].to_numpy().astype(int)
    return shuffle.permutation(y) if shuffle is not None and name != "test" else y


@dataclass
class Fitted:
    """The booster and its spec, with what was learnt about it on the splits."""

    booster: lgb.Booster
    spec: ModelSpec
    x: dict[str, np.ndarray]  # encoded inputs by split
    y: dict[str, np.ndarray]  # labels by split (train and validation permuted when shuffled)
    p_validation: np.ndarray
    p_test: np.ndarray
    metrics: dict[str, dict[str, float]]  # "validation", "test" at the stored threshold, headline lead
    calibration_report: dict[str, float]
    fit_seconds: float
    headline: dict[str, np.ndarray]  # by split: the rows at the headline lead (all rows for one lead)
    by_lead: dict[str, dict[int, dict[str, float]]]  # by split ("validation", "test"), then lead: metrics


def headline_rows(ts: TrainingSet) -> dict[str, np.ndarray]:
    """Per split, a mask of the rows at the headline lead (the lead scored without a clock)."""
    return {n: ts.leads_of(n) == ts.lead_minutes for n in SPLITS}


def metrics_by_lead(ts: TrainingSet, split: str, y: np.ndarray, p: np.ndarray, threshold: float) -> dict[int, dict[str, float]]:
    """The metrics of one split's rows at each lead (ROC AUC, PR AUC, Brier, F1, ...)."""
    lead = ts.leads_of(split)
    return {int(k): quality.classification_metrics(y[lead == k], p[lead == k], threshold) for k in ts.leads}


def fit_model(ts: TrainingSet, params: TrainParams, threads: int, shuffle_labels: bool, steps: Steps = SILENT) -> Fitted:
    """LightGBM on the train window, early-stopped on validation; then calibration (if it helps
    out of fold), the F1-optimal threshold on validation, and the scores of both windows (at the
    headline lead, and at each lead). Calibration and threshold are chosen on all validation rows."""
    spec0 = untuned_spec(ts)
    x = {n: encode_frame(ts.part(n), spec0) for n in SPLITS}
    rng = np.random.default_rng(int(params.lightgbm.get("seed", 0))) if shuffle_labels else None
    y = {n: _labels(ts, n, rng) for n in SPLITS}

    t0 = time.perf_counter()
    booster = fit_booster(x["train"], y["train"], x["validation"], y["validation"], spec0, params, threads, steps,
                          split_weights(ts, params))
    fit_seconds = time.perf_counter() - t0
    with steps.step("calibration, threshold and test scores"):
        raw_val = np.asarray(booster.predict(x["validation"], num_threads=threads))
        calibration, cal_report = choose_calibration(raw_val, y["validation"])
        calibrated = replace(spec0, calibration=calibration)
        p_val = probabilities(booster, x["validation"], calibrated, threads)
        spec = replace(calibrated, threshold=quality.f1_optimal_threshold(y["validation"], p_val))
        p_test = probabilities(booster, x["test"], spec, threads)
        head = headline_rows(ts)
        p = {"validation": p_val, "test": p_test}
        by_lead = {s: metrics_by_lead(ts, s, y[s], p[s], spec.threshold) for s in p}
        metrics = {s: by_lead[s][ts.lead_minutes] for s in p}  # the headline lead's rows
    return Fitted(booster, spec, x, y, p_val, p_test, metrics, cal_report, fit_seconds, head, by_lead)


@dataclass
class Baseline:
    """The original SkyProphet model fitted on the same rows, and its scores."""

    model: Any
    metrics: dict[str, dict[str, float]]  # "baseline_validation", "baseline_test"
    p_test: np.ndarray


def fit_baseline_model(ts: TrainingSet, y: dict[str, np.ndarray], head: dict[str, np.ndarray], steps: Steps = SILENT) -> Baseline:
    """The baseline on the train window, its threshold chosen on validation, scored on both windows;
    on the headline lead's rows only (its inputs do not depend on the lead)."""
    with steps.step("baseline: one-hot logistic regression"):
        part = {n: ts.part(n, ts.lead_minutes) for n in SPLITS}  # the rows ``head`` marks
        yy = {n: y[n][head[n]] for n in SPLITS}
        base = fit_baseline(part["train"], yy["train"])
        b_val = base.predict_proba(baseline_frame(part["validation"]))[:, 1]
        b_thr = quality.f1_optimal_threshold(yy["validation"], b_val)
        b_test = base.predict_proba(baseline_frame(part["test"]))[:, 1]
        metrics = {
            "baseline_validation": quality.classification_metrics(yy["validation"], b_val, b_thr),
            "baseline_test": quality.classification_metrics(yy["test"], b_test, b_thr),
        }
    return Baseline(base, metrics, b_test)


@dataclass(frozen=True)
class RunContext:
    """What both MLflow runs of a training share: the experiment, tags and parameters."""

    experiment_id: str
    tags: dict[str, str]
    params: dict[str, Any]
    rows: dict[str, int]  # of the training set, by split (and cancelled flights left out)


def run_context(settings: Settings, store: FeatureStore, params: TrainParams, ts: TrainingSet, exp_id: str,
                shuffle_labels: bool) -> RunContext:
    """Tags (feature service and its version, data version) and parameters (params.yaml, row counts)."""
    dv = data_version(input_files(settings))
    tags = {
        "feature_service": ts.service_name,
        "feature_service_version": service_version(ts.service_name, store),
        "data_version": dv,
        "shuffled_labels": str(shuffle_labels).lower(),
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
        example = pd.DataFrame(fitted.x["test"][:5], columns=spec.feature_names)
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

    Returns:
        Run ids, the registered version (None when not registered), spec, metrics and row counts.

    Raises:
        TrackingUnavailable: the tracking store does not answer.
        TrainingSetError: unknown feature service, empty window, missing inputs.
    """
    from skyprophet.adapters.store import open_store

    client = client or connect(settings)
    exp_id = experiment_id(client, settings)
    store = store or open_store(settings, online="sqlite")
    canonical, _ = known_data(settings.raw_dir, settings.live_dir)  # labels of flights received live too

    t0 = time.perf_counter()
    ts = build(store, canonical, params.windows, params.feature_service, params.lead_minutes, params.label_delay_minutes,
               steps=steps, leads=params.leads)
    seconds = {"training_set": time.perf_counter() - t0}
    log.info("training set: %s", ts.rows())

    threads = int(num_threads or params.lightgbm.get("num_threads", 2))
    fitted = fit_model(ts, params, threads, shuffle_labels, steps)
    seconds["lightgbm"] = fitted.fit_seconds
    t0 = time.perf_counter()
    baseline = fit_baseline_model(ts, fitted.y, fitted.headline, steps)
    seconds["baseline"] = time.perf_counter() - t0

    with steps.step("MLflow: log both runs, register the model"):
        ctx = run_context(settings, store, params, ts, exp_id, shuffle_labels)
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
