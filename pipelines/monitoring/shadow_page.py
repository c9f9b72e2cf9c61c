"""The shadow comparison as a page people read (reports/monitor/shadow/shadow.html): each metric of
production and the challenger on the same served flights with the interval of the difference,
both models' reliability curves, and the verdict in words."""

from __future__ import annotations

import html
from typing import Any

from pipelines.monitoring.render import CSS, png_url

NAMES = {"roc_auc": "ROC AUC", "brier": "Brier score", "log_loss": "log loss"}
BETTER = {"roc_auc": "higher", "brier": "lower", "log_loss": "lower"}
COLOURS = {"production": "#757575", "challenger": "#1565c0"}


def _figures(found: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), gridspec_kw={"wspace": 0.45})
    for ax, (metric, c) in zip(axes, found["comparison"].items(), strict=False):
        colour = "#2e7d32" if c["b_better"] else "#c62828" if c["b_worse"] else "#757575"
        ax.errorbar([0], [c["difference"]], yerr=[[c["difference"] - c["low"]], [c["high"] - c["difference"]]], fmt="o",
                    color=colour, capsize=6)
        ax.axhline(0, color="#999", lw=1)
        ax.set_xticks([])
        ax.set_title(f"{NAMES[metric]}, challenger - production\n({BETTER[metric]} is better)", fontsize=9)
    ax = axes[3]
    ax.plot([0, 1], [0, 1], color="#bbb", lw=1)
    for role, curve in (found.get("calibration") or {}).items():
        ax.plot([b["predicted"] for b in curve], [b["observed"] for b in curve], "o-", color=COLOURS[role], label=role)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed delayed share")
    ax.set_title("reliability", fontsize=9)
    ax.legend(fontsize=8)
    return png_url(fig)


def render(found: dict[str, Any]) -> str:
    """The page, self-contained (the figure inlined as PNG)."""
    def told(c: dict[str, Any]) -> str:
        return "better" if c["b_better"] else "worse" if c["b_worse"] else "cannot tell"

    rows = "".join(
        f"<tr><td>{NAMES[m]}</td><td>{c['a']:.4f}</td><td>{c['b']:.4f}</td><td>{c['difference']:+.4f}</td>"
        f"<td>[{c['low']:+.4f}, {c['high']:+.4f}]</td><td>{told(c)}</td></tr>" for m, c in found["comparison"].items())
    c = found["comparison"][found["metric"]]
    if found["better"]:
        verdict = f"<p class='ok'>The challenger is better by {NAMES[found['metric']]}: it would be promoted.</p>"
    else:
        why = (f"only {found['flights']} labelled flights, fewer than the {found['min_flights']} required"
               if found["flights"] < found["min_flights"] else f"the interval of the {NAMES[found['metric']]} difference "
               f"[{c['low']:+.4f}, {c['high']:+.4f}] does not lie on the challenger's better side")
        verdict = f"<p class='alerts'>Not promoted: {html.escape(why)}.</p>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Challenger in the shadow</title><style>{CSS}</style>"
            f"</head><body><h1>Challenger v{html.escape(found['challenger'])} beside production "
            f"v{html.escape(found['production'])}</h1><p>Both models scored the same {found['pairs']:,} served flights; "
            f"{found['labelled']:,} of them ({found['flights']:,} distinct flights) have a known outcome. The interval is a "
            f"paired bootstrap over flights at {found['level']:.0%}: it says how much better or worse the challenger "
            f"is on flights like these.</p>{verdict}<table><tr><th>metric</th><th>production</th><th>challenger</th>"
            f"<th>difference</th><th>interval</th><th>challenger</th></tr>{rows}</table>"
            f"<h2>Differences and reliability</h2><p>Left: each difference with its interval (a bar across 0 cannot tell). "
            f"Right: how often flights given a probability were delayed; the diagonal is perfect calibration.</p>"
            f"<img alt='shadow' src='{_figures(found)}'></body></html>")
