"""The challenger in the shadow: a second registered alias (``challenger`` by default) scored off
the request path, into the prediction log beside the served model.

After ``POST /predict`` has scored its flights with the production model, the same flights are
queued for a background thread, which scores what has accumulated every ``shadow_batch_s``: the
challenger reuses the features just read when they hold its inputs (its own feature service's
otherwise, read in that thread, one read a batch), scores them and hands them to the prediction
log with ``prediction_status`` "shadow" (the monitor's production figures read "ok" rows only).
The response never waits for it: a request only queues the work, and past
``shadow_max_pending`` queued requests the challenger's share is dropped and counted. Whatever the
challenger does (an error, a broken artifact, a slow read) the answer is the production model's and
is never touched; a version that cannot serve is refused when it loads (``ModelHolder``) and no
challenger scores until the alias moves (nor when the alias is removed).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from serving.inference import FeatureLookup, ModelHolder, Reload, sync_model
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
    """The challenger alias, loaded and refreshed like the served one, and its scoring thread.

    Requests queue their flights; the thread wakes every ``shadow_batch_s`` and scores everything
    queued in one read (when the challenger needs its own) and one prediction, so that its cost per
    flight stays far below a request's and it rarely holds the interpreter while a request runs."""

    def __init__(self, settings: ServingSettings, lookup: FeatureLookup, logs: PredictionLogs, metrics: Metrics):
        self.holder = ModelHolder(settings, alias=settings.challenger_alias)
        self.lookup, self.logs, self.metrics = lookup, logs, metrics
        self.max_pending, self.batch_s = settings.shadow_max_pending, settings.shadow_batch_s
        self._queue: list[tuple[str, list[FlightKeys], list[int], list[FlightFeatures]]] = []
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def sync(self) -> Reload:
        """Check the challenger alias (a missing alias is no challenger, not a fault of the service)."""
        reload = sync_model(self.holder, self.lookup)
        if reload.outcome == "refused" or reload.absent:  # no last good challenger is shadowed under the alias's name
            self.holder.current = None
        self.metrics.record_challenger("absent" if reload.absent else reload.outcome, self.holder.current)
        if self.holder.current is not None:
            self.logs.ensure(self.holder.current.spec.feature_service)
        return reload

    def offer(self, rid: str, scored: list[tuple[FlightKeys, int, FlightFeatures, float, str]]) -> None:
        """Queue a request's scored flights (keys, instant read, features, probability, status: as
        the prediction log takes them) for the challenger; never blocks, never raises. Nothing is
        done while no challenger is loaded."""
        if self.holder.current is None or not scored:
            return
        flights, as_of_s, features = [s[0] for s in scored], [s[1] for s in scored], [s[2] for s in scored]
        with self._cond:
            if len(self._queue) >= self.max_pending or self._closed:
                self.metrics.shadow.labels("dropped").inc(len(flights))
                return
            self._queue.append((rid, flights, as_of_s, features))

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed, timeout=self.batch_s)
                jobs, self._queue = self._queue, []
                self._busy = bool(jobs)
                if not jobs and self._closed:
                    return
            if jobs:
                self._score(jobs)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _score(self, jobs: list[tuple[str, list[FlightKeys], list[int], list[FlightFeatures]]]) -> None:
        model = self.holder.current
        flights = [f for _, fs, _, _ in jobs for f in fs]
        if model is None:  # dropped since the flights were queued
            return
        try:
            spec = model.spec
            as_of_s = [t for _, _, ts, _ in jobs for t in ts]
            features = [f for _, _, _, ff in jobs for f in ff]
            if not set(spec.feature_names) <= set(features[0].values):  # another service's inputs: its own read
                reader = self.lookup.reader(spec.feature_service, spec.lead_minutes)
                features = reader.read(flights, [datetime.fromtimestamp(t, timezone.utc) for t in as_of_s])
            p = probabilities(model.booster, encode_rows([f.values for f in features], spec), spec, num_threads=1).tolist()
            at = 0
            for rid, fs, ts, _ in jobs:  # each request's flights to the log under its own id
                n = len(fs)
                self.logs.offer(rid, model, fs, ts, features[at: at + n], p[at: at + n], [SHADOW] * n)
                at += n
            self.metrics.shadow.labels("scored").inc(len(flights))
        except Exception as exc:  # the challenger's fault never reaches anyone
            self.metrics.shadow.labels("failed").inc(len(flights))
            log.warning("challenger %s v%s failed to score: %s", model.name, model.version, exc)

    def drain(self) -> None:
        """Wait until everything queued has been scored (tests, shutdown)."""
        with self._cond:
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._queue and not self._busy, timeout=60)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=60)
