"""The backtest as a page people read (reports/bench/backtest.html): the month-by-month scores of
each regime, the differences between regimes with their intervals, and what retraining cost, each
with a sentence saying what it shows."""

from __future__ import annotations

import html
from typing import Any

from pipelines.monitoring.render import CSS, png_url

COLOURS = {"monthly": "#1565c0", "weekly": "#2e7d32", "frozen": "#757575"}
NAMES = {"roc_auc": "ROC AUC (higher is better)", "brier": "Brier score (lower is better)", "log_loss": "log loss (lower is better)"}
PARTS = {"lead_120": "2 h before departure", "all_leads": "all eight leads"}


def _scores_figure(months: dict[str, Any], metric: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=False)
    names = list(months)
    for ax, part in zip(axes, PARTS, strict=True):
        for regime, colour in COLOURS.items():
            xs = [i for i, m in enumerate(names) if regime in months[m]]
            ax.plot(xs, [months[names[i]][regime][part][metric] for i in xs], "o-", color=colour, label=regime)
        _month_axis(ax, names, f"{NAMES[metric]}, {PARTS[part]}")
    axes[0].legend(fontsize=8)
    return png_url(fig)


def _month_axis(ax: Any, names: list[str], title: str) -> None:
    ax.set_xticks(range(len(names)), [m[5:] for m in names])
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("month of 2013")
    ax.grid(alpha=0.3)


PAIR_COLOURS = {"monthly - frozen": "#1565c0", "weekly - frozen": "#2e7d32", "weekly - monthly": "#ef6c00"}


def _difference_figure(months: dict[str, Any], metric: str) -> str:
    import matplotlib.pyplot as plt

    names = list(months)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for ax, part in zip(axes, PARTS, strict=True):
        for k, (pair, colour) in enumerate(PAIR_COLOURS.items()):
            xs = [i + (k - 1) * 0.2 for i, m in enumerate(names) if pair in months[m]["compared"]]
            ds = [months[m]["compared"][pair][part][metric] for m in names if pair in months[m]["compared"]]
            if ds:
                mid = [d["difference"] for d in ds]
                ax.errorbar(xs, mid, yerr=[[d["difference"] - d["low"] for d in ds], [d["high"] - d["difference"] for d in ds]],
                            fmt="o", color=colour, capsize=3, label=pair)
        ax.axhline(0, color="#999", lw=1)
        _month_axis(ax, names, f"{NAMES[metric].split(' (')[0]} difference, {PARTS[part]}")
    axes[0].legend(fontsize=8)
    return png_url(fig)


def _table(months: dict[str, Any]) -> str:
    head = "<tr><th>month</th><th>flights</th>" + "".join(
        f"<th>{r} AUC 2 h</th><th>{r} log loss</th>" for r in COLOURS) + "</tr>"
    rows = []
    for m, row in months.items():
        cells = "".join(
            f"<td>{row[r]['lead_120']['roc_auc']:.4f}</td><td>{row[r]['all_leads']['log_loss']:.4f}</td>" if r in row
            else "<td></td><td></td>" for r in COLOURS)
        rows.append(f"<tr><td>{m}</td><td>{row['flights']:,}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _verdicts(report: dict[str, Any]) -> str:
    def months(names: list[str]) -> str:
        return f"{len(names)} ({html.escape(', '.join(names))})" if names else "0"

    items = []
    for pair, parts in report["verdicts"].items():
        b, a = pair.split(" - ")
        for part, by_metric in parts.items():
            for metric, cell in by_metric.items():
                items.append(f"<li><b>{b}</b> beside <b>{a}</b>, {PARTS[part]}, {NAMES[metric].split(' (')[0]}: better in "
                             f"{months(cell['better'])} month(s), worse in {months(cell['worse'])}, no difference the interval "
                             f"can tell in {months(cell['no_difference'])}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _cost(report: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{r}</td><td>{c['retrainings']}</td><td>{c['fit_seconds_median']}</td><td>{c['fit_seconds_total']}</td>"
                   f"<td>{c['train_rows_median']:,}</td></tr>" for r, c in report["cost"].items())
    return ("<table><tr><th>regime</th><th>retrainings</th><th>fit s (median)</th><th>fit s (total)</th><th>train rows (median)</th>"
            f"</tr>{rows}</table><p>The year's point-in-time rows ({report['year_rows']:,}) took "
            f"{report['year_retrieval_seconds']} s to retrieve; a retraining in operation retrieves its own window's rows too.</p>")


ALERT_WORDS = {
    "log_loss_rise": "log loss rise on the last week against the four before",
    "calibration_gap": "mean predicted probability against the delayed share, last week",
    "prediction_psi": "predictions' PSI, last week against the four before",
    "input_psi": "largest input PSI against the training months (calendar apart)",
    "adversarial_auc": "adversarial validator against the training months",
    "brier": "Brier score of the last week",
    "any": "any of them",
}


def _alerts_figure(alerts: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    decisions = alerts["decisions"]
    checks = list(alerts["thresholds"]["recent"])
    fig, axes = plt.subplots(1, len(checks), figsize=(4 * len(checks), 3.2))
    for ax, check in zip(axes, checks, strict=True):
        for paid, colour, label in ((True, "#2e7d32", "retraining paid"), (False, "#c62828", "it did not")):
            pts = [(i, d["recent"][check]) for i, d in enumerate(decisions) if d["paid"] == paid and d["recent"][check] is not None]
            ax.plot([x for x, _ in pts], [y for _, y in pts], "o", color=colour, label=label, ms=4)
        t = alerts["thresholds"]["recent"][check]
        if t is not None:
            ax.axhline(t, color="#333", ls="--", lw=1, label="threshold")
        cut = sum(d["day"] < alerts["calibrated_before"] for d in decisions) - 0.5
        ax.axvline(cut, color="#999", lw=1)
        ax.set_title(check, fontsize=10)
        ax.set_xlabel("weekly decision, from March")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return png_url(fig)


def _alerts(report: dict[str, Any]) -> str:
    alerts = report.get("alerts")
    if not alerts:
        return ""
    rows = []
    for part, counts in alerts["counts"].items():
        for kind in ("recent", "standing"):
            for check, c in counts[kind].items():
                t = "" if c["threshold"] is None else f"{c['threshold']:.4g}"
                rows.append(f"<tr><td>{part} ({counts['decisions']} decisions, {counts['paid']} paid)</td><td>{kind}</td>"
                            f"<td>{html.escape(ALERT_WORDS.get(check, check))}</td><td>{t or ('—' if check == 'any' else 'never')}</td>"
                            f"<td>{c['fired']}</td><td>{c['hits']}</td><td>{c['false_alarms']}</td><td>{c['misses']}</td></tr>")
    return ("<h2>Alerts: would they have started a retraining that paid?</h2><p>Every week from March, the model in production is "
            f"the one retrained {alerts['production_age_days']} days before; a retraining that day <i>paid</i> when it beat that "
            "model on the following week (log loss, all leads, paired interval). The monitor that day sees the last week: the "
            f"recent checks compare it with the {alerts['recent_weeks']} weeks before it, the standing checks (today's alerts) "
            "with the production model's training months. The recent checks' thresholds are set on the decisions before "
            f"{alerts['calibrated_before']} (the highest that maximises hits minus false alarms) and counted again on the test "
            "months; the standing checks keep today's thresholds. A <i>hit</i> is an alert on a day retraining paid, a "
            "<i>false alarm</i> one on a day it did not.</p>"
            "<p>Each point is one week's decision, green where the retraining paid; the dashed line is the threshold "
            "(none: the check is left out of the alert); right of the grey line are the test months.</p>"
            f"<img alt='alerts' src='{_alerts_figure(alerts)}'><table><tr><th>decisions</th><th>checks</th><th>check</th>"
            f"<th>threshold</th><th>fired</th><th>hits</th><th>false alarms</th><th>misses</th></tr>{''.join(rows)}</table>")


def render(report: dict[str, Any]) -> str:
    """The page, self-contained (plots inlined as PNG)."""
    months = report["months"]
    smoke = " (smoke run: a slice, not the figures)" if report["smoke"] else ""
    intro = ("<p>Each month a model is retrained on what was known before the month began and scored on the month, which "
             "it has never seen; a weekly regime does the same every seven days; the frozen model was retrained once, "
             f"as of {report['frozen_as_of']}, and never again (in its first month it is the monthly regime's own model, so the "
             "two agree there by construction). Where the frozen model exists, each retrained regime is "
             "compared with it on the same flights, and the weekly regime with the monthly one: the interval is a paired "
             "bootstrap over flights (95 %). "
             f"Data: {html.escape(report['data'])}.</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Backtest: how often retraining pays</title>"
            f"<style>{CSS}</style></head><body><h1>Backtest: how often retraining pays{smoke}</h1>{intro}"
            "<h2>Scores month by month</h2><p>Each point is one model's score on one month's flights, scored before they flew.</p>"
            f"<img alt='roc_auc' src='{_scores_figure(months, 'roc_auc')}'><img alt='log_loss' src='{_scores_figure(months, 'log_loss')}'>"
            "<h2>One regime minus another</h2><p>Above 0 for ROC AUC, below 0 for log loss: the first regime named was "
            "better. A bar that crosses 0 is a month the data cannot tell apart.</p>"
            f"<img alt='difference_auc' src='{_difference_figure(months, 'roc_auc')}'>"
            f"<img alt='difference_log_loss' src='{_difference_figure(months, 'log_loss')}'>"
            f"<h2>Verdicts</h2>{_verdicts(report)}<h2>The months</h2>{_table(months)}<h2>What retraining cost</h2>{_cost(report)}"
            f"{_alerts(report)}</body></html>")
