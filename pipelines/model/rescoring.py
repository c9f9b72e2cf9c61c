"""Registered versions re-scored from their artifacts on freshly built windows.

Shared by evaluation and promotion: each model is scored through its own feature service and
leads, on point-in-time rows built once per (service, leads, windows). Its headline metrics are
those at its headline lead (2 h), the lead every model is compared at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipelines.features.training_set import LABEL, TrainingSet, build
from pipelines.model import quality
from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.tracking import CANDIDATE, LoadedModel, alias_version, latest_version, load_version
from skyprophet.core.config import Settings
from skyprophet.core.errors import ModelNotFound
from skyprophet.core.model import ModelSpec, encode_frame, probabilities
from skyprophet.core.months import Window, parse_window

if TYPE_CHECKING:
    from feast import FeatureStore
    from mlflow import MlflowClient


class Scorer:
    """Scores registered versions on named windows, building each (service, lead) set once."""

    def __init__(self, settings: Settings, client: MlflowClient, store: FeatureStore | None = None):
        from skyprophet.adapters.store import open_store

        self.settings = settings
        self.client = client
        self.store = store or open_store(settings, online="sqlite")
        self.canonical = read_canonical(settings.canonical_path)
        self._sets: dict[tuple[str, int, tuple[int, ...], tuple[Window, ...]], TrainingSet] = {}

    def rows(self, spec: ModelSpec, windows: list[Window]) -> TrainingSet:
        """The windows' rows at every lead of ``spec`` through its feature service (built once)."""
        leads = tuple(spec.trained_leads)
        key = (spec.feature_service, spec.lead_minutes, leads, tuple(windows))
        if key not in self._sets:
            names = tuple(w.name for w in windows)
            self._sets[key] = build(self.store, self.canonical, windows, spec.feature_service, spec.lead_minutes,
                                    require=names, leads=list(leads))
        return self._sets[key]

    def score(self, model: LoadedModel, windows: list[Window]) -> dict[str, dict[str, float]]:
        """Metrics of ``model`` at its stored threshold on each window, at its headline lead."""
        ts = self.rows(model.spec, windows)
        out = {}
        for w in windows:
            y, p = self.predict(model, ts, w.name, model.spec.lead_minutes)
            out[w.name] = quality.classification_metrics(y, p, model.spec.threshold)
        return out

    def score_by_lead(self, model: LoadedModel, windows: list[Window]) -> dict[str, dict[int, dict[str, float]]]:
        """Metrics of ``model`` on each window at each of its leads (rows built once, as ``score``'s)."""
        ts = self.rows(model.spec, windows)
        out: dict[str, dict[int, dict[str, float]]] = {}
        for w in windows:
            out[w.name] = {}
            for lead in ts.leads:
                y, p = self.predict(model, ts, w.name, lead)
                out[w.name][lead] = quality.classification_metrics(y, p, model.spec.threshold)
        return out

    def predict(self, model: LoadedModel, ts: TrainingSet, window: str, lead: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Labels and probabilities of ``model`` on one window of a built set (at one lead when given)."""
        part = ts.part(window, lead)
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
