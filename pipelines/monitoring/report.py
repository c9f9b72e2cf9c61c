"""Is the model still right? A monitoring report of one window against the training reference.

The window is either served traffic (the prediction log: what the service read online and
answered, with each flight's outcome joined once it is in the data) or a past period scored in
batch (point-in-time offline retrieval, as training reads). The reference is a sample of the
training months' flights, each at one of the model's leads, scored by the same model. The report:

- input drift per input (Evidently: PSI with its bands, KS or chi-square, new categories) and the
  share missing; prediction drift (the probabilities' PSI and KS);
- the adversarial validator (``pipelines.monitoring.drift.adversarial``): out-of-fold ROC AUC of LightGBM
  telling reference rows from window rows, and the inputs it leans on. Inputs that encode the
  calendar separate any two periods by construction: they are left out of it and of the alerts,
  and reported apart (``calendar_inputs``);
- performance once labels are in: ROC AUC, PR AUC, Brier, a calibration curve, by carrier,
  origin and lead;
- for served traffic, training-serving skew (each logged online value against offline retrieval
  at the same instant: the share of exact matches per input) and the features' freshness.

Written as ``report.json`` and ``report.html`` (plots) with Evidently's drift page ``drift.html``
and the rows compared (``reference.parquet``, ``window.parquet``) under ``reports/monitor/<name>/``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.model import quality

from pipelines.monitoring import drift
from pipelines.model.params import TrainParams
from skyprophet.core.months import Window
from pipelines.features.retrieval import historical_features
from pipelines.features.training_set import flights_in, resolve_service
from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.prediction_log import OUTSIDE_MAX_AGE, PRESENT
from skyprophet.adapters.tracking import PRODUCTION, LoadedModel, connect, load_by_alias, load_version
from skyprophet.core.config import Settings
from skyprophet.core.errors import NoData
from skyprophet.core.features import SEP
from skyprophet.core.keys import ROW_ID, TIMESTAMP, entity_frame
from skyprophet.core.windows import delayed
from skyprophet.core.model import encode_frame, probabilities

if TYPE_CHECKING:
    from feast import FeatureStore
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

# Inputs that encode the calendar: the month itself, the distance to the next holiday, and a
# count that only grows through the year (a route's departures so far).
CALENDAR_INPUTS = ("flight_timing__month", "flight_timing__days_to_holiday", "route_history__deps_hist")
PROBABILITY = "delay_probability"
LABEL = "label"
LEAD = "lead_minutes"  # the row's lead (minutes from the instant read to scheduled departure)
GROUP_MIN_ROWS = 200  # a carrier, origin or lead with fewer labelled rows is not scored apart


@dataclass
class Thresholds:
    """The alert thresholds of a report (``SKYPROPHET_MONITOR_*`` settings)."""

    psi: float
    adversarial_auc: float
    skew_match_min: float
    brier: float

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(settings.monitor_psi_alert, settings.monitor_adversarial_auc_alert, settings.monitor_skew_match_min,
                   settings.monitor_brier_alert)


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
    frame["flight_number"] = frame["flight_number"].astype("int64")
    frame = frame.merge(outcomes.drop_duplicates(keys), on=keys, how="left")
    delay = frame["dep_delay_min"].to_numpy(dtype=np.float64)
    known = frame["cancelled"].eq(False).to_numpy(dtype=bool) & ~np.isnan(delay)  # not cancelled, outcome in the data
    if known_at is not None:
        known &= (frame["actual_departure"] <= known_at).fillna(False).to_numpy(dtype=bool)
    frame[LABEL] = np.where(known, delayed(delay, label_delay_minutes).astype(np.float64), np.nan)
    return frame.drop(columns=["dep_delay_min", "cancelled"])


def skew(store: FeatureStore, logged: pd.DataFrame, service_name: str, names: list[str]) -> dict[str, Any]:
    """Each logged online value against offline retrieval for the same flight at the same instant:
    the share of rows where they are equal (both missing counts as equal), per input and view."""
    entity_cols = ["carrier", "origin", "dest", "flight_id", "route", "carrier_origin", "tailnum", "as_of_day",
                   "sched_dep_epoch_s", "utc_offset_min", "as_of_epoch_s"]
    entities = logged[[c for c in entity_cols if c in logged]].copy()
    entities[TIMESTAMP] = pd.to_datetime(logged["as_of"], utc=True).astype("datetime64[us, UTC]")
    entities[ROW_ID] = np.arange(len(logged))
    offline = historical_features(store, entities, resolve_service(store, service_name))
    rates: dict[str, float] = {}
    for name in names:
        rates[name] = float(np.mean(_equal(logged[name].to_numpy(dtype=object), offline[name].to_numpy(dtype=object))))
    views: dict[str, list[float]] = {}
    for name, rate in rates.items():
        views.setdefault(name.split(SEP, 1)[0], []).append(rate)
    return {"rows": len(logged), "match_rate": rates, "by_view": {v: min(r) for v, r in views.items()}}


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


def freshness(logged: pd.DataFrame, names: list[str]) -> dict[str, dict[str, float]]:
    """Per view, at serve time: the age of the rows read (instant read - the row's event time;
    median and 95th percentile in seconds) and the shares present, stale (older than the view's
    ttl) and not found."""
    as_of = pd.to_datetime(logged["as_of"], utc=True)
    out: dict[str, dict[str, float]] = {}
    firsts: dict[str, str] = {}
    for name in names:
        firsts.setdefault(name.split(SEP, 1)[0], name)
    for view, name in firsts.items():
        status = logged[f"{name}__status"].to_numpy()
        present = status == PRESENT
        age = (as_of - pd.to_datetime(logged[f"{name}__timestamp"], utc=True)).dt.total_seconds().to_numpy()
        ages = age[present]
        out[view] = {
            "age_p50_s": float(np.median(ages)) if ages.size else float("nan"),
            "age_p95_s": float(np.quantile(ages, 0.95)) if ages.size else float("nan"),
            "present": float(present.mean()),
            "stale": float((status == OUTSIDE_MAX_AGE).mean()),
            "not_found": float(((status != PRESENT) & (status != OUTSIDE_MAX_AGE)).mean()),
        }
    return out


def performance(frame: pd.DataFrame, threshold: float) -> dict[str, Any] | None:
    """Quality on the labelled rows: overall, a calibration curve, by carrier, origin and lead
    (groups with at least ``GROUP_MIN_ROWS`` rows and both outcomes); None before any label."""
    from sklearn.calibration import calibration_curve

    rows = frame[frame[LABEL].notna() & frame[PROBABILITY].notna()]
    y = rows[LABEL].to_numpy(dtype=int)
    if len(rows) < 2 or y.min() == y.max():
        return None
    p = rows[PROBABILITY].to_numpy(dtype=np.float64)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    out: dict[str, Any] = {"rows": len(rows), "delayed_share": float(y.mean()),
                           **quality.classification_metrics(y, p, threshold),
                           "calibration": [{"predicted": float(a), "observed": float(b)} for a, b in zip(predicted, observed, strict=True)]}
    for key, col in (("by_carrier", "carrier"), ("by_origin", "origin"), ("by_lead", LEAD)):
        groups = rows[col].round().astype(int) if col == LEAD else rows[col]
        part: dict[str, Any] = {}
        for value, idx in rows.groupby(groups.to_numpy()).indices.items():
            yy, pp = y[idx], p[idx]
            if len(idx) >= GROUP_MIN_ROWS and yy.min() != yy.max():
                m = quality.classification_metrics(yy, pp, threshold)
                part[str(value)] = {"rows": len(idx), "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"], "brier": m["brier"]}
        out[key] = part
    return out


@dataclass
class MonitorResult:
    report: dict[str, Any]
    folder: Path


def monitor(
    settings: Settings,
    window: Window | None = None,
    log_dir: Path | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    served: bool = False,
    known_at: datetime | None = None,
    reference: Window | None = None,
    name: str | None = None,
    alias: str = PRODUCTION,
    version: str | None = None,
    seed: int = 7,
    store: FeatureStore | None = None,
    transform: Any = None,
) -> MonitorResult:
    """Write the monitoring report of one window against the training reference.

    Args:
        settings: data, stores, tracking, reports folder, alert thresholds, sample size.
        window: months scored in batch (offline retrieval, as training reads); or
        log_dir: the prediction log of served traffic (logged in [since, until)): one service's
            folder, or the folder of every service's (the model's service is read); or
        served: the log of the model's feature service (its Feast ``LoggingConfig`` destination).
        known_at: outcomes are joined only for flights departed by then (live operation: the
            replay's clock); default: every outcome in the data.
        reference: the reference months (default: the model's training window from params).
        name: the report's folder under ``reports/monitor/`` (default: from the window).
        alias: the registry alias of the model scored (batch) and described.
        version: a registered version instead of the alias.
        seed: sampling and lead draws.
        store: the feature store (default: opened from settings).
        transform: a function applied to the window's rows before the statistics (tests inject
            drift with it).

    Returns:
        The report (also written as JSON and HTML) and its folder.

    Raises:
        NoData: the window or the log holds no rows.
        ModelNotFound: the alias points at nothing.
    """
    from skyprophet.adapters.store import open_store

    if (window is not None) + (log_dir is not None) + served != 1:
        raise ValueError("a report needs one window: months scored in batch, a prediction log, or the served model's log")
    started = time.perf_counter()
    params = TrainParams.load(settings.params_path)
    reference = reference or params.window("train")
    store = store or open_store(settings, online="sqlite")
    client = connect(settings)
    model = load_version(client, settings.model_name, version) if version else load_by_alias(client, settings.model_name, alias)
    spec = model.spec
    canonical = read_canonical(settings.canonical_path)
    n = settings.monitor_sample_flights
    ref_flights = sample_flights(canonical, Window("reference", reference.first, reference.last), n, seed)
    ref = scored_sample(store, ref_flights, model, params.label_delay_minutes, seed)
    skew_part: dict[str, Any] | None = None
    fresh: dict[str, Any] | None = None
    if window is not None:  # a past period scored in batch; held out of the reference where they overlap
        cur_flights = sample_flights(canonical, window, n, seed + 1, exclude=pd.Index(ref_flights["flight_row_id"]))
        cur = scored_sample(store, cur_flights, model, params.label_delay_minutes, seed + 1)
        source: dict[str, Any] = {"source": "batch", "months": str(window)}
        default_name = f"{window.first}" if window.first == window.last else f"{window.first}_{window.last}"
    else:
        if log_dir is None:  # the served model's own log
            config = resolve_service(store, spec.feature_service).logging_config
            if config is None:
                raise NoData(f"feature service {spec.feature_service!r} has no logging configuration")
            log_dir = Path(config.destination.path)  # type: ignore[attr-defined]
        elif not any(log_dir.glob("*.parquet")) and (log_dir / spec.feature_service).is_dir():
            log_dir = log_dir / spec.feature_service  # the folder of every service's log: the model's own
        logged = read_log(log_dir, since, until)
        logged = logged[logged["prediction_status"] == "ok"]
        # Flights read as of an instant the data does not cover (a client's far future or distant past)
        # have no offline truth and no outcome: counted, left out.
        lo, hi = (int(t.timestamp()) for t in (canonical["sched_dep_utc"].min(), canonical["sched_dep_utc"].max()))
        covered = (logged["as_of_epoch_s"].astype("int64").between(lo - 2 * 86_400, hi)
                   & logged["sched_dep_epoch_s"].astype("int64").between(lo, hi + 2 * 86_400))
        outside = int((~covered).sum())
        logged = logged[covered]
        if logged.empty:
            raise NoData(f"the prediction log {log_dir} holds no flight read within the data's span")
        models = sorted(set(zip(logged["model_name"], logged["model_version"], strict=True)))
        at = pd.Timestamp(known_at) if known_at is not None else None
        cur = with_outcomes(logged, canonical, params.label_delay_minutes, at).reset_index(drop=True)
        skew_part = skew(store, cur, spec.feature_service, spec.feature_names)
        fresh = freshness(cur, spec.feature_names)
        source = {"source": "prediction_log", "log": str(log_dir), "since": since.isoformat() if since else None,
                  "until": until.isoformat() if until else None, "models": [f"{a} v{b}" for a, b in models],
                  "outcomes_known_at": known_at.isoformat() if known_at else None, "outside_data": outside}
        default_name = "log-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    if transform is not None:
        cur = transform(cur)
    names = spec.feature_names
    categorical = list(spec.categories)
    inputs, snapshot = drift.input_drift(ref, cur, names, categorical)
    pred, _ = drift.input_drift(ref, cur, [PROBABILITY], [])
    calendar = [n for n in names if n in CALENDAR_INPUTS]
    watched = [n for n in names if n not in calendar]
    adv = drift.adversarial(ref, cur, names, categorical, exclude=calendar)
    perf = performance(cur, spec.threshold)
    limits = Thresholds.of(settings)
    report: dict[str, Any] = {
        "name": name or default_name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {"name": model.name, "version": str(model.version), "feature_service": spec.feature_service},
        "reference": {"months": str(reference), "rows": len(ref)},
        "window": {**source, "rows": len(cur), "labelled": int(cur[LABEL].notna().sum())},
        "adversarial_auc": adv.auc,
        "psi": {d.name: d.psi for d in inputs},
        "skew_match_rate": skew_part["match_rate"] if skew_part else None,
        "performance": perf,
        "adversarial": adv.to_dict(),
        "calendar_inputs": calendar,
        "drift": {d.name: d.to_dict() for d in inputs},
        "prediction_drift": {**pred[0].to_dict(), "reference_mean": float(ref[PROBABILITY].mean()),
                             "window_mean": float(cur[PROBABILITY].mean())},
        "skew": skew_part,
        "freshness": fresh,
        "thresholds": limits.__dict__,
    }
    report["alerts"] = alerts(report, watched, limits)
    report["seconds"] = round(time.perf_counter() - started, 1)
    folder = settings.reports_dir / "monitor" / report["name"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=_json) + "\n")
    snapshot.save_html(str(folder / "drift.html"))
    (folder / "report.html").write_text(render_html(report, ref, cur), encoding="utf-8")
    kept = [c for c in cur.columns if c in {*names, PROBABILITY, LABEL, LEAD, "carrier", "origin", "flight_number", "flight_row_id",
                                             "scheduled_departure", "as_of", "__request_id", "model_version"}]
    cur[kept].to_parquet(folder / "window.parquet", index=False)
    ref.to_parquet(folder / "reference.parquet", index=False)
    log.info("monitor %s: adversarial AUC %.3f, %d alert(s) -> %s", report["name"], adv.auc, len(report["alerts"]), folder)
    return MonitorResult(report, folder)


def alerts(report: dict[str, Any], watched: list[str], limits: Thresholds) -> list[dict[str, Any]]:
    """What is past its threshold (calendar inputs are reported, never alerted on)."""
    out = []
    for name in watched:
        if report["psi"].get(name, 0.0) > limits.psi:
            out.append({"check": "psi", "input": name, "value": report["psi"][name], "threshold": limits.psi})
    if report["adversarial_auc"] > limits.adversarial_auc:
        top = report["adversarial"]["ranking"][0]["input"] if report["adversarial"]["ranking"] else None
        out.append({"check": "adversarial_auc", "input": top, "value": report["adversarial_auc"], "threshold": limits.adversarial_auc})
    if report["prediction_drift"]["psi"] > limits.psi:
        out.append({"check": "prediction_psi", "input": PROBABILITY, "value": report["prediction_drift"]["psi"], "threshold": limits.psi})
    for name, rate in (report["skew_match_rate"] or {}).items():
        if rate < limits.skew_match_min:
            out.append({"check": "skew", "input": name, "value": rate, "threshold": limits.skew_match_min})
    perf = report["performance"]
    if perf and perf["brier"] > limits.brier:
        out.append({"check": "brier", "input": None, "value": perf["brier"], "threshold": limits.brier})
    return out


def _json(v: Any) -> Any:
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    raise TypeError(f"not JSON: {type(v)}")


# -- the HTML page -----------------------------------------------------------------------------

def _png(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _figures(report: dict[str, Any], ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: dict[str, str] = {}
    calendar = set(report["calendar_inputs"])
    top = list(report["psi"].items())[:20]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(top) + 1))
    band_colour = {"act": "#c62828", "watch": "#f9a825", "stable": "#2e7d32"}
    colours = ["#9e9e9e" if n in calendar else band_colour[drift.band(v)] for n, v in top]
    ax.barh([n for n, _ in top][::-1], [v for _, v in top][::-1], color=colours[::-1])
    for x in (drift.PSI_WATCH, drift.PSI_ACT):
        ax.axvline(x, color="#555", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=0.1)  # the calendar's PSI dwarfs the rest on a linear scale
    ax.set_xlabel("PSI, log scale above 0.1 (grey: calendar input, reported apart)")
    ax.set_title("Input drift: the 20 largest PSI")
    figs["psi"] = _png(fig)
    ranking = report["adversarial"]["ranking"][:10]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(ranking) + 1))
    ax.barh([r["input"] for r in ranking][::-1], [r["gain_share"] for r in ranking][::-1], color="#1565c0")
    ax.set_xlabel("share of the validator's gain")
    ax.set_title(f"Adversarial validator: ROC AUC {report['adversarial_auc']:.3f}")
    figs["adversarial"] = _png(fig)
    fig, ax = plt.subplots(figsize=(7, 3))
    bins = np.linspace(0, 1, 41).tolist()
    ax.hist(ref[PROBABILITY], bins=bins, density=True, alpha=0.55, label="reference", color="#757575")
    ax.hist(cur[PROBABILITY], bins=bins, density=True, alpha=0.55, label="window", color="#1565c0")
    ax.set_xlabel("delay probability")
    ax.set_title(f"Prediction drift: PSI {report['prediction_drift']['psi']:.3f}")
    ax.legend()
    figs["predictions"] = _png(fig)
    moved = [n for n in report["psi"] if n not in calendar and report["drift"][n]["kind"] == "numeric"][:3]
    if moved:
        fig, axes = plt.subplots(1, len(moved), figsize=(3.2 * len(moved), 2.8))
        for ax, name in zip(np.atleast_1d(axes), moved, strict=False):
            a = pd.to_numeric(ref[name], errors="coerce").dropna()
            b = pd.to_numeric(cur[name], errors="coerce").dropna()
            if len(a) and len(b):
                lo, hi = np.nanquantile(np.r_[a, b], [0.01, 0.99])
                edges = np.linspace(lo, hi if hi > lo else lo + 1, 31).tolist()
                ax.hist(a.clip(lo, hi), bins=edges, density=True, alpha=0.55, color="#757575", label="reference")
                ax.hist(b.clip(lo, hi), bins=edges, density=True, alpha=0.55, color="#1565c0", label="window")
            ax.set_title(name, fontsize=8)
        np.atleast_1d(axes)[0].legend(fontsize=7)
        fig.suptitle("The inputs that moved most (not calendar)", y=1.06)
        figs["moved"] = _png(fig)
    perf = report["performance"]
    if perf:
        fig, ax = plt.subplots(figsize=(4, 4))
        cal = perf["calibration"]
        ax.plot([0, 1], [0, 1], color="#999", lw=0.8)
        ax.plot([c["predicted"] for c in cal], [c["observed"] for c in cal], marker="o", color="#1565c0")
        ax.set_xlabel("predicted")
        ax.set_ylabel("observed delayed share")
        ax.set_title(f"Calibration (Brier {perf['brier']:.4f})")
        figs["calibration"] = _png(fig)
        if perf["by_lead"]:
            leads = sorted(perf["by_lead"], key=int)
            fig, ax = plt.subplots(figsize=(5, 3))
            ax.plot([int(k) for k in leads], [perf["by_lead"][k]["roc_auc"] for k in leads], marker="o")
            ax.set_xscale("log")
            ax.set_xlabel("lead (minutes)")
            ax.set_ylabel("ROC AUC")
            ax.set_title("Quality by lead")
            figs["by_lead"] = _png(fig)
    if report["skew_match_rate"]:
        rates = sorted(report["skew_match_rate"].items(), key=lambda t: t[1])[:20]
        fig, ax = plt.subplots(figsize=(7, 0.28 * len(rates) + 1))
        ax.barh([n for n, _ in rates][::-1], [r for _, r in rates][::-1],
                color=["#c62828" if r < report["thresholds"]["skew_match_min"] else "#2e7d32" for _, r in rates][::-1])
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("share of logged online values equal to offline retrieval at the same instant")
        ax.set_title("Training-serving skew: the 20 lowest match rates")
        figs["skew"] = _png(fig)
    return figs


CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}
.act{color:#c62828;font-weight:600}.watch{color:#b26a00}.stable{color:#2e7d32}.calendar{color:#888}
.alerts{background:#fdecea;border-left:4px solid #c62828;padding:8px 12px}
.ok{background:#edf7ed;border-left:4px solid #2e7d32;padding:8px 12px}
img{max-width:100%}.grid{display:flex;flex-wrap:wrap;gap:16px}"""


def _num(v: Any, digits: int = 4) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else f"{v:.{digits}f}"


def render_html(report: dict[str, Any], ref: pd.DataFrame, cur: pd.DataFrame) -> str:
    """The report as one self-contained page (plots inlined as PNG)."""
    e = html.escape
    figs = _figures(report, ref, cur)
    w, r = report["window"], report["reference"]
    img = lambda key: f'<img alt="{key}" src="{figs[key]}">' if key in figs else ""  # noqa: E731
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>SkyProphet monitor: {e(report['name'])}</title>",
             f"<style>{CSS}</style><h1>Monitoring report: {e(report['name'])}</h1>",
             f"<p>Model {e(report['model']['name'])} v{e(report['model']['version'])} ({e(report['model']['feature_service'])}). "
             f"Reference: months {e(r['months'])}, {r['rows']:,} rows. Window: "
             + (f"months {e(w['months'])} scored in batch" if w["source"] == "batch" else f"the prediction log {e(w['log'])}")
             + f", {w['rows']:,} rows ({w['labelled']:,} with outcomes). Created {e(report['created_at'])}. "
             '<a href="drift.html">Evidently\'s per-input drift page</a>.</p>']
    if report["alerts"]:
        items = "".join(f"<li>{e(a['check'])}{' on ' + e(str(a['input'])) if a['input'] else ''}: {_num(a['value'])} "
                        f"(threshold {_num(a['threshold'], 3)})</li>" for a in report["alerts"])
        parts.append(f'<div class=alerts><b>{len(report["alerts"])} alert(s)</b><ul>{items}</ul></div>')
    else:
        parts.append('<div class=ok>No alert.</div>')
    adv = report["adversarial"]
    parts.append(f"<h2>Adversarial validator</h2><p>LightGBM trained to tell {adv['rows']['reference']:,} reference rows from "
                 f"{adv['rows']['window']:,} window rows, out of fold: ROC AUC <b>{report['adversarial_auc']:.3f}</b> (0.5: "
                 f"indistinguishable). Calendar inputs left out: {e(', '.join(adv['excluded']) or 'none')}.</p>{img('adversarial')}")
    rows = "".join(
        f"<tr class={'calendar' if n in report['calendar_inputs'] else d['band']}><td>{e(n)}"
        f"{' (calendar)' if n in report['calendar_inputs'] else ''}</td><td>{_num(d['psi'])}</td><td>{e(d['band'])}</td>"
        f"<td>{e(d['test'])}</td><td>{d['p_value']:.3g}</td><td>{_num(d['missing_reference'], 3)}</td>"
        f"<td>{_num(d['missing_window'], 3)}</td><td>{e(', '.join(d['new_categories'][:5]))}</td></tr>"
        for n, d in report["drift"].items())
    parts.append(f"<h2>Input drift</h2><div class=grid>{img('psi')}{img('moved')}</div>"
                 "<table><tr><th>input</th><th>PSI</th><th>band</th><th>test</th><th>p-value</th><th>missing ref</th>"
                 f"<th>missing window</th><th>new categories</th></tr>{rows}</table>")
    pd_ = report["prediction_drift"]
    parts.append(f"<h2>Prediction drift</h2><p>Mean probability {pd_['reference_mean']:.4f} (reference) → "
                 f"{pd_['window_mean']:.4f} (window); PSI {pd_['psi']:.4f}, KS p-value {pd_['p_value']:.3g}.</p>{img('predictions')}")
    perf = report["performance"]
    if perf:
        def table(key: str) -> str:
            body = "".join(f"<tr><td>{e(k)}</td><td>{v['rows']:,}</td><td>{_num(v['roc_auc'])}</td><td>{_num(v['pr_auc'])}</td>"
                           f"<td>{_num(v['brier'])}</td></tr>" for k, v in sorted(perf[key].items(), key=lambda t: (len(t[0]), t[0])))
            return f"<table><tr><th>{key[3:]}</th><th>rows</th><th>ROC AUC</th><th>PR AUC</th><th>Brier</th></tr>{body}</table>"
        parts.append(f"<h2>Performance</h2><p>{perf['rows']:,} labelled rows, {perf['delayed_share']:.1%} delayed: ROC AUC "
                     f"{perf['roc_auc']:.4f}, PR AUC {perf['pr_auc']:.4f}, Brier {perf['brier']:.4f}, F1 {perf['f1']:.4f} at "
                     f"threshold {perf['threshold']:.3f}.</p><div class=grid>{img('calibration')}{img('by_lead')}</div>"
                     f"<div class=grid>{table('by_lead')}{table('by_carrier')}{table('by_origin')}</div>")
    else:
        parts.append("<h2>Performance</h2><p>No outcome has joined the window yet.</p>")
    if report["skew"]:
        by_view = sorted(report["skew"]["by_view"].items(), key=lambda t: t[1])
        views = "".join(f"<tr><td>{e(v)}</td><td>{_num(m)}</td></tr>" for v, m in by_view)
        parts.append(f"<h2>Training-serving skew</h2><p>{report['skew']['rows']:,} logged flights re-read offline at the "
                     f"instant they were served.</p>{img('skew')}<table><tr><th>view</th><th>lowest match rate</th></tr>{views}</table>")
        fresh = "".join(f"<tr><td>{e(v)}</td><td>{_num(f['age_p50_s'], 0)}</td><td>{_num(f['age_p95_s'], 0)}</td>"
                        f"<td>{_num(f['present'], 3)}</td><td>{_num(f['stale'], 3)}</td><td>{_num(f['not_found'], 3)}</td></tr>"
                        for v, f in (report["freshness"] or {}).items())
        parts.append("<h2>Feature freshness at serve time</h2><table><tr><th>view</th><th>age p50 (s)</th><th>age p95 (s)</th>"
                     f"<th>present</th><th>stale</th><th>not found</th></tr>{fresh}</table>")
    else:
        parts.append("<h2>Training-serving skew</h2><p>Not applicable: the window was scored in batch from the offline "
                     "store (run the report on the prediction log to compare what was served).</p>")
    return "".join(parts) + "</html>"

