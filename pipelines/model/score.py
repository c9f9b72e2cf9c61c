"""Scoring outside the service: every flight of a local day into parquet, or one flight explained.

Features come from offline retrieval as of each flight's prediction time (scheduled - the
model's lead), through the model's own feature service, so a flight in the past is scored exactly
as it would have been live. ``score_flight`` can also read the online store, as the service does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.features.retrieval import historical_features
from pipelines.features.training_set import local_departure, resolve_service
from skyprophet.adapters.parquet import read_canonical
from skyprophet.adapters.tracking import PRODUCTION, LoadedModel, connect, load_by_alias
from skyprophet.core.config import Settings
from skyprophet.core.errors import InvalidInput, NoData
from skyprophet.core.keys import ROW_ID, FlightKeys, entity_frame
from skyprophet.core.model import contributions, encode_frame, encode_rows, probabilities, top_factors

log = logging.getLogger(__name__)


def score_day(settings: Settings, day: date, alias: str = PRODUCTION, out: Path | None = None) -> Path:
    """Score the flights scheduled on local date ``day`` with ``model_name@alias``.

    Args:
        settings: data folder, tracking URI, model name.
        day: the local scheduled date (at each flight's origin).
        alias: the registry alias to score with.
        out: the parquet file to write (default: ``reports/scores/<day>.parquet``).

    Returns:
        The path written.

    Raises:
        NoData: no flight is scheduled that day.
        ModelNotFound: the alias points at nothing.
    """
    from skyprophet.adapters.store import open_store

    model = load_by_alias(connect(settings), settings.model_name, alias)
    canonical = read_canonical(settings.canonical_path)
    flights = canonical[local_departure(canonical).dt.date == day]
    if flights.empty:
        raise NoData(f"no flights are scheduled on {day.isoformat()}")
    store = open_store(settings, online="sqlite")
    entities = entity_frame(flights, model.spec.lead_minutes)
    features = historical_features(store, entities, resolve_service(store, model.spec.feature_service))
    p = probabilities(model.booster, encode_frame(features, model.spec), model.spec, num_threads=2)
    result = pd.DataFrame(
        {
            "flight_row_id": features[ROW_ID].to_numpy(),
            "flight_id": features["flight_id"].to_numpy(),
            "carrier": features["carrier"].to_numpy(),
            "origin": features["origin"].to_numpy(),
            "dest": features["dest"].to_numpy(),
            "tailnum": features["tailnum"].to_numpy(),
            "scheduled_departure_utc": flights["sched_dep_utc"].to_numpy(),
            "prediction_time_utc": features["event_timestamp"].to_numpy(),
            "delay_probability": p,
            "delayed": p >= model.spec.threshold,
            "threshold": model.spec.threshold,
            "model_name": model.name,
            "model_version": model.version,
        }
    )
    out = out or settings.reports_dir / "scores" / f"{day.isoformat()}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_parquet(out, index=False)
    log.info(
        "scored %d flights of %s with %s v%s: %d predicted delayed -> %s",
        len(result), day, model.name, model.version, int(result["delayed"].sum()), out,
    )
    return out


@dataclass
class FlightScore:
    """One flight scored by a registered model, with the reasons."""

    flight_id: str
    model: LoadedModel
    source: str
    as_of: pd.Timestamp
    probability: float
    delayed: bool
    top_factors: list[dict[str, Any]]
    missing: list[str]
    stale: list[str] = field(default_factory=list)
    # online: per time-varying view, seconds from its stored row to T (None: no row); offline
    # retrieval joins as of T and reports no ages
    ages: dict[str, int | None] = field(default_factory=dict)


def score_flight(
    settings: Settings, flight: FlightKeys, alias: str = PRODUCTION, source: str = "offline", top: int = 5
) -> FlightScore:
    """Score one flight with ``model_name@alias`` and explain it (LightGBM ``pred_contrib``).

    Args:
        settings: data folder, stores, tracking URI, model name.
        flight: the flight's keys and scheduled departure.
        alias: the registry alias to score with.
        source: ``offline`` (point-in-time retrieval as of T, any flight of the data) or ``online``
            (the online store, as the service reads it: values must be materialized up to T).
        top: how many factors to return.

    Raises:
        ModelNotFound: the alias points at nothing.
        TrackingUnavailable: the tracking store does not answer.
    """
    from skyprophet.adapters.online import OnlineFeatures
    from skyprophet.adapters.store import open_store

    model = load_by_alias(connect(settings), settings.model_name, alias)
    spec = model.spec
    sched = pd.Timestamp(flight.sched_dep_epoch_s, unit="s", tz="UTC")
    as_of = sched - pd.Timedelta(minutes=spec.lead_minutes)
    stale: list[str] = []
    ages: dict[str, int | None] = {}
    if source == "online":
        store = open_store(settings)
        got = OnlineFeatures(store, spec.feature_service, spec.lead_minutes).read([flight])[0]
        values: dict[str, Any] = got.values
        x = encode_rows([values], spec)
        missing, stale, ages = got.missing, got.stale, got.ages
    elif source == "offline":
        from skyprophet.adapters.parquet import airport_countries

        store = open_store(settings, online="sqlite")
        row = pd.DataFrame([{
            "flight_row_id": 0, "carrier": flight.carrier, "flight_number": flight.flight_number,
            "origin": flight.origin, "dest": flight.dest, "tailnum": flight.tailnum,
            "sched_dep_utc": sched, "utc_offset_min": flight.utc_offset_min,
            "origin_country": airport_countries(settings.raw_dir).get(flight.origin, ""),
        }])
        features = historical_features(store, entity_frame(row, spec.lead_minutes), resolve_service(store, spec.feature_service))
        values = {name: features[name].iloc[0] for name in spec.feature_names}
        x = encode_frame(features, spec)
        missing = [name for name, v in values.items() if v is None or (isinstance(v, float) and pd.isna(v))]
    else:
        raise InvalidInput(f"source must be 'offline' or 'online', got {source!r}")
    p = float(probabilities(model.booster, x, spec, num_threads=1)[0])
    contrib = contributions(model.booster, x, spec, num_threads=1)[0]
    return FlightScore(
        flight_id=flight.flight_id, model=model, source=source, as_of=as_of,
        probability=p, delayed=p >= spec.threshold, top_factors=top_factors(spec, values, contrib, top),
        missing=missing, stale=stale, ages=ages,
    )

