"""The newest monitoring report as the service sees it: where it is, and its figures as
Prometheus gauges (read again when a newer report appears, on a /metrics scrape)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from skyprophet.core.monitoring import MonitorReport

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
            report = MonitorReport.model_validate_json(path.read_bytes())
        except OSError as exc:  # a report being replaced: the next scrape reads it
            log.warning("monitoring report %s unreadable: %s", path, exc)
            return
        except ValidationError as exc:  # half written, or not a report of this contract: read again once replaced
            log.warning("monitoring report %s is not a report: %s", path, exc.errors()[0]["msg"] if exc.errors() else exc)
            return
        self._set(report)
        self._seen = key

    def _set(self, report: MonitorReport) -> None:
        m = self.metrics
        for gauge in (m.monitor_psi, m.monitor_skew):
            gauge.clear()
        for name, value in report.psi.items():
            m.monitor_psi.labels(name).set(value)
        for name, value in (report.skew_match_rate or {}).items():
            m.monitor_skew.labels(name).set(value)
        m.monitor_adversarial_auc.set(report.adversarial_auc)
        m.monitor_brier.set(report.performance.brier if report.performance else float("nan"))
        m.monitor_alerts.set(len(report.alerts))
        m.monitor_retrain_alerts.set(len(report.recent.alerts) if report.recent else 0)
