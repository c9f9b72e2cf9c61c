"""What the routes call: the production model (hot-swapped), online features, scoring.

The model is held by ``ModelHolder``: loaded by alias, replaced by assigning one attribute, so a
request that took a model keeps it to the end and the next request sees the new one. Scoring
is a LightGBM ``Booster`` on one thread over a numpy matrix in the feature service's order.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from skyprophet.adapters.online import OnlineFeatures
from skyprophet.adapters.tracking import LoadedModel, alias_version, connect, load_version
from skyprophet.core.errors import first_line
from skyprophet.core.features import FlightFeatures
from skyprophet.core.keys import FlightKeys
from skyprophet.core.model import contributions, encode_rows, probabilities

if TYPE_CHECKING:
    import redis
    from feast import FeatureStore
    from mlflow import MlflowClient

    from serving.config import ServingSettings

log = logging.getLogger(__name__)


class ModelHolder:
    """The model ``name@alias`` points at, refreshed on demand or by the background task."""

    def __init__(self, settings: ServingSettings):
        self.settings = settings
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._client: MlflowClient | None = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Load the aliased version if it changed; True when the model was swapped."""
        with self._lock:
            name, alias = self.settings.model_name, self.settings.model_alias
            try:
                if self._client is None:
                    self._client = connect(self.settings)
                version = alias_version(self._client, name, alias)
                if version is None:
                    self.last_error = f"no model version is registered as {name}@{alias}"
                    return False
                if self.current is not None and self.current.version == version:
                    self.last_error = None
                    return False
                model = load_version(self._client, name, version, alias)
            except Exception as exc:  # the registry being down must not stop the service
                self._client = None
                self.last_error = f"model registry: {first_line(exc)}"
                log.warning("model refresh failed: %s", self.last_error)
                return False
            previous = self.current.version if self.current else None
            self.current = model  # the swap: one reference assignment
            self.last_error = None
            log.info("model %s@%s: version %s -> %s", name, alias, previous, version)
            return True


class FeatureLookup:
    """Online readers by feature service (a model may name another service than its predecessor)."""

    def __init__(self, store: FeatureStore, redis_client: redis.Redis | None):
        self.store = store
        self.redis = redis_client
        self._readers: dict[tuple[str, int], OnlineFeatures] = {}
        self._lock = threading.Lock()

    def reader(self, service: str, lead_minutes: int) -> OnlineFeatures:
        key = (service, lead_minutes)
        found = self._readers.get(key)
        if found is None:
            with self._lock:
                found = self._readers.get(key) or OnlineFeatures(self.store, service, lead_minutes, redis_client=self.redis)
                self._readers[key] = found
        return found

    def ping(self) -> None:
        """Raise if the online store cannot be reached."""
        if self.redis is not None:
            self.redis.ping()
            return
        path = getattr(self.store.config.online_store, "path", None)
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"SQLite online store {path} does not exist (materialize first)")


def sync_model(holder: ModelHolder, lookup: FeatureLookup) -> bool:
    """Refresh the model and prepare its feature reader before requests need it."""
    changed = holder.refresh()
    model = holder.current
    if model is not None:
        reader = lookup.reader(model.spec.feature_service, model.spec.lead_minutes)
        if changed:  # first calls pay for set-up (LightGBM, the Redis connection, lazy imports): not on a request
            x = np.full((1, len(model.spec.feature_names)), np.nan)
            probabilities(model.booster, x, model.spec, num_threads=1)
            model.booster.predict(x, pred_contrib=True, num_threads=1)
            try:
                reader.read([FlightKeys("ZZ", 1, "ZZZ", "ZZZ", 86_400, 0)])
            except Exception as exc:  # the online store may be down at start: /ready says so
                log.warning("warm-up read failed: %s", exc)
    return changed


@dataclass
class Scored:
    features: list[FlightFeatures]
    probabilities: np.ndarray
    contributions: np.ndarray | None


def score(
    model: LoadedModel, lookup: FeatureLookup, flights: list[FlightKeys], explain: bool, as_of: datetime | None = None
) -> Scored:
    """Online features as of each flight's T (or ``as_of``), then probabilities (and contributions)."""
    spec = model.spec
    reader = lookup.reader(spec.feature_service, spec.lead_minutes)
    feats = reader.read(flights, None if as_of is None else [as_of] * len(flights))
    x = encode_rows([f.values for f in feats], spec)
    p = probabilities(model.booster, x, spec, num_threads=1)
    contrib = contributions(model.booster, x, spec, num_threads=1) if explain else None
    return Scored(feats, p, contrib)
