"""The unattended loop's replay as a page people read (reports/bench/loop.html): each step on the
replay's timeline, what the shadow decided and on what evidence, and what ``/metrics`` and MLflow
recorded, each with a sentence saying what it shows."""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from pipelines.monitoring.render import CSS, png_url

LANES = ("retrain", "stage", "stage_refused", "challenge", "wait", "promote", "refuse", "fail")
COLOURS = {"retrain": "#1565c0", "stage": "#6a1b9a", "stage_refused": "#c62828", "challenge": "#ef6c00", "wait": "#9e9e9e",
           "promote": "#2e7d32", "refuse": "#c62828", "fail": "#000000"}
WORDS = {
    "retrain": "a new version trained on what was known before the day (its reason: the schedule or a retraining alert)",
    "stage": "its smoke test passed (it loads, scores the README's flight, its features are served): it is staging",
    "stage_refused": "its smoke test failed: it went no further",
    "challenge": "it became the challenger: every service scores it beside production, off the request path",
    "wait": "too few outcomes yet to tell the two apart",
    "promote": "the paired interval said the challenger is better: production moved to it, the services swapped",
    "refuse": "after its days in the shadow it was not better: retired, with its evidence on its version",
    "fail": "a step failed (the next turn tries again)",
}


def _timeline(report: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.dates import AutoDateFormatter, AutoDateLocator, date2num

    fig, ax = plt.subplots(figsize=(11, 3.4))
    for i, lane in enumerate(LANES):
        at = [date2num(datetime.fromisoformat(t["at"])) for t in report["turns"] if t["step"] == lane]
        ax.plot(at, [i] * len(at), "o", color=COLOURS[lane], ms=6 if lane != "wait" else 3)
    ax.set_yticks(range(len(LANES)), LANES)
    ax.set_xlabel("the replay's clock (December 2013)")
    ax.set_title("What the loop did, by the replay's clock", fontsize=10)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(AutoDateFormatter(locator))
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return png_url(fig)


def _steps_table(report: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{html.escape(t['at'][:16])}</td><td>{t['step']}</td><td>{t['version'] or ''}</td>"
                   f"<td>{html.escape(t.get('reason') or '')}</td><td style='text-align:left'>{html.escape(t['outcome'][:300])}</td></tr>"
                   for t in report["turns"] if t["step"] != "wait")
    return ("<table><tr><th>replay clock</th><th>step</th><th>version</th><th>reason</th><th>outcome</th></tr>"
            f"{rows}</table>")


def _versions(report: dict[str, Any]) -> str:
    rows = []
    for v in report["versions"]:
        tags = v["tags"]
        evidence = json.loads(tags["shadow_evidence"]) if "shadow_evidence" in tags else None
        said = (f"{evidence['metric']} difference {evidence['comparison'][evidence['metric']]['difference']:+.4f} "
                f"[{evidence['comparison'][evidence['metric']]['low']:+.4f}, {evidence['comparison'][evidence['metric']]['high']:+.4f}]"
                f" over {evidence['flights']} flights" if evidence else "")
        rows.append(f"<tr><td>{v['version']}</td><td>{', '.join(v['aliases'])}</td><td>{html.escape(tags.get('retrain_reason', ''))}"
                    f"</td><td>{html.escape(tags.get('retrained_as_of', ''))}</td><td>{'yes' if 'staging_smoke' in tags else ''}</td>"
                    f"<td>{html.escape(said)}</td><td>{html.escape(tags.get('promotion', '')[:160])}</td></tr>")
    return ("<table><tr><th>version</th><th>aliases at the end</th><th>retrained because</th><th>as of</th><th>staged</th>"
            f"<th>shadow evidence (challenger minus production)</th><th>promotion</th></tr>{''.join(rows)}</table>")


def _metrics(report: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:g}</td></tr>"
                   for part in ("loop_metrics", "service_metrics") for k, v in sorted(report[part].items()))
    return f"<table><tr><th>sample</th><th>value</th></tr>{rows}</table>"


def render(report: dict[str, Any]) -> str:
    """The page, self-contained (the timeline inlined as PNG)."""
    smoke = " (smoke run: one week, a small model)" if report["smoke"] else ""
    t = report["traffic"]
    legend = "".join(f"<li><b>{k}</b>: {html.escape(w)}</li>" for k, w in WORDS.items())
    intro = (f"<p>One command ran {html.escape(report['replay'])} at {report['speed']}× with the processor, the API, the monitor "
             f"and the loop (a turn every {report['loop_every_s']} s of wall time, by the replay's clock); a client asked "
             f"<code>/predict</code> for every flight departing in the next two hours ({t['flights_asked']:,} flights asked, "
             f"{t['flights_answered']:,} answered, {t['failed_requests']} failed requests). Production at the start: version "
             f"{report['production_at_start']} (retrained as of {report['frozen_as_of']}); at the end: version "
             f"{report['production_at_end']}. A promotion needs {report['shadow_min_flights']} labelled flights and the paired "
             f"interval on the challenger's better side; a challenger not better after {report['loop_shadow_days']} days is "
             f"retired. Data: {html.escape(report['data'])}.</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>The loop, unattended</title><style>{CSS}</style></head>"
            f"<body><h1>The loop, unattended{smoke}</h1>{intro}<h2>Timeline</h2><img alt='timeline' src='{_timeline(report)}'>"
            f"<ul>{legend}</ul><h2>Steps</h2>{_steps_table(report)}<h2>The versions in MLflow</h2>"
            "<p>What each version carries: why it was trained, its staging smoke test, the shadow's evidence and its promotion.</p>"
            f"{_versions(report)}<h2>/metrics at the end</h2><p>The loop's counters (its own <code>/metrics</code>) and the "
            f"service's: the versions loaded, the challenger's alias checks, the flights scored in the shadow.</p>{_metrics(report)}"
            "</body></html>")
