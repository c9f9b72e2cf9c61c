"""A monitoring report as one self-contained HTML page: its figures drawn with matplotlib and
inlined as PNG, its tables, and a sentence for each part saying what it measures."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.monitoring import drift
from pipelines.monitoring.stats import PROBABILITY
from skyprophet.core.monitoring import GroupScores, MonitorReport, Performance

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BAND_COLOUR = {"act": "#c62828", "watch": "#f9a825", "stable": "#2e7d32"}
REFERENCE, WINDOW = "#757575", "#1565c0"

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}
.act{color:#c62828;font-weight:600}.watch{color:#b26a00}.stable{color:#2e7d32}.calendar{color:#888}
.alerts{background:#fdecea;border-left:4px solid #c62828;padding:8px 12px}
.ok{background:#edf7ed;border-left:4px solid #2e7d32;padding:8px 12px}
img{max-width:100%}.grid{display:flex;flex-wrap:wrap;gap:16px}"""

e = html.escape


def render_html(report: MonitorReport, ref: pd.DataFrame, cur: pd.DataFrame) -> str:
    """The report as one self-contained page (plots inlined as PNG)."""
    figs = figures(report, ref, cur)

    def img(key: str) -> str:
        return f'<img alt="{key}" src="{figs[key]}">' if key in figs else ""

    parts = [_head(report), _shadow(report), _recent(report), _alerts(report), _adversarial(report, img), _drift(report, img),
             _predictions(report, img), _performance(report.performance, img), _skew(report, img)]
    return "".join(parts) + "</html>"


# -- the figures -------------------------------------------------------------------------------

def figures(report: MonitorReport, ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, str]:
    """Each figure of the page as a PNG data URL, by name (a part with nothing to draw has none)."""
    import matplotlib

    matplotlib.use("Agg")
    drawn = {"psi": _psi_figure(report), "adversarial": _adversarial_figure(report),
             "predictions": _prediction_figure(report, ref, cur), "moved": _moved_figure(report, ref, cur),
             "skew": _skew_figure(report)}
    if report.performance:
        drawn["calibration"] = _calibration_figure(report.performance)
        drawn["by_lead"] = _lead_figure(report.performance)
    return {k: png_url(fig) for k, fig in drawn.items() if fig is not None}


def png_url(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _bars(height: float, labels: list[str], values: list[float], colours: list[str] | str) -> tuple[Figure, Axes]:
    """Horizontal bars, the first item on top."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, height))
    ax.barh(labels[::-1], values[::-1], color=colours[::-1] if isinstance(colours, list) else colours)
    return fig, ax


def _psi_figure(report: MonitorReport) -> Figure:
    calendar = set(report.calendar_inputs)
    top = list(report.psi.items())[:20]
    colours = ["#9e9e9e" if n in calendar else BAND_COLOUR[drift.band(v)] for n, v in top]
    fig, ax = _bars(0.28 * len(top) + 1, [n for n, _ in top], [v for _, v in top], colours)
    for x in (drift.PSI_WATCH, drift.PSI_ACT):
        ax.axvline(x, color="#555", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=0.1)  # the calendar's PSI dwarfs the rest on a linear scale
    ax.set_xlabel("PSI, log scale above 0.1 (grey: calendar input, reported apart)")
    ax.set_title("Input drift: the 20 largest PSI")
    return fig


def _adversarial_figure(report: MonitorReport) -> Figure:
    ranking = report.adversarial.ranking[:10]
    fig, ax = _bars(0.3 * len(ranking) + 1, [r.input for r in ranking], [r.gain_share for r in ranking], WINDOW)
    ax.set_xlabel("share of the validator's gain")
    ax.set_title(f"Adversarial validator: ROC AUC {report.adversarial_auc:.3f}")
    return fig


def _prediction_figure(report: MonitorReport, ref: pd.DataFrame, cur: pd.DataFrame) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    bins = np.linspace(0, 1, 41).tolist()
    ax.hist(ref[PROBABILITY], bins=bins, density=True, alpha=0.55, label="reference", color=REFERENCE)
    ax.hist(cur[PROBABILITY], bins=bins, density=True, alpha=0.55, label="window", color=WINDOW)
    ax.set_xlabel("delay probability")
    ax.set_title(f"Prediction drift: PSI {report.prediction_drift.psi:.3f}")
    ax.legend()
    return fig


def _moved_figure(report: MonitorReport, ref: pd.DataFrame, cur: pd.DataFrame) -> Figure | None:
    """The three numeric inputs (not calendar) with the largest PSI, reference beside window."""
    import matplotlib.pyplot as plt

    calendar = set(report.calendar_inputs)
    moved = [n for n in report.psi if n not in calendar and report.drift[n].kind == "numeric"][:3]
    if not moved:
        return None
    fig, axes = plt.subplots(1, len(moved), figsize=(3.2 * len(moved), 2.8))
    for ax, name in zip(np.atleast_1d(axes), moved, strict=False):
        a = pd.to_numeric(ref[name], errors="coerce").dropna()
        b = pd.to_numeric(cur[name], errors="coerce").dropna()
        if len(a) and len(b):
            lo, hi = np.nanquantile(np.r_[a, b], [0.01, 0.99])
            edges = np.linspace(lo, hi if hi > lo else lo + 1, 31).tolist()
            ax.hist(a.clip(lo, hi), bins=edges, density=True, alpha=0.55, color=REFERENCE, label="reference")
            ax.hist(b.clip(lo, hi), bins=edges, density=True, alpha=0.55, color=WINDOW, label="window")
        ax.set_title(name, fontsize=8)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle("The inputs that moved most (not calendar)", y=1.06)
    return fig


def _calibration_figure(perf: Performance) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], color="#999", lw=0.8)
    ax.plot([c.predicted for c in perf.calibration], [c.observed for c in perf.calibration], marker="o", color=WINDOW)
    ax.set_xlabel("predicted")
    ax.set_ylabel("observed delayed share")
    ax.set_title(f"Calibration (Brier {perf.brier:.4f})")
    return fig


def _lead_figure(perf: Performance) -> Figure | None:
    import matplotlib.pyplot as plt

    if not perf.by_lead:
        return None
    leads = sorted(perf.by_lead, key=int)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([int(k) for k in leads], [perf.by_lead[k].roc_auc for k in leads], marker="o")
    ax.set_xscale("log")
    ax.set_xlabel("lead (minutes)")
    ax.set_ylabel("ROC AUC")
    ax.set_title("Quality by lead")
    return fig


def _skew_figure(report: MonitorReport) -> Figure | None:
    if not report.skew_match_rate:
        return None
    rates = sorted(report.skew_match_rate.items(), key=lambda t: t[1])[:20]
    colours = ["#c62828" if r < report.thresholds.skew_match_min else "#2e7d32" for _, r in rates]
    fig, ax = _bars(0.28 * len(rates) + 1, [n for n, _ in rates], [r for _, r in rates], colours)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("share of logged online values equal to offline retrieval at the same instant")
    ax.set_title("Training-serving skew: the 20 lowest match rates")
    return fig


# -- the sections ------------------------------------------------------------------------------

def _num(v: Any, digits: int = 4) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else f"{v:.{digits}f}"


def _head(report: MonitorReport) -> str:
    w, r, m = report.window, report.reference, report.model
    seen = f"months {e(w.months)} scored in batch" if w.source == "batch" else f"the prediction log {e(w.log)}"
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>SkyProphet monitor: {e(report.name)}</title>"
            f"<style>{CSS}</style><h1>Monitoring report: {e(report.name)}</h1>"
            f"<p>Model {e(m.name)} v{e(m.version)} ({e(m.feature_service)}). Reference: months {e(r.months)}, "
            f"{r.rows:,} rows. Window: {seen}, {w.rows:,} rows ({w.labelled:,} with outcomes). Created "
            f"{e(report.created_at)}. <a href=\"drift.html\">Evidently's per-input drift page</a>.</p>")


def _alerts(report: MonitorReport) -> str:
    if not report.alerts:
        return "<div class=ok>No alert.</div>"
    items = "".join(f"<li>{e(a.check)}{' on ' + e(a.input) if a.input else ''}: {_num(a.value)} "
                    f"(threshold {_num(a.threshold, 3)})</li>" for a in report.alerts)
    return f"<div class=alerts><b>{len(report.alerts)} alert(s)</b><ul>{items}</ul></div>"


SHADOW_WORDS = {"roc_auc": "ROC AUC (higher is better)", "brier": "Brier score (lower is better)", "log_loss": "log loss (lower is better)"}


def _shadow(report: MonitorReport) -> str:
    """Production and the challenger on the same served flights, once their outcomes are known."""
    part = report.shadow
    if part is None:
        return ""
    rows = []
    for metric, c in part.comparison.items():
        said = "challenger better" if c["b_better"] else "challenger worse" if c["b_worse"] else "no difference the interval can tell"
        rows.append(f"<tr><td>{e(SHADOW_WORDS.get(metric, metric))}</td><td>{_num(float(c['a']))}</td><td>{_num(float(c['b']))}</td>"
                    f"<td>{float(c['difference']):+.4f} [{float(c['low']):+.4f}, {float(c['high']):+.4f}]</td><td>{said}</td></tr>")
    why = "too few labelled flights" if part.flights < part.min_flights else "not better by the interval"
    verdict = "a promotion from the shadow would move production to it" if part.better else f"a promotion would refuse it ({why})"
    return (f"<h2>Challenger in the shadow</h2><p>Version {e(part.challenger)} scored beside production version "
            f"{e(part.production)} on {part.pairs:,} served flights, {part.flights:,} of them with a known outcome. The "
            f"difference is the challenger's minus production's, with a paired bootstrap interval over flights "
            f"({part.level:.0%}); by {e(part.metric)}, over at least {part.min_flights:,} flights, {verdict}.</p>"
            "<table><tr><th>metric</th><th>production</th><th>challenger</th><th>difference [interval]</th><th>says</th></tr>"
            f"{''.join(rows)}</table>")


RECENT_WORDS = {
    "log_loss_rise": "how much worse the model's log loss is on the window than on the weeks before it",
    "calibration_gap": "how far the window's mean predicted probability is from the share of its flights actually delayed",
    "prediction_psi": "how far the model's predictions have moved from those of the weeks before (PSI)",
}


def _recent(report: MonitorReport) -> str:
    """The retraining alerts: the window against the weeks just before it."""
    part = report.recent
    if part is None:
        return "<h2>Retraining alerts</h2><p>No flight in the weeks before the window: the recent checks were not run.</p>"
    rows = "".join(f"<tr><td>{e(k)}</td><td>{e(RECENT_WORDS.get(k, ''))}</td><td>{_num(v) if v is not None else 'no outcome yet'}</td>"
                   f"<td>{_num(part.thresholds.get(k), 3) if part.thresholds.get(k) is not None else 'never alerts'}</td>"
                   f"<td>{'yes' if any(a.check == k for a in part.alerts) else 'no'}</td></tr>" for k, v in part.checks.items())
    verdict = (f"<div class=alerts><b>{len(part.alerts)} retraining alert(s)</b>: the model does worse on the newest "
               f"flights than on those just before them; a retraining is due.</div>" if part.retrain
               else "<div class=ok>No retraining alert.</div>")
    return (f"<h2>Retraining alerts</h2><p>The window against the {part.rows:,} rows of the weeks just before it "
            f"({e(part.reference)}), scored by the same model: a season moves both sides together, so these fire only "
            f"when the model itself has slipped. Thresholds calibrated on the 2013 backtest (when retraining paid).</p>"
            f"{verdict}<table><tr><th>check</th><th>what it measures</th><th>value</th><th>threshold</th><th>fired</th></tr>"
            f"{rows}</table><h2>Standing alerts (against the training months)</h2>")


def _adversarial(report: MonitorReport, img: Callable[[str], str]) -> str:
    adv = report.adversarial
    return (f"<h2>Adversarial validator</h2><p>LightGBM trained to tell {adv.rows.reference:,} reference rows from "
            f"{adv.rows.window:,} window rows, out of fold: ROC AUC <b>{report.adversarial_auc:.3f}</b> (0.5: "
            f"indistinguishable). Calendar inputs left out: {e(', '.join(adv.excluded) or 'none')}.</p>{img('adversarial')}")


def _drift(report: MonitorReport, img: Callable[[str], str]) -> str:
    calendar = set(report.calendar_inputs)
    rows = "".join(
        f"<tr class={'calendar' if n in calendar else d.band}><td>{e(n)}{' (calendar)' if n in calendar else ''}</td>"
        f"<td>{_num(d.psi)}</td><td>{e(d.band)}</td><td>{e(d.test)}</td><td>{d.p_value:.3g}</td>"
        f"<td>{_num(d.missing_reference, 3)}</td><td>{_num(d.missing_window, 3)}</td>"
        f"<td>{e(', '.join(d.new_categories[:5]))}</td></tr>"
        for n, d in report.drift.items())
    return (f"<h2>Input drift</h2><div class=grid>{img('psi')}{img('moved')}</div>"
            "<table><tr><th>input</th><th>PSI</th><th>band</th><th>test</th><th>p-value</th><th>missing ref</th>"
            f"<th>missing window</th><th>new categories</th></tr>{rows}</table>")


def _predictions(report: MonitorReport, img: Callable[[str], str]) -> str:
    p = report.prediction_drift
    return (f"<h2>Prediction drift</h2><p>Mean probability {p.reference_mean:.4f} (reference) → {p.window_mean:.4f} "
            f"(window); PSI {p.psi:.4f}, KS p-value {p.p_value:.3g}.</p>{img('predictions')}")


def _group_table(title: str, groups: dict[str, GroupScores]) -> str:
    body = "".join(f"<tr><td>{e(k)}</td><td>{v.rows:,}</td><td>{_num(v.roc_auc)}</td><td>{_num(v.pr_auc)}</td>"
                   f"<td>{_num(v.brier)}</td></tr>" for k, v in sorted(groups.items(), key=lambda t: (len(t[0]), t[0])))
    return f"<table><tr><th>{title}</th><th>rows</th><th>ROC AUC</th><th>PR AUC</th><th>Brier</th></tr>{body}</table>"


def _performance(perf: Performance | None, img: Callable[[str], str]) -> str:
    if perf is None:
        return "<h2>Performance</h2><p>No outcome has joined the window yet.</p>"
    tables = "".join(_group_table(t, g) for t, g in (("lead", perf.by_lead), ("carrier", perf.by_carrier),
                                                      ("origin", perf.by_origin)))
    return (f"<h2>Performance</h2><p>{perf.rows:,} labelled rows, {perf.delayed_share:.1%} delayed: ROC AUC "
            f"{perf.roc_auc:.4f}, PR AUC {perf.pr_auc:.4f}, Brier {perf.brier:.4f}, F1 {perf.f1:.4f} at threshold "
            f"{perf.threshold:.3f}.</p><div class=grid>{img('calibration')}{img('by_lead')}</div><div class=grid>{tables}</div>")


def _skew(report: MonitorReport, img: Callable[[str], str]) -> str:
    if report.skew is None:
        return ("<h2>Training-serving skew</h2><p>Not applicable: the window was scored in batch from the offline "
                "store (run the report on the prediction log to compare what was served).</p>")
    views = "".join(f"<tr><td>{e(v)}</td><td>{_num(m)}</td></tr>"
                    for v, m in sorted(report.skew.by_view.items(), key=lambda t: t[1]))
    fresh = "".join(f"<tr><td>{e(v)}</td><td>{_num(f.age_p50_s, 0)}</td><td>{_num(f.age_p95_s, 0)}</td>"
                    f"<td>{_num(f.present, 3)}</td><td>{_num(f.stale, 3)}</td><td>{_num(f.not_found, 3)}</td></tr>"
                    for v, f in (report.freshness or {}).items())
    return (f"<h2>Training-serving skew</h2><p>{report.skew.rows:,} logged flights re-read offline at the instant they "
            f"were served.</p>{img('skew')}<table><tr><th>view</th><th>lowest match rate</th></tr>{views}</table>"
            "<h2>Feature freshness at serve time</h2><table><tr><th>view</th><th>age p50 (s)</th><th>age p95 (s)</th>"
            f"<th>present</th><th>stale</th><th>not found</th></tr>{fresh}</table>")
