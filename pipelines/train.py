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
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from pipelines import _metrics
from pipelines._progress import SILENT, Steps
from pipelines.training_set import (
    LABEL,
    TrainingSet,
    TrainingSetError,
    Window,
    build,
    read_canonical,
    windows_from,
)
from skyprophet.config import FEATURE_SERVICE, Settings
from skyprophet.model import ModelSpec, calibrate, encode_frame, probabilities
from skyprophet.tracking import CANDIDATE, connect, experiment_id

if TYPE_CHECKING:
    import lightgbm as lgb
    from feast import FeatureStore
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

BASELINE_COLUMNS = ("carrier", "month", "dest", "day_of_week")


@dataclass
class TrainParams:
    """Everything that decides a model, from params.yaml (and command-line overrides)."""

    windows: list[Window]
    lead_minutes: int = 120
    label_delay_minutes: float = 15
    feature_service: str = FEATURE_SERVICE
    lightgbm: dict[str, Any] = field(default_factory=dict)
    num_boost_round: int = 3000
    early_stopping_rounds: int = 100
    monotone_increasing: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> TrainParams:
        if not path.exists():
            raise TrainingSetError(f"parameters file {path} does not exist")
        p = yaml.safe_load(path.read_text()) or {}
        training = p.get("training", {})
        return cls(
            windows=windows_from(p.get("split", {})),
            lead_minutes=int(p.get("lead_minutes", 120)),
            label_delay_minutes=float(p.get("label_delay_minutes", 15)),
            feature_service=str(p.get("feature_service", FEATURE_SERVICE)),
            lightgbm=dict(p.get("lightgbm", {})),
            num_boost_round=int(training.get("num_boost_round", 3000)),
            early_stopping_rounds=int(training.get("early_stopping_rounds", 100)),
            monotone_increasing=list(training.get("monotone_increasing", [])),
        )

    def window(self, name: str) -> Window:
        return next(w for w in self.windows if w.name == name)

    def flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lead_minutes": self.lead_minutes,
            "label_delay_minutes": self.label_delay_minutes,
            "feature_service": self.feature_service,
            "num_boost_round": self.num_boost_round,
            "early_stopping_rounds": self.early_stopping_rounds,
            "monotone_increasing": ",".join(self.monotone_increasing),
        }
        out.update({f"split_{w.name}": str(w) for w in self.windows})
        out.update({f"lgb_{k}": v for k, v in self.lightgbm.items()})
        return out


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
    return [settings.raw_dir / "canonical_flights.parquet", *sorted(settings.processed_dir.glob("*.parquet"))]


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


def fit_booster(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    spec: ModelSpec,
    params: TrainParams,
    num_threads: int,
    steps: Steps = SILENT,
) -> lgb.Booster:
    """LightGBM with early stopping on the validation window."""
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
    train = lgb.Dataset(x_train, y_train, feature_name=spec.feature_names, categorical_feature=categorical, free_raw_data=True)
    val = lgb.Dataset(x_val, y_val, reference=train)
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


def _log_figures(mlflow: Any, figures: dict[str, Any]) -> None:
    for name, fig in figures.items():
        mlflow.log_figure(fig, f"plots/{name}.png")


def _labels(ts: TrainingSet, name: str, shuffle: np.random.Generator | None) -> np.ndarray:
    y = ts.part(name)[LABEL].to_numpy().astype(int)
    return shuffle.permutation(y) if shuffle is not None and name != "test" else y


def run(
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
    import mlflow
    import mlflow.lightgbm
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from skyprophet.store import open_store

    seconds: dict[str, float] = {}
    client = client or connect(settings)
    exp_id = experiment_id(client, settings)
    store = store or open_store(settings, online="sqlite")
    canonical = read_canonical(settings.raw_dir)

    t0 = time.perf_counter()
    ts = build(store, canonical, params.windows, params.feature_service, params.lead_minutes, params.label_delay_minutes, steps=steps)
    seconds["training_set"] = time.perf_counter() - t0
    rows = ts.rows()
    log.info("training set: %s", rows)

    threads = int(num_threads or params.lightgbm.get("num_threads", 2))
    spec0 = ModelSpec(ts.service_name, params.lead_minutes, ts.feature_names, 0.5, vocabularies(ts))
    x = {n: encode_frame(ts.part(n), spec0) for n in ("train", "validation", "test")}
    rng = np.random.default_rng(int(params.lightgbm.get("seed", 0))) if shuffle_labels else None
    y = {n: _labels(ts, n, rng) for n in ("train", "validation", "test")}

    t0 = time.perf_counter()
    booster = fit_booster(x["train"], y["train"], x["validation"], y["validation"], spec0, params, threads, steps)
    seconds["lightgbm"] = time.perf_counter() - t0
    with steps.step("calibration, threshold and test scores"):
        raw_val = np.asarray(booster.predict(x["validation"], num_threads=threads))
        calibration, cal_report = choose_calibration(raw_val, y["validation"])
        spec1 = ModelSpec(spec0.feature_service, spec0.lead_minutes, spec0.feature_names, 0.5, spec0.categories, calibration)
        p_val = probabilities(booster, x["validation"], spec1, threads)
        spec = ModelSpec(**{**spec1.__dict__, "threshold": _metrics.f1_optimal_threshold(y["validation"], p_val)})
        p_test = probabilities(booster, x["test"], spec, threads)
        metrics = {
            "validation": _metrics.classification_metrics(y["validation"], p_val, spec.threshold),
            "test": _metrics.classification_metrics(y["test"], p_test, spec.threshold),
        }

    t0 = time.perf_counter()
    with steps.step("baseline: one-hot logistic regression"):
        base = fit_baseline(ts.part("train"), y["train"])
        b_val = base.predict_proba(baseline_frame(ts.part("validation")))[:, 1]
        b_thr = _metrics.f1_optimal_threshold(y["validation"], b_val)
        b_test = base.predict_proba(baseline_frame(ts.part("test")))[:, 1]
        metrics["baseline_validation"] = _metrics.classification_metrics(y["validation"], b_val, b_thr)
        metrics["baseline_test"] = _metrics.classification_metrics(y["test"], b_test, b_thr)
    seconds["baseline"] = time.perf_counter() - t0

    with steps.step("MLflow: log both runs, register the model"):
        dv = data_version(input_files(settings))
        tags = {
            "feature_service": ts.service_name,
            "feature_service_version": service_version(ts.service_name, store),
            "data_version": dv,
            "shuffled_labels": str(shuffle_labels).lower(),
        }
        common = {**params.flat(), **{f"rows_{k}": v for k, v in rows.items()}, "data_version": dv}

        with mlflow.start_run(experiment_id=exp_id, run_name="baseline-logreg") as brun:
            mlflow.set_tags({**tags, "role": "baseline"})
            mlflow.log_params({**common, "model": "onehot(" + ",".join(BASELINE_COLUMNS) + ") + LogisticRegression(balanced)"})
            for split in ("validation", "test"):
                mlflow.log_metrics({f"{split}_{k}": v for k, v in metrics[f"baseline_{split}"].items()})
            mlflow.sklearn.log_model(base, name="model", pip_requirements=_requirements("scikit-learn", "pandas", "numpy"))
        baseline_run_id = brun.info.run_id

        version: str | None = None
        with mlflow.start_run(experiment_id=exp_id, run_name=f"lightgbm-{ts.service_name}") as mrun:
            mlflow.set_tags({**tags, "role": "model", "baseline_run_id": baseline_run_id})
            mlflow.log_params(
                {
                    **common,
                    "num_threads": threads,
                    "best_iteration": booster.best_iteration,
                    "num_features": len(spec.feature_names),
                    "calibration": "platt" if spec.calibration else "none",
                }
            )
            for split in ("validation", "test"):
                mlflow.log_metrics({f"{split}_{k}": v for k, v in metrics[split].items()})
                mlflow.log_metrics({f"baseline_{split}_{k}": v for k, v in metrics[f"baseline_{split}"].items()})
            mlflow.log_metrics({**cal_report, **{f"rows_{k}": float(v) for k, v in rows.items()}})
            curves = {"validation": (y["validation"], p_val), "test": (y["test"], p_test), "baseline test": (y["test"], b_test)}
            _log_figures(
                mlflow,
                {
                    "roc": _metrics.roc_figure(curves),
                    "pr": _metrics.pr_figure(curves),
                    "calibration": _metrics.calibration_figure({k: v for k, v in curves.items() if k != "baseline test"}),
                    "feature_importance": _metrics.importance_figure(spec.feature_names, booster.feature_importance("gain")),
                },
            )
            mlflow.log_dict(spec.to_dict(), "model_spec.json")
            example = pd.DataFrame(x["test"][:5], columns=spec.feature_names)
            info = mlflow.lightgbm.log_model(
                booster,
                name="model",
                signature=infer_signature(example, booster.predict(example.to_numpy(), num_threads=threads)),
                input_example=example,
                metadata={"skyprophet": spec.to_dict()},
                registered_model_name=settings.model_name if register else None,
                pip_requirements=_requirements("lightgbm", "numpy", "pandas"),
            )
            if register:
                version = str(info.registered_model_version)
                for k, v in {**tags, "test_roc_auc": f"{metrics['test']['roc_auc']:.4f}", "run_id": mrun.info.run_id}.items():
                    client.set_model_version_tag(settings.model_name, version, k, v)
                client.set_registered_model_alias(settings.model_name, CANDIDATE, version)
    log.info(
        "model: test ROC AUC %.4f, PR AUC %.4f (baseline %.4f); registered version %s",
        metrics["test"]["roc_auc"], metrics["test"]["pr_auc"], metrics["baseline_test"]["roc_auc"], version,
    )
    return TrainResult(mrun.info.run_id, baseline_run_id, version, spec, metrics, rows, booster.best_iteration, seconds)


if __name__ == "__main__":  # python -m pipelines.train ...: the same as `skyprophet train ...`
    from skyprophet.cli import run_module

    run_module(__spec__.name)
