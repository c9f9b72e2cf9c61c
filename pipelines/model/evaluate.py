"""Compare a registered model, its baseline and the production model on the same split.

Every model is re-scored from its registered artifact on freshly built point-in-time rows (each
through its own feature service and lead), so the figures are those of what would be served.
Prints a table and writes ``reports/model/metrics.json`` and the test curves under
``reports/model/plots/`` (ROC, precision-recall, calibration; CSV for ``dvc plots``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.model import quality
from pipelines.model.params import load_params
from pipelines.model.rescoring import Scorer, resolve_version, run_windows
from skyprophet.adapters.tracking import PRODUCTION, alias_version, connect
from skyprophet.core.config import Settings
from skyprophet.core.months import Window

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)


def _baseline_metrics(client: MlflowClient, run_id: str | None) -> dict[str, dict[str, float]]:
    """The baseline's validation and test metrics, logged by the same training run's baseline."""
    if not run_id:
        return {}
    base_id = client.get_run(run_id).data.tags.get("baseline_run_id")
    if not base_id:
        return {}
    m = client.get_run(base_id).data.metrics
    return {s: {k: m[f"{s}_{k}"] for k in quality.METRICS if f"{s}_{k}" in m} for s in ("validation", "test")}


@dataclass
class Evaluation:
    report: dict[str, Any]
    table: str


def evaluate(
    settings: Settings,
    version: str | None = None,
    windows: list[Window] | None = None,
    client: MlflowClient | None = None,
) -> Evaluation:
    """Score a version (default: ``candidate``), its baseline and production; write metrics.json.

    Args:
        settings: tracking URI, model name, reports folder.
        version: the registered version to evaluate.
        windows: validation and test windows (default: those the model was trained with).
        client: an MLflow client (default: connected from settings).

    Returns:
        The report written to ``reports/model/metrics.json`` and the printed table.
    """
    client = client or connect(settings)
    name = settings.model_name
    version = resolve_version(client, name, version)
    scorer = Scorer(settings, client)
    model = scorer.load(version)
    default = load_params(settings).windows_named("validation", "test")
    windows = windows or run_windows(client, model.run_id, default)
    by_lead = scorer.score_by_lead(model, windows)
    scores = {w.name: by_lead[w.name][model.spec.lead_minutes] for w in windows}  # at the headline lead
    rows = scorer.rows(model.spec, windows)  # built by score_by_lead, cached
    run_params = client.get_run(model.run_id).data.params if model.run_id else {}
    report: dict[str, Any] = {
        "lead_minutes": model.spec.lead_minutes,
        "leads_minutes": rows.leads,
        "model": {"name": name, "version": version, "feature_service": model.spec.feature_service},
        "test": scores["test"],
        "validation": scores["validation"],
        # the test window's metrics at each lead (minutes), then the validation window's
        "by_lead": {str(k): m for k, m in by_lead["test"].items()},
        "by_lead_validation": {str(k): m for k, m in by_lead["validation"].items()},
        "baseline": _baseline_metrics(client, model.run_id),
        "rows": {
            "train": int(run_params.get("rows_train", 0)),
            "validation": len(rows.part("validation")),  # rows at every lead, as train's
            "test": len(rows.part("test")),
            "cancelled_excluded": int(run_params.get("rows_cancelled_excluded", 0)),
        },
        "windows": {w.name: str(w) for w in windows},
    }
    prod = alias_version(client, name, PRODUCTION)
    if prod is not None:
        test = [w for w in windows if w.name == "test"]
        prod_scores = scores if prod == version else scorer.score(scorer.load(prod), test)
        report["production"] = {"version": prod, "test": prod_scores["test"]}
    out = settings.reports_dir / "model" / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    # Curve data of the test window for `dvc plots show` (the PNGs are in the MLflow run).
    plots = out.parent / "plots"
    plots.mkdir(exist_ok=True)
    for curve, table in quality.curve_tables(*scorer.predict(model, rows, "test", model.spec.lead_minutes)).items():
        table.to_csv(plots / f"{curve}.csv", index=False, float_format="%.6g")
    pd.DataFrame([{"lead_minutes": int(k), **m} for k, m in report["by_lead"].items()]).to_csv(
        plots / "by_lead.csv", index=False, float_format="%.6g")
    quality.by_lead_figure({"test": by_lead["test"], "validation": by_lead["validation"]}).savefig(plots / "by_lead.png")
    return Evaluation(report, render(report))


def render(report: dict[str, Any]) -> str:
    """The comparison table: one row per model, test metrics at each model's threshold."""
    rows = [(f"model v{report['model']['version']}", report["test"])]
    if report.get("baseline", {}).get("test"):
        rows.append(("baseline (logreg)", report["baseline"]["test"]))
    if "production" in report:
        rows.append((f"production v{report['production']['version']}", report["production"]["test"]))
    head = f"{'test ' + report['windows']['test']:<22}" + "".join(f"{m:>11}" for m in quality.METRICS)
    lines = [head, "-" * len(head)]
    for label, m in rows:
        lines.append(f"{label:<22}" + "".join(f"{m.get(k, float('nan')):>11.4f}" for k in quality.METRICS))
    if len(report.get("by_lead", {})) > 1:
        lines += ["", f"model v{report['model']['version']} by lead, test {report['windows']['test']}",
                  quality.by_lead_table({int(k): m for k, m in report["by_lead"].items()})]
    return "\n".join(lines)

