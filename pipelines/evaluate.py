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

import numpy as np

from pipelines import _metrics
from pipelines.training_set import LABEL, TrainingSet, Window, build, parse_window, read_canonical
from skyprophet.config import Settings
from skyprophet.model import encode_frame, probabilities
from skyprophet.tracking import (
    CANDIDATE,
    PRODUCTION,
    LoadedModel,
    ModelNotFound,
    alias_version,
    connect,
    latest_version,
    load_version,
)

if TYPE_CHECKING:
    from feast import FeatureStore
    from mlflow import MlflowClient

log = logging.getLogger(__name__)


class Scorer:
    """Scores registered versions on named windows, building each (service, lead) set once."""

    def __init__(self, settings: Settings, client: MlflowClient, store: FeatureStore | None = None):
        from skyprophet.store import open_store

        self.settings = settings
        self.client = client
        self.store = store or open_store(settings, online="sqlite")
        self.canonical = read_canonical(settings.raw_dir)
        self._sets: dict[tuple[str, int, tuple[Window, ...]], TrainingSet] = {}

    def rows(self, service: str, lead: int, windows: list[Window]) -> TrainingSet:
        key = (service, lead, tuple(windows))
        if key not in self._sets:
            names = tuple(w.name for w in windows)
            self._sets[key] = build(self.store, self.canonical, windows, service, lead, require=names)
        return self._sets[key]

    def score(self, model: LoadedModel, windows: list[Window]) -> dict[str, dict[str, float]]:
        """Metrics of ``model`` at its stored threshold on each window."""
        ts = self.rows(model.spec.feature_service, model.spec.lead_minutes, windows)
        out = {}
        for w in windows:
            y, p = self.predict(model, ts, w.name)
            out[w.name] = _metrics.classification_metrics(y, p, model.spec.threshold)
        return out

    def predict(self, model: LoadedModel, ts: TrainingSet, window: str) -> tuple[np.ndarray, np.ndarray]:
        """Labels and probabilities of ``model`` on one window of a built set."""
        part = ts.part(window)
        return part[LABEL].to_numpy(), probabilities(model.booster, encode_frame(part, model.spec), model.spec, num_threads=2)

    def load(self, version: str) -> LoadedModel:
        return load_version(self.client, self.settings.model_name, version)


def run_windows(client: MlflowClient, run_id: str | None, fallback: list[Window]) -> list[Window]:
    """The validation and test windows a model was trained with (from its run), else ``fallback``."""
    params = client.get_run(run_id).data.params if run_id else {}
    out = []
    for w in fallback:
        text = params.get(f"split_{w.name}")
        out.append(parse_window(w.name, text) if text else w)
    return out


def resolve_version(client: MlflowClient, name: str, version: str | None) -> str:
    """``version`` checked to exist, or the ``candidate`` alias, or the newest version."""
    if version is not None:
        from mlflow.exceptions import MlflowException

        try:
            client.get_model_version(name, version)
        except MlflowException:
            raise ModelNotFound(f"{name} has no version {version}") from None
        return version
    found = alias_version(client, name, CANDIDATE) or latest_version(client, name)
    if found is None:
        raise ModelNotFound(f"no version of {name} is registered: run `make train` first")
    return found


def _baseline_metrics(client: MlflowClient, run_id: str | None) -> dict[str, dict[str, float]]:
    """The baseline's validation and test metrics, logged by the same training run's baseline."""
    if not run_id:
        return {}
    base_id = client.get_run(run_id).data.tags.get("baseline_run_id")
    if not base_id:
        return {}
    m = client.get_run(base_id).data.metrics
    return {s: {k: m[f"{s}_{k}"] for k in _metrics.METRICS if f"{s}_{k}" in m} for s in ("validation", "test")}


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
    from pipelines.train import TrainParams

    client = client or connect(settings)
    name = settings.model_name
    version = resolve_version(client, name, version)
    scorer = Scorer(settings, client)
    model = scorer.load(version)
    default = [w for w in TrainParams.load(settings.params_path).windows if w.name != "train"]
    windows = windows or run_windows(client, model.run_id, default)
    scores = scorer.score(model, windows)
    rows = scorer.rows(model.spec.feature_service, model.spec.lead_minutes, windows)  # built by score, cached
    run_params = client.get_run(model.run_id).data.params if model.run_id else {}
    report: dict[str, Any] = {
        "lead_minutes": model.spec.lead_minutes,
        "model": {"name": name, "version": version, "feature_service": model.spec.feature_service},
        "test": scores["test"],
        "validation": scores["validation"],
        "baseline": _baseline_metrics(client, model.run_id),
        "rows": {
            "train": int(run_params.get("rows_train", 0)),
            "validation": len(rows.part("validation")),
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
    for curve, table in _metrics.curve_tables(*scorer.predict(model, rows, "test")).items():
        table.to_csv(plots / f"{curve}.csv", index=False, float_format="%.6g")
    return Evaluation(report, render(report))


def render(report: dict[str, Any]) -> str:
    """The comparison table: one row per model, test metrics at each model's threshold."""
    rows = [(f"model v{report['model']['version']}", report["test"])]
    if report.get("baseline", {}).get("test"):
        rows.append(("baseline (logreg)", report["baseline"]["test"]))
    if "production" in report:
        rows.append((f"production v{report['production']['version']}", report["production"]["test"]))
    head = f"{'test ' + report['windows']['test']:<22}" + "".join(f"{m:>11}" for m in _metrics.METRICS)
    lines = [head, "-" * len(head)]
    for label, m in rows:
        lines.append(f"{label:<22}" + "".join(f"{m.get(k, float('nan')):>11.4f}" for k in _metrics.METRICS))
    return "\n".join(lines)


if __name__ == "__main__":  # python -m pipelines.evaluate ...: the same as `skyprophet evaluate ...`
    from skyprophet.cli import run_module

    run_module(__spec__.name)
