"""Batch scoring: every flight scheduled on a given local day, scored by a registered model.

Features come from offline retrieval as of each flight's prediction time (scheduled - the
model's lead), through the model's own feature service, so a day in the past is scored exactly
as it would have been live. Writes one parquet file of probabilities and decisions.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines._cli import setup_logging
from pipelines.retrieval import historical_features
from pipelines.training_set import TrainingSetError, local_departure, read_canonical, resolve_service
from skyprophet.config import Settings, get_settings
from skyprophet.keys import ROW_ID, entity_frame
from skyprophet.model import encode_frame, probabilities
from skyprophet.tracking import PRODUCTION, ModelNotFound, TrackingUnavailable, connect, load_by_alias

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
        TrainingSetError: no flight is scheduled that day.
        ModelNotFound: the alias points at nothing.
    """
    from skyprophet.store import open_store

    model = load_by_alias(connect(settings), settings.model_name, alias)
    canonical = read_canonical(settings.raw_dir)
    flights = canonical[local_departure(canonical).dt.date == day]
    if flights.empty:
        raise TrainingSetError(f"no flights are scheduled on {day.isoformat()}")
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="local scheduled date, YYYY-MM-DD")
    parser.add_argument("--alias", default=PRODUCTION)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    setup_logging()
    try:
        score_day(get_settings(), args.date, args.alias, args.out)
    except (TrackingUnavailable, TrainingSetError, ModelNotFound) as exc:
        raise SystemExit(f"score: error: {exc}") from None


if __name__ == "__main__":
    main()
