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

The standing alerts above compare the window with the training months, and a season trips them
on its own. The retraining alerts (``recent``, ``pipelines.monitoring.alerts``) compare it with the
``monitor_recent_weeks`` just before it, scored by the same model: the model's log loss rising,
its calibration slipping, its predictions moving. Their thresholds come from the backtest (when a
retraining paid); what fires there is what starts a retraining.

Written as ``report.json`` and ``report.html`` (plots) with Evidently's drift page ``drift.html``
and the rows compared (``reference.parquet``, ``window.parquet``, ``recent.parquet``) under
``reports/monitor/<name>/``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.model.params import load_params
from pipelines.monitoring import drift
from pipelines.monitoring.alerts import fired, recent_checks
from pipelines.monitoring.shadow import compare, logged_pair, pairs_of
from pipelines.monitoring.render import render_html
from pipelines.monitoring.stats import (
    LABEL, LEAD, PROBABILITY, freshness, log_destination, performance, read_log, sample_flights, scored_sample, skew, with_outcomes,
)
from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.tracking import PRODUCTION, LoadedModel, connect, load_by_alias, load_version
from skyprophet.core.config import Settings
from skyprophet.core.errors import NoData
from skyprophet.core.monitoring import (
    Alert, BatchWindow, Freshness, LogWindow, ModelRef, MonitorReport, PredictionDrift, RecentPart, ReferenceRows, ShadowPart,
    Skew, Thresholds,
)
from skyprophet.core.months import Window

if TYPE_CHECKING:
    from feast import FeatureStore

log = logging.getLogger(__name__)

# Inputs that encode the calendar: the month itself, the distance to the next holiday, a count
# that only grows through the year (a route's departures so far) and an age that grows with the
# date; the request features' under whichever on-demand view a service has.
CALENDAR_INPUTS = ("__month", "__days_to_holiday", "route_history__deps_hist", "__plane_age_years")


def calendar_inputs(names: list[str]) -> list[str]:
    """The inputs among ``names`` that move with the calendar whatever the flights do."""
    return [n for n in names if n.endswith(CALENDAR_INPUTS)]
KEPT = {PROBABILITY, LABEL, LEAD, "carrier", "origin", "flight_number", "flight_row_id", "scheduled_departure", "as_of",
        "__request_id", "model_version"}  # the window's columns written beside the report, with the model's inputs


@dataclass
class MonitorResult:
    report: MonitorReport
    folder: Path


@dataclass
class _Window:
    """The rows of a window, how they were read, and (served traffic) skew and freshness."""

    rows: pd.DataFrame
    source: BatchWindow | LogWindow
    default_name: str
    first_day: date | None = None  # the window's first local day (the recent checks compare the weeks before it)
    skew: Skew | None = None
    freshness: dict[str, Freshness] | None = None
    shadow: ShadowPart | None = None


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
    params = load_params(settings)
    reference = reference or params.window("train")
    store = store or open_store(settings, online="sqlite")
    client = connect(settings)
    model = load_version(client, settings.model_name, version) if version else load_by_alias(client, settings.model_name, alias)
    canonical = read_canonical(settings.canonical_path)
    n = settings.monitor_sample_flights
    ref_flights = sample_flights(canonical, Window("reference", reference.first, reference.last), n, seed)
    ref = scored_sample(store, ref_flights, model, params.label_delay_minutes, seed)
    if window is not None:  # a past period scored in batch; held out of the reference where they overlap
        cur_flights = sample_flights(canonical, window, n, seed + 1, exclude=pd.Index(ref_flights["flight_row_id"]))
        cur = _Window(scored_sample(store, cur_flights, model, params.label_delay_minutes, seed + 1),
                      BatchWindow(months=str(window), rows=0, labelled=0),
                      f"{window.first}" if window.first == window.last else f"{window.first}_{window.last}",
                      date.fromisoformat(window.days[0]))
    else:
        log_dir = _log_folder(store, model, log_dir)
        cur = _served(settings, store, model, canonical, log_dir, since, until, known_at, params.label_delay_minutes)
    if transform is not None:
        cur.rows = transform(cur.rows)
    report, snapshot = assemble(name or cur.default_name, model, reference, ref, cur, Thresholds.of(settings))
    report.recent, recent = recent_part(settings, store, model, canonical, cur, params.label_delay_minutes, seed + 2)
    report.shadow = cur.shadow
    report.seconds = round(time.perf_counter() - started, 1)
    folder = settings.reports_dir / "monitor" / report.name
    write(folder, report, snapshot, ref, cur.rows, model.spec.feature_names, recent)
    log.info("monitor %s: adversarial AUC %.3f, %d alert(s), %d retraining alert(s) -> %s", report.name, report.adversarial_auc,
             len(report.alerts), len(report.recent.alerts) if report.recent else 0, folder)
    return MonitorResult(report, folder)


def _log_folder(store: FeatureStore, model: LoadedModel, log_dir: Path | None) -> Path:
    """The prediction log to read: the model's feature service's own destination when none is given;
    within the folder of every service's log, the model's service."""
    service = model.spec.feature_service
    if log_dir is None:
        return log_destination(store, service)
    if not any(log_dir.glob("*.parquet")) and (log_dir / service).is_dir():
        return log_dir / service
    return log_dir


def _served(settings: Settings, store: FeatureStore, model: LoadedModel, canonical: pd.DataFrame, log_dir: Path, since: datetime | None,
            until: datetime | None, known_at: datetime | None, label_delay_minutes: float) -> _Window:
    """Served traffic: the log's answered rows within the data's span, outcomes joined, skew and
    freshness, and production beside the challenger the log scored in the shadow."""
    everything = read_log(log_dir, since, until)
    logged = everything[everything["prediction_status"] == "ok"]
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
    rows = with_outcomes(logged, canonical, label_delay_minutes, at).reset_index(drop=True)
    source = LogWindow(log=str(log_dir), since=since.isoformat() if since else None, until=until.isoformat() if until else None,
                       models=[f"{a} v{b}" for a, b in models], outcomes_known_at=known_at.isoformat() if known_at else None,
                       outside_data=outside, rows=0, labelled=0)
    spec = model.spec
    first_read = datetime.fromtimestamp(int(logged["as_of_epoch_s"].min()), timezone.utc).date()
    return _Window(rows, source, "log-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime()), first_read,
                   skew(store, rows, spec.feature_service, spec.feature_names), freshness(rows, spec.feature_names),
                   shadow_part(everything, canonical, label_delay_minutes, known_at, settings.shadow_metric, settings.shadow_level,
                               settings.shadow_min_flights))


def shadow_part(logged: pd.DataFrame, canonical: pd.DataFrame, label_delay_minutes: float, known_at: datetime | None,
                metric: str = "log_loss", level: float = 0.95, min_flights: int = 500) -> ShadowPart | None:
    """Production and the newest challenger the log scored beside it, on the same served flights
    once their outcomes are known; None when the log holds no shadow score or no outcome yet."""
    from dataclasses import asdict

    pair = logged_pair(logged)
    if pair is None:
        return None
    try:
        found = compare(pairs_of(logged, canonical, label_delay_minutes, *pair, known_at), *pair, metric, level, min_flights)
    except NoData as exc:
        log.info("monitor: the shadow is not compared yet (%s)", exc)
        return None
    return ShadowPart(**{k: v for k, v in asdict(found).items() if k in ShadowPart.model_fields})


def recent_part(settings: Settings, store: FeatureStore, model: LoadedModel, canonical: pd.DataFrame, cur: _Window,
                label_delay_minutes: float, seed: int) -> tuple[RecentPart | None, pd.DataFrame | None]:
    """The recent checks: the window against a scored sample of the ``monitor_recent_weeks`` before
    its first day, and the retraining alerts past their thresholds, with the rows compared; None when
    those weeks hold no flight."""
    if cur.first_day is None:
        return None, None
    first, last = cur.first_day - timedelta(weeks=settings.monitor_recent_weeks), cur.first_day - timedelta(days=1)
    try:
        flights = sample_flights(canonical, Window("recent", first.isoformat(), last.isoformat()), settings.monitor_sample_flights, seed)
    except NoData:
        return None, None
    rows = scored_sample(store, flights, model, label_delay_minutes, seed)
    checks = recent_checks(rows, cur.rows)
    limits = {"log_loss_rise": settings.monitor_log_loss_rise_alert, "calibration_gap": settings.monitor_calibration_gap_alert,
              "prediction_psi": settings.monitor_recent_prediction_psi_alert}
    alerts = [Alert(check=k, input=PROBABILITY if k == "prediction_psi" else None, value=float(checks[k]),  # type: ignore[arg-type]
                    threshold=float(limits[k])) for k in fired(checks, limits)]  # type: ignore[arg-type]
    return RecentPart(reference=f"{first}..{last}", rows=len(rows), checks=checks, thresholds=limits, alerts=alerts), rows


def assemble(name: str, model: LoadedModel, reference: Window, ref: pd.DataFrame, cur: _Window,
             limits: Thresholds) -> tuple[MonitorReport, Any]:
    """The report's statistics of the window's rows against the reference's, and its alerts; with
    Evidently's snapshot of the inputs' drift (its page is ``drift.html``)."""
    spec, rows = model.spec, cur.rows
    names, categorical = spec.feature_names, list(spec.categories)
    inputs, snapshot = drift.input_drift(ref, rows, names, categorical)
    pred, _ = drift.input_drift(ref, rows, [PROBABILITY], [])
    calendar = calendar_inputs(names)
    adv = drift.adversarial(ref, rows, names, categorical, exclude=calendar)
    report = MonitorReport(
        name=name,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=ModelRef(name=model.name, version=str(model.version), feature_service=spec.feature_service),
        reference=ReferenceRows(months=str(reference), rows=len(ref)),
        window=cur.source.model_copy(update={"rows": len(rows), "labelled": int(rows[LABEL].notna().sum())}),
        adversarial_auc=adv.auc,
        psi={d.name: d.psi for d in inputs},
        skew_match_rate=cur.skew.match_rate if cur.skew else None,
        performance=performance(rows, spec.threshold),
        adversarial=adv.part(),
        calendar_inputs=calendar,
        drift={d.name: d.part() for d in inputs},
        prediction_drift=PredictionDrift(**pred[0].fields(), reference_mean=float(ref[PROBABILITY].mean()),
                                         window_mean=float(rows[PROBABILITY].mean())),
        skew=cur.skew,
        freshness=cur.freshness,
        thresholds=limits,
    )
    report.alerts = report.alerts_past(limits, watched=[n for n in names if n not in calendar], probability=PROBABILITY)
    return report, snapshot


def write(folder: Path, report: MonitorReport, snapshot: Any, ref: pd.DataFrame, cur: pd.DataFrame, names: list[str],
          recent: pd.DataFrame | None = None) -> None:
    """``report.json``, ``report.html``, Evidently's ``drift.html`` and the rows compared (the
    recent weeks' as ``recent.parquet``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(report.to_json())
    snapshot.save_html(str(folder / "drift.html"))
    (folder / "report.html").write_text(render_html(report, ref, cur), encoding="utf-8")
    cur[[c for c in cur.columns if c in {*names, *KEPT}]].to_parquet(folder / "window.parquet", index=False)
    ref.to_parquet(folder / "reference.parquet", index=False)
    if recent is not None:
        recent.to_parquet(folder / "recent.parquet", index=False)
