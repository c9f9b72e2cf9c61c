"""The newest monitoring report as the service sees it: where it is, and its figures as
Prometheus gauges (read again when a newer report appears, on a /metrics scrape)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving.metrics import Metrics

log = logging.getLogger(__name__)


def latest_report(reports_dir: Path) -> Path | None:
    """The folder of the newest ``reports/monitor/*/report.json`` (None: none yet)."""
    newest: tuple[float, Path] | None = None
    for path in (reports_dir / "monitor").glob("*/report.json"):
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        if newest is None or mtime > newest[0]:
            newest = (mtime, path.parent)
    return newest[1] if newest else None


class MonitorGauges:
    """Sets the monitoring gauges from the newest report, once per report."""

    def __init__(self, metrics: Metrics, reports_dir: Path):
        self.metrics = metrics
        self.reports_dir = reports_dir
        self._seen: tuple[Path, float] | None = None

    def refresh(self) -> None:
        folder = latest_report(self.reports_dir)
        if folder is None:
            return
        path = folder / "report.json"
        try:
            key = (path, path.stat().st_mtime)
            if key == self._seen:
                return
            report = json.loads(path.read_text())
        except (OSError, ValueError) as exc:  # a report being replaced: the next scrape reads it
            log.warning("monitoring report %s unreadable: %s", path, exc)
            return
        self._set(report)
        self._seen = key

    def _set(self, report: dict[str, Any]) -> None:
        m = self.metrics
        for gauge in (m.monitor_psi, m.monitor_skew):
            gauge.clear()
        for name, value in report.get("psi", {}).items():
            m.monitor_psi.labels(name).set(value)
        for name, value in (report.get("skew_match_rate") or {}).items():
            m.monitor_skew.labels(name).set(value)
        m.monitor_adversarial_auc.set(report.get("adversarial_auc", float("nan")))
        perf = report.get("performance") or {}
        m.monitor_brier.set(perf.get("brier", float("nan")))
        m.monitor_alerts.set(len(report.get("alerts", [])))
