"""Prometheus metrics of the service, and the ASGI middleware that counts and times requests.

Each app gets its own registry. With several workers, set ``PROMETHEUS_MULTIPROC_DIR`` (``make
serve`` does) and ``/metrics`` aggregates every worker's files.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from skyprophet.adapters.tracking import LoadedModel

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("skyprophet_http_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = Histogram("skyprophet_http_request_seconds", "HTTP request latency", ["route", "method", "status"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.flights = Counter("skyprophet_predicted_flights", "flights scored", registry=r)
        self.lookups = Counter("skyprophet_feature_lookups", "online feature reads (one per request)", ["outcome"], registry=r)
        self.missing = Counter("skyprophet_missing_features", "feature values missing in scored flights", registry=r)
        self.unreliable = Counter("skyprophet_unreliable_flights", "flights scored with input coverage below the setting, "
                                  "by what was done (ok: flagged, refused)", ["status"], registry=r)
        self.stale = Counter("skyprophet_stale_features", "feature values older than their ttl in scored flights", registry=r)
        self.reloads = Counter("skyprophet_model_reloads", "checks of the model alias, by outcome (loaded, unchanged, "
                               "failed: registry unreachable, refused: version cannot serve)", ["outcome"], registry=r)
        self.reload_failing = Gauge("skyprophet_model_reload_failing", "1 while the latest check of the alias failed or "
                                    "refused a version (the loaded model keeps serving)", registry=r, multiprocess_mode="max")
        self.feature_age = Gauge("skyprophet_feature_age_seconds", "per feature view: the age of the oldest row served "
                                 "in the latest request (instant read - the row's event time)", ["view"], registry=r,
                                 multiprocess_mode="mostrecent")
        self.live_lag = Gauge("skyprophet_live_lag_seconds", "live mode: the replay's clock - the stream processor's last "
                              "tick (simulated seconds), as of the latest /ready", registry=r, multiprocess_mode="mostrecent")
        self.stream_events = Gauge("skyprophet_stream_events", "live mode: stream entries the processor acknowledged since "
                                   "the stream began, by outcome (applied; duplicates; late: counted after their tick was "
                                   "written; rejected: refused by the event contract or the processor's window, failed and "
                                   "dead_lettered included; failed: an error while applying; dead_lettered: delivered too "
                                   "often without an acknowledgement)", ["outcome"], registry=r, multiprocess_mode="mostrecent")
        self.log_flights = Counter("skyprophet_prediction_log_flights", "scored flights handed to the prediction log, by "
                                   "outcome (written; dropped: the buffer was full; failed: a write attempt failed, the "
                                   "flights kept for the next)", ["outcome"], registry=r)
        # The newest monitoring report (``skyprophet monitor``), read on a scrape (serving.monitoring).
        self.monitor_psi = Gauge("skyprophet_monitor_psi", "per input: its PSI, window against the training reference, in "
                                 "the newest monitoring report", ["input"], registry=r, multiprocess_mode="mostrecent")
        self.monitor_adversarial_auc = Gauge("skyprophet_monitor_adversarial_auc", "the adversarial validator's ROC AUC in "
                                             "the newest monitoring report (0.5: no drift)", registry=r,
                                             multiprocess_mode="mostrecent")
        self.monitor_brier = Gauge("skyprophet_monitor_brier", "the Brier score of the newest monitoring report's window "
                                   "(NaN before outcomes join)", registry=r, multiprocess_mode="mostrecent")
        self.monitor_skew = Gauge("skyprophet_monitor_skew_match_rate", "per input: the share of logged online values "
                                  "equal to offline retrieval at the same instant, newest report", ["input"], registry=r,
                                  multiprocess_mode="mostrecent")
        self.monitor_alerts = Gauge("skyprophet_monitor_alerts", "alerts raised by the newest monitoring report", registry=r,
                                    multiprocess_mode="mostrecent")
        self.monitor_retrain_alerts = Gauge("skyprophet_monitor_retrain_alerts", "retraining alerts (the window against the "
                                            "weeks just before it) raised by the newest monitoring report", registry=r,
                                            multiprocess_mode="mostrecent")
        self.shadow = Counter("skyprophet_shadow_flights", "flights handed to the challenger in the shadow, by outcome "
                              "(scored and logged; failed: an error while scoring; dropped: too many requests waiting)",
                              ["outcome"], registry=r)
        self.challenger_reloads = Counter("skyprophet_challenger_reloads", "checks of the challenger alias, by outcome "
                                          "(loaded, unchanged, absent: no version has the alias, failed: registry "
                                          "unreachable, refused: version cannot serve)", ["outcome"], registry=r)
        self.model_version = Gauge("skyprophet_model_version", "registered version of the loaded model (0: none "
                                   "is loaded under the alias)", ["name", "alias"], registry=r, multiprocess_mode="max")
        self._challengers: set[tuple[str, str]] = set()  # the labels a challenger was reported under

    def record_reload(self, outcome: str, failing: bool, model: LoadedModel | None) -> None:
        """A check of the alias: its outcome, whether it is failing, and the loaded model's version."""
        self.reloads.labels(outcome).inc()
        self.reload_failing.set(1 if failing else 0)
        if model is not None:
            self.model_version.labels(model.name, model.alias or "").set(int(model.version))

    def record_challenger(self, outcome: str, model: LoadedModel | None) -> None:
        """A check of the challenger alias and the challenger's version (``model_version``, its alias
        label; 0 once none is shadowed, so that a retired challenger does not linger)."""
        self.challenger_reloads.labels(outcome).inc()
        if model is not None:
            self.model_version.labels(model.name, model.alias or "").set(int(model.version))
            self._challengers.add((model.name, model.alias or ""))
        elif outcome in ("absent", "refused"):  # nothing is shadowed
            for name, alias in self._challengers:
                self.model_version.labels(name, alias).set(0)

    def record_ages(self, ages: dict[str, int]) -> None:
        for view, age in ages.items():
            self.feature_age.labels(view).set(age)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template, method and status (pure ASGI)."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(path, method, str(status)).inc()
            self.metrics.latency.labels(path, method, str(status)).observe(time.perf_counter() - start)
