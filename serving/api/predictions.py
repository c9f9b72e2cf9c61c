"""Scoring flights given by their keys, shared by ``POST /predict`` and ``GET /departures``:
online features (as of each flight's T, the request's ``as_of`` or, in live mode, the clock's
now), the probability, coverage and status of each flight, and the service's metrics."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from redis.exceptions import RedisError

from serving.config import ServingSettings
from serving.inference import FeatureLookup, LiveClock, score
from serving.metrics import Metrics
from skyprophet.adapters.tracking import LoadedModel
from skyprophet.core.features import nan_to_none
from skyprophet.core.keys import FlightKeys
from skyprophet.core.model import top_factors


class ServiceUnavailable(Exception):
    """A dependency the answer needs is down or missing (answered 503 with this message)."""


def _not_due(keys: FlightKeys, threshold: float, lead_minutes: int, now: datetime, window_minutes: int) -> dict[str, Any]:
    """A flight outside live mode's window: its status and why, no probability."""
    t = keys.sched_dep_epoch_s - 60 * lead_minutes
    off = (t - now.timestamp()) / 60
    when = f"{off:.0f} min after" if off > 0 else f"{-off:.0f} min before"
    return {
        "flight_id": keys.flight_id, "status": "not_due", "delay_probability": None, "delayed": None, "threshold": threshold,
        "coverage": 0.0, "reliable": False, "missing_features": [], "stale_features": [], "feature_age_s": {},
        "reason": (f"its prediction time (scheduled departure - {lead_minutes} min, "
                   f"{datetime.fromtimestamp(t, timezone.utc):%Y-%m-%d %H:%M} UTC) is {when} the clock's now "
                   f"({now:%Y-%m-%d %H:%M} UTC); live mode scores a flight within {window_minutes} min of its prediction time"),
    }


def predict_keys(
    state: Any, model: LoadedModel, flights: list[FlightKeys], explain: bool, debug: bool, as_of: datetime | None
) -> tuple[list[dict[str, Any]], datetime | None]:
    """One prediction per flight, in order, and the instant read (None: each flight's own T).

    Raises:
        ServiceUnavailable: the online store does not answer, or live mode has no clock.
    """
    settings: ServingSettings = state.settings
    metrics: Metrics = state.metrics
    lookup: FeatureLookup = state.lookup
    spec = model.spec
    clock: LiveClock | None = getattr(state, "clock", None) if as_of is None else None
    try:
        due = [True] * len(flights)
        if clock is not None:  # live mode: as of the replay's now, for the flights due now
            now_s = clock.now()
            if now_s is None:
                raise ServiceUnavailable(f"live mode: no clock at {clock.stream.name}:clock (is a replay running?)")
            as_of = datetime.fromtimestamp(now_s, timezone.utc)
            due = [clock.due(k, spec.lead_minutes, now_s) for k in flights]
        scored = score(model, lookup, [k for k, d in zip(flights, due, strict=True) if d], explain, as_of)
    except RedisError as exc:
        metrics.lookups.labels("error").inc()
        raise ServiceUnavailable(f"online feature store unavailable: {type(exc).__name__}") from exc
    metrics.lookups.labels("ok").inc()
    n_inputs = len(spec.feature_names)
    predictions = []
    ages: dict[str, int] = {}  # per view, the oldest row served in this request
    i = -1
    for keys, is_due in zip(flights, due, strict=True):
        if not is_due:
            assert as_of is not None
            predictions.append(_not_due(keys, spec.threshold, spec.lead_minutes, as_of, settings.grid_minutes))
            continue
        i += 1
        ff = scored.features[i]
        for view, age in ff.ages.items():
            if age is not None and age > ages.get(view, -1):
                ages[view] = age
        coverage = 1.0 - len(ff.missing) / n_inputs
        reliable = coverage >= settings.min_coverage
        answered = reliable or not settings.refuse_unreliable
        p = float(scored.probabilities[i])
        item: dict[str, Any] = {
            "flight_id": keys.flight_id,
            "status": "ok" if answered else "refused",
            "delay_probability": round(p, 6) if answered else None,
            "delayed": p >= spec.threshold if answered else None,
            "threshold": spec.threshold,
            "coverage": round(coverage, 4),
            "reliable": reliable,
            "missing_features": ff.missing,
            "stale_features": ff.stale,
            "feature_age_s": ff.ages,
        }
        if not answered:
            item["reason"] = (f"input coverage {coverage:.0%} is below {settings.min_coverage:.0%}: "
                              f"{len(ff.missing)} of {n_inputs} inputs missing or stale")
        elif scored.contributions is not None:
            item["top_factors"] = top_factors(spec, ff.values, scored.contributions[i], settings.top_factors)
        if debug:
            item["features"] = {k: nan_to_none(v) for k, v in ff.values.items()}
        metrics.missing.inc(len(ff.missing))
        metrics.stale.inc(len(ff.stale))
        if not reliable:
            metrics.unreliable.labels(item["status"]).inc()
        predictions.append(item)
    metrics.flights.inc(len(flights))
    metrics.record_ages(ages)
    return predictions, as_of
