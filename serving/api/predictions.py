"""Scoring flights given by their keys, shared by ``POST /predict`` and ``GET /departures``:
online features (as of each flight's T, the request's ``as_of`` or, in live mode, the clock's
now), the probability, coverage and status of each flight, and the service's metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from redis.exceptions import RedisError

from serving.inference import Scored, due, score
from serving.services import Services
from skyprophet.adapters.tracking import LoadedModel
from skyprophet.core.features import FlightFeatures, input_coverage, nan_to_none
from skyprophet.core.keys import FlightKeys
from skyprophet.core.model import ModelSpec, top_factors


class ServiceUnavailable(Exception):
    """A dependency the answer needs is down or missing (answered 503 with this message)."""


def _unscored(keys: FlightKeys, threshold: float, t_s: int, status: str, reason: str) -> dict[str, Any]:
    """A flight not scored at ``t_s``: its status and why, no probability."""
    return {
        "flight_id": keys.flight_id, "status": status, "delay_probability": None, "delayed": None, "threshold": threshold,
        "lead_minutes": _lead(keys, t_s), "coverage": 0.0, "reliable": False, "missing_features": [], "stale_features": [],
        "feature_age_s": {}, "reason": reason,
    }


def _lead(keys: FlightKeys, t_s: int) -> float:
    """Minutes from the prediction time to the scheduled departure."""
    return round((keys.sched_dep_epoch_s - t_s) / 60, 2)


def _utc(epoch_s: float) -> str:
    """An instant for a reason's text (any instant a request can name, years 1 to 9999 and beyond)."""
    try:
        return f"{datetime.fromtimestamp(epoch_s, timezone.utc):%Y-%m-%d %H:%M} UTC"
    except (OverflowError, ValueError, OSError):
        return f"{np.datetime64(int(epoch_s), 's')} UTC"


def _not_due(keys: FlightKeys, threshold: float, lead_minutes: int, now_s: int, window_minutes: int,
             now: str = "the clock's now", mode: str = "live mode") -> dict[str, Any]:
    """A single-lead model as of one instant (live mode's clock, a snapshot's): a flight outside
    its window around scheduled - lead."""
    t = keys.sched_dep_epoch_s - 60 * lead_minutes
    off = (t - now_s) / 60
    when = f"{off:.0f} min after" if off > 0 else f"{-off:.0f} min before"
    return _unscored(keys, threshold, now_s, "not_due",
                     f"its prediction time (scheduled departure - {lead_minutes} min, {_utc(t)}) is {when} {now} "
                     f"({_utc(now_s)}); {mode} scores a flight within {window_minutes} min of its prediction time")


SNAPSHOT = ("the instant the online store holds", "a snapshot")  # how _not_due names the instant and the mode


def _outside_horizon(keys: FlightKeys, spec: ModelSpec, t_s: int, outcome: dict[str, Any] | None) -> dict[str, Any] | None:
    """An any-lead model as of ``t_s``: why the flight cannot be scored (departed, cancelled, more
    than the longest lead ahead), or None when it can."""
    sched = keys.sched_dep_epoch_s
    if outcome is not None and outcome.get("cancelled"):
        return _unscored(keys, spec.threshold, t_s, "cancelled", f"the flight scheduled at {_utc(sched)} was cancelled")
    if outcome is not None:
        return _unscored(keys, spec.threshold, t_s, "departed",
                         f"the flight departed at {_utc(outcome['actual'])} ({outcome['delay']:+.0f} min); "
                         f"the model predicts before departure only")
    if sched <= t_s:
        return _unscored(keys, spec.threshold, t_s, "departed",
                         f"its scheduled departure ({_utc(sched)}) is not after the prediction time ({_utc(t_s)}); "
                         f"the model predicts before departure only")
    if sched - t_s > 60 * spec.max_lead_minutes:
        return _unscored(keys, spec.threshold, t_s, "beyond_horizon",
                         f"its scheduled departure ({_utc(sched)}) is {(sched - t_s) / 3600:.1f} h after the prediction time "
                         f"({_utc(t_s)}); the model predicts up to {spec.max_lead_minutes / 60:g} h ahead")
    return None


@dataclass
class Choice:
    """Which flights a request scores, and as of when."""

    as_of: datetime | None  # the instant read; None: each flight at its own T
    unscored: list[dict[str, Any] | None]  # per flight, its answer when it is not scored (None: scored)
    features: list[FlightFeatures] | None = None  # every flight's, when read with the clock

    @property
    def kept(self) -> list[int]:
        return [i for i, u in enumerate(self.unscored) if u is None]


def choose(services: Services, model: LoadedModel, flights: list[FlightKeys], as_of: datetime | None,
           clock_read: tuple[int, list[dict[str, Any] | None]] | None = None) -> Choice:
    """The instant to read (``as_of``; in live mode the clock's now; in snapshot mode the instant the
    online store was loaded up to) and which flights can be
    scored at it. In live mode ``clock_read`` (the clock and each flight's outcome, when the
    caller has read them) stands in for reading them again."""
    spec = model.spec
    clock = services.clock if as_of is None else None
    unscored: list[dict[str, Any] | None] = [None] * len(flights)
    outcomes: list[dict[str, Any] | None] = [None] * len(flights)
    feats: list[FlightFeatures] | None = None
    if clock is not None:  # live mode: as of the replay's now
        now_s: int | None
        if clock_read is not None:  # the caller read the clock and the flights' outcomes already
            now_s, outcomes = clock_read
        elif spec.any_lead:  # the clock, the outcomes and the features in one round trip
            now_s, outcomes, feats = clock.read(services.lookup.reader(spec.feature_service, spec.lead_minutes), flights)
        else:
            now_s = clock.now()
        if now_s is None:
            raise ServiceUnavailable(f"live mode: no clock at {clock.stream.clock_key} (is a replay running?)")
        as_of = datetime.fromtimestamp(now_s, timezone.utc)
        if not spec.any_lead:  # a single-lead model: only the flights due now
            unscored = [None if clock.due(k, spec.lead_minutes, now_s) else
                        _not_due(k, spec.threshold, spec.lead_minutes, now_s, services.settings.grid_minutes) for k in flights]
    elif as_of is None and services.settings.snapshot:  # as of what the store holds
        held_s = services.lookup.held()
        if held_s is None:
            raise ServiceUnavailable("snapshot mode: the online store notes no load (run skyprophet features materialize)")
        as_of = datetime.fromtimestamp(held_s, timezone.utc)
        if not spec.any_lead:
            grid = services.settings.grid_minutes
            unscored = [None if due(k, spec.lead_minutes, held_s, 60 * grid) else
                        _not_due(k, spec.threshold, spec.lead_minutes, held_s, grid, *SNAPSHOT) for k in flights]
    if as_of is not None and spec.any_lead:  # any lead up to the longest, before departure
        t_s = int(as_of.timestamp())
        unscored = [_outside_horizon(k, spec, t_s, o) for k, o in zip(flights, outcomes, strict=True)]
    return Choice(as_of, unscored, feats)


def _answer(services: Services, spec: ModelSpec, keys: FlightKeys, t_s: int, ff: FlightFeatures, p: float,
            contributions: np.ndarray | None, debug: bool) -> dict[str, Any]:
    """One scored flight's answer: probability and decision (or a refusal), coverage, factors."""
    settings = services.settings
    n_inputs = len(spec.feature_names)
    coverage = input_coverage(ff.missing, n_inputs)
    reliable = coverage >= settings.min_coverage
    answered = reliable or not settings.refuse_unreliable
    item: dict[str, Any] = {
        "flight_id": keys.flight_id,
        "status": "ok" if answered else "refused",
        "delay_probability": round(p, 6) if answered else None,
        "delayed": p >= spec.threshold if answered else None,
        "threshold": spec.threshold,
        "lead_minutes": _lead(keys, t_s),
        "coverage": round(coverage, 4),
        "reliable": reliable,
        "missing_features": ff.missing,
        "stale_features": ff.stale,
        "feature_age_s": ff.ages,
    }
    if not answered:
        item["reason"] = (f"input coverage {coverage:.0%} is below {settings.min_coverage:.0%}: "
                          f"{len(ff.missing)} of {n_inputs} inputs missing or stale")
    elif contributions is not None:
        item["top_factors"] = top_factors(spec, ff.values, contributions, settings.top_factors)
    if debug:
        item["features"] = {k: nan_to_none(v) for k, v in ff.values.items()}
    return item


def shape(services: Services, model: LoadedModel, flights: list[FlightKeys], choice: Choice, scored: Scored, debug: bool,
          log_as: str | None = None) -> list[dict[str, Any]]:
    """One answer per flight, in order; the request's figures into the metrics, the scored flights
    into the prediction log (with ``log_as``, a request id)."""
    spec, metrics = model.spec, services.metrics
    predictions = []
    ages: dict[str, int] = {}  # per view, the oldest row served in this request
    missing = stale = 0  # inputs over the request's flights
    logged: list[tuple[FlightKeys, int, FlightFeatures, float, str]] = []
    i = -1  # the flight's place among those scored
    for keys, skipped in zip(flights, choice.unscored, strict=True):
        if skipped is not None:
            predictions.append(skipped)
            continue
        i += 1
        t_s = int(choice.as_of.timestamp()) if choice.as_of is not None else keys.sched_dep_epoch_s - 60 * spec.lead_minutes
        ff = scored.features[i]
        for view, age in ff.ages.items():
            if age is not None and age > ages.get(view, -1):
                ages[view] = age
        p = float(scored.probabilities[i])
        item = _answer(services, spec, keys, t_s, ff, p, None if scored.contributions is None else scored.contributions[i], debug)
        logged.append((keys, t_s, ff, p, item["status"]))
        missing += len(ff.missing)
        stale += len(ff.stale)
        if not item["reliable"]:
            metrics.unreliable.labels(item["status"]).inc()
        predictions.append(item)
    if log_as is not None and logged:
        services.logs.offer(log_as, model, *zip(*logged, strict=True))
        if services.shadow is not None:  # the challenger scores the same flights off the request path
            services.shadow.offer(log_as, logged)
    metrics.flights.inc(len(flights))
    metrics.missing.inc(missing)
    metrics.stale.inc(stale)
    metrics.record_ages(ages)
    return predictions


def predict_keys(
    services: Services, model: LoadedModel, flights: list[FlightKeys], explain: bool, debug: bool, as_of: datetime | None,
    clock_read: tuple[int, list[dict[str, Any] | None]] | None = None, log_as: str | None = None,
) -> tuple[list[dict[str, Any]], datetime | None]:
    """One prediction per flight, in order, and the instant read (None: each flight's own T):
    ``choose``, then ``score`` the flights kept, then ``shape`` the answers.

    Raises:
        ServiceUnavailable: the online store does not answer, or live mode has no clock.
    """
    flights = services.lookup.located(flights)  # the origin's country, logged and used as training used it
    try:
        choice = choose(services, model, flights, as_of, clock_read)
        kept = choice.kept
        scored = score(model, services.lookup, [flights[i] for i in kept], explain, choice.as_of,
                       None if choice.features is None else [choice.features[i] for i in kept])
    except RedisError as exc:
        services.metrics.lookups.labels("error").inc()
        raise ServiceUnavailable(f"online feature store unavailable: {type(exc).__name__}") from exc
    services.metrics.lookups.labels("ok").inc()
    return shape(services, model, flights, choice, scored, debug, log_as), choice.as_of
