"""Fitting the delay model, without tracking: LightGBM with early stopping on the validation
window, Platt calibration kept only when it lowers the validation Brier score out of fold, the
F1-optimal threshold on validation, the logistic-regression baseline, and the metrics of each
split and lead. ``pipelines.model.train`` logs and registers what this fits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.features.training_set import LABEL, TrainingSet
from pipelines.model import quality
from pipelines.model import spooled
from pipelines.model.params import TrainParams
from pipelines.model.spooled import Inputs
from skyprophet.adapters.progress import SILENT, Steps
from skyprophet.core.errors import TrainingSetError
from skyprophet.core.model import ModelSpec, calibrate

if TYPE_CHECKING:
    import lightgbm as lgb


BASELINE_COLUMNS = ("carrier", "month", "dest", "day_of_week")


SPLITS = ("train", "validation", "test")


def untuned_spec(ts: TrainingSet) -> ModelSpec:
    """The spec a booster is fitted with: the set's inputs and vocabularies, no calibration yet,
    threshold 0.5 until one is chosen on validation."""
    leads = list(ts.leads) if len(ts.leads) > 1 else []
    return ModelSpec(ts.service_name, ts.lead_minutes, ts.feature_names, 0.5, spooled.vocabularies(ts), leads=leads)


def fit_booster(
    x_train: Inputs,
    y_train: np.ndarray,
    x_val: Inputs,
    y_val: np.ndarray,
    spec: ModelSpec,
    params: TrainParams,
    num_threads: int,
    steps: Steps = SILENT,
    weights: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> lgb.Booster:
    """LightGBM with early stopping on the validation window, from matrices or spooled files.

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
    if not isinstance(x_train, np.ndarray):  # a spooled set: the bins sampled from the rows a matrix would give
        p = spooled.sequence_params(p)
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


def _labels(ts: TrainingSet, name: str, shuffle: np.random.Generator | None) -> np.ndarray:
    y = ts.part(name)[LABEL].to_numpy().astype(int)
    return shuffle.permutation(y) if shuffle is not None and name != "test" else y


@dataclass
class Fitted:
    """The booster and its spec, with what was learnt about it on the splits."""

    booster: lgb.Booster
    spec: ModelSpec
    x: dict[str, Inputs]  # encoded inputs by split (matrices, or sequences over a spooled set's files)
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
    x = {n: spooled.split_inputs(ts, n, spec0) for n in SPLITS}
    rng = np.random.default_rng(int(params.lightgbm.get("seed", 0))) if shuffle_labels else None
    y = {n: _labels(ts, n, rng) for n in SPLITS}

    t0 = time.perf_counter()
    booster = fit_booster(x["train"], y["train"], x["validation"], y["validation"], spec0, params, threads, steps,
                          split_weights(ts, params))
    fit_seconds = time.perf_counter() - t0
    with steps.step("calibration, threshold and test scores"):
        raw_val = spooled.raw_scores(booster, x["validation"], threads)
        calibration, cal_report = choose_calibration(raw_val, y["validation"])
        calibrated = replace(spec0, calibration=calibration)
        p_val = calibrate(raw_val, calibration)  # the scores just computed, not a second pass over the rows
        spec = replace(calibrated, threshold=quality.f1_optimal_threshold(y["validation"], p_val))
        p_test = spooled.probabilities(booster, x["test"], spec, threads)
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
