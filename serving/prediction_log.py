"""The service's prediction logs: one ``PredictionLog`` per feature service served (a reloaded
model may read another service), created when a model is prepared, never on a request."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from skyprophet.adapters.prediction_log import PredictionLog, Scored
from skyprophet.core.features import FlightFeatures
from skyprophet.core.keys import FlightKeys

if TYPE_CHECKING:
    from feast import FeatureStore

    from serving.config import ServingSettings
    from serving.metrics import Metrics
    from skyprophet.adapters.tracking import LoadedModel

log = logging.getLogger(__name__)


def request_id(header: str | None) -> str:
    """The client's ``X-Request-ID`` when it is a sane token, else a new one."""
    if header and len(header) <= 128 and header.isascii() and header.isprintable():
        return header
    return uuid.uuid4().hex


class PredictionLogs:
    def __init__(self, store: FeatureStore, settings: ServingSettings, metrics: Metrics):
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self._logs: dict[str, PredictionLog | None] = {}  # None: the service has no logging configuration
        self._lock = threading.Lock()

    def ensure(self, service: str) -> None:
        """The log of ``service`` exists from now on (called when a model is prepared)."""
        if not self.settings.prediction_log or service in self._logs:
            return
        with self._lock:
            if service in self._logs:
                return
            try:
                self._logs[service] = PredictionLog(
                    self.store, service, max_flights=self.settings.prediction_log_max_flights,
                    flush_s=self.settings.prediction_log_flush_s,
                    on_count=lambda outcome, n: self.metrics.log_flights.labels(outcome).inc(n))
            except ValueError as exc:  # a service registered without logging: served, not logged
                log.warning("prediction log off for %s: %s", service, exc)
                self._logs[service] = None

    def offer(
        self, rid: str, model: LoadedModel, flights: Sequence[FlightKeys], as_of_s: Sequence[int],
        features: Sequence[FlightFeatures], probabilities: Sequence[float], statuses: Sequence[str],
    ) -> None:
        """Hand one request's scored flights to the log of the model's service (never blocks)."""
        found = self._logs.get(model.spec.feature_service)
        if found is None or not flights:
            return
        found.offer(Scored(rid, time.time(), model.name, str(model.version), model.spec.threshold, flights, as_of_s,
                           features, probabilities, statuses))

    def flush(self) -> int:
        """Write every buffer now (tests, shutdown); returns the flights written."""
        return sum(lg.flush() for lg in list(self._logs.values()) if lg is not None)

    def close(self) -> None:
        for lg in list(self._logs.values()):
            if lg is not None:
                lg.close()
