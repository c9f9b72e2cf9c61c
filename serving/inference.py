"""What the routes call: the production model (hot-swapped), online features, scoring.

The model is held by ``ModelHolder``: loaded by alias, replaced by assigning one attribute, so a
request that took a model keeps it to the end and the next request sees the new one. Scoring
is a LightGBM ``Booster`` on one thread over a numpy matrix in the feature service's order.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from skyprophet.adapters.online import OnlineFeatures
from skyprophet.adapters.parquet import airport_countries
from skyprophet.adapters.store import held_until
from skyprophet.adapters.redis.wire import command
from skyprophet.adapters.tracking import LoadedModel, alias_version, connect, load_version
from skyprophet.core.errors import first_line
from skyprophet.core.features import FlightFeatures
from skyprophet.core.keys import FlightKeys
from skyprophet.core.model import contributions, encode_rows, encode_values, probabilities

if TYPE_CHECKING:
    import redis
    from feast import FeatureStore
    from mlflow import MlflowClient

    from serving.config import ServingSettings
    from serving.metrics import Metrics
    from serving.prediction_log import PredictionLogs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reload:
    """The outcome of the latest check of the alias."""

    outcome: str  # "loaded" (swapped in), "unchanged", "failed" (registry unreachable) or "refused" (unusable version)
    at: float  # when, seconds since the epoch
    version: str | None = None  # the version the alias pointed at, when known
    error: str | None = None
    absent: bool = False  # the registry answered: no version has the alias

    @property
    def ok(self) -> bool:
        return self.outcome in ("loaded", "unchanged")


class ModelRefused(Exception):
    """A registered version that cannot serve: unloadable artifact, unknown feature service, ..."""


def _unreachable(exc: BaseException) -> bool:
    """The exception (or one it was raised from) is a connection that failed or timed out: MLflow's
    REST client wraps requests' errors as "API request to ... failed with exception ...", chained."""
    import requests

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return "Max retries exceeded" in str(exc) or "Failed to establish a new connection" in str(exc)


class ModelHolder:
    """The model ``name@alias`` points at, refreshed on demand or by the background task.

    A new version is swapped in only after ``prepare`` accepted it (its feature service is
    readable and its booster scores); a version that fails is refused and not tried again
    until the alias moves, and the loaded model keeps serving.
    """

    def __init__(self, settings: ServingSettings, alias: str | None = None):
        self.settings = settings
        self.alias = alias or settings.model_alias  # the served alias, or another (the challenger's)
        self.current: LoadedModel | None = None
        self.last_reload: Reload | None = None
        self._refused: Reload | None = None  # the version refused last, until the alias moves
        self._client: MlflowClient | None = None
        self._lock = threading.Lock()

    def refresh(self, prepare: Callable[[LoadedModel], None] = lambda _: None) -> Reload:
        """Load the aliased version if it changed and ``prepare`` accepts it; the outcome says what happened."""
        with self._lock:
            self.last_reload = self._refresh(prepare)
            return self.last_reload

    @property
    def last_error(self) -> str | None:
        """What the latest check of the alias found wrong (None when it went through)."""
        return self.last_reload.error if self.last_reload is not None else None

    def _registry_failed(self, exc: Exception, now: float) -> Reload:
        """A check that could not reach the registry: reconnect next time, keep serving."""
        self._client = None
        error = f"model registry: {first_line(exc)}"
        log.warning("model refresh failed: %s", error)
        return Reload("failed", now, None, error)

    def _refresh(self, prepare: Callable[[LoadedModel], None]) -> Reload:
        name, alias = self.settings.model_name, self.alias
        now = time.time()
        try:
            if self._client is None:
                self._client = connect(self.settings)
            version = alias_version(self._client, name, alias)
        except Exception as exc:  # the registry being down must not stop the service
            return self._registry_failed(exc, now)
        if version is None:
            return Reload("failed", now, None, f"no model version is registered as {name}@{alias}", absent=True)
        if self.current is not None and self.current.version == version:
            return Reload("unchanged", now, version)
        if self._refused is not None and self._refused.version == version:
            return self._refused
        try:
            model = load_version(self._client, name, version, alias)
            prepare(model)
        except Exception as exc:  # whatever the artifact holds, the loaded model keeps serving
            if _unreachable(exc):  # the registry went away mid-load: not the version's fault, try again
                return self._registry_failed(exc, now)
            self._refused = Reload("refused", now, version, f"refused {name} version {version}: {first_line(exc)}")
            log.warning("%s", self._refused.error)
            return self._refused
        previous = self.current.version if self.current else None
        self.current = model  # the swap: one reference assignment
        self._refused = None
        log.info("model %s@%s: version %s -> %s", name, alias, previous, version)
        return Reload("loaded", now, version)


class FeatureLookup:
    """Online readers by feature service (a model may name another service than its predecessor)."""

    def __init__(self, store: FeatureStore, redis_client: redis.Redis | None):
        self.store = store
        self.redis = redis_client
        self._readers: dict[tuple[str, int], OnlineFeatures] = {}
        self._lock = threading.Lock()
        # the origin's country of each airport ingest wrote (its holidays count), read once
        self.countries = airport_countries(Path(store.config.registry.path).parent / "raw")

    def located(self, flights: list[FlightKeys]) -> list[FlightKeys]:
        """``flights`` with their origin's country filled in where they do not say it (as in training)."""
        return [f if f.country or f.origin not in self.countries else replace(f, country=self.countries[f.origin])
                for f in flights]

    def reader(self, service: str, lead_minutes: int) -> OnlineFeatures:
        key = (service, lead_minutes)
        found = self._readers.get(key)
        if found is None:
            with self._lock:
                found = self._readers.get(key) or OnlineFeatures(self.store, service, lead_minutes, redis_client=self.redis,
                                                                 countries=self.countries)
                self._readers[key] = found
        return found

    def held(self) -> int | None:
        """The instant (seconds since the epoch) the online store was loaded up to, as its loader
        noted it; None when nothing is noted. Read each time: a store may be loaded again while
        the service runs."""
        until = held_until(self.store)
        return None if until is None else int(until.timestamp())

    def ping(self) -> None:
        """Raise if the online store cannot be reached."""
        if self.redis is not None:
            self.redis.ping()
            return
        path = getattr(self.store.config.online_store, "path", None)
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"SQLite online store {path} does not exist (materialize first)")


def prepare_model(model: LoadedModel, lookup: FeatureLookup) -> None:
    """Check a model can serve before it is swapped in, and pay its first-call costs here
    (LightGBM, the feature reader, the Redis connection, lazy imports), not on a request.

    Raises:
        ModelRefused: its feature service is unknown or lacks some of its inputs.
    """
    spec = model.spec
    try:
        reader = lookup.reader(spec.feature_service, spec.lead_minutes)
    except Exception as exc:
        raise ModelRefused(f"feature service {spec.feature_service!r} cannot be read: {first_line(exc)}") from exc
    served = set(reader.feature_names)
    unknown = [n for n in spec.feature_names if n not in served]
    if unknown:
        raise ModelRefused(f"inputs not in feature service {spec.feature_service!r}: {', '.join(unknown[:5])}")
    x = np.full((1, len(spec.feature_names)), np.nan)
    probabilities(model.booster, x, spec, num_threads=1)
    model.booster.predict(x, pred_contrib=True, num_threads=1)
    try:
        reader.read([FlightKeys("ZZ", "1", "ZZZ", "ZZZ", 86_400, 0)])
    except Exception as exc:  # the online store may be down at start: /ready says so
        log.warning("warm-up read failed: %s", exc)


def sync_model(holder: ModelHolder, lookup: FeatureLookup) -> Reload:
    """Check the alias; a new version is prepared (and refused if it cannot serve) before the swap."""
    return holder.refresh(lambda model: prepare_model(model, lookup))


async def sync(holder: ModelHolder, lookup: FeatureLookup, metrics: Metrics, logs: PredictionLogs | None = None) -> Reload:
    """``sync_model`` off the event loop, its outcome recorded in the metrics; the prediction log
    of the loaded model's feature service made ready."""
    reload = await asyncio.to_thread(sync_model, holder, lookup)
    metrics.record_reload(reload.outcome, not reload.ok, holder.current)
    if logs is not None and holder.current is not None:
        await asyncio.to_thread(logs.ensure, holder.current.spec.feature_service)
    return reload


class LiveClock:
    """The replay's simulated now and how far the processor's writes trail it (live mode)."""

    def __init__(self, client: redis.Redis, stream_name: str, window_minutes: int):
        from skyprophet.adapters.departures import Departures
        from skyprophet.adapters.stream import EventStream

        self.stream = EventStream(client, name=stream_name)
        self.board = Departures(client, stream_name)
        self.window_s = window_minutes * 60
        self._last: int | None = None  # the clock as last read: the day to read the views at
        self._get_clock = command("GET", self.stream.clock_key)

    def read(
        self, reader: OnlineFeatures, flights: list[FlightKeys]
    ) -> tuple[int | None, list[dict[str, Any] | None], list[FlightFeatures]]:
        """The clock, each flight's outcome from the stream (None while it has not departed) and
        its online features as of the clock, in one round trip (two on the first read of a
        process and when the clock has crossed midnight UTC since the last one)."""
        guess = self._last if self._last is not None else self.now()
        if guess is None:
            return None, [None] * len(flights), []
        rows = [{"carrier": f.carrier, "flight_number": f.flight_number, "origin": f.origin, "sched": f.sched_dep_epoch_s}
                for f in flights]
        commands, outcomes = self.board.outcome_commands(rows)
        replies, now_s, feats = reader.read_now(flights, guess, [self._get_clock, *commands],
                                                lambda r: None if r[0] is None else int(r[0]))
        if now_s is None:
            return None, [None] * len(flights), []
        self._last = now_s
        return now_s, outcomes(replies[1:]), feats

    def now(self) -> int | None:
        """The clock (seconds since the epoch), None when no producer has published one."""
        return self.stream.clock()

    def lag(self) -> tuple[int | None, int | None]:
        """(clock, last grid tick written by the processor), each in seconds; None where absent."""
        tick = self.stream.checkpoint().get("tick")
        return self.now(), None if tick is None else int(tick) * 60

    def due(self, flight: FlightKeys, lead_minutes: int, now_s: int) -> bool:
        """The flight's prediction time (scheduled - lead) is within one grid step of now."""
        return due(flight, lead_minutes, now_s, self.window_s)


def due(flight: FlightKeys, lead_minutes: int, now_s: int, window_s: int) -> bool:
    """The flight's prediction time (scheduled - lead) is within ``window_s`` of ``now_s``: what a
    single-lead model scores as of one instant (live mode's clock, a snapshot's)."""
    return abs(flight.sched_dep_epoch_s - 60 * lead_minutes - now_s) <= window_s


@dataclass
class Scored:
    features: list[FlightFeatures]
    probabilities: np.ndarray
    contributions: np.ndarray | None


def score(
    model: LoadedModel, lookup: FeatureLookup, flights: list[FlightKeys], explain: bool, as_of: datetime | None = None,
    features: list[FlightFeatures] | None = None,
) -> Scored:
    """Online features as of each flight's T (or ``as_of``; or ``features`` when the caller has
    read them), then probabilities (and contributions)."""
    spec = model.spec
    if not flights:
        return Scored([], np.empty(0), np.empty((0, len(spec.feature_names) + 1)) if explain else None)
    if features is None:
        reader = lookup.reader(spec.feature_service, spec.lead_minutes)
        features = reader.read(flights, None if as_of is None else [as_of] * len(flights))
    if list(features[0].values) == spec.feature_names:  # read in the model's order (its own service)
        x = encode_values([list(f.values.values()) for f in features], spec)
    else:
        x = encode_rows([f.values for f in features], spec)
    p = probabilities(model.booster, x, spec, num_threads=1)
    contrib = contributions(model.booster, x, spec, num_threads=1) if explain else None
    return Scored(features, p, contrib)
