"""The statistics of a monitoring report: the rows compared (a scored sample of months, or the
prediction log with outcomes joined) and what is computed from them (training-serving skew,
freshness at serve time, performance by group). Drift and the adversarial validator are in
``pipelines.monitoring.drift``; the report assembles them (``pipelines.monitoring.report``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.features.retrieval import historical_features
from pipelines.features.training_set import flights_in, resolve_service
from pipelines.model import quality
from skyprophet.adapters.prediction_log import OUTSIDE_MAX_AGE, PRESENT
from skyprophet.adapters.tracking import LoadedModel
from skyprophet.core.errors import NoData
from skyprophet.core.features import SEP
from skyprophet.core.keys import ROW_ID, TIMESTAMP, entity_frame
from skyprophet.core.model import encode_frame, probabilities
from skyprophet.core.monitoring import CalibrationPoint, Freshness, GroupScores, Performance, Skew
from skyprophet.core.months import Window
from skyprophet.core.windows import delayed

if TYPE_CHECKING:
    from feast import FeatureStore

PROBABILITY = "delay_probability"
LABEL = "label"
LEAD = "lead_minutes"  # the row's lead (minutes from the instant read to scheduled departure)
GROUP_MIN_ROWS = 200  # a carrier, origin or lead with fewer labelled rows is not scored apart


def scored_sample(store: FeatureStore, flights: pd.DataFrame, model: LoadedModel, label_delay_minutes: float,
                  seed: int) -> pd.DataFrame:
    """``flights`` as the model would have scored them: each at one of its leads (drawn at random),
    its inputs retrieved point in time, its probability, and its label (NaN: cancelled)."""
    leads = np.array(model.spec.trained_leads)
    chosen = leads[np.random.default_rng(seed).integers(len(leads), size=len(flights))]
    entities = pd.concat([entity_frame(flights[chosen == lead], int(lead)) for lead in leads if (chosen == lead).any()],
                         ignore_index=True)
    feats = historical_features(store, entities, resolve_service(store, model.spec.feature_service))
    by_id = flights.set_index("flight_row_id").loc[feats[ROW_ID].to_numpy()]
    delay = by_id["dep_delay_min"].to_numpy(dtype=np.float64)
    label = np.where(by_id["cancelled"].to_numpy(dtype=bool) | np.isnan(delay), np.nan,
                     delayed(delay, label_delay_minutes).astype(np.float64))
    sched = by_id["sched_dep_utc"].reset_index(drop=True)
    out = feats[model.spec.feature_names].copy()
    out[PROBABILITY] = probabilities(model.booster, encode_frame(feats, model.spec), model.spec, num_threads=2)
    out[LABEL] = label
    out["carrier"] = by_id["carrier"].to_numpy()
    out["origin"] = by_id["origin"].to_numpy()
    out[LEAD] = ((sched - feats[TIMESTAMP].reset_index(drop=True)).dt.total_seconds() / 60).to_numpy()
    out["flight_row_id"] = feats[ROW_ID].to_numpy()
    return out


def sample_flights(canonical: pd.DataFrame, window: Window, n: int, seed: int, exclude: pd.Index | None = None) -> pd.DataFrame:
    """Up to ``n`` flights of ``window``'s months at random (none of ``exclude``'s row ids)."""
    chosen = flights_in(canonical, [window])
    if exclude is not None:
        chosen = chosen[~chosen["flight_row_id"].isin(exclude)]
    if chosen.empty:
        raise NoData(f"no flights in {window.name} window {window}")
    return chosen.sample(min(n, len(chosen)), random_state=seed)


def log_destination(store: FeatureStore, service: str) -> Path:
    """Where the service ``service`` logs what it serves (its Feast ``LoggingConfig`` destination).

    Raises:
        NoData: the feature service has no logging configuration.
    """
    config = resolve_service(store, service).logging_config
    if config is None:
        raise NoData(f"feature service {service!r} has no logging configuration")
    return Path(config.destination.path)  # type: ignore[attr-defined]


def read_log(dest: Path, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """The prediction log's rows (Feast's logging schema plus the prediction) logged in [since, until)."""
    import duckdb

    files = sorted(dest.glob("*.parquet"))
    if not files:
        raise NoData(f"the prediction log {dest} holds nothing yet")
    with duckdb.connect() as con:  # its own connection: nothing is left open on DuckDB's default one
        frame = con.sql(
            "select * from read_parquet($files, union_by_name = true) where ($since is null or __log_timestamp >= $since) "
            "and ($until is null or __log_timestamp < $until)",
            params={"files": [str(f) for f in files], "since": since, "until": until},
        ).to_arrow_table().to_pandas()
    if frame.empty:
        raise NoData(f"the prediction log {dest} holds nothing logged in the window")
    return frame


def with_outcomes(logged: pd.DataFrame, canonical: pd.DataFrame, label_delay_minutes: float,
                  known_at: pd.Timestamp | None = None) -> pd.DataFrame:
    """The log with each flight's label joined (NaN until it has departed by ``known_at``, or if
    cancelled); ``actual_departure`` beside it."""
    keys = ["carrier", "flight_number", "origin", "scheduled_departure"]
    outcomes = canonical[["carrier", "flight_number", "origin", "sched_dep_utc", "actual_dep_utc", "dep_delay_min", "cancelled"]]
    outcomes = outcomes.rename(columns={"sched_dep_utc": "scheduled_departure", "actual_dep_utc": "actual_departure"})
    frame = logged.copy()
    frame["scheduled_departure"] = pd.to_datetime(frame["scheduled_departure"], utc=True).astype("datetime64[us, UTC]")
    frame["flight_number"] = frame["flight_number"].astype(str)
    frame = frame.merge(outcomes.drop_duplicates(keys), on=keys, how="left")
    delay = frame["dep_delay_min"].to_numpy(dtype=np.float64)
    known = frame["cancelled"].eq(False).to_numpy(dtype=bool) & ~np.isnan(delay)  # not cancelled, outcome in the data
    if known_at is not None:
        known &= (frame["actual_departure"] <= known_at).fillna(False).to_numpy(dtype=bool)
    frame[LABEL] = np.where(known, delayed(delay, label_delay_minutes).astype(np.float64), np.nan)
    return frame.drop(columns=["dep_delay_min", "cancelled"])


def skew(store: FeatureStore, logged: pd.DataFrame, service_name: str, names: list[str]) -> Skew:
    """Each logged online value against offline retrieval for the same flight at the same instant:
    the share of rows where they are equal (both missing counts as equal), per input and view."""
    entity_cols = ["carrier", "origin", "dest", "flight_id", "route", "carrier_origin", "tailnum", "as_of_day",
                   "sched_dep_epoch_s", "utc_offset_min", "as_of_epoch_s", "origin_country"]
    entities = logged[[c for c in entity_cols if c in logged]].copy()
    if "origin_country" not in entities:  # a log written before the origin's country was logged: the default calendar
        entities["origin_country"] = ""
    entities[TIMESTAMP] = pd.to_datetime(logged["as_of"], utc=True).astype("datetime64[us, UTC]")
    entities[ROW_ID] = np.arange(len(logged))
    offline = historical_features(store, entities, resolve_service(store, service_name))
    rates: dict[str, float] = {}
    for name in names:
        rates[name] = float(np.mean(_equal(logged[name].to_numpy(dtype=object), offline[name].to_numpy(dtype=object))))
    views: dict[str, list[float]] = {}
    for name, rate in rates.items():
        views.setdefault(name.split(SEP, 1)[0], []).append(rate)
    return Skew(rows=len(logged), match_rate=rates, by_view={v: min(r) for v, r in views.items()})


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    def norm(v: Any) -> Any:
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            return None
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return float(v)
        return v
    return np.array([norm(x) == norm(y) for x, y in zip(a, b, strict=True)], dtype=bool)


def freshness(logged: pd.DataFrame, names: list[str]) -> dict[str, Freshness]:
    """Per view, at serve time: the age of the rows read (instant read - the row's event time;
    median and 95th percentile in seconds) and the shares present, stale (older than the view's
    ttl) and not found."""
    as_of = pd.to_datetime(logged["as_of"], utc=True)
    out: dict[str, Freshness] = {}
    firsts: dict[str, str] = {}
    for name in names:
        firsts.setdefault(name.split(SEP, 1)[0], name)
    for view, name in firsts.items():
        status = logged[f"{name}__status"].to_numpy()
        present = status == PRESENT
        age = (as_of - pd.to_datetime(logged[f"{name}__timestamp"], utc=True)).dt.total_seconds().to_numpy()
        ages = age[present]
        out[view] = Freshness(
            age_p50_s=float(np.median(ages)) if ages.size else float("nan"),
            age_p95_s=float(np.quantile(ages, 0.95)) if ages.size else float("nan"),
            present=float(present.mean()),
            stale=float((status == OUTSIDE_MAX_AGE).mean()),
            not_found=float(((status != PRESENT) & (status != OUTSIDE_MAX_AGE)).mean()),
        )
    return out


def performance(frame: pd.DataFrame, threshold: float) -> Performance | None:
    """Quality on the labelled rows: overall, a calibration curve, by carrier, origin and lead
    (groups with at least ``GROUP_MIN_ROWS`` rows and both outcomes); None before any label."""
    from sklearn.calibration import calibration_curve

    rows = frame[frame[LABEL].notna() & frame[PROBABILITY].notna()]
    y = rows[LABEL].to_numpy(dtype=int)
    if len(rows) < 2 or y.min() == y.max():
        return None
    p = rows[PROBABILITY].to_numpy(dtype=np.float64)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    groups: dict[str, dict[str, GroupScores]] = {}
    for key, col in (("by_carrier", "carrier"), ("by_origin", "origin"), ("by_lead", LEAD)):
        values = rows[col].round().astype(int) if col == LEAD else rows[col]
        part: dict[str, GroupScores] = {}
        for value, idx in rows.groupby(values.to_numpy()).indices.items():
            yy, pp = y[idx], p[idx]
            if len(idx) >= GROUP_MIN_ROWS and yy.min() != yy.max():
                m = quality.classification_metrics(yy, pp, threshold)
                part[str(value)] = GroupScores(rows=len(idx), roc_auc=m["roc_auc"], pr_auc=m["pr_auc"], brier=m["brier"])
        groups[key] = part
    m = quality.classification_metrics(y, p, threshold)
    return Performance(rows=len(rows), delayed_share=float(y.mean()), roc_auc=m["roc_auc"], pr_auc=m["pr_auc"], brier=m["brier"],
                       precision=m["precision"], recall=m["recall"], f1=m["f1"], threshold=m["threshold"],
                       calibration=[CalibrationPoint(predicted=float(a), observed=float(b))
                                    for a, b in zip(predicted, observed, strict=True)],
                       by_carrier=groups["by_carrier"], by_origin=groups["by_origin"], by_lead=groups["by_lead"])
