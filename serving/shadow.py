"""The challenger in the shadow: a second registered alias (``challenger`` by default) scored off
the request path, into the prediction log beside the served model.

After ``POST /predict`` has scored its flights with the production model, the same flights go to a
single background thread: the challenger reuses the features just read when they hold its inputs
(its own feature service's otherwise, read in that thread), scores them and hands them to the
prediction log with ``prediction_status`` "shadow" (the monitor's production figures read "ok"
rows only). The response never waits for it: a request only queues the work, and past
``shadow_max_pending`` queued requests the challenger's share is dropped and counted. Whatever the
challenger does (an error, a broken artifact, a slow read) the answer is the production model's and
is never touched; a version that cannot serve is refused when it loads (``ModelHolder``) and no
challenger scores until the alias moves (nor when the alias is removed).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from serving.inference import FeatureLookup, ModelHolder, Reload, sync_model
from skyprophet.adapters.tracking import LoadedModel
from skyprophet.core.features import FlightFeatures
from skyprophet.core.keys import FlightKeys
from skyprophet.core.model import encode_rows, probabilities

if TYPE_CHECKING:
    from serving.config import ServingSettings
    from serving.metrics import Metrics
    from serving.prediction_log import PredictionLogs

log = logging.getLogger(__name__)

SHADOW = "shadow"  # the prediction_status of a challenger's logged flight


class Shadow:
    """The challenger alias, loaded and refreshed like the served one, and its scoring thread."""

    def __init__(self, settings: ServingSettings, lookup: FeatureLookup, logs: PredictionLogs, metrics: Metrics):
        self.holder = ModelHolder(settings, alias=settings.challenger_alias)
        self.lookup, self.logs, self.metrics = lookup, logs, metrics
        self.max_pending = settings.shadow_max_pending
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._pending = 0
        self._lock = threading.Lock()

    def sync(self) -> Reload:
        """Check the challenger alias (a missing alias is no challenger, not a fault of the service)."""
        reload = sync_model(self.holder, self.lookup)
        if reload.outcome == "refused" or reload.absent:  # no last good challenger is shadowed under the alias's name
            self.holder.current = None
        self.metrics.record_challenger(reload.outcome, self.holder.current)
        if self.holder.current is not None:
            self.logs.ensure(self.holder.current.spec.feature_service)
        return reload

    def offer(self, rid: str, flights: list[FlightKeys], as_of_s: list[int], features: list[FlightFeatures]) -> None:
        """Queue the challenger's scoring of a request's scored flights; never blocks, never raises."""
        model = self.holder.current
        if model is None or not flights:
            return
        with self._lock:
            if self._pending >= self.max_pending:
                self.metrics.shadow.labels("dropped").inc(len(flights))
                return
            self._pending += 1
        try:
            self._pool.submit(self._score, model, rid, flights, as_of_s, features)
        except RuntimeError:  # shutting down
            self._done()

    def _done(self) -> None:
        with self._lock:
            self._pending -= 1

    def _score(self, model: LoadedModel, rid: str, flights: list[FlightKeys], as_of_s: list[int],
               features: list[FlightFeatures]) -> None:
        try:
            spec = model.spec
            if not set(spec.feature_names) <= set(features[0].values):  # another service's inputs: its own read
                reader = self.lookup.reader(spec.feature_service, spec.lead_minutes)
                features = reader.read(flights, [datetime.fromtimestamp(t, timezone.utc) for t in as_of_s])
            p = probabilities(model.booster, encode_rows([f.values for f in features], spec), spec, num_threads=1)
            self.logs.offer(rid, model, flights, as_of_s, features, [float(x) for x in p], [SHADOW] * len(flights))
            self.metrics.shadow.labels("scored").inc(len(flights))
        except Exception as exc:  # the challenger's fault never reaches anyone
            self.metrics.shadow.labels("failed").inc(len(flights))
            log.warning("challenger %s v%s failed to score: %s", model.name, model.version, exc)
        finally:
            self._done()

    def drain(self) -> None:
        """Wait for what is queued (tests, shutdown)."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
